package sqllogictest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// fakeConn answers SQL from canned responses and records what it was sent.
// SQL without a response succeeds with no rows.
type fakeConn struct {
	responses map[string]fakeResponse
	trace     []string
}

type fakeResponse struct {
	rows *Rows
	err  error
}

var _ Conn = (*fakeConn)(nil)

func (f *fakeConn) Exec(_ context.Context, sql string) (*Rows, error) {
	f.trace = append(f.trace, sql)
	r, ok := f.responses[strings.TrimSpace(sql)]
	if !ok {
		return &Rows{Tag: "OK"}, nil
	}
	return r.rows, r.err
}

func (f *fakeConn) ExecSimple(ctx context.Context, sql string) ([]*Rows, error) {
	r, err := f.Exec(ctx, sql)
	if err != nil {
		return nil, err
	}
	return []*Rows{r}, nil
}

func (f *fakeConn) Broken() bool                  { return false }
func (f *fakeConn) InTransaction() bool           { return false }
func (f *fakeConn) Close(_ context.Context) error { return nil }

var typeOIDs = map[string]uint32{
	"bool": oidBool, "int2": oidInt2, "int4": oidInt4, "int8": oidInt8,
	"float4": oidFloat4, "float8": oidFloat8, "numeric": oidNumeric,
	"text": 25, "varchar": 1043,
}

// parseResponse reads a canned response:
//
//	sql: SELECT ...
//	cols: a:int4 b:text   (column names optional: "int4 text")
//	1|x                   (a row; NULL is NULL, "" is the empty string)
//	tag: INSERT 0 3
//	error: 42P01 relation "t" does not exist
func parseResponse(t *testing.T, input string) (string, fakeResponse) {
	t.Helper()
	var sql string
	resp := fakeResponse{rows: &Rows{Tag: "OK"}}
	for _, l := range strings.Split(input, "\n") {
		switch {
		case strings.HasPrefix(l, "sql: "):
			sql = strings.TrimPrefix(l, "sql: ")
		case strings.HasPrefix(l, "cols: "):
			for i, c := range strings.Fields(strings.TrimPrefix(l, "cols: ")) {
				name, typ, ok := strings.Cut(c, ":")
				if !ok {
					name, typ = "col"+strconv.Itoa(i+1), c
				}
				oid, known := typeOIDs[typ]
				if !known {
					t.Fatalf("unknown type %q", typ)
				}
				resp.rows.Columns = append(resp.rows.Columns, Column{Name: name, OID: oid})
			}
		case strings.HasPrefix(l, "tag: "):
			resp.rows.Tag = strings.TrimPrefix(l, "tag: ")
			f := strings.Fields(resp.rows.Tag)
			resp.rows.RowsAffected, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		case strings.HasPrefix(l, "error: "):
			code, msg, _ := strings.Cut(strings.TrimPrefix(l, "error: "), " ")
			resp.err = &ServerError{Code: code, Message: msg}
		default:
			var row [][]byte
			for _, v := range strings.Split(l, "|") {
				switch v {
				case "NULL":
					row = append(row, nil)
				case `""`:
					row = append(row, []byte{})
				default:
					row = append(row, []byte(v))
				}
			}
			resp.rows.Values = append(resp.rows.Values, row)
		}
	}
	if sql == "" {
		t.Fatal("response without sql:")
	}
	return sql, resp
}

// sltInput turns a datadriven input into slt text: datadriven ends an
// input at a "----" line, so test files write slt's separator as "====".
func sltInput(s string) string {
	return strings.ReplaceAll("\n"+s+"\n", "\n====\n", "\n----\n")[1:]
}

// TestRunner runs slt records against canned responses. Commands:
//
//	respond          define the response to one SQL text (see parseResponse)
//	reset            forget all responses
//	run [mode=view] [engine=E] [trace] [expected=(path:line,...)] [late]
//	    [max-failures=N] [drop-created]
//	                 run the input as an slt file; print the result summary,
//	                 the failures and, with trace, every SQL sent
func TestRunner(t *testing.T) {
	datadriven.Walk(t, "testdata/run", func(t *testing.T, path string) {
		responses := make(map[string]fakeResponse)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "respond":
				sql, resp := parseResponse(t, d.Input)
				responses[sql] = resp
				return ""
			case "reset":
				responses = make(map[string]fakeResponse)
				return ""
			case "run":
				cfg := Config{Engine: "postgresql", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Second}
				trace := false
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "mode":
						m, err := ParseRunMode(a.Vals[0])
						if err != nil {
							t.Fatal(err)
						}
						cfg.Mode = m
					case "engine":
						cfg.Engine = a.Vals[0]
					case "trace":
						trace = true
					case "late":
						cfg.LateViews = true
					case "drop-created":
						cfg.DropCreated = true
					case "max-failures":
						cfg.MaxFailures, _ = strconv.Atoi(a.Vals[0])
					case "expected":
						var b strings.Builder
						for _, v := range a.Vals {
							fmt.Fprintf(&b, "%s listed\n", v)
						}
						e, err := ParseExpectedFailures(strings.NewReader(b.String()))
						if err != nil {
							t.Fatal(err)
						}
						cfg.Expected = e
					default:
						t.Fatalf("unknown argument %s", a.Key)
					}
				}
				conn := &fakeConn{responses: responses}
				dial := func(context.Context) (Conn, error) { return conn, nil }
				res := RunRecords(context.Background(), cfg, "test.slt", ParseString(sltInput(d.Input)), dial)
				var b strings.Builder
				fmt.Fprintf(&b, "%d passed, %d failed, %d known, %d skipped", res.Passed, res.Failed, res.Known, res.Skipped)
				if cfg.Mode == ViewMode {
					fmt.Fprintf(&b, "; views %d early, %d late, %d select-fallback, %d refused", res.ViewsEarly, res.ViewsLate, res.SelectFallback, res.ViewRefused)
				}
				if res.Halted {
					b.WriteString("; halted")
				}
				if res.Stopped {
					b.WriteString("; stopped")
				}
				if res.Fixed > 0 {
					fmt.Fprintf(&b, "; %d listed but passed", res.Fixed)
				}
				b.WriteString("\n")
				if res.Err != nil {
					fmt.Fprintf(&b, "error: %v\n", res.Err)
				}
				for _, f := range res.Failures {
					b.WriteString(f.String())
					b.WriteString("\n")
				}
				if trace {
					b.WriteString("trace:\n")
					for _, s := range conn.trace {
						fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(s, "\n", " "))
					}
				}
				return b.String()
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}
