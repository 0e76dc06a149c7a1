package coord

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
	"github.com/viewd/viewd/storage"
	"github.com/viewd/viewd/wire"
)

var _ wire.Backend = (*Coordinator)(nil)

// NewSession implements wire.Backend.
//
// The session is the role params.User, which must exist and have LOGIN
// (28000 otherwise); the wire layer authenticates the connection as that
// role (LoginRole) before it calls NewSession.
func (c *Coordinator) NewSession(ctx context.Context, params wire.StartupParams, client wire.Client) (wire.Session, error) {
	if params.User == "" {
		return nil, pgcode.New(pgcode.InvalidAuthorizationSpec, "no PostgreSQL user name specified in startup packet")
	}
	login, err := c.LoginRole(params.User)
	switch {
	case err != nil:
		return nil, err
	case !login.Exists:
		return nil, pgcode.New(pgcode.InvalidAuthorizationSpec, "role %q does not exist", params.User)
	case !login.CanLogin:
		return nil, pgcode.New(pgcode.InvalidAuthorizationSpec, "role %q is not permitted to log in", params.User)
	}
	s := &session{c: c, client: client, vars: newVars(), prepared: map[string]*preparedSQL{}, cursors: map[string]*cursor{}}
	// The session's pid is the wire layer's process ID (BackendKeyData);
	// a caller that has none gets a counter.
	s.id = params.PID
	if s.id == 0 {
		s.id = atomic.AddUint32(&sessionIDs, 1)
	}
	s.info = sessionInfo{user: params.User, addr: params.RemoteAddr, local: params.LocalAddr, started: time.Now(), finished: make(chan struct{})}
	if params.ApplicationName != "" {
		s.vars.values["application_name"] = params.ApplicationName
	}
	for k, v := range params.Options {
		switch strings.ToLower(k) {
		case "timezone", "datestyle", "search_path", "extra_float_digits", "intervalstyle":
			if _, val, reported, err := s.vars.set(k, v); err == nil && reported {
				client.ParameterStatus(sessionVars[strings.ToLower(k)].name, val)
			}
		}
	}
	client.ParameterStatus("session_authorization", params.User)
	s.startAuth()
	if params.Database != "" && params.Database != defaultDatabase {
		client.Notice(&pgcode.Error{Code: pgcode.InvalidCatalogName, Severity: pgcode.SeverityNotice,
			Message: "database \"" + params.Database + "\" does not exist",
			Hint:    "Objects live in database \"viewd\"; SET database = viewd or \\c viewd to silence this notice."})
	}
	s.settle()
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
	return s, nil
}

var sessionIDs uint32

// session is one client connection's state.
type session struct {
	c      *Coordinator
	id     uint32 // the pid (pg_backend_pid())
	client wire.Client
	info   sessionInfo
	act    activity
	vars   *vars
	txn    txnState
	// pin is the read timestamp of an explicit transaction that has
	// written, plus one (0: none). The coordinator, under its lock, keeps
	// its since at or below every session's pin, so that the reads of a
	// read-write transaction (UPDATE, DELETE, INSERT ... SELECT) stay
	// valid however long it runs; setTxn clears it. A read-only
	// transaction does not hold history back: past the retained window
	// its reads fail with 22023, as AS OF does.
	pin atomic.Uint64
	// open counts the statements whose results are not closed yet.
	open int
	// prepared are SQL-level PREPAREd statements.
	prepared map[string]*preparedSQL
	cursors  map[string]*cursor
	// multiStatement is set while a statement of a simple Query message
	// holding several runs: they form an implicit transaction block, in
	// which DECLARE without WITH HOLD is allowed (its Sync closes them).
	multiStatement bool
	// split is the statement Split just parsed when its message held only
	// that statement; Prepare takes it instead of parsing again.
	split parse.Statement
	// splitMsg is the message text Split parsed split from, "" when
	// Prepare's statement did not come alone in a simple Query message.
	splitMsg string
	// varsPrint is the read cache's fingerprint of the variables at
	// generation varsPrintGen (stmtcache.go).
	varsPrint      string
	varsPrintGen   uint64
	varsPrintValid bool
	// curRead is the cached read the statement being executed took its
	// plan from, so that the read takes its optimised plan too.
	curRead *readPlan
	// syncs counts Syncs (the end of every simple Query message and of
	// every extended-protocol batch): a SELECT plan Prepare kept is taken
	// only by an execution before the next one (statement.planSync).
	syncs uint64
	// varUndo undoes the SETs of an explicit transaction block when it
	// ends (nil outside a block, or when it set nothing).
	varUndo *varUndo
}

