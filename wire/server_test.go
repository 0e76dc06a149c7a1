package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/viewd/viewd/internal/testenv"
)

func startServer(t testing.TB, b Backend, opts ...Option) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := NewServer(b, logger, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	return ln.Addr().String(), func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Serve did not return after shutdown")
			}
		})
	}
}

func connString(addr, db string) string {
	return fmt.Sprintf("postgres://alice@%s/%s?sslmode=disable&application_name=wiretest", addr, db)
}

func connect(t *testing.T, addr string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(connString(addr, "db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PgError, got %T %v", err, err)
	}
	return pe
}

func TestStartupParameters(t *testing.T) {
	b, addr, _ := testServer(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	pc := conn.PgConn()
	want := map[string]string{
		"server_version": ServerVersion, "server_encoding": "UTF8", "client_encoding": "UTF8",
		"DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "TimeZone": "UTC",
		"integer_datetimes": "on", "standard_conforming_strings": "on", "is_superuser": "on",
		"session_authorization": "alice", "application_name": "wiretest",
		"default_transaction_read_only": "off", "in_hot_standby": "off",
	}
	for k, v := range want {
		if got := pc.ParameterStatus(k); got != v {
			t.Errorf("ParameterStatus(%s) = %q, want %q", k, got, v)
		}
	}
	if pc.PID() == 0 || len(pc.SecretKey()) != 4 {
		t.Errorf("BackendKeyData: pid %d, key %x", pc.PID(), pc.SecretKey())
	}
	if pc.TxStatus() != 'I' {
		t.Errorf("TxStatus = %c", pc.TxStatus())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastStart.User != "alice" || b.lastStart.Database != "db" || b.lastStart.ApplicationName != "wiretest" {
		t.Errorf("StartupParams = %+v", b.lastStart)
	}
}

func TestStartupNoticeAndFatal(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	var notices []string
	var mu sync.Mutex
	cfg, err := pgconn.ParseConfig(connString(addr, "nodb"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		notices = append(notices, n.Severity+" "+n.Code+" "+n.Message)
		mu.Unlock()
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "notice").ReadAll(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(notices, "|")
	mu.Unlock()
	if want := `NOTICE 3D000 database "nodb" does not exist|WARNING 01000 careful`; got != want {
		t.Errorf("notices = %q, want %q", got, want)
	}

	_, err = pgconn.Connect(ctx, connString(addr, "forbidden"))
	if pe := pgErr(t, err); pe.Code != "3D000" || pe.Severity != "FATAL" {
		t.Errorf("NewSession error = %+v", pe)
	}
}

// TestTypesRoundTrip reads a row with every type through pgx's binary
// decoders (extended protocol) and its text decoders (simple protocol):
// both must give the same Go values, and the expected ones.
func TestTypesRoundTrip(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	read := func(mode pgx.QueryExecMode) ([]any, []string) {
		conn := connect(t, addr, mode)
		rows, err := conn.Query(ctx, "types")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for _, f := range rows.FieldDescriptions() {
			names = append(names, f.Name)
		}
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if rows.Next() {
			t.Fatal("more than one row")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return vals, names
	}
	bin, names := read(pgx.QueryExecModeCacheStatement)
	txt, _ := read(pgx.QueryExecModeSimpleProtocol)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC)
	num := func(s string) string {
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			t.Fatal(err)
		}
		b, _ := n.MarshalJSON()
		return string(b)
	}
	want := map[string]any{
		"bool": true, "int2": int16(-2), "int4": int32(400000), "int8": int64(1 << 40),
		"float4": float32(1.5), "float8": -2.25,
		"numeric": num("12345.6789"), "numeric_small": num("-0.00012"), "numeric_big": num("100000000"),
		"numeric_scaled": num("2.500"), "numeric_nan": "NaN",
		"text": "hé\tllo", "varchar": "vc", "bpchar": "c ", "bytea": []byte{0, 1, 2, 0xff},
		"date":      time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		"time":      pgtype.Time{Microseconds: 3*3600e6 + 4*60e6 + 5e6 + 123456, Valid: true},
		"timestamp": ts, "timestamptz": ts,
		"interval": pgtype.Interval{Months: 14, Days: 3, Microseconds: 4*3600e6 + 7, Valid: true},
		"uuid":     [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
		"jsonb":    map[string]any{"a": []any{float64(1), "x"}},
		"oid":      uint32(4000000000),
		"int4s":    []any{int32(1), nil, int32(-3)}, "texts": []any{"a b", `q"`}, "empty": []any{},
		"null": nil,
	}
	norm := func(v any) any {
		switch x := v.(type) {
		case pgtype.Numeric:
			if x.NaN {
				return "NaN"
			}
			b, _ := x.MarshalJSON()
			return string(b)
		case time.Time:
			return x.UTC()
		}
		return v
	}
	for i, name := range names {
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected column %s", name)
			continue
		}
		if got := norm(bin[i]); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", w) {
			t.Errorf("binary %s = %#v, want %#v", name, got, w)
		}
		if got := norm(txt[i]); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", w) {
			t.Errorf("text %s = %#v, want %#v", name, got, w)
		}
	}
}

func TestRecordBinary(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	// pgx reads records only in binary, through record_send's format.
	var a int32
	var b string
	var c *string
	if err := conn.QueryRow(ctx, "record").Scan(pgtype.CompositeFields{&a, &b, &c}); err != nil {
		t.Fatal(err)
	}
	if a != 7 || b != "x y" || c != nil {
		t.Errorf("record = (%d, %q, %v)", a, b, c)
	}
}

// TestParamsRoundTrip binds a parameter of each type in binary (pgx's
// encoders) and gets it back through the result's binary decoders.
func TestParamsRoundTrip(t *testing.T) {
	_, addr, _ := testServer(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) { testParamsRoundTrip(t, addr, mode) })
	}
}

