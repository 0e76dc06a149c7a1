package coord

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// Sessions as PostgreSQL shows and controls them. Each session has the
// process ID the wire layer sent in BackendKeyData (pg_backend_pid()), and
// keeps an activity record that pg_stat_activity reads: its state
// ('active' from the start of a statement until its result is closed,
// otherwise 'idle', 'idle in transaction' or 'idle in transaction
// (aborted)'), the text and start of its current or last statement, and
// the start of its transaction. The session's goroutine writes the record;
// other sessions read it, so it has its own mutex (taken after the
// coordinator's, never before).
//
// pg_cancel_backend and pg_terminate_backend act through the target's
// wire.Client: Cancel cancels the context of whatever the connection is
// running (Execute or a Rows.Next), exactly as a CancelRequest does, and
// Terminate ends the connection with a FATAL 57P01. The functions reach
// the coordinator through expr.EvalCtx.Backends, which the coordinator
// sets on the evaluation contexts of a session's reads (bindPeek).

// activity is the part of a session that pg_stat_activity shows.
type activity struct {
	mu          sync.Mutex
	state       string
	query       string
	appName     string
	queryStart  time.Time
	stateChange time.Time
	xactStart   time.Time // zero outside a transaction
}

// Session states, as pg_stat_activity.state spells them.
const (
	stateActive       = "active"
	stateIdle         = "idle"
	stateIdleInTxn    = "idle in transaction"
	stateIdleInFailed = "idle in transaction (aborted)"
)

// sessionInfo is what a session knows of its connection from startup.
type sessionInfo struct {
	user     string
	addr     net.Addr
	local    net.Addr // the server's end
	started  time.Time
	finished chan struct{} // closed by Close
}

// beginStatement records that a statement starts (Execute).
func (s *session) beginStatement(text string) {
	now := time.Now()
	s.open++
	s.act.mu.Lock()
	s.act.state, s.act.query, s.act.queryStart, s.act.stateChange = stateActive, redactStatement(text), now, now
	if s.act.xactStart.IsZero() {
		s.act.xactStart = now
	}
	s.act.mu.Unlock()
}

// endStatement records that a statement's result is done (its rows
// closed, or Execute returned without rows).
func (s *session) endStatement() {
	if s.open > 0 {
		s.open--
	}
	s.settle()
}

// settle records the session's idle state once no result is open, from its
// transaction status (after a statement and at Sync).
func (s *session) settle() {
	if s.open > 0 {
		return
	}
	state := stateIdle
	switch s.TxnStatus() {
	case wire.TxnActive:
		state = stateIdleInTxn
	case wire.TxnFailed:
		state = stateIdleInFailed
	}
	app, _ := s.vars.get("application_name")
	s.act.mu.Lock()
	defer s.act.mu.Unlock()
	s.act.appName = app
	if state == stateIdle {
		s.act.xactStart = time.Time{}
	}
	if s.act.state != state {
		s.act.state, s.act.stateChange = state, time.Now()
	}
}

// trackResult keeps the session active while a result streams: its row
// stream is wrapped so that closing it ends the statement, and so that
// statement_timeout (deadline, zero for none) also bounds the reading of
// the rows, which outlives Execute.
func (s *session) trackResult(res wire.Result, deadline time.Time) wire.Result {
	if _, done := res.Rows.(*sliceRows); done {
		// Rows computed in full (RETURNING, SHOW, FETCH) are no work left
		// to bound: a write's RETURNING rows come after its commit, and a
		// deadline passed during the commit must not tell the client the
		// committed write failed.
		deadline = time.Time{}
	}
	switch {
	case res.Rows != nil:
		res.Rows = &activeRows{Rows: res.Rows, s: s, deadline: deadline}
	case res.CopyOut != nil:
		co := *res.CopyOut
		co.Rows = &activeRows{Rows: co.Rows, s: s, deadline: deadline}
		res.CopyOut = &co
	case res.CopyIn != nil:
		ci := *res.CopyIn
		ci.Sink = &activeSink{CopySink: ci.Sink, s: s}
		res.CopyIn = &ci
	default:
		s.endStatement()
	}
	return res
}

// activeRows is a statement's row stream: it ends the statement when
// closed and applies the statement's deadline to each Next.
type activeRows struct {
	wire.Rows
	s        *session
	deadline time.Time
	// parent is the context of the Execute message reading the rows;
	// tctx is parent bounded by the deadline, made once per parent.
	parent  context.Context
	tctx    context.Context
	tcancel context.CancelFunc
	n       int
	closed  bool
}

