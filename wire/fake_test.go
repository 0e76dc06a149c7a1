package wire

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// fakeBackend is an in-memory Backend speaking a tiny command language
// (one word commands, see fakeSession.plan) so that wire is tested through
// real clients without the SQL layer.
type fakeBackend struct {
	mu        sync.Mutex
	copied    []repr.Row    // rows received by "copy in"
	closed    chan string   // names of streams closed ("stream")
	sessions  int           // sessions opened
	lastStart StartupParams // the last StartupParams seen
	clients   []Client      // every session's Client, in order
	// fuzzing leaves out the commands that fail on purpose (panic,
	// plainerr), that never end (sleep, stream, copy stream) and caps
	// gen's row count, so that FuzzConn's findings are the server's.
	fuzzing bool
}

func newFakeBackend() *fakeBackend { return &fakeBackend{closed: make(chan string, 64)} }

func (b *fakeBackend) NewSession(ctx context.Context, p StartupParams, client Client) (Session, error) {
	b.mu.Lock()
	b.sessions++
	b.lastStart = p
	b.clients = append(b.clients, client)
	b.mu.Unlock()
	switch p.Database {
	case "forbidden":
		return nil, pgcode.New(pgcode.InvalidCatalogName, "database %q may not be used", p.Database)
	case "nodb":
		client.Notice(pgcode.New(pgcode.InvalidCatalogName, "database %q does not exist", p.Database))
	}
	return &fakeSession{b: b, client: client, status: TxnIdle}, nil
}

type fakeSession struct {
	b      *fakeBackend
	client Client
	status TxnStatus
}

// fakeStmt is a planned command: its parameter and result types and how
// to run it.
type fakeStmt struct {
	params []repr.ScalarType
	cols   *repr.RelationDesc
	run    func(ctx context.Context, params []repr.Datum) (Result, error)
	// endsTxn marks COMMIT and ROLLBACK, which run in a failed transaction.
	endsTxn bool
}

func (s *fakeStmt) ParamTypes() []repr.ScalarType { return s.params }
func (s *fakeStmt) Columns() *repr.RelationDesc   { return s.cols }

func (s *fakeSession) Split(ctx context.Context, sql string) ([]StatementText, error) {
	var out []StatementText
	off := 0
	for _, part := range strings.Split(sql, ";") {
		trimmed := strings.TrimSpace(part)
		if trimmed != "" {
			out = append(out, StatementText{SQL: trimmed, Offset: off + strings.Index(part, trimmed)})
		}
		off += len(part) + 1
	}
	if strings.Contains(sql, "syntax!") {
		return nil, pgcode.New(pgcode.SyntaxError, "syntax error at or near \"!\"").WithPosition(strings.Index(sql, "!") + 1)
	}
	return out, nil
}

func (s *fakeSession) Prepare(ctx context.Context, sql string, paramOIDs []uint32) (Statement, error) {
	st, err := s.plan(strings.TrimSpace(sql), paramOIDs)
	if err != nil && s.status == TxnActive {
		s.status = TxnFailed
	}
	return st, err
}