func testParamsRoundTrip(t *testing.T, addr string, mode pgx.QueryExecMode) {
	ctx := testCtx(t)
	conn := connect(t, addr, mode)
	ts := time.Date(1999, 12, 31, 23, 59, 58, 123456000, time.UTC)
	cases := []struct {
		typ string
		val any
	}{
		{"bool", false}, {"int2", int16(-300)}, {"int4", int32(-7)}, {"int8", int64(-1 << 50)},
		{"float4", float32(-0.25)}, {"float8", 1e300}, {"text", "ünïcode"}, {"varchar", "v"},
		{"bytea", []byte{9, 8, 7}}, {"date", time.Date(1960, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"timestamp", ts}, {"timestamptz", ts},
		{"interval", pgtype.Interval{Months: -1, Days: 2, Microseconds: -3, Valid: true}},
		{"time", pgtype.Time{Microseconds: 86399999999, Valid: true}},
		{"uuid", [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{"jsonb", map[string]any{"k": "v"}}, {"oid", uint32(7)},
		{"int4[]", []int32{5, 6}}, {"text[]", []string{"x", "", "NULL"}},
	}
	for _, c := range cases {
		if mode == pgx.QueryExecModeExec {
			switch c.typ {
			case "uuid", "jsonb":
				// pgx cannot encode these as text without knowing the
				// parameter type, which exec mode never asks for.
				continue
			case "date":
				// pgx sends "1960-03-04 00:00:00Z", which PostgreSQL's
				// date_in accepts but repr.ParseText does not (yet).
				continue
			}
		}
		var got any
		row := conn.QueryRow(ctx, "echo "+c.typ, c.val)
		var err error
		switch c.val.(type) {
		case []int32:
			var v []int32
			err, got = row.Scan(&v), v
		case []string:
			var v []string
			err, got = row.Scan(&v), v
		case time.Time:
			var v time.Time
			err = row.Scan(&v)
			got = v.UTC()
		default:
			var v any
			err = row.Scan(&v)
			got = v
		}
		if err != nil {
			t.Errorf("%s: %v", c.typ, err)
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.val) {
			t.Errorf("%s: got %#v, want %#v", c.typ, got, c.val)
		}
	}
	// numeric, through every representable corner.
	for _, s := range []string{"0", "1", "-1", "0.0001", "12345678901234567890.123456789", "-9999.99990", "0.00000000000000000001", "70000000000000000000000000", "NaN", "Infinity", "-Infinity"} {
		var in pgtype.Numeric
		if err := in.Scan(s); err != nil {
			t.Fatal(err)
		}
		var out pgtype.Numeric
		if err := conn.QueryRow(ctx, "echo numeric", in).Scan(&out); err != nil {
			t.Errorf("numeric %s: %v", s, err)
			continue
		}
		// repr's packed rows keep a numeric's value, not its scale
		// (-9999.99990 comes back as -9999.9999): compare values.
		a, _ := in.Float64Value()
		b, _ := out.Float64Value()
		if (!in.NaN && a != b) || in.NaN != out.NaN || in.InfinityModifier != out.InfinityModifier {
			t.Errorf("numeric %s: got %v, want %v", s, b, a)
		}
	}
}

// TestTextParams sends text-format parameters (decoded by repr.ParseText)
// and asks for text results.
func TestTextParams(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	res := conn.PgConn().ExecParams(ctx, "echo int4 numeric date bool text",
		[][]byte{[]byte("42"), []byte("-1.25"), []byte("2024-02-29"), []byte("t"), nil}, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var got []string
	for _, v := range res.Rows[0] {
		if v == nil {
			got = append(got, "NULL")
		} else {
			got = append(got, string(v))
		}
	}
	if s := strings.Join(got, "|"); s != "42|-1.25|2024-02-29|t|NULL" {
		t.Errorf("text round trip = %q", s)
	}
	res = conn.PgConn().ExecParams(ctx, "echo int4", [][]byte{[]byte("forty")}, nil, nil, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != "22P02" || !strings.Contains(pe.Detail, "$1") {
		t.Errorf("bad text param: %+v", pe)
	}
	// Binary parameter of the wrong length.
	res = conn.PgConn().ExecParams(ctx, "echo int8", [][]byte{{1, 2}}, nil, []int16{1}, nil).Read()
	if pe := pgErr(t, res.Err); pe.Code != "22P03" {
		t.Errorf("bad binary param: %+v", pe)
	}
	// The session is still usable.
	if _, err := conn.Exec(ctx, "insert"); err != nil {
		t.Fatal(err)
	}
}

func TestSimpleQueryMultiStatement(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	results, err := conn.PgConn().Exec(ctx, "gen 2; insert; values").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, r := range results {
		tags = append(tags, r.CommandTag.String())
	}
	if s := strings.Join(tags, ","); s != "SELECT 2,INSERT 0 1,SELECT 4" {
		t.Errorf("tags = %s", s)
	}
	if got := string(results[2].Rows[2][1]); got != "tab\there\nnew\\line, \"q\"" {
		t.Errorf("text value = %q", got)
	}
	if results[2].Rows[1][1] != nil || string(results[2].Rows[3][2]) != "0.13" || results[2].Rows[3][1] == nil {
		t.Errorf("NULL/empty/numeric(10,2): %q", results[2].Rows)
	}
	// An error stops the remaining statements; its position is relative
	// to the whole message.
	results, err = conn.PgConn().Exec(ctx, "gen 1; fail on nope; gen 5").ReadAll()
	pe := pgErr(t, err)
	if pe.Code != "42P01" || pe.Position != int32(len("gen 1; fail on ")+1) || pe.Hint != "create it first" {
		t.Errorf("error = %+v", pe)
	}
	if len(results) != 1 || len(results[0].Rows) != 1 {
		t.Errorf("results before the error: %d", len(results))
	}
	// Syntax errors fail the whole message before anything runs.
	results, err = conn.PgConn().Exec(ctx, "insert; syntax!").ReadAll()
	if pe := pgErr(t, err); pe.Code != "42601" || pe.Position != 15 {
		t.Errorf("syntax error = %+v", pe)
	}
	// Empty query.
	results, err = conn.PgConn().Exec(ctx, " ; ").ReadAll()
	if err != nil || len(results) != 1 || results[0].CommandTag.String() != "" {
		t.Errorf("empty query: %v %v", results, err)
	}
	// An uncoded error is XX000.
	_, err = conn.PgConn().Exec(ctx, "plainerr").ReadAll()
	if pe := pgErr(t, err); pe.Code != "XX000" || pe.Message != "fake: an uncoded failure" {
		t.Errorf("plain error = %+v", pe)
	}
}

func TestTransactionStatus(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	pc := conn.PgConn()
	step := func(sql string, want byte) {
		t.Helper()
		_, _ = pc.Exec(ctx, sql).ReadAll()
		if pc.TxStatus() != want {
			t.Errorf("after %q: status %c, want %c", sql, pc.TxStatus(), want)
		}
	}
	step("begin", 'T')
	step("insert", 'T')
	step("execfail", 'E')
	step("insert", 'E')
	step("rollback", 'I')
	// And through the extended protocol.
	conn2 := connect(t, addr, pgx.QueryExecModeCacheStatement)
	tx, err := conn2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if conn2.PgConn().TxStatus() != 'T' {
		t.Errorf("in tx: %c", conn2.PgConn().TxStatus())
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if conn2.PgConn().TxStatus() != 'I' {
		t.Errorf("after commit: %c", conn2.PgConn().TxStatus())
	}
}

func TestErrorsReachClient(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		conn := connect(t, addr, mode)
		_, err := conn.Exec(ctx, "fail on nope")
		pe := pgErr(t, err)
		if pe.Code != "42P01" || pe.Position != 9 || pe.Message != `relation "nope" does not exist` || pe.Severity != "ERROR" {
			t.Errorf("%v: %+v", mode, pe)
		}
		_, err = conn.Exec(ctx, "execfail")
		if pe := pgErr(t, err); pe.Code != "22012" || pe.Detail != "in execfail" {
			t.Errorf("%v: %+v", mode, pe)
		}
		var n int64
		if err := conn.QueryRow(ctx, "gen 1").Scan(&n, new(string)); err != nil || n != 1 {
			t.Errorf("%v: after errors: %v %d", mode, err, n)
		}
	}
}

func TestPanicIsContained(t *testing.T) {
	b, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	_, err := conn.Exec(ctx, "panic")
	if pe := pgErr(t, err); pe.Code != "XX000" || pe.Severity != "FATAL" {
		t.Errorf("panic: %+v", pe)
	}
	other := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	if _, err := other.Exec(ctx, "insert"); err != nil {
		t.Errorf("server died with the panicking session: %v", err)
	}
	_ = b
}

func TestTimeZoneParameterStatus(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	pc := conn.PgConn()
	check := func(zone, want string) {
		t.Helper()
		res, err := pc.Exec(ctx, "set timezone "+zone+"; tz").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if pc.ParameterStatus("TimeZone") != zone {
			t.Errorf("TimeZone status = %q", pc.ParameterStatus("TimeZone"))
		}
		if got := string(res[1].Rows[0][0]) + " " + string(res[1].Rows[0][1]); got != want {
			t.Errorf("%s: %q, want %q", zone, got, want)
		}
	}
	check("Europe/Paris", `2024-01-02 04:04:05+01 {"2024-01-02 04:04:05+01",NULL}`)
	check("Asia/Kolkata", `2024-01-02 08:34:05+05:30 {"2024-01-02 08:34:05+05:30",NULL}`)
	check("UTC+3", `2024-01-02 00:04:05-03 {"2024-01-02 00:04:05-03",NULL}`)
	check("UTC", `2024-01-02 03:04:05+00 {"2024-01-02 03:04:05+00",NULL}`)
}

// frontend is a hand-driven protocol client for what drivers hide.
type frontend struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialFrontend(t *testing.T, addr string) *frontend {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &frontend{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

func (f *frontend) send(msgs ...pgproto3.FrontendMessage) {
	f.t.Helper()
	for _, m := range msgs {
		f.fe.Send(m)
	}
	if err := f.fe.Flush(); err != nil {
		f.t.Fatal(err)
	}
}

// recv reads messages up to and including one of type until, and
// summarises them.
func (f *frontend) recvUntil(until string) []string {
	f.t.Helper()
	var out []string
	for {
		m, err := f.fe.Receive()
		if err != nil {
			f.t.Fatalf("receive after %v: %v", out, err)
		}
		s := summarize(m)
		out = append(out, s)
		if strings.HasPrefix(s, until) {
			return out
		}
	}
}

func summarize(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.DataRow:
		var vs []string
		for _, v := range m.Values {
			vs = append(vs, string(v))
		}
		return "D(" + strings.Join(vs, ",") + ")"
	case *pgproto3.CommandComplete:
		return "C(" + string(m.CommandTag) + ")"
	case *pgproto3.ReadyForQuery:
		return "Z(" + string(m.TxStatus) + ")"
	case *pgproto3.ErrorResponse:
		return "E(" + m.Code + ")"
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("t%v", m.ParameterOIDs)
	case *pgproto3.RowDescription:
		var vs []string
		for _, f := range m.Fields {
			vs = append(vs, fmt.Sprintf("%s:%d:%d", f.Name, f.DataTypeOID, f.Format))
		}
		return "T(" + strings.Join(vs, ",") + ")"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
}

func (f *frontend) startup() {
	f.t.Helper()
	f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "bob"}})
	f.recvUntil("Z(")
}

func TestSSLAndGSSRequestDeclined(t *testing.T) {
	_, addr, _ := testServer(t)
	f := dialFrontend(t, addr)
	for _, m := range []pgproto3.FrontendMessage{&pgproto3.SSLRequest{}, &pgproto3.GSSEncRequest{}} {
		f.send(m)
		var b [1]byte
		if _, err := f.nc.Read(b[:]); err != nil || b[0] != 'N' {
			t.Fatalf("%T answer %q %v", m, b, err)
		}
	}
	f.startup()
	f.send(&pgproto3.Query{String: "gen 1"})
	got := strings.Join(f.recvUntil("Z("), " ")
	if want := "T(i:20:0,s:25:0) D(1,row 1) C(SELECT 1) Z(I)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestExtendedProtocolPortals(t *testing.T) {
	b, addr, _ := testServer(t)
	f := dialFrontend(t, addr)
	f.startup()
	f.send(
		&pgproto3.Parse{Name: "s1", Query: "gen 5"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{DestinationPortal: "p1", PreparedStatement: "s1", ResultFormatCodes: []int16{0, 0}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p1"},
		&pgproto3.Execute{Portal: "p1", MaxRows: 2},
		&pgproto3.Execute{Portal: "p1", MaxRows: 2},
		&pgproto3.Flush{},
	)
	got := strings.Join(f.recvUntil("PortalSuspended"), " ")
	got += " " + strings.Join(f.recvUntil("PortalSuspended"), " ")
	want := "ParseComplete t[] T(i:20:0,s:25:0) BindComplete T(i:20:0,s:25:0) D(1,row 1) D(2,row 2) PortalSuspended D(3,row 3) D(4,row 4) PortalSuspended"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	f.send(&pgproto3.Execute{Portal: "p1", MaxRows: 2}, &pgproto3.Execute{Portal: "p1"}, &pgproto3.Sync{})
	got = strings.Join(f.recvUntil("Z("), " ")
	if want := "D(5,row 5) C(SELECT 1) C(SELECT 0) Z(I)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// A portal left suspended is closed at Sync.
	f.send(&pgproto3.Bind{DestinationPortal: "p2", PreparedStatement: "s1"}, &pgproto3.Execute{Portal: "p2", MaxRows: 1}, &pgproto3.Sync{})
	f.recvUntil("Z(")
	select {
	case <-b.closed:
	case <-time.After(2 * time.Second):
		t.Error("suspended portal's rows not closed at Sync")
	}
	// After an error, messages are skipped until Sync; the statement
	// still exists afterwards.
	f.send(
		&pgproto3.Parse{Name: "bad", Query: "fail nope"},
		&pgproto3.Bind{PreparedStatement: "bad"},
		&pgproto3.Execute{},
		&pgproto3.Query{String: "insert"}, // skipped too
		&pgproto3.Sync{},
		&pgproto3.Parse{Name: "s1", Query: "gen 1"},
		&pgproto3.Bind{PreparedStatement: "missing"},
		&pgproto3.Sync{},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("x")}},
		&pgproto3.Sync{},
		&pgproto3.Bind{PreparedStatement: "s1"},
		&pgproto3.Execute{MaxRows: 1},
		&pgproto3.Close{ObjectType: 'S', Name: "s1"},
		&pgproto3.Bind{PreparedStatement: "s1"},
		&pgproto3.Sync{},
	)
	got = strings.Join(f.recvUntil("Z("), " ") + " | " + strings.Join(f.recvUntil("Z("), " ") + " | " +
		strings.Join(f.recvUntil("Z("), " ") + " | " + strings.Join(f.recvUntil("Z("), " ")
	want = "E(42P01) Z(I) | E(42P05) Z(I) | E(08P01) Z(I) | BindComplete D(1,row 1) PortalSuspended CloseComplete E(26000) Z(I)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Parameter types are inferred; declared ones pin them.
	f.send(
		&pgproto3.Parse{Query: "echo int4 text", ParameterOIDs: []uint32{20}},
		&pgproto3.Describe{ObjectType: 'S'},
		&pgproto3.Bind{Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 9}, []byte("hi")}, ParameterFormatCodes: []int16{1, 0}, ResultFormatCodes: []int16{0}},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	)
	got = strings.Join(f.recvUntil("Z("), " ")
	if want := "ParseComplete t[20 25] T(p1:20:0,p2:25:0) BindComplete D(9,hi) C(SELECT 1) Z(I)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Empty query through the extended protocol.
	f.send(&pgproto3.Parse{Query: ""}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if got := strings.Join(f.recvUntil("Z("), " "); got != "ParseComplete BindComplete NoData EmptyQueryResponse Z(I)" {
		t.Errorf("empty: %s", got)
	}
	f.send(&pgproto3.Terminate{})
}

func TestPgxRowLimitedFetch(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	pc := conn.PgConn()
	// pgx has no fetch size; drive a named portal through pgconn's
	// pipeline-free primitives: Prepare, then ExecPrepared reads all, and
	// the hand-driven test above covers MaxRows. Here check that many rows
	// stream through in binary.
	rows, err := conn.Query(ctx, "gen 5000")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var i int64
		var s string
		if err := rows.Scan(&i, &s); err != nil {
			t.Fatal(err)
		}
		n++
		if i != int64(n) || s != fmt.Sprintf("row %d", n) {
			t.Fatalf("row %d = %d %q", n, i, s)
		}
	}
	if rows.Err() != nil || n != 5000 || rows.CommandTag().String() != "SELECT 5000" {
		t.Errorf("n=%d tag=%s err=%v", n, rows.CommandTag(), rows.Err())
	}
	if _, err := pc.Prepare(ctx, "named", "echo int8", nil); err != nil {
		t.Fatal(err)
	}
	res := pc.ExecPrepared(ctx, "named", [][]byte{[]byte("77")}, nil, []int16{1}).Read()
	if res.Err != nil || len(res.Rows) != 1 || !bytes.Equal(res.Rows[0][0], []byte{0, 0, 0, 0, 0, 0, 0, 77}) {
		t.Errorf("ExecPrepared binary result: %v %v", res.Rows, res.Err)
	}
}

func TestCancelStreamingQuery(t *testing.T) {
	b, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	rows, err := conn.Query(ctx, "stream")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
		if n == 3 {
			if err := conn.PgConn().CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows.Close()
	if pe := pgErr(t, rows.Err()); pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
		t.Errorf("cancel error: %+v", pe)
	}
	if n < 3 {
		t.Errorf("only %d rows before cancel", n)
	}
	select {
	case <-b.closed:
	case <-time.After(2 * time.Second):
		t.Error("stream not closed after cancel")
	}
	var i int64
	if err := conn.QueryRow(ctx, "gen 1").Scan(&i, new(string)); err != nil || i != 1 {
		t.Errorf("session unusable after cancel: %v", err)
	}
	// A statement blocked before producing anything is cancelled too.
	wantCancelled(t, ctx, conn, func() { _ = conn.PgConn().CancelRequest(ctx) })
	// pgx's own context cancellation sends a CancelRequest as well.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err = conn.PgConn().Exec(cctx, "sleep").ReadAll(); err == nil {
		t.Fatal("sleep returned no error")
	}
	// A CancelRequest with a wrong key is ignored.
	f := dialFrontend(t, addr)
	f.send(&pgproto3.CancelRequest{ProcessID: conn.PgConn().PID(), SecretKey: []byte{0, 0, 0, 0}})
	if _, err := f.nc.Read(make([]byte, 1)); err == nil {
		t.Error("cancel connection not closed")
	}
}

func TestCopyOutStreamCancel(t *testing.T) {
	b, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	pr := &notifyWriter{lines: make(chan struct{}, 1000)}
	go func() {
		for i := 0; i < 3; i++ {
			<-pr.lines
		}
		_ = conn.PgConn().CancelRequest(context.Background())
	}()
	_, err := conn.PgConn().CopyTo(ctx, pr, "copy stream")
	if pe := pgErr(t, err); pe.Code != "57014" {
		t.Errorf("copy stream: %+v", pe)
	}
	if !strings.HasPrefix(pr.String(), "1\ttick\n2\ttick\n3\ttick\n") {
		t.Errorf("streamed %q", pr.String())
	}
	if name := <-b.closed; name != "copy stream" {
		t.Errorf("closed %q", name)
	}
}

type notifyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines <- struct{}{}
	return w.buf.Write(p)
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestCopyOutFormats(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	var buf bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &buf, "copy out")
	if err != nil {
		t.Fatal(err)
	}
	want := "1\tplain\t1.50\n2\t\\N\t-20.00\n3\ttab\\there\\nnew\\\\line, \"q\"\t\\N\n4\t\t0.13\n"
	if buf.String() != want || tag.String() != "COPY 4" {
		t.Errorf("copy out = %q (%s), want %q", buf.String(), tag, want)
	}
	buf.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &buf, "copy out csv"); err != nil {
		t.Fatal(err)
	}
	want = "id,name,score\n1,plain,1.50\n2,,-20.00\n3,\"tab\there\nnew\\line, \"\"q\"\"\",\n4,\"\",0.13\n"
	if buf.String() != want {
		t.Errorf("copy csv = %q, want %q", buf.String(), want)
	}
}

