package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
)

// ServerVersion is the server_version reported at startup: PostgreSQL
// 15-compatible, in a form drivers parse ("15.0" followed by a space).
const ServerVersion = "15.0 (viewd)"

// conn is one client connection. Its goroutine (serveConn) is the only one
// that writes to the client and the only one that calls the Session.
type conn struct {
	srv *Server
	nc  net.Conn
	be  *pgproto3.Backend
	log *slog.Logger

	ctx        context.Context         // the connection's lifetime; its cause says why it ended
	cancelConn context.CancelCauseFunc // ends ctx (Terminate)

	pid    uint32
	secret []byte

	// encrypted is set once TLS is negotiated; nc is then the TLS
	// connection.
	encrypted bool

	sess   Session
	text   textFormatter
	params map[string]string // reported parameters

	stmts   map[string]*prepared
	portals map[string]*portal

	// Extended protocol error state: after an error, messages are skipped
	// until Sync; failed records that an error was sent since the last
	// Sync.
	skipToSync bool
	failed     bool

	// Bytes sent since the last flush, to bound the write buffer.
	unflushed int

	mu        sync.Mutex
	pending   []pgproto3.BackendMessage // queued by the Client methods
	runCancel context.CancelCauseFunc   // cancels the running statement
}

var _ Client = (*conn)(nil)

// serveConn runs a connection from startup to close.
func (s *Server) serveConn(parent context.Context, nc net.Conn) {
	ctx, cancel := context.WithCancelCause(parent)
	c := &conn{
		srv:        s,
		nc:         nc,
		log:        s.log.With("remote", nc.RemoteAddr().String()),
		ctx:        ctx,
		cancelConn: cancel,
		params:     make(map[string]string),
		stmts:      make(map[string]*prepared),
		portals:    make(map[string]*portal),
	}
	// Once the connection is cancelled (shutdown, client gone), writes
	// must not block forever on a client that stopped reading. A TLS
	// connection passes deadlines to nc.
	stopDeadline := context.AfterFunc(ctx, func() { _ = nc.SetWriteDeadline(time.Now().Add(time.Second)) })

	defer func() {
		if r := recover(); r != nil {
			c.log.Error("wire: panic serving connection", "panic", r, "stack", string(debug.Stack()))
			c.sendFatal(pgcode.New(pgcode.InternalError, "internal error"))
		}
		stopDeadline()
		cancel(errClientGone)
		s.unregister(c)
		c.release()
		c.nc.Close()
	}()

	timeout := s.StartupTimeout
	if timeout <= 0 {
		timeout = DefaultStartupTimeout
	}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	params, ok := c.startup()
	if !ok {
		return
	}
	info, err := c.authenticate(params.User)
	if err != nil {
		if !errors.Is(err, errClientGone) {
			c.log.Debug("wire: authentication ended the connection", "user", params.User, "err", err)
		}
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	if err := c.run(params, info); err != nil && !errors.Is(err, errTerminate) && !errors.Is(err, errClientGone) {
		c.log.Debug("wire: connection ended", "err", err)
	}
}

// sendFatal sends a FATAL error and flushes, ignoring write errors: the
// connection is closing. Before the StartupMessage (no pgproto3 backend
// yet) the message is written directly.
func (c *conn) sendFatal(e *pgcode.Error) {
	e.Severity = pgcode.SeverityFatal
	if c.be == nil {
		if buf, err := errorResponse(e, "", 0).Encode(nil); err == nil {
			_, _ = c.nc.Write(buf)
		}
		return
	}
	c.be.Send(errorResponse(e, "", 0))
	_ = c.be.Flush()
}

// clientGone reports a read error that means the client went away (or
// let the startup deadline pass) rather than sent something wrong.
func clientGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errClientGone) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// startup negotiates encryption (SSLRequest, direct TLS, GSSEncRequest),
// handles a CancelRequest and reads the StartupMessage, then starts the
// pump and the pgproto3 backend on the (possibly encrypted) connection.
// It returns false when the connection is done.
func (c *conn) startup() (StartupParams, bool) {
	for {
		msg, hdr, err := readStartupPacket(c.nc)
		if errors.Is(err, errDirectTLS) {
			if c.srv.tlsCfg == nil || c.encrypted {
				c.log.Debug("wire: direct TLS handshake refused", "tls_enabled", c.srv.tlsCfg != nil, "already_encrypted", c.encrypted)
				return StartupParams{}, false
			}
			if err := c.upgradeTLS(&prefixConn{Conn: c.nc, prefix: hdr}, true); err != nil {
				c.log.Debug("wire: direct TLS failed", "err", err)
				return StartupParams{}, false
			}
			continue
		}
		if err != nil {
			if !clientGone(err) {
				c.log.Debug("wire: bad startup", "err", err)
				c.sendFatal(pgcode.New(pgcode.ProtocolViolation, "invalid startup packet: %v", err))
			}
			return StartupParams{}, false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.encrypted {
				c.sendFatal(pgcode.New(pgcode.ProtocolViolation, "SSLRequest on an encrypted connection"))
				return StartupParams{}, false
			}
			// The answer is a single byte, not a message; 'S' is followed
			// by the TLS handshake.
			if c.srv.tlsCfg == nil {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return StartupParams{}, false
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return StartupParams{}, false
			}
			if err := c.upgradeTLS(c.nc, false); err != nil {
				c.log.Debug("wire: TLS failed", "err", err)
				return StartupParams{}, false
			}
		case *pgproto3.GSSEncRequest:
			// No GSS encryption: 'N', and the client goes on.
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return StartupParams{}, false
			}
		case *pgproto3.CancelRequest:
			c.srv.cancel(m.ProcessID, m.SecretKey)
			return StartupParams{}, false
		case *pgproto3.StartupMessage:
			return c.startSession(m)
		default:
			c.sendFatal(pgcode.New(pgcode.ProtocolViolation, "unexpected startup message %T", msg))
			return StartupParams{}, false
		}
	}
}

