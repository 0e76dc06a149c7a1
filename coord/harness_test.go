package coord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/wire"
)

// The coordinator's unit tests run a Coordinator in-process and talk to it
// through its wire.Backend interface, as the wire layer does.

type testClient struct{}

func (testClient) Notice(*pgcode.Error)           {}
func (testClient) ParameterStatus(string, string) {}
func (testClient) Cancel()                        {}
func (testClient) Terminate()                     {}

// openTest opens a coordinator on a fresh data directory.
func openTest(t testing.TB, cfg Config) *Coordinator {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RetainHistory == 0 {
		cfg.RetainHistory = time.Hour
	}
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testSession is a session with helpers to run SQL.
type testSession struct {
	t testing.TB
	s *session
}

func newTestSession(t testing.TB, c *Coordinator) *testSession {
	t.Helper()
	ws, err := c.NewSession(context.Background(), wire.StartupParams{User: "viewd", Database: "viewd"}, testClient{})
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	t.Cleanup(ws.Close)
	return &testSession{t: t, s: ws.(*session)}
}

// run executes one statement (extended protocol, no parameters) and
// returns its rows as text, or its error.
func (ts *testSession) run(ctx context.Context, sql string, params ...repr.Datum) ([]string, string, error) {
	st, err := ts.s.Prepare(ctx, sql, nil)
	if err != nil {
		return nil, "", err
	}
	return ts.runPrepared(ctx, st, params)
}

// runPrepared executes a prepared statement with params.
func (ts *testSession) runPrepared(ctx context.Context, st any, params []repr.Datum) ([]string, string, error) {
	res, err := ts.s.Execute(ctx, st.(wire.Statement), params, wire.ExecuteOptions{Protocol: wire.ProtocolExtended, StatementsInQuery: 1})
	if err != nil {
		ts.s.Sync(ctx, true)
		return nil, "", err
	}
	var out []string
	if res.Rows != nil {
		defer res.Rows.Close()
		for {
			row, err := res.Rows.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				ts.s.Sync(ctx, true)
				return nil, "", err
			}
			out = append(out, rowText(row))
		}
	}
	if err := ts.s.Sync(ctx, false); err != nil {
		return nil, "", err
	}
	return out, res.Tag, nil
}

func rowText(row repr.Row) string {
	ds := row.Datums()
	parts := make([]string, len(ds))
	for i, d := range ds {
		if d.IsNull() {
			parts[i] = "NULL"
		} else {
			parts[i] = d.Text()
		}
	}
	return strings.Join(parts, " ")
}

// exec runs statements that must succeed.
func (ts *testSession) exec(sqls ...string) {
	ts.t.Helper()
	for _, q := range sqls {
		if _, _, err := ts.run(context.Background(), q); err != nil {
			ts.t.Fatalf("%s: %v", q, err)
		}
	}
}

// query runs a query that must succeed and returns its rows sorted.
func (ts *testSession) query(q string) []string {
	ts.t.Helper()
	rows, _, err := ts.run(context.Background(), q)
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	sort.Strings(rows)
	return rows
}

// errCode returns the SQLSTATE of err ("" for none).
func errCode(err error) string {
	var pe *pgcode.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	if err != nil {
		return fmt.Sprintf("non-pgcode error: %v", err)
	}
	return ""
}
