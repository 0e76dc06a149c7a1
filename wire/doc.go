// Package wire serves the PostgreSQL v3 frontend/backend protocol on top of
// a Backend, the coordinator's client interface declared in backend.go.
// wire imports only repr and pgcode: it knows types, datums and SQLSTATEs,
// never SQL, plans or dataflows. It is the only package that turns errors
// into ErrorResponse messages (pgcode.As: Code, Message, Detail, Hint,
// Position).
//
// # Connection lifecycle
//
// Server.Serve accepts connections and runs each on its own goroutine
// (serveConn), which alone writes to the client and calls the Session. All
// messages are pgproto3's, read through a pgproto3.Backend with a maximum
// message body length (Server.MaxMessageSize).
//
//  1. Startup (bounded by Server.StartupTimeout). Startup packets are
//     read byte-exact from the socket, never ahead, so that plaintext
//     sent after an SSLRequest is never taken as part of the TLS session
//     (CVE-2021-23214). An SSLRequest is answered 'S' and the connection
//     upgraded with crypto/tls when TLS is on (WithTLS), 'N' otherwise; a
//     connection that opens with a TLS ClientHello naming ALPN
//     "postgresql" (PostgreSQL 17's sslnegotiation=direct) is upgraded
//     at once. GSSEncRequest is answered 'N'. A CancelRequest cancels the
//     statement running in the session whose process ID and secret key
//     (4 random bytes per session) it names, and is ignored otherwise;
//     the connection closes without a reply. A StartupMessage (protocol
//     3.0; a 3.2 client gets NegotiateProtocolVersion) starts the pump
//     and the pgproto3 backend; under TLSRequire one in the clear gets a
//     FATAL 28000.
//  2. Authentication (auth.go), by AuthMode. Trust: with an
//     Authenticator the role must exist (else FATAL 28000 "role does not
//     exist"); without one any user is accepted. Password: SASL with
//     SCRAM-SHA-256, and SCRAM-SHA-256-PLUS (tls-server-end-point
//     channel binding) first when the connection is encrypted and the
//     server's certificate is known; the role's verifier is PostgreSQL's
//     text form. A role that does not exist or has no password is shown
//     mock credentials (a salt stable per user name) and fails at the
//     proof, so every failure is the same FATAL 28P01 "password
//     authentication failed for user". Then, in both modes, a role
//     without LOGIN gets FATAL 28000 "is not permitted to log in", as in
//     PostgreSQL. Cleartext and MD5 passwords are never offered.
//     AuthenticationOk follows.
//  3. Session. The ParameterStatus set of PostgreSQL 15 is sent
//     (server_version "15.0 (viewd)", UTF8 encodings, DateStyle "ISO, MDY",
//     IntervalStyle postgres, TimeZone UTC, is_superuser from the role,
//     ...); Backend.NewSession opens the session, which may queue notices
//     and parameter changes through the Client it is given (e.g. the NOTICE that the database does not
//     exist); StartupParams carry the process ID (the backend's pid) and
//     the client's address; BackendKeyData carries the process ID and
//     secret key for cancellation; ReadyForQuery reports Session.TxnStatus
//     (I, T or E).
//  4. Messages, one at a time:
//     - Query (simple protocol): Session.Split, then for each statement
//     Prepare and Execute and its results (RowDescription, DataRow...,
//     CommandComplete; EmptyQueryResponse for an empty text); the first
//     error is sent and the rest skipped (error positions are made
//     relative to the whole message); Session.Sync(failed) ends the
//     implicit transaction; ReadyForQuery.
//     - Parse, Bind, Describe, Execute, Close, Flush, Sync (extended
//     protocol): named and unnamed statements and portals. Parse calls
//     Session.Prepare with the declared parameter OIDs and keeps the
//     inferred types (ParameterDescription); Bind decodes parameters
//     (text through repr.ParseText, binary as PostgreSQL's recv
//     functions) and records the result formats; Execute runs the portal
//     on its first call and sends at most MaxRows rows, answering
//     PortalSuspended and keeping the row stream for the next Execute.
//     After an error every message is skipped until Sync. Sync calls
//     Session.Sync, drops the portals when no transaction remains open,
//     and sends ReadyForQuery. Replies are buffered until Sync or Flush.
//     - COPY: a Result with CopyOut sends CopyOutResponse, one CopyData
//     per row in text or CSV format, CopyDone, "COPY n". A Result with
//     CopyIn sends CopyInResponse and parses CopyData into rows of the
//     target's types for the CopySink until CopyDone (commit, "COPY n")
//     or CopyFail (abort, 57014).
//     - Terminate closes the connection.
//     Notices and parameter changes the session queues through its Client
//     are sent at the next safe point: before the next result message,
//     CommandComplete or ReadyForQuery.
//  5. End: the session is closed, open row streams are closed and the
//     connection is released when the client sends Terminate or goes
//     away, on a FATAL error, or at shutdown.
//
// # Row streams
//
// Rows are encoded as the client asked per column (Bind's result formats;
// text for the simple protocol) and buffered, with a flush every 32 KiB. A
// stream that implements Streaming (SUBSCRIBE) is flushed row by row. A
// portal suspended by an Execute row limit keeps its Rows open across
// messages; each Execute passes its own context to Rows.Next. Portals end
// at Close, at the Sync that leaves no transaction open, or with the
// connection.
//
// # Cancellation, disconnects and shutdown
//
// Each statement runs under a context derived from the connection's. A
// CancelRequest cancels it (cause errUserCancel) and the statement fails
// with 57014 "canceling statement due to user request"; the session goes
// on. The backend does the same to any session through its Client:
// Client.Cancel is a CancelRequest (pg_cancel_backend), Client.Terminate
// cancels the connection context (errAdminTerminate), so a running
// statement or the idle loop ends the connection with a FATAL 57P01
// "terminating connection due to administrator command"
// (pg_terminate_backend). Row streams check their context at each flush,
// so a source that ignores it still stops within 32 KiB of output. A separate pump goroutine reads the socket ahead of the protocol
// reader, so a client that disconnects while a statement runs (a
// SUBSCRIBE that has nothing to send) cancels the connection context at
// once. When Serve's context is cancelled, the listener closes and every
// connection context is cancelled (errShutdown): idle sessions and running
// statements end with a FATAL 57P01 admin_shutdown, and Serve returns when
// every connection goroutine has stopped (a backend must therefore honour
// its contexts). A panic on a connection
// goroutine is recovered, logged, reported as a FATAL XX000 and closes
// only that connection.
//
// # Formats
//
// Text output is repr.AppendTextTyped, except that timestamptz (and its
// arrays) is shown in the session's TimeZone, which the wire layer tracks
// from the ParameterStatus messages the session reports. Binary output and
// input follow PostgreSQL's send/recv functions (binary.go); dates and
// timestamps are converted between repr's 1970 epoch and PostgreSQL's
// 2000 epoch.
package wire