// startSession takes the StartupMessage: it starts the pump and the
// pgproto3 backend, refuses a connection in the clear under TLSRequire
// and returns the startup parameters.
func (c *conn) startSession(m *pgproto3.StartupMessage) (StartupParams, bool) {
	rd := startPump(c.ctx, c.nc, func(err error) { c.cancelConn(errClientGone) })
	c.be = pgproto3.NewBackend(rd, c.nc)
	maxMsg := c.srv.MaxMessageSize
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageSize
	}
	c.be.SetMaxBodyLen(maxMsg)
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
		// We speak 3.0: tell a 3.2 client so.
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	p := StartupParams{Options: make(map[string]string, len(m.Parameters))}
	for k, v := range m.Parameters {
		p.Options[k] = v
	}
	p.User = m.Parameters["user"]
	p.Database = m.Parameters["database"]
	if p.Database == "" {
		p.Database = p.User
	}
	p.ApplicationName = m.Parameters["application_name"]
	if p.User == "" {
		c.sendFatal(pgcode.New(pgcode.InvalidAuthorizationSpec, "no PostgreSQL user name specified in startup packet"))
		return StartupParams{}, false
	}
	if c.srv.tlsMode == TLSRequire && !c.encrypted {
		// PostgreSQL says this through pg_hba.conf ("no pg_hba.conf entry
		// for host ..., no encryption"); viewd has no such file.
		host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
		e := pgcode.New(pgcode.InvalidAuthorizationSpec, "SSL required: connection for host %q, user %q, database %q refused, no encryption", host, p.User, p.Database)
		e.Hint = "Connect with sslmode=require (or verify-full); this server runs with --tls-mode require."
		c.sendFatal(e)
		return StartupParams{}, false
	}
	return p, true
}

// defaultParams returns the ParameterStatus set PostgreSQL 15 reports at
// startup.
func defaultParams(p StartupParams, superuser bool) [][2]string {
	su := "off"
	if superuser {
		su = "on"
	}
	return [][2]string{
		{"application_name", p.ApplicationName},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"default_transaction_read_only", "off"},
		{"in_hot_standby", "off"},
		{"integer_datetimes", "on"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", su},
		{"server_encoding", "UTF8"},
		{"server_version", ServerVersion},
		{"session_authorization", p.User},
		{"standard_conforming_strings", "on"},
		{"TimeZone", "UTC"},
	}
}