func TestCopyIn(t *testing.T) {
	b, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	in := "1\tplain\t1.5\n2\t\\N\t-20\n3\ttab\\there\\nnew\\\\line\\x41\\101\t\\N\n\\.\n"
	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(in), "copy in")
	if err != nil || tag.String() != "COPY 3" {
		t.Fatalf("copy in: %s %v", tag, err)
	}
	tag, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("id,name,score\n7,\"multi\nline, \"\"quoted\"\"\",\n8,\"\",2.25\r\n"), "copy in csv")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("copy in csv: %s %v", tag, err)
	}
	b.mu.Lock()
	var got []string
	for _, r := range b.copied {
		got = append(got, r.String())
	}
	b.mu.Unlock()
	want := []string{
		"(1, 'plain', 1.5)", "(2, NULL, -20)", "(3, 'tab\there\nnew\\lineAA', NULL)",
		"(7, 'multi\nline, \"quoted\"', NULL)", "(8, '', 2.25)",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("copied\n%q\nwant\n%q", got, want)
	}
	// Bad data: the error names the line; the session goes on.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("1\tx\t1\n2\ty\n"), "copy in")
	if pe := pgErr(t, err); pe.Code != "22P04" || !strings.Contains(pe.Detail, "line 2") {
		t.Errorf("short line: %+v", pe)
	}
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("abc\tx\t1\n"), "copy in")
	if pe := pgErr(t, err); pe.Code != "22P02" || !strings.Contains(pe.Detail, "column id") {
		t.Errorf("bad int: %+v", pe)
	}
	if _, err := conn.Exec(ctx, "insert"); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	if len(b.copied) != 5 {
		t.Errorf("failed copies leaked rows: %d", len(b.copied))
	}
	b.mu.Unlock()
}