type preparedSQL struct {
	stmt  parse.Statement
	types []repr.ScalarType
}

// pinIfWriting pins the transaction's read timestamp once it has both
// read and buffered a write (see session.pin).
func (s *session) pinIfWriting() {
	if s.txn.explicit && s.txn.hasReadTS && len(s.txn.writes) > 0 {
		s.pin.Store(uint64(s.txn.readTS) + 1)
	}
}

// setTxn starts or ends a transaction: it replaces the session's
// transaction state and drops the read timestamp it pinned.
func (s *session) setTxn(t txnState) {
	s.txn = t
	s.pin.Store(0)
}

// txnState is the session's transaction: whether a block is open, failed,
// and the writes it has buffered.
type txnState struct {
	explicit bool
	failed   bool
	writes   []storage.TableUpdate
	// readTS pins the timestamp of reads in an explicit transaction.
	readTS    repr.Timestamp
	hasReadTS bool
	// readOnly is an explicit transaction's READ ONLY mode.
	readOnly bool
}

// varUndo is what ends a transaction block's SETs, as in PostgreSQL: a
// ROLLBACK reverts every SET and RESET made in the block; a COMMIT keeps
// the value of the last plain SET or RESET of each variable and reverts
// SET LOCAL. Values are as vars.values holds them (nil: the default).
type varUndo struct {
	before  map[string]*string // by lower-case name: the value before the block changed it
	session map[string]*string // the value of the block's last plain SET or RESET
}

// varValue returns a variable's entry in values (nil: the default).
func varValue(values map[string]string, lower string) *string {
	if v, ok := values[lower]; ok {
		return &v
	}
	return nil
}

// changingVar records, in an explicit transaction block, a variable's
// value before the block first changes it; call it before the change.
func (s *session) changingVar(lower string) {
	if !s.txn.explicit {
		return
	}
	if s.varUndo == nil {
		s.varUndo = &varUndo{before: map[string]*string{}, session: map[string]*string{}}
	}
	if _, ok := s.varUndo.before[lower]; !ok {
		s.varUndo.before[lower] = varValue(s.vars.values, lower)
	}
}

// changedVar records the value a plain SET or RESET left, which COMMIT
// keeps; call it after the change (not for SET LOCAL).
func (s *session) changedVar(lower string) {
	if s.varUndo != nil {
		s.varUndo.session[lower] = varValue(s.vars.values, lower)
	}
}

// endBlockVars ends the block's SETs (see varUndo) and reports the
// reported variables whose value changed.
func (s *session) endBlockVars(committed bool) {
	u := s.varUndo
	s.varUndo = nil
	if u == nil {
		return
	}
	for lower, want := range u.before {
		if committed {
			if v, ok := u.session[lower]; ok {
				want = v
			}
		}
		cur := varValue(s.vars.values, lower)
		if (cur == nil) == (want == nil) && (cur == nil || *cur == *want) {
			continue
		}
		s.vars.restore(lower, want)
		if v := sessionVars[lower]; v != nil && v.reported {
			s.client.ParameterStatus(v.name, s.vars.must(v.name))
		}
	}
}

// readOnlyNow reports whether the current transaction is read-only: an
// explicit block in READ ONLY mode, or any other statement while
// default_transaction_read_only is on.
func (s *session) readOnlyNow() bool {
	if s.txn.explicit {
		return s.txn.readOnly
	}
	return s.vars.must("default_transaction_read_only") == "on"
}

// statement is a prepared statement: its parse and the description
// computed by planning it without parameter values.
type statement struct {
	sql        string
	parsed     parse.Statement
	paramTypes []repr.ScalarType
	desc       *repr.RelationDesc
	// template is the statement's cached lookup plan (plancache.go);
	// noTemplate records that it has none.
	template   *lookupTemplate
	noTemplate bool
	// plan is the plan Prepare made of a write or a SELECT without
	// parameters, made at catalog version planVersion and session
	// variables generation planVars; the statement's first execution
	// takes it rather than planning again (a simple query is prepared and
	// executed at once, and so is a driver's Parse, Bind, Execute, Sync).
	// A SELECT's plan may hold relations computed when planned
	// (pg_stat_activity's sessions, the roles), so only an execution
	// before the next Sync (syncs == planSync) takes it: a statement
	// prepared now and first executed later plans again.
	plan        sql.Plan
	planVersion uint64
	planVars    uint64
	planSync    uint64
	// read is the read cache's entry of the statement (stmtcache.go),
	// nil when it has none.
	read *readPlan
}