// Streaming forwards wire.Streaming.
func (r *activeRows) Streaming() bool {
	st, ok := r.Rows.(wire.Streaming)
	return ok && st.Streaming()
}

// Next implements wire.Rows.
func (r *activeRows) Next(ctx context.Context) (repr.Row, error) {
	if r.deadline.IsZero() {
		return r.Rows.Next(ctx)
	}
	if ctx != r.parent {
		r.stopTimer()
		r.parent = ctx
		r.tctx, r.tcancel = context.WithDeadline(ctx, r.deadline)
	}
	row, err := r.Rows.Next(r.tctx)
	if err != nil {
		if r.timedOut() {
			return nil, errStatementTimeout()
		}
		return nil, err
	}
	// A source that does not watch its context (rows already computed)
	// is stopped here.
	if r.n++; r.n&255 == 0 && r.timedOut() {
		return nil, errStatementTimeout()
	}
	return row, nil
}

// timedOut reports whether the deadline, not the caller, stopped the rows.
func (r *activeRows) timedOut() bool {
	return r.parent.Err() == nil && errors.Is(r.tctx.Err(), context.DeadlineExceeded)
}

func (r *activeRows) stopTimer() {
	if r.tcancel != nil {
		r.tcancel()
		r.tcancel = nil
	}
}

// Close implements wire.Rows.
func (r *activeRows) Close() {
	r.stopTimer()
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.s.endStatement()
	}
}

// activeSink is a COPY FROM STDIN's sink: committing or aborting ends the
// statement.
type activeSink struct {
	wire.CopySink
	s *session
}

func (k *activeSink) Commit(ctx context.Context) error {
	err := k.CopySink.Commit(ctx)
	k.s.endStatement()
	return err
}

func (k *activeSink) Abort(cause error) {
	k.CopySink.Abort(cause)
	k.s.endStatement()
}

func errStatementTimeout() error {
	return pgcode.New(pgcode.QueryCanceled, "canceling statement due to statement timeout")
}

// bindPeek gives a read's expressions the session's evaluation context:
// its time zone, its transaction's start as now(), its control of other
// sessions (pg_cancel_backend, pg_terminate_backend) and the statement's
// cancellation (ctx, for pg_sleep; a streamed read rebinds it at each
// pull).
func (s *session) bindPeek(ctx context.Context, p *peek) {
	s.act.mu.Lock()
	start := s.act.xactStart
	s.act.mu.Unlock()
	if start.IsZero() {
		start = time.Now()
	}
	p.ev.TimeZone = s.vars.must("TimeZone")
	p.ev.StmtTime = start.UnixMicro()
	p.ev.Backends = sessionBackends{s: s, role: sql.CurrentUser(s.vars.snapshot())}
	p.ev.Done = ctx.Done()
	if p.graph != nil {
		p.graph.SetEvalCtx(p.ev)
	}
}

// sessionBackends implements expr.Backends for one calling session. It is
// called outside the coordinator's lock (a read computes outside it), on
// any worker: role is the caller's current role, read when the read was
// bound.
type sessionBackends struct {
	s    *session
	role string
}

var _ expr.Backends = sessionBackends{}

// lookup returns the session with that pid, or nil after warning the
// caller, as PostgreSQL does.
func (b sessionBackends) lookup(pid int32) *session {
	c := b.s.c
	c.mu.Lock()
	t := c.sessions[uint32(pid)]
	c.mu.Unlock()
	if t == nil || pid <= 0 {
		b.s.client.Notice(warning("PID %d is not a PostgreSQL backend process", pid))
		return nil
	}
	return t
}