func TestClientDisconnectStopsStream(t *testing.T) {
	b, addr, _ := testServer(t)
	f := dialFrontend(t, addr)
	f.startup()
	f.send(&pgproto3.Query{String: "stream"})
	f.recvUntil("D(")
	f.nc.Close()
	select {
	case name := <-b.closed:
		if name != "stream" {
			t.Errorf("closed %q", name)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream still running after the client disconnected")
	}
}

func TestShutdownTerminatesSessions(t *testing.T) {
	b, addr, stop := testServer(t)
	ctx := testCtx(t)
	idle := connect(t, addr, pgx.QueryExecModeCacheStatement)
	busy := connect(t, addr, pgx.QueryExecModeCacheStatement)
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		rows, err := busy.Query(ctx, "stream")
		if err != nil {
			errc <- err
			return
		}
		for rows.Next() {
			select {
			case <-started:
			default:
				close(started)
			}
		}
		errc <- rows.Err()
	}()
	<-started
	stop()
	if pe := pgErr(t, <-errc); pe.Code != "57P01" || pe.Severity != "FATAL" {
		t.Errorf("busy session: %+v", pe)
	}
	<-b.closed
	_, err := idle.Exec(ctx, "insert")
	if err == nil {
		t.Fatal("idle session survived shutdown")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still open")
	}
}