// takePlan returns the plan Prepare kept, if the catalog and the session's
// variables are still those it was made with, and forgets it.
func (s *session) takePlan(st *statement) sql.Plan {
	p := st.plan
	st.plan = nil
	if p == nil || st.planVars != s.vars.gen {
		return nil
	}
	if _, ok := p.(*sql.SelectPlan); ok && st.planSync != s.syncs {
		return nil
	}
	if !s.catalogAt(st.planVersion) {
		return nil
	}
	return p
}

func (st *statement) ParamTypes() []repr.ScalarType { return st.paramTypes }
func (st *statement) Columns() *repr.RelationDesc   { return st.desc }

// Split implements wire.Session.
func (s *session) Split(ctx context.Context, text string) ([]wire.StatementText, error) {
	s.split, s.splitMsg = nil, ""
	if key, ok := s.readCacheKey(text); ok {
		s.c.mu.Lock()
		stmt, e, hit := s.c.reads.splitLocked(text, key.vars, s.c.cat.version)
		s.c.mu.Unlock()
		if hit {
			s.split, s.splitMsg = e.parsed, text
			return []wire.StatementText{{SQL: stmt, Offset: 0}}, nil
		}
	}
	stmts, err := parse.Parse(text)
	if err != nil {
		return nil, err
	}
	out := make([]wire.StatementText, len(stmts))
	for i, st := range stmts {
		out[i] = wire.StatementText{SQL: st.SQL(), Offset: spanOf(st).Start}
	}
	s.split = nil
	if len(stmts) == 1 && out[0].Offset == 0 {
		// The wire layer prepares the statement next: a message of one
		// statement is parsed once, not twice (parsing a 1,000-row VALUES
		// list costs more than running it).
		s.split, s.splitMsg = stmts[0], text
	}
	return out, nil
}

// spanOf returns a statement's span (every statement type embeds one).
func spanOf(st parse.Statement) parse.Span {
	v := reflect.ValueOf(st)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Span"); f.IsValid() {
			if sp, ok := f.Interface().(parse.Span); ok {
				return sp
			}
		}
	}
	return parse.Span{Text: st.SQL()}
}