// run opens the session of an authenticated connection and serves
// messages.
func (c *conn) run(params StartupParams, login LoginInfo) error {
	c.srv.register(c)
	params.PID = c.pid
	params.RemoteAddr = c.nc.RemoteAddr()
	params.LocalAddr = c.nc.LocalAddr()
	c.log = c.log.With("pid", c.pid, "user", params.User)
	if enc := params.Options["client_encoding"]; enc != "" && !isUTF8Name(enc) {
		c.Notice(&pgcode.Error{Code: pgcode.FeatureNotSupported, Severity: pgcode.SeverityWarning,
			Message: fmt.Sprintf("client_encoding %q is not supported; using UTF8", enc)})
	}
	for _, kv := range defaultParams(params, login.Superuser) {
		c.reportParam(kv[0], kv[1])
	}
	sess, err := c.srv.backend.NewSession(c.ctx, params, c)
	if err != nil {
		c.drainPending()
		pe := pgcode.As(err)
		c.sendFatal(pe)
		return fmt.Errorf("wire: new session: %w", err)
	}
	c.sess = sess
	c.drainPending()
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret})
	c.sendReady()
	if err := c.flush(); err != nil {
		return err
	}
	c.log.Debug("wire: session started", "database", params.Database)
	return c.loop()
}

func isUTF8Name(enc string) bool {
	switch strings.ToUpper(strings.ReplaceAll(enc, "-", "")) {
	case "UTF8", "UNICODE", "SQL_ASCII", "SQLASCII", "AUTO":
		return true
	}
	return false
}

// reportParam sends a ParameterStatus and applies it to output formatting.
func (c *conn) reportParam(name, value string) {
	c.params[name] = value
	if strings.EqualFold(name, "TimeZone") {
		c.text.setTimeZone(value)
	}
	c.be.Send(&pgproto3.ParameterStatus{Name: name, Value: value})
}

// Notice implements Client.
func (c *conn) Notice(e *pgcode.Error) {
	c.mu.Lock()
	c.pending = append(c.pending, noticeResponse(e))
	c.mu.Unlock()
}

// ParameterStatus implements Client.
func (c *conn) ParameterStatus(name, value string) {
	c.mu.Lock()
	c.pending = append(c.pending, &pgproto3.ParameterStatus{Name: name, Value: value})
	c.mu.Unlock()
}

// drainPending sends the queued notices and parameter changes.
func (c *conn) drainPending() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, m := range pending {
		if ps, ok := m.(*pgproto3.ParameterStatus); ok {
			if c.params[ps.Name] == ps.Value {
				continue
			}
			c.reportParam(ps.Name, ps.Value)
			continue
		}
		c.be.Send(m)
	}
}

// beginRun returns the context of one statement execution, cancellable by
// a CancelRequest, and the function that ends it.
func (c *conn) beginRun() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.mu.Lock()
	c.runCancel = cancel
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		c.runCancel = nil
		c.mu.Unlock()
		cancel(context.Canceled)
	}
}

// cancelRunning cancels the running statement, if any (CancelRequest).
func (c *conn) cancelRunning() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runCancel != nil {
		c.runCancel(errUserCancel)
	}
}

// Cancel implements Client.
func (c *conn) Cancel() { c.cancelRunning() }

// Terminate implements Client: cancelling the connection's context with
// errAdminTerminate stops the running statement (classify turns it into a
// FATAL 57P01) or wakes the idle loop's Receive, which sends the FATAL.
func (c *conn) Terminate() {
	c.log.Info("wire: terminating connection at the backend's request")
	c.cancelConn(errAdminTerminate)
}

func (c *conn) flush() error {
	c.unflushed = 0
	if err := c.be.Flush(); err != nil {
		return fmt.Errorf("wire: flush: %w", err)
	}
	return nil
}

