package wire

import (
	"context"
	"net"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Backend is what the wire layer calls: the coordinator's client interface.
// It opens one Session per authenticated connection.
type Backend interface {
	// NewSession starts a session for a connection that completed startup.
	// client lets the session send notices and report parameter changes at
	// any time, including during NewSession (e.g. the NOTICE that the
	// requested database does not exist). An error is sent to the client as
	// a FATAL ErrorResponse and the connection is closed.
	NewSession(ctx context.Context, params StartupParams, client Client) (Session, error)
}

// StartupParams are the parameters of the client's StartupMessage.
type StartupParams struct {
	User            string
	Database        string // defaults to User, as in PostgreSQL
	ApplicationName string
	// Options holds every startup parameter as sent, including user,
	// database, application_name, options, client_encoding, DateStyle...
	Options map[string]string
	// PID is the connection's backend process ID, the one BackendKeyData
	// carries (and a CancelRequest names): the backend shows it as the
	// session's pid (pg_backend_pid(), pg_stat_activity.pid).
	PID uint32
	// RemoteAddr is the client's address (pg_stat_activity.client_addr and
	// client_port), nil when unknown.
	RemoteAddr net.Addr
	// LocalAddr is the server's end of the connection
	// (inet_server_addr(), inet_server_port()), nil when unknown.
	LocalAddr net.Addr
}

// Client is the wire layer's side of a session: the session calls it to
// talk to the client outside of results. Its methods are safe for
// concurrent use; messages are queued and sent at the next safe point
// (before the next result message, CommandComplete or ReadyForQuery).
type Client interface {
	// Notice queues a NoticeResponse. e.Severity defaults to NOTICE.
	Notice(e *pgcode.Error)
	// ParameterStatus queues a ParameterStatus message and records the new
	// value: the session must call it when a reported parameter changes
	// (SET TimeZone, SET application_name, ...). TimeZone also changes how
	// the wire layer formats timestamptz in text.
	ParameterStatus(name, value string)
	// Cancel cancels the statement the session is running, if any, as a
	// CancelRequest does: it fails with 57014 "canceling statement due to
	// user request" and the session goes on (pg_cancel_backend).
	Cancel()
	// Terminate ends the connection: a running statement is cancelled,
	// the client is sent a FATAL 57P01 "terminating connection due to
	// administrator command" and the connection closes; Session.Close
	// follows (pg_terminate_backend). It returns at once.
	Terminate()
}

// TxnStatus is the transaction status reported in ReadyForQuery.
type TxnStatus byte

// Transaction statuses.
const (
	TxnIdle   TxnStatus = 'I' // not in a transaction block
	TxnActive TxnStatus = 'T' // in a transaction block
	TxnFailed TxnStatus = 'E' // in a failed transaction block
)

// Session is one client connection's state in the backend. The wire layer
// calls its methods from a single goroutine (the connection's), never
// concurrently; a CancelRequest from another connection cancels the context
// of the running Execute or Rows.Next instead of calling the session.
type Session interface {
	// Split splits the text of a simple Query message into its statements
	// (an empty or comment-only text gives none, and the wire layer sends
	// EmptyQueryResponse). A syntax error fails the whole message before
	// any statement runs, as in PostgreSQL.
	Split(ctx context.Context, sql string) ([]StatementText, error)

	// Prepare parses, resolves and types one statement. paramOIDs are the
	// parameter type OIDs the client declared (0 or missing: infer). An
	// empty sql returns a Statement with no columns whose execution yields
	// Result{Empty: true}. Error positions (pgcode.Error.Position) count
	// characters from 1 in sql; for a simple Query the wire layer shifts
	// them to the whole message.
	Prepare(ctx context.Context, sql string, paramOIDs []uint32) (Statement, error)

	// Execute runs a prepared statement with bound parameters. ctx is
	// cancelled by a CancelRequest for this session, by client disconnect
	// and by server shutdown; whatever error the backend then returns, the
	// client sees 57014 (query_canceled) or, at shutdown, a FATAL 57P01.
	// A row Result's Next is called with the context of each Execute
	// message that reads it (a portal suspended by a row limit is read by
	// several).
	Execute(ctx context.Context, stmt Statement, params []repr.Datum, opts ExecuteOptions) (Result, error)

	// Sync ends a unit of work: it is called after each simple Query
	// message and at each extended-protocol Sync. failed reports whether an
	// error was sent since the previous Sync. It ends an implicit
	// transaction (commit when !failed, roll back otherwise); an explicit
	// transaction block stays open. An error is sent before ReadyForQuery.
	Sync(ctx context.Context, failed bool) error

	// TxnStatus is read for each ReadyForQuery.
	TxnStatus() TxnStatus

	// Close releases the session; the connection is gone.
	Close()
}

// StatementText is one statement of a simple Query: its text and its byte
// offset in the message, used to make error positions relative to the
// whole message.
type StatementText struct {
	SQL    string
	Offset int
}

// Statement is a prepared statement.
type Statement interface {
	// ParamTypes are the parameter types, declared or inferred; the wire
	// layer decodes Bind parameters with them and sends them in
	// ParameterDescription.
	ParamTypes() []repr.ScalarType
	// Columns describes the result rows, or nil when the statement returns
	// none (NoData).
	Columns() *repr.RelationDesc
}

// Protocol says which sub-protocol a statement runs under.
type Protocol uint8

// Protocols.
const (
	ProtocolSimple Protocol = iota
	ProtocolExtended
)

// ExecuteOptions tells the backend about the context of an execution.
type ExecuteOptions struct {
	Protocol Protocol
	// StatementsInQuery is the number of statements of the simple Query
	// message this execution belongs to (1 for the extended protocol): a
	// backend uses it for implicit transaction rules.
	StatementsInQuery int
}

// Result is the outcome of Execute: exactly one of its forms.
//   - Rows != nil: a row stream, described by the statement's Columns; the
//     tag sent is Tag followed by the row count ("SELECT 5"; Tag defaults
//     to "SELECT").
//   - CopyOut != nil: COPY ... TO STDOUT.
//   - CopyIn != nil: COPY ... FROM STDIN.
//   - Empty: the statement was empty (EmptyQueryResponse).
//   - otherwise: Tag is the whole command tag ("INSERT 0 3", "CREATE TABLE").
type Result struct {
	Tag     string
	Rows    Rows
	CopyOut *CopyOut
	CopyIn  *CopyIn
	Empty   bool
}

// Rows is a stream of result rows.
type Rows interface {
	// Next returns the next row, whose datums match the statement's
	// Columns, or io.EOF at the end. The row may alias memory that is
	// valid until the next call. A long stream (SUBSCRIBE) blocks in Next
	// until a row is ready or ctx is done.
	Next(ctx context.Context) (repr.Row, error)
	// Close releases the stream; it is called exactly once.
	Close()
}

// Streaming is an optional interface of Rows (and of CopyOut's Rows): a
// stream whose rows trickle in (SUBSCRIBE) returns true, and the wire layer
// flushes each row as soon as it is sent instead of batching them.
type Streaming interface {
	Streaming() bool
}

// CopyFormat is a COPY data format.
type CopyFormat uint8

// COPY formats.
const (
	CopyText CopyFormat = iota
	CopyCSV
	// CopyBinary is PostgreSQL's binary COPY format: a signature header,
	// each row as a field count and length-prefixed send forms, a -1
	// trailer. Delimiter, Null, Header, Quote and Escape do not apply.
	CopyBinary
)

// CopyOptions are the format options of a COPY statement. The zero value
// is PostgreSQL's text format default (tab delimiter, \N null).
type CopyOptions struct {
	Format    CopyFormat
	Delimiter string // default "\t" (text) or "," (CSV)
	Null      string // default `\N` (text) or "" (CSV)
	Header    bool   // CSV only: a header line (written; skipped on input)
	Quote     string // CSV only: default `"`
	Escape    string // CSV only: default = Quote
}

// CopyOut is a COPY TO STDOUT: the wire layer sends CopyOutResponse, one
// CopyData per row of Rows, CopyDone and CommandComplete "COPY n". A
// streaming copy (COPY (SUBSCRIBE ...) TO STDOUT) ends by cancellation.
type CopyOut struct {
	Desc    repr.RelationDesc
	Rows    Rows
	Options CopyOptions
}

// CopyIn is a COPY FROM STDIN: the wire layer sends CopyInResponse, parses
// the CopyData stream into rows of Desc's types and hands them to Sink in
// batches; CopyDone commits, CopyFail or an error aborts.
type CopyIn struct {
	Desc    repr.RelationDesc
	Sink    CopySink
	Options CopyOptions
}

// CopySink receives the rows of a COPY FROM STDIN.
type CopySink interface {
	// Append adds a batch of rows. It may keep them: the caller does not
	// reuse their memory.
	Append(ctx context.Context, rows []repr.Row) error
	// Commit ends the copy successfully; the tag sent is "COPY n" with n
	// the number of rows appended.
	Commit(ctx context.Context) error
	// Abort ends the copy with an error: nothing appended takes effect.
	Abort(cause error)
}