func (s *fakeSession) Execute(ctx context.Context, stmt Statement, params []repr.Datum, opts ExecuteOptions) (Result, error) {
	if s.status == TxnFailed && !stmt.(*fakeStmt).endsTxn {
		return Result{}, pgcode.New(pgcode.InFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	res, err := stmt.(*fakeStmt).run(ctx, params)
	if err != nil && s.status == TxnActive {
		s.status = TxnFailed
	}
	return res, err
}

func (s *fakeSession) Sync(ctx context.Context, failed bool) error { return nil }
func (s *fakeSession) TxnStatus() TxnStatus                        { return s.status }
func (s *fakeSession) Close()                                      {}

// sliceRows serves a fixed set of rows.
type sliceRows struct {
	rows   []repr.Row
	closed func()
}

func (r *sliceRows) Next(ctx context.Context) (repr.Row, error) {
	if len(r.rows) == 0 {
		return nil, io.EOF
	}
	row := r.rows[0]
	r.rows = r.rows[1:]
	return row, nil
}

func (r *sliceRows) Close() {
	if r.closed != nil {
		r.closed()
	}
}

// streamRows is an endless stream (like SUBSCRIBE): a row every period
// until its context is cancelled.
type streamRows struct {
	b      *fakeBackend
	n      int64
	period time.Duration
	name   string
}

func (r *streamRows) Streaming() bool { return true }

func (r *streamRows) Next(ctx context.Context) (repr.Row, error) {
	if r.n > 0 {
		select {
		case <-time.After(r.period):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.n++
	return repr.PackRow(repr.Int8Datum(r.n), repr.TextDatum("tick")), nil
}

func (r *streamRows) Close() { r.b.closed <- r.name }

type sliceSink struct {
	b    *fakeBackend
	rows []repr.Row
}

func (k *sliceSink) Append(ctx context.Context, rows []repr.Row) error {
	for _, r := range rows {
		k.rows = append(k.rows, r.Clone())
	}
	return nil
}

func (k *sliceSink) Commit(ctx context.Context) error {
	k.b.mu.Lock()
	k.b.copied = append(k.b.copied, k.rows...)
	k.b.mu.Unlock()
	return nil
}

func (k *sliceSink) Abort(cause error) { k.rows = nil }

func col(t repr.ScalarType) repr.ColumnType { return repr.ColumnType{Type: t, Nullable: true} }

func mustNumeric(s string) repr.Datum {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return repr.NumericDatum(d)
}

// valuesDesc and valuesRows are a small table with awkward text.
var valuesDesc = repr.RelationDesc{
	Names: []string{"id", "name", "score"},
	Types: []repr.ColumnType{col(repr.TypeInt8), col(repr.TypeText), col(repr.NumericType(10, 2))},
}

func valuesRows() []repr.Row {
	return []repr.Row{
		repr.PackRow(repr.Int8Datum(1), repr.TextDatum("plain"), mustNumeric("1.5")),
		repr.PackRow(repr.Int8Datum(2), repr.Null, mustNumeric("-20")),
		repr.PackRow(repr.Int8Datum(3), repr.TextDatum("tab\there\nnew\\line, \"q\""), repr.Null),
		repr.PackRow(repr.Int8Datum(4), repr.TextDatum(""), mustNumeric("0.125")),
	}
}

// typeNames maps the names used by "echo" to types.
var typeNames = map[string]repr.ScalarType{
	"bool": repr.TypeBool, "int2": repr.TypeInt2, "int4": repr.TypeInt4, "int8": repr.TypeInt8,
	"float4": repr.TypeFloat4, "float8": repr.TypeFloat8, "numeric": repr.TypeNumeric,
	"text": repr.TypeText, "varchar": repr.TypeVarchar, "bpchar": repr.TypeChar, "bytea": repr.TypeBytea,
	"date": repr.TypeDate, "time": repr.TypeTime, "timestamp": repr.TypeTimestamp,
	"timestamptz": repr.TypeTimestampTz, "interval": repr.TypeInterval, "uuid": repr.TypeUUID,
	"jsonb": repr.TypeJsonb, "oid": repr.TypeOid,
	"int4[]": repr.ArrayOf(repr.TypeInt4), "text[]": repr.ArrayOf(repr.TypeText),
	"numeric[]": repr.ArrayOf(repr.TypeNumeric), "timestamptz[]": repr.ArrayOf(repr.TypeTimestampTz),
}

func rowsResult(tag string, rows []repr.Row) Result {
	return Result{Tag: tag, Rows: &sliceRows{rows: rows}}
}

func (s *fakeSession) plan(sql string, paramOIDs []uint32) (*fakeStmt, error) {
	words := strings.Fields(sql)
	if len(words) == 0 {
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) { return Result{Empty: true}, nil }}, nil
	}
	constant := func(tag string) (*fakeStmt, error) {
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) { return Result{Tag: tag}, nil }}, nil
	}
	if s.b.fuzzing {
		switch w := strings.ToLower(words[0]); {
		case w == "panic" || w == "plainerr" || w == "sleep" || w == "stream" || w == "copy" && len(words) > 1 && words[1] == "stream":
			return nil, pgcode.New(pgcode.FeatureNotSupported, "fake: %s is off while fuzzing", w)
		case w == "gen" && len(words) > 1:
			if n, err := strconv.Atoi(words[1]); err != nil || n < 0 || n > 100 {
				return nil, pgcode.New(pgcode.InvalidParameterValue, "fake: gen takes 0 to 100 rows while fuzzing")
			}
		}
	}
	switch strings.ToLower(words[0]) {
	case "values":
		return &fakeStmt{cols: &valuesDesc, run: func(context.Context, []repr.Datum) (Result, error) {
			return rowsResult("", valuesRows()), nil
		}}, nil
	case "gen":
		n := 3
		if len(words) > 1 {
			n, _ = strconv.Atoi(words[1])
		}
		desc := &repr.RelationDesc{Names: []string{"i", "s"}, Types: []repr.ColumnType{col(repr.TypeInt8), col(repr.TypeText)}}
		return &fakeStmt{cols: desc, run: func(context.Context, []repr.Datum) (Result, error) {
			rows := make([]repr.Row, n)
			for i := range rows {
				rows[i] = repr.PackRow(repr.Int8Datum(int64(i+1)), repr.TextDatum(fmt.Sprintf("row %d", i+1)))
			}
			return Result{Rows: &sliceRows{rows: rows, closed: func() { s.b.closed <- "gen" }}}, nil
		}}, nil
	case "types":
		desc, row := typesRow()
		return &fakeStmt{cols: desc, run: func(context.Context, []repr.Datum) (Result, error) {
			return rowsResult("", []repr.Row{row}), nil
		}}, nil
	case "echo":
		st := &fakeStmt{cols: &repr.RelationDesc{}}
		for i, w := range words[1:] {
			t, ok := typeNames[w]
			if !ok {
				return nil, pgcode.New(pgcode.UndefinedObject, "type %q does not exist", w)
			}
			if i < len(paramOIDs) && paramOIDs[i] != 0 {
				if t2, ok := repr.TypeForOid(paramOIDs[i]); ok {
					t = t2
				}
			}
			st.params = append(st.params, t)
			st.cols.Names = append(st.cols.Names, fmt.Sprintf("p%d", i+1))
			st.cols.Types = append(st.cols.Types, col(t))
		}
		st.run = func(_ context.Context, params []repr.Datum) (Result, error) {
			return rowsResult("", []repr.Row{repr.PackRow(params...)}), nil
		}
		return st, nil
	case "stream":
		desc := &repr.RelationDesc{Names: []string{"n", "what"}, Types: []repr.ColumnType{col(repr.TypeInt8), col(repr.TypeText)}}
		return &fakeStmt{cols: desc, run: func(context.Context, []repr.Datum) (Result, error) {
			return Result{Tag: "SUBSCRIBE", Rows: &streamRows{b: s.b, period: 5 * time.Millisecond, name: "stream"}}, nil
		}}, nil
	case "sleep":
		return &fakeStmt{run: func(ctx context.Context, _ []repr.Datum) (Result, error) {
			<-ctx.Done()
			return Result{}, fmt.Errorf("fake: sleep interrupted: %w", ctx.Err())
		}}, nil
	case "fail":
		return nil, pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", "nope").
			WithPosition(strings.Index(sql, "nope") + 1).WithHint("create it first")
	case "execfail":
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
			return Result{}, pgcode.New(pgcode.DivisionByZero, "division by zero").WithDetail("in execfail")
		}}, nil
	case "plainerr":
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
			return Result{}, fmt.Errorf("fake: an uncoded failure")
		}}, nil
	case "panic":
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) { panic("fake: boom") }}, nil
	case "set":
		if len(words) == 3 && strings.EqualFold(words[1], "timezone") {
			s.client.ParameterStatus("TimeZone", words[2])
			return constant("SET")
		}
		return nil, pgcode.New(pgcode.SyntaxError, "bad SET")
	case "notice":
		s.client.Notice(&pgcode.Error{Code: pgcode.Warning, Severity: pgcode.SeverityWarning, Message: "careful"})
		return constant("DO")
	case "insert":
		return constant("INSERT 0 1")
	case "begin":
		return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
			s.status = TxnActive
			return Result{Tag: "BEGIN"}, nil
		}}, nil
	case "commit", "rollback":
		tag := strings.ToUpper(words[0])
		return &fakeStmt{endsTxn: true, run: func(context.Context, []repr.Datum) (Result, error) {
			if s.status == TxnFailed {
				tag = "ROLLBACK"
			}
			s.status = TxnIdle
			return Result{Tag: tag}, nil
		}}, nil
	case "record":
		desc := &repr.RelationDesc{Names: []string{"r"}, Types: []repr.ColumnType{col(repr.TypeRecord)}}
		rec := repr.RecordDatum([]repr.Datum{repr.Int4Datum(7), repr.TextDatum("x y"), repr.Null})
		return &fakeStmt{cols: desc, run: func(context.Context, []repr.Datum) (Result, error) {
			return rowsResult("", []repr.Row{repr.PackRow(rec)}), nil
		}}, nil
	case "tz":
		desc := &repr.RelationDesc{Names: []string{"ts", "tss"}, Types: []repr.ColumnType{col(repr.TypeTimestampTz), col(repr.ArrayOf(repr.TypeTimestampTz))}}
		ts := repr.TimestampTzDatum(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro())
		return &fakeStmt{cols: desc, run: func(context.Context, []repr.Datum) (Result, error) {
			return rowsResult("", []repr.Row{repr.PackRow(ts, repr.ArrayDatum([]repr.Datum{ts, repr.Null}))}), nil
		}}, nil
	case "copy":
		if len(words) < 2 {
			return nil, pgcode.New(pgcode.SyntaxError, "bad COPY")
		}
		opts := CopyOptions{}
		if len(words) > 2 && words[2] == "csv" {
			opts = CopyOptions{Format: CopyCSV, Header: true}
		}
		switch words[1] {
		case "out":
			return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
				return Result{CopyOut: &CopyOut{Desc: valuesDesc, Rows: &sliceRows{rows: valuesRows()}, Options: opts}}, nil
			}}, nil
		case "stream":
			return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
				desc := repr.RelationDesc{Names: []string{"n", "what"}, Types: []repr.ColumnType{col(repr.TypeInt8), col(repr.TypeText)}}
				return Result{CopyOut: &CopyOut{Desc: desc, Rows: &streamRows{b: s.b, period: 5 * time.Millisecond, name: "copy stream"}}}, nil
			}}, nil
		case "in":
			return &fakeStmt{run: func(context.Context, []repr.Datum) (Result, error) {
				return Result{CopyIn: &CopyIn{Desc: valuesDesc, Sink: &sliceSink{b: s.b}, Options: opts}}, nil
			}}, nil
		}
	}
	return nil, pgcode.New(pgcode.SyntaxError, "syntax error at or near %q", words[0]).WithPosition(1)
}