func (c *conn) sendReady() {
	st := TxnIdle
	if c.sess != nil {
		st = c.sess.TxnStatus()
	}
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: byte(st)})
}

// sendError sends err as an ErrorResponse and reports whether the
// connection must end (a FATAL error, a vanished client).
func (c *conn) sendError(err error, sql string, offset int) (fatal bool) {
	if errors.Is(err, errClientGone) || errors.Is(err, errTerminate) {
		return true
	}
	c.drainPending()
	c.be.Send(errorResponse(err, sql, offset))
	c.failed = true
	return isFatal(err)
}

// loop reads and dispatches messages until the connection ends.
func (c *conn) loop() error {
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if cause := context.Cause(c.ctx); errors.Is(cause, errShutdown) || errors.Is(cause, errAdminTerminate) {
				c.sendFatal(errAdminShutdown())
				return cause
			}
			var tooBig *pgproto3.ExceededMaxBodyLenErr
			if errors.As(err, &tooBig) {
				c.sendFatal(pgcode.New(pgcode.ProgramLimitExceeded, "message too large: %d bytes exceeds the limit of %d", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen))
				return fmt.Errorf("wire: %w", err)
			}
			if clientGone(err) {
				return errClientGone
			}
			c.sendFatal(pgcode.New(pgcode.ProtocolViolation, "invalid frontend message: %v", err))
			return fmt.Errorf("wire: receive: %w", err)
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return errTerminate
		}
		if _, ok := msg.(*pgproto3.Sync); c.skipToSync && !ok {
			// After an extended-protocol error everything up to Sync is
			// skipped, Query included, as in PostgreSQL.
			continue
		}
		var fatal bool
		switch m := msg.(type) {
		case *pgproto3.Query:
			fatal = c.handleQuery(m.String)
		case *pgproto3.Sync:
			fatal = c.handleSync()
		case *pgproto3.Flush:
			if err := c.flush(); err != nil {
				return err
			}
			continue
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			// Leftovers of a COPY FROM STDIN that failed: ignored, as in
			// PostgreSQL.
			continue
		default:
			fatal = c.handleExtended(msg)
		}
		if fatal {
			_ = c.flush()
			return errors.New("wire: fatal error")
		}
		// Extended-protocol replies stay buffered until Sync or Flush
		// (sendRows bounds the buffer while rows stream).
		if err := c.ioErr(); err != nil {
			return err
		}
	}
}

// ioErr reports a failed write: the client is gone.
func (c *conn) ioErr() error {
	if errors.Is(context.Cause(c.ctx), errClientGone) {
		return errClientGone
	}
	return nil
}

// handleQuery runs a simple Query message: every statement in order, each
// with its own results; the first error skips the rest.
func (c *conn) handleQuery(sql string) (fatal bool) {
	// Like PostgreSQL, a Query drops the unnamed statement and portal.
	c.failed = false
	delete(c.stmts, "")
	c.closePortal("")
	ctx, done := c.beginRun()
	defer done()

	fatal = c.runQuery(ctx, sql)
	if fatal {
		return true
	}
	if err := c.sess.Sync(ctx, c.failed); err != nil {
		if c.sendError(classify(ctx, err), "", 0) {
			return true
		}
	}
	c.drainPending()
	c.sendReady()
	return c.flush() != nil
}