// maySignal checks that the caller may signal session t, as PostgreSQL's
// pg_signal_backend does: only superusers may signal a superuser's
// session; others need the privileges of its user or of
// pg_signal_backend. what is "cancel" or "terminate".
func (b sessionBackends) maySignal(t *session, what string) error {
	c := b.s.c
	if l, err := c.LoginRole(b.role); err == nil && l.Superuser {
		// Without the lock, which a long step may hold: a cancel must
		// reach its statement within milliseconds.
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	me := c.cat.roleByName(b.role)
	target := c.cat.roleByName(t.info.user)
	if me != nil && me.Super {
		return nil
	}
	object, verb := "query is being canceled", "cancel superuser query"
	if what == "terminate" {
		object, verb = "process is being terminated", "terminate superuser process"
	}
	if target != nil && target.Super {
		return pgcode.New(pgcode.InsufficientPrivilege, "must be a superuser to %s", verb)
	}
	if target != nil && c.cat.hasPrivsOfRole(me, target.OID) || c.cat.hasPrivsOfRole(me, signalBackendRoleOID) {
		return nil
	}
	return pgcode.New(pgcode.InsufficientPrivilege, "must be a member of the role whose %s or member of pg_signal_backend", object)
}

// CancelBackend implements expr.Backends.
func (b sessionBackends) CancelBackend(pid int32) (bool, error) {
	t := b.lookup(pid)
	if t == nil {
		return false, nil
	}
	if err := b.maySignal(t, "cancel"); err != nil {
		return false, err
	}
	b.s.c.log.Info("coord: cancelling the statement of a session", "pid", pid, "by", b.s.id)
	t.client.Cancel()
	return true, nil
}

// TerminateBackend implements expr.Backends.
func (b sessionBackends) TerminateBackend(pid int32, timeout time.Duration) (bool, error) {
	t := b.lookup(pid)
	if t == nil {
		return false, nil
	}
	if err := b.maySignal(t, "terminate"); err != nil {
		return false, err
	}
	b.s.c.log.Info("coord: terminating a session", "pid", pid, "by", b.s.id)
	t.client.Terminate()
	if timeout <= 0 || t == b.s {
		return true, nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.info.finished:
		return true, nil
	case <-timer.C:
		b.s.client.Notice(warning("backend with PID %d did not terminate within %d milliseconds", pid, timeout.Milliseconds()))
		return false, nil
	}
}

func warning(format string, args ...any) *pgcode.Error {
	e := pgcode.New(pgcode.Warning, format, args...)
	e.Severity = pgcode.SeverityWarning
	return e
}

// pgStatActivityDef is pg_catalog.pg_stat_activity: one row per session,
// with PostgreSQL 15's columns. client_addr is text (viewd has no inet
// type); the transaction ids and query_id are NULL.
func pgStatActivityDef() builtinDef {
	return cols("datid oid, datname text, pid int4, leader_pid int4, usesysid oid, usename text, application_name text",
		"client_addr text, client_hostname text, client_port int4",
		"backend_start timestamptz, xact_start timestamptz, query_start timestamptz, state_change timestamptz",
		"wait_event_type text, wait_event text, state text, backend_xid text, backend_xmin text, query_id int8, query text, backend_type text",
	).def("pg_catalog", "pg_stat_activity", activityRows)
}

// activityRows lists the sessions in pid order (under the coordinator's
// lock).
func activityRows(c *Coordinator) [][]repr.Datum {
	pids := make([]uint32, 0, len(c.sessions))
	for pid := range c.sessions {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	ts := func(t time.Time) repr.Datum {
		if t.IsZero() {
			return repr.Null
		}
		return repr.TimestampTzDatum(t.UnixMicro())
	}
	nullText := func(s string) repr.Datum {
		if s == "" {
			return repr.Null
		}
		return text(s)
	}
	var out [][]repr.Datum
	for _, pid := range pids {
		s := c.sessions[pid]
		addr, port := repr.Null, i4(-1)
		if tcp, ok := s.info.addr.(*net.TCPAddr); ok {
			addr, port = text(tcp.IP.String()), i4(tcp.Port)
		} else if s.info.addr == nil {
			port = repr.Null
		}
		s.act.mu.Lock()
		a := activity{state: s.act.state, query: s.act.query, appName: s.act.appName,
			queryStart: s.act.queryStart, stateChange: s.act.stateChange, xactStart: s.act.xactStart}
		s.act.mu.Unlock()
		waitType, wait := repr.Null, repr.Null
		if a.state != stateActive {
			waitType, wait = text("Client"), text("ClientRead")
		}
		out = append(out, []repr.Datum{
			oid(16384), text(defaultDatabase), i4(int(pid)), repr.Null, roleOID(c.cat, s.info.user), text(s.info.user), text(a.appName),
			addr, repr.Null, port,
			ts(s.info.started), ts(a.xactStart), ts(a.queryStart), ts(a.stateChange),
			waitType, wait, nullText(a.state), repr.Null, repr.Null, repr.Null, text(a.query), text("client backend"),
		})
	}
	return out
}

// roleOID is the OID of role name, NULL when there is none.
func roleOID(cat *catalog, name string) repr.Datum {
	if r := cat.roleByName(name); r != nil {
		return oid(r.OID)
	}
	return repr.Null
}