// typesRow is a row holding a value of every type, and its description.
func typesRow() (*repr.RelationDesc, repr.Row) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 500000000, time.UTC).UnixMicro()
	u := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	vals := []struct {
		name string
		t    repr.ScalarType
		d    repr.Datum
	}{
		{"bool", repr.TypeBool, repr.True},
		{"int2", repr.TypeInt2, repr.Int2Datum(-2)},
		{"int4", repr.TypeInt4, repr.Int4Datum(400000)},
		{"int8", repr.TypeInt8, repr.Int8Datum(1 << 40)},
		{"float4", repr.TypeFloat4, repr.Float4Datum(1.5)},
		{"float8", repr.TypeFloat8, repr.Float8Datum(-2.25)},
		{"numeric", repr.TypeNumeric, mustNumeric("12345.6789")},
		{"numeric_small", repr.TypeNumeric, mustNumeric("-0.00012")},
		{"numeric_big", repr.TypeNumeric, mustNumeric("100000000")},
		{"numeric_scaled", repr.NumericType(10, 3), mustNumeric("2.5")},
		{"numeric_nan", repr.TypeNumeric, repr.NumericDatum(&apd.Decimal{Form: apd.NaN})},
		{"text", repr.TypeText, repr.TextDatum("hé\tllo")},
		{"varchar", repr.TypeVarchar, repr.StringDatum(repr.KindVarchar, "vc")},
		{"bpchar", repr.TypeChar, repr.StringDatum(repr.KindChar, "c ")},
		{"bytea", repr.TypeBytea, repr.ByteaDatum([]byte{0, 1, 2, 0xff})},
		{"date", repr.TypeDate, repr.DateDatum(int32(ts / repr.MicrosPerDay))},
		{"time", repr.TypeTime, repr.TimeDatum(3*repr.MicrosPerHour + 4*repr.MicrosPerMinute + 5*repr.MicrosPerSecond + 123456)},
		{"timestamp", repr.TypeTimestamp, repr.TimestampDatum(ts)},
		{"timestamptz", repr.TypeTimestampTz, repr.TimestampTzDatum(ts)},
		{"interval", repr.TypeInterval, repr.IntervalDatum(repr.Interval{Months: 14, Days: 3, Micros: 4*repr.MicrosPerHour + 7})},
		{"uuid", repr.TypeUUID, repr.UUIDDatum(u)},
		{"jsonb", repr.TypeJsonb, repr.JsonbDatum(`{"a": [1, "x"]}`)},
		{"oid", repr.TypeOid, repr.OidDatum(4000000000)},
		{"int4s", repr.ArrayOf(repr.TypeInt4), repr.ArrayDatum([]repr.Datum{repr.Int4Datum(1), repr.Null, repr.Int4Datum(-3)})},
		{"texts", repr.ArrayOf(repr.TypeText), repr.ArrayDatum([]repr.Datum{repr.TextDatum("a b"), repr.TextDatum(`q"`)})},
		{"empty", repr.ArrayOf(repr.TypeInt8), repr.ArrayDatum(nil)},
		{"null", repr.TypeInt4, repr.Null},
	}
	desc := &repr.RelationDesc{}
	var ds []repr.Datum
	for _, v := range vals {
		desc.Names = append(desc.Names, v.name)
		desc.Types = append(desc.Types, col(v.t))
		ds = append(ds, v.d)
	}
	return desc, repr.PackRow(ds...)
}

// testServer starts a server on a loopback port; it stops at test end.
func testServer(t *testing.T) (*fakeBackend, string, func()) {
	t.Helper()
	b := newFakeBackend()
	addr, stop := startServer(t, b)
	t.Cleanup(stop)
	return b, addr, stop
}
