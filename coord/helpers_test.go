package coord

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/wire"
)

// Helpers shared by the per-concern unit tests (write_test.go,
// catalog_test.go, clock_test.go, session_test.go).

// reopen closes c and opens a new coordinator on the same data directory
// (a clean restart: everything acknowledged must be there again).
func reopen(t testing.TB, c *Coordinator) *Coordinator {
	t.Helper()
	cfg := c.cfg
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openTest(t, cfg)
}

// recClient is a wire.Client that records what the session sends it and
// acts on Cancel and Terminate as the wire layer does: Cancel cancels the
// context of the statement running (set by the test with running).
type recClient struct {
	mu         sync.Mutex
	notices    []*pgcode.Error
	params     map[string]string
	cancel     context.CancelFunc
	cancels    int
	terminates int
}

func newRecClient() *recClient { return &recClient{params: map[string]string{}} }

func (c *recClient) Notice(e *pgcode.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notices = append(c.notices, e)
}

func (c *recClient) ParameterStatus(name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.params[name] = value
}

func (c *recClient) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancels++
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *recClient) Terminate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.terminates++
	if c.cancel != nil {
		c.cancel()
	}
}

// running returns a context that the client's Cancel and Terminate cancel,
// as the wire layer's context of a running statement.
func (c *recClient) running() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.cancel = cancel
	c.mu.Unlock()
	return ctx, cancel
}

// takeNotices returns the notices received so far and forgets them.
func (c *recClient) takeNotices() []*pgcode.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notices
	c.notices = nil
	return n
}

func (c *recClient) param(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.params[name]
}

// newClientSession opens a session whose client is client.
func newClientSession(t testing.TB, c *Coordinator, client wire.Client) *testSession {
	t.Helper()
	ws, err := c.NewSession(context.Background(), wire.StartupParams{User: "viewd", Database: "viewd"}, client)
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	t.Cleanup(ws.Close)
	return &testSession{t: t, s: ws.(*session)}
}

// fails runs q, which must fail with SQLSTATE code.
func (ts *testSession) fails(q string, code pgcode.Code) *pgcode.Error {
	ts.t.Helper()
	_, _, err := ts.run(context.Background(), q)
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != code {
		ts.t.Fatalf("%s: got %v (%s), want SQLSTATE %s", q, err, errCode(err), code)
	}
	return pe
}

// one runs a query that must return one row and returns it.
func (ts *testSession) one(q string) string {
	ts.t.Helper()
	rows := ts.query(q)
	if len(rows) != 1 {
		ts.t.Fatalf("%s: %d rows %v, want one", q, len(rows), rows)
	}
	return rows[0]
}

// want runs a query that must return the one row want.
func (ts *testSession) want(q, want string) {
	ts.t.Helper()
	if got := ts.one(q); got != want {
		ts.t.Fatalf("%s: %q, want %q", q, got, want)
	}
}

// tag runs a statement that must succeed and returns its command tag.
func (ts *testSession) tag(q string) string {
	ts.t.Helper()
	_, tag, err := ts.run(context.Background(), q)
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	return tag
}

// start executes q (extended protocol) and returns its result without
// reading it: a SUBSCRIBE, or a portal read in parts. The caller closes
// its rows.
func (ts *testSession) start(ctx context.Context, q string) wire.Result {
	ts.t.Helper()
	st, err := ts.s.Prepare(ctx, q, nil)
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	res, err := ts.s.Execute(ctx, st, nil, wire.ExecuteOptions{Protocol: wire.ProtocolExtended, StatementsInQuery: 1})
	if err != nil {
		ts.t.Fatalf("%s: %v", q, err)
	}
	return res
}

// sameRows fails the test when two sorted row lists differ.
func sameRows(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %d rows %s\nwant %d rows %s", what, len(got), abbrev(got), len(want), abbrev(want))
	}
}

func abbrev(rows []string) string {
	if len(rows) > 12 {
		return "[" + strings.Join(rows[:12], "; ") + "; ...]"
	}
	return "[" + strings.Join(rows, "; ") + "]"
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drainRows reads a result's rows as text until EOF or an error.
func drainRows(ctx context.Context, rows wire.Rows, n int) ([]string, error) {
	var out []string
	for n < 0 || len(out) < n {
		row, err := rows.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rowText(row))
	}
	return out, nil
}