func TestManyConcurrentSessions(t *testing.T) {
	_, addr, _ := testServer(t)
	ctx := testCtx(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pc, err := pgconn.Connect(ctx, connString(addr, "db"))
			if err != nil {
				errs <- err
				return
			}
			defer pc.Close(ctx)
			res := pc.ExecParams(ctx, "echo int4", [][]byte{[]byte(fmt.Sprint(i))}, nil, nil, nil).Read()
			if res.Err != nil || string(res.Rows[0][0]) != fmt.Sprint(i) {
				errs <- fmt.Errorf("session %d: %v %q", i, res.Err, res.Rows)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		testenv.SkipUnlessCI(t, "psql is not installed (Debian postgresql-client)")
	}
	_, addr, _ := testServer(t)
	host, port, _ := net.SplitHostPort(addr)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, append([]string{"-X", "-h", host, "-p", port, "-U", "carol", "-d", "db"}, args...)...)
		cmd.Env = append(os.Environ(), "PGSSLMODE=prefer", "PGCONNECT_TIMEOUT=5", "PAGER=", "PSQL_PAGER=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("-c", "values")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	// psql shows the tab as spaces and the newline as a "+" wrap.
	want := ` id |     name      | score  
----+---------------+--------
  1 | plain         |   1.50
  2 |               | -20.00
  3 | tab     here +|       
    | new\line, "q" | 
  4 |               |   0.13
(4 rows)

`
	if out != want {
		t.Errorf("psql output:\n%s\nwant:\n%s", out, want)
	}
	out, err = run("-A", "-t", "-c", "gen 2; insert; gen 1")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if want := "1|row 1\n2|row 2\nINSERT 0 1\n1|row 1\n"; out != want {
		t.Errorf("psql multi-statement output %q, want %q", out, want)
	}
	out, err = run("-c", "copy out")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if want := "1\tplain\t1.50\n2\t\\N\t-20.00\n3\ttab\\there\\nnew\\\\line, \"q\"\t\\N\n4\t\t0.13\n"; out != want {
		t.Errorf("psql COPY TO STDOUT %q, want %q", out, want)
	}
	out, err = run("-A", "-c", "record")
	if err != nil || out != "r\n(7,\"x y\",)\n(1 row)\n" {
		t.Errorf("psql record: %q %v", out, err)
	}
	out, err = run("-c", "fail on nope")
	if err == nil {
		t.Error("psql succeeded on an error")
	}
	if want := "ERROR:  relation \"nope\" does not exist\nLINE 1: fail on nope\n                ^\nHINT:  create it first\n"; out != want {
		t.Errorf("psql error output %q, want %q", out, want)
	}
}

func TestCopyFailAndStrayCopyData(t *testing.T) {
	b, addr, _ := testServer(t)
	f := dialFrontend(t, addr)
	f.startup()
	f.send(&pgproto3.Query{String: "copy in"})
	f.recvUntil("CopyInResponse")
	f.send(&pgproto3.CopyData{Data: []byte("1\tx\t1\n")}, &pgproto3.CopyFail{Message: "client gave up"})
	got := f.recvUntil("Z(")
	if strings.Join(got, " ") != "E(57014) Z(I)" {
		t.Errorf("CopyFail: %v", got)
	}
	// A bad row ends the COPY at once; the rest of the client's data is
	// ignored until the next Query.
	f.send(&pgproto3.Query{String: "copy in"})
	f.recvUntil("CopyInResponse")
	f.send(&pgproto3.CopyData{Data: []byte("oops\n")})
	got = f.recvUntil("Z(")
	f.send(&pgproto3.CopyData{Data: []byte("2\ty\t2\n")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "insert"})
	got = append(got, f.recvUntil("Z(")...)
	if strings.Join(got, " ") != "E(22P04) Z(I) C(INSERT 0 1) Z(I)" {
		t.Errorf("bad copy data: %v", got)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.copied) != 0 {
		t.Errorf("aborted copies stored %d rows", len(b.copied))
	}
}

func TestMessageTooLarge(t *testing.T) {
	b := newFakeBackend()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(b, nil)
	srv.MaxMessageSize = 1024
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	f := dialFrontend(t, ln.Addr().String())
	f.startup()
	f.send(&pgproto3.Query{String: "insert " + strings.Repeat("x", 2048)})
	m, err := f.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != "54000" || e.Severity != "FATAL" {
		t.Errorf("got %#v", m)
	}
	if _, err := f.fe.Receive(); err == nil {
		t.Error("connection still open")
	}
}

func TestStartupErrors(t *testing.T) {
	_, addr, _ := testServer(t)
	f := dialFrontend(t, addr)
	f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"database": "x"}})
	m, err := f.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != "28000" {
		t.Errorf("no user: %#v", m)
	}
	// A client asking for protocol 3.2 is told the server speaks 3.0.
	f = dialFrontend(t, addr)
	f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{"user": "u"}})
	got := f.recvUntil("Z(")
	if got[0] != "NegotiateProtocolVersion" || got[1] != "AuthenticationOk" {
		t.Errorf("3.2 startup: %v", got)
	}
}

