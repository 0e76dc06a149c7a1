package wire

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
)

// Causes of context cancellation, told apart with context.Cause.
var (
	// errUserCancel cancels the running statement on a CancelRequest.
	errUserCancel = errors.New("wire: canceled by CancelRequest")
	// errShutdown cancels every connection when the server stops.
	errShutdown = errors.New("wire: server shutting down")
	// errClientGone cancels a connection whose client went away.
	errClientGone = errors.New("wire: client disconnected")
	// errTerminate ends a connection on Terminate.
	errTerminate = errors.New("wire: client sent Terminate")
	// errAdminTerminate ends a connection the backend terminated
	// (Client.Terminate: pg_terminate_backend).
	errAdminTerminate = errors.New("wire: terminated by the backend")
)

// errCanceled is what a query cancelled by a CancelRequest fails with.
func errCanceled() *pgcode.Error {
	return pgcode.New(pgcode.QueryCanceled, "canceling statement due to user request")
}

// errAdminShutdown is the FATAL error sent to sessions at shutdown and to
// a session the backend terminates (the same message as PostgreSQL's for
// both).
func errAdminShutdown() *pgcode.Error {
	e := pgcode.New(pgcode.AdminShutdown, "terminating connection due to administrator command")
	e.Severity = pgcode.SeverityFatal
	return e
}

// classify maps an error returned while ctx was in use to the error the
// client must see: a cancelled context means a CancelRequest (57014), a
// shutdown or a termination (57P01, FATAL) or a vanished client.
func classify(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errUserCancel):
		return errCanceled()
	case errors.Is(cause, errShutdown), errors.Is(cause, errAdminTerminate):
		return errAdminShutdown()
	case errors.Is(cause, errClientGone), errors.Is(cause, errTerminate):
		return cause
	}
	return err
}

// isFatal reports whether err ends the connection.
func isFatal(err error) bool {
	if errors.Is(err, errClientGone) || errors.Is(err, errTerminate) {
		return true
	}
	var pe *pgcode.Error
	return errors.As(err, &pe) && pe.Severity == pgcode.SeverityFatal
}

// errorResponse turns err into an ErrorResponse. sql and offset locate the
// statement within the message text: the position the backend reports is
// relative to the statement; the client's is relative to the message.
func errorResponse(err error, sql string, offset int) *pgproto3.ErrorResponse {
	pe := pgcode.As(err)
	sev := string(pe.Severity)
	if sev == "" {
		sev = string(pgcode.SeverityError)
	}
	code := string(pe.Code)
	if code == "" {
		code = string(pgcode.InternalError)
	}
	pos := int32(0)
	if pe.Position > 0 {
		pos = int32(pe.Position)
		if offset > 0 && offset <= len(sql) {
			pos += int32(utf8.RuneCountInString(sql[:offset]))
		}
	}
	return &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                code,
		Message:             pe.Message,
		Detail:              pe.Detail,
		Hint:                pe.Hint,
		Position:            pos,
	}
}

// noticeResponse turns a notice into a NoticeResponse.
func noticeResponse(e *pgcode.Error) *pgproto3.NoticeResponse {
	sev := string(e.Severity)
	if sev == "" {
		sev = string(pgcode.SeverityNotice)
	}
	code := string(e.Code)
	if code == "" {
		code = string(pgcode.SuccessfulCompletion)
	}
	return &pgproto3.NoticeResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
		Position:            int32(e.Position),
	}
}

// errNoColumns reports a backend that returned rows for a statement whose
// Columns are nil.
func errNoColumns() error {
	return pgcode.New(pgcode.InternalError, "statement returned rows but was described as returning none")
}