func (c *conn) runQuery(ctx context.Context, sql string) (fatal bool) {
	stmts, err := c.sess.Split(ctx, sql)
	if err != nil {
		return c.sendError(classify(ctx, err), sql, 0)
	}
	if len(stmts) == 0 {
		c.drainPending()
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return false
	}
	for i, st := range stmts {
		if i > 0 && ctx.Err() != nil {
			// Cancelled between statements: the rest does not run.
			return c.sendError(classify(ctx, ctx.Err()), "", 0)
		}
		stmt, err := c.sess.Prepare(ctx, st.SQL, nil)
		if err != nil {
			return c.sendError(classify(ctx, err), sql, st.Offset)
		}
		res, err := c.sess.Execute(ctx, stmt, nil, ExecuteOptions{Protocol: ProtocolSimple, StatementsInQuery: len(stmts)})
		if err != nil {
			return c.sendError(classify(ctx, err), sql, st.Offset)
		}
		c.drainPending()
		var cols *columns
		if res.Rows != nil {
			desc := stmt.Columns()
			if desc == nil {
				res.Rows.Close()
				return c.sendError(errNoColumns(), sql, st.Offset)
			}
			cols, err = newColumns(desc, nil)
			if err != nil {
				res.Rows.Close()
				return c.sendError(err, sql, st.Offset)
			}
			c.be.Send(cols.rowDescription())
		}
		_, err = c.sendResult(ctx, res, cols, 0)
		if err != nil {
			return c.sendError(err, sql, st.Offset)
		}
	}
	return false
}

// sendResult sends the outcome of one execution. For rows it sends at
// most maxRows rows (0: all) and reports whether the stream is suspended;
// a suspended stream stays open, any other result is closed. Errors are
// returned classified, for sendError.
func (c *conn) sendResult(ctx context.Context, res Result, cols *columns, maxRows int) (suspended bool, err error) {
	switch {
	case res.Empty:
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return false, nil
	case res.Rows != nil:
		n, more, err := c.sendRows(ctx, res.Rows, cols, maxRows)
		if err != nil || !more {
			res.Rows.Close()
		}
		if err != nil {
			return false, err
		}
		if more {
			c.be.Send(&pgproto3.PortalSuspended{})
			return true, nil
		}
		c.drainPending()
		c.be.Send(&pgproto3.CommandComplete{CommandTag: fmt.Appendf(nil, "%s %d", rowsTag(res.Tag), n)})
		return false, nil
	case res.CopyOut != nil:
		if res.CopyOut.Rows == nil {
			return false, pgcode.New(pgcode.InternalError, "COPY TO STDOUT result without rows")
		}
		return false, c.copyOut(ctx, res.CopyOut)
	case res.CopyIn != nil:
		if res.CopyIn.Sink == nil {
			return false, pgcode.New(pgcode.InternalError, "COPY FROM STDIN result without a sink")
		}
		return false, c.copyIn(ctx, res.CopyIn)
	}
	c.drainPending()
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
	return false, nil
}

func rowsTag(tag string) string {
	if tag == "" {
		return "SELECT"
	}
	return tag
}

// flushThreshold is the number of buffered bytes that triggers a flush
// while rows stream.
const flushThreshold = 32 << 10

// sendRows sends up to maxRows rows (0: all). more reports that the limit
// was reached with rows possibly left.
func (c *conn) sendRows(ctx context.Context, rows Rows, cols *columns, maxRows int) (n int, more bool, err error) {
	streaming := false
	if s, ok := rows.(Streaming); ok {
		streaming = s.Streaming()
	}
	var dr pgproto3.DataRow
	for maxRows <= 0 || n < maxRows {
		row, err := rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, false, nil
		}
		if err != nil {
			return n, false, classify(ctx, err)
		}
		size, err := cols.encode(&dr, row, &c.text)
		if err != nil {
			return n, false, err
		}
		c.drainPending()
		c.be.Send(&dr)
		n++
		c.unflushed += size + 16
		if streaming || c.unflushed >= flushThreshold {
			// A source that does not watch its context (rows already
			// computed) still stops at the next flush.
			if err := ctx.Err(); err != nil {
				return n, false, classify(ctx, err)
			}
			if err := c.flush(); err != nil {
				return n, false, errClientGone
			}
		}
	}
	return n, true, nil
}

// release closes the open row streams and the session when the
// connection ends. The backend may panic here too (after a panic that
// left it inconsistent): that is logged, not propagated.
func (c *conn) release() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("wire: panic releasing session", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.closeAll()
	if c.sess != nil {
		c.sess.Close()
	}
}

// closeAll closes every portal (their streams).
func (c *conn) closeAll() {
	for name := range c.portals {
		c.closePortal(name)
	}
}