// TestBackendCancelAndTerminate covers what pg_cancel_backend and
// pg_terminate_backend use: the session's pid and address in
// StartupParams, Client.Cancel (a CancelRequest from the backend) and
// Client.Terminate (FATAL 57P01, then the connection closes), running or
// idle.
func TestBackendCancelAndTerminate(t *testing.T) {
	b, addr, _ := testServer(t)
	ctx := testCtx(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	b.mu.Lock()
	client, start := b.clients[len(b.clients)-1], b.lastStart
	b.mu.Unlock()
	if start.PID != conn.PgConn().PID() {
		t.Errorf("StartupParams.PID = %d, BackendKeyData's = %d", start.PID, conn.PgConn().PID())
	}
	if start.RemoteAddr == nil || start.RemoteAddr.String() != conn.PgConn().Conn().LocalAddr().String() {
		t.Errorf("StartupParams.RemoteAddr = %v, want %v", start.RemoteAddr, conn.PgConn().Conn().LocalAddr())
	}

	// Cancel stops the running statement; the session goes on. Cancel
	// with nothing running does nothing.
	client.Cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		client.Cancel()
	}()
	_, err := conn.PgConn().Exec(ctx, "sleep").ReadAll()
	if pe := pgErr(t, err); pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
		t.Errorf("cancelled sleep: %+v", pe)
	}
	var i int64
	if err := conn.QueryRow(ctx, "gen 1").Scan(&i, new(string)); err != nil || i != 1 {
		t.Fatalf("session unusable after Cancel: %v", err)
	}

	// Terminate ends a running statement with a FATAL and closes.
	go func() {
		time.Sleep(50 * time.Millisecond)
		client.Terminate()
	}()
	_, err = conn.PgConn().Exec(ctx, "sleep").ReadAll()
	if pe := pgErr(t, err); pe.Code != "57P01" || pe.Severity != "FATAL" || pe.Message != "terminating connection due to administrator command" {
		t.Errorf("terminated sleep: %+v", pe)
	}
	if !conn.PgConn().IsClosed() {
		t.Error("connection open after a FATAL")
	}

	// An idle session gets the FATAL at once and the connection closes.
	f := dialFrontend(t, addr)
	f.startup()
	b.mu.Lock()
	client = b.clients[len(b.clients)-1]
	b.mu.Unlock()
	client.Terminate()
	msg, err := f.fe.Receive()
	if e, ok := msg.(*pgproto3.ErrorResponse); err != nil || !ok || e.Code != "57P01" || e.Severity != "FATAL" {
		t.Fatalf("idle session terminated: got %#v, %v", msg, err)
	}
	_ = f.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := f.nc.Read(make([]byte, 1)); err == nil {
		t.Error("terminated connection not closed")
	}
}