// Prepare implements wire.Session.
func (s *session) Prepare(ctx context.Context, text string, paramOIDs []uint32) (wire.Statement, error) {
	msg := ""
	if s.split != nil && s.split.SQL() == text {
		msg = s.splitMsg
	}
	key, cacheable := readKey{}, len(paramOIDs) == 0
	if cacheable {
		key, cacheable = s.readCacheKey(text)
	}
	if cacheable {
		s.c.mu.Lock()
		e := s.c.reads.lookupLocked(key, s.c.cat.version)
		if e != nil {
			s.c.reads.hits++
			if msg != "" {
				s.c.reads.addLocked(key, msg, e)
			}
		}
		s.c.mu.Unlock()
		if e != nil {
			s.split, s.splitMsg = nil, ""
			return &statement{sql: text, parsed: e.parsed, paramTypes: []repr.ScalarType{}, desc: e.desc,
				plan: e.plan, planVersion: e.version, planVars: s.vars.gen, planSync: s.syncs, read: e}, nil
		}
	}
	var stmts []parse.Statement
	if s.split != nil && s.split.SQL() == text {
		stmts = []parse.Statement{s.split}
	} else {
		var err error
		if stmts, err = parse.Parse(text); err != nil {
			return nil, err
		}
	}
	s.split, s.splitMsg = nil, ""
	if len(stmts) == 0 {
		return &statement{sql: text}, nil
	}
	if len(stmts) > 1 {
		return nil, pgcode.New(pgcode.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	st := &statement{sql: text, parsed: stmts[0]}
	types := make([]repr.ScalarType, len(paramOIDs))
	for i, oid := range paramOIDs {
		if oid == 0 {
			types[i] = repr.TypeUnknown
			continue
		}
		t, ok := repr.TypeForOid(oid)
		if !ok {
			return nil, pgcode.New(pgcode.UndefinedObject, "type with OID %d does not exist", oid)
		}
		types[i] = t
	}
	scx := s.statementContext(types)
	s.c.mu.Lock()
	p, err := sql.PlanStatement(scx, st.parsed, nil)
	var desc *repr.RelationDesc
	if err == nil {
		desc, err = s.describe(p)
	}
	version := s.c.cat.version
	s.c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for i, t := range scx.ParamTypes {
		if t.Kind == repr.KindNull {
			scx.ParamTypes[i] = repr.TypeText
		}
	}
	st.paramTypes = scx.ParamTypes
	st.desc = desc
	if sel, ok := cacheablePlan(p, scx.ParamTypes); ok && cacheable {
		e := &readPlan{version: version, vars: key.vars, parsed: st.parsed, plan: sel, desc: desc}
		s.c.mu.Lock()
		if s.c.cat.version == version {
			s.c.reads.addLocked(key, msg, e)
		}
		s.c.mu.Unlock()
		st.read = e
	}
	if len(scx.ParamTypes) == 0 {
		switch p.(type) {
		case *sql.InsertPlan, *sql.UpdatePlan, *sql.DeletePlan, *sql.SelectPlan:
			// Planned once, not again at Execute: planning is most of a
			// catalog query's cost (psql's \d sends a dozen).
			st.plan, st.planVersion, st.planVars, st.planSync = p, version, s.vars.gen, s.syncs
		}
	}
	return st, nil
}

// statementContext returns the planning context of this session; the
// caller holds the coordinator's lock while planning.
func (s *session) statementContext(paramTypes []repr.ScalarType) *sql.StatementContext {
	vs := s.vars.snapshot()
	if _, ok := vs["backend_pid"]; !ok {
		// The snapshot is this session's own: it carries its pid too.
		vs["backend_pid"] = strconv.FormatUint(uint64(s.id), 10)
		// The connection's ends, for inet_server_addr() and the like:
		// absent (NULL, as PostgreSQL gives over a Unix socket) when the
		// session has no TCP connection.
		for prefix, a := range map[string]net.Addr{"server": s.info.local, "client": s.info.addr} {
			if tcp, ok := a.(*net.TCPAddr); ok {
				vs[prefix+"_addr"] = tcp.IP.String()
				vs[prefix+"_port"] = strconv.Itoa(tcp.Port)
			}
		}
	}
	return &sql.StatementContext{Catalog: catalogView{c: s.c.cat, db: defaultDatabase}, Vars: vs, ParamTypes: paramTypes}
}

// Execute implements wire.Session.
func (s *session) Execute(ctx context.Context, ws wire.Statement, params []repr.Datum, opts wire.ExecuteOptions) (wire.Result, error) {
	st, ok := ws.(*statement)
	if !ok {
		return wire.Result{}, pgcode.New(pgcode.InternalError, "coord: foreign statement %T", ws)
	}
	if st.parsed == nil {
		return wire.Result{Empty: true}, nil
	}
	s.multiStatement = opts.Protocol == wire.ProtocolSimple && opts.StatementsInQuery > 1
	s.beginStatement(st.sql)
	// statement_timeout bounds the statement from here to the end of its
	// result: Execute, and the reading of its rows (trackResult).
	var deadline time.Time
	parent := ctx
	if timeout, _ := parseTimeout(s.vars.must("statement_timeout")); timeout > 0 {
		deadline = time.Now().Add(timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	res, err := s.executeCached(ctx, st, params)
	if err != nil {
		if s.txn.explicit {
			s.txn.failed = true
		}
		s.endStatement()
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wire.Result{}, errStatementTimeout()
		}
		return wire.Result{}, err
	}
	return s.trackResult(res, deadline), nil
}

// Sync implements wire.Session: an implicit transaction ends here.
func (s *session) Sync(ctx context.Context, failed bool) error {
	defer s.settle()
	s.syncs++
	if s.txn.explicit {
		if failed {
			// An error aborts the block wherever it arose: in Execute
			// (which marks it), or in reading a result's rows, Parse or
			// Bind, which only the wire layer saw.
			s.txn.failed = true
		}
		return nil
	}
	if failed {
		s.setTxn(txnState{})
		s.endTxnCursors(false)
		return nil
	}
	err := s.commit(ctx)
	s.endTxnCursors(err == nil)
	return err
}

// TxnStatus implements wire.Session.
func (s *session) TxnStatus() wire.TxnStatus {
	switch {
	case s.txn.explicit && s.txn.failed:
		return wire.TxnFailed
	case s.txn.explicit:
		return wire.TxnActive
	}
	return wire.TxnIdle
}

// Close implements wire.Session.
func (s *session) Close() {
	for _, cur := range s.cursors {
		cur.close()
	}
	s.c.mu.Lock()
	if s.c.sessions[s.id] == s {
		delete(s.c.sessions, s.id)
	}
	s.c.mu.Unlock()
	close(s.info.finished)
}

// sliceRows is a wire.Rows over rows in memory.
type sliceRows struct {
	rows []repr.Row
	i    int
}

func (r *sliceRows) Next(context.Context) (repr.Row, error) {
	if r.i >= len(r.rows) {
		return nil, io.EOF
	}
	r.i++
	return r.rows[r.i-1], nil
}

func (r *sliceRows) Close() {}
