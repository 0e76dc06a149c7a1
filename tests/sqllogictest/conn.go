package sqllogictest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Column describes one result column.
type Column struct {
	Name string
	OID  uint32
}

// Rows is the complete response to one statement.
type Rows struct {
	Columns []Column
	// Values holds each row's values in text format; nil is NULL.
	Values [][][]byte
	// Tag is the command tag ("INSERT 0 3", "SELECT 2").
	Tag string
	// RowsAffected is the count in the command tag.
	RowsAffected int64
}

// Conn is a connection to the server under test.
type Conn interface {
	// Exec runs one statement over the extended protocol and returns its
	// rows in text format.
	Exec(ctx context.Context, sql string) (*Rows, error)
	// ExecSimple runs SQL (possibly several statements) over the simple
	// query protocol. It returns the results of the statements that
	// completed and the first error.
	ExecSimple(ctx context.Context, sql string) ([]*Rows, error)
	// Broken reports whether the connection can no longer be used.
	Broken() bool
	// InTransaction reports whether a transaction block is open.
	InTransaction() bool
	Close(ctx context.Context) error
}

// Dialer opens a connection to the database a file runs in.
type Dialer func(ctx context.Context) (Conn, error)

// ServerError is an error reported by the server (an ErrorResponse).
type ServerError struct {
	Code    string
	Message string
	Detail  string
}

func (e *ServerError) Error() string {
	s := "ERROR: " + e.Message
	if e.Detail != "" {
		s += " (DETAIL: " + e.Detail + ")"
	}
	return s + " (SQLSTATE " + e.Code + ")"
}

// PgDialer returns a Dialer that connects with pgx's pgconn to connString.
// A statement whose context ends is cancelled with a CancelRequest, so the
// connection survives a timeout when the server honours cancellation.
func PgDialer(connString string) Dialer {
	return func(ctx context.Context) (Conn, error) {
		cfg, err := pgconn.ParseConfig(connString)
		if err != nil {
			return nil, fmt.Errorf("sqllogictest: parsing connection string: %w", err)
		}
		cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{
				Conn:               c,
				CancelRequestDelay: 0,
				DeadlineDelay:      5 * time.Second,
			}
		}
		c, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("sqllogictest: connecting to %s:%d: %w", cfg.Host, cfg.Port, err)
		}
		return &pgConn{c: c}, nil
	}
}

type pgConn struct {
	c *pgconn.PgConn
}

var _ Conn = (*pgConn)(nil)

func (p *pgConn) Exec(ctx context.Context, sql string) (*Rows, error) {
	// No parameters and nil result formats: every column comes back as text.
	rr := p.c.ExecParams(ctx, sql, nil, nil, nil, nil)
	return readRows(rr)
}

func readRows(rr *pgconn.ResultReader) (*Rows, error) {
	out := &Rows{}
	for _, fd := range rr.FieldDescriptions() {
		out.Columns = append(out.Columns, Column{Name: fd.Name, OID: fd.DataTypeOID})
	}
	for rr.NextRow() {
		vals := rr.Values()
		row := make([][]byte, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		out.Values = append(out.Values, row)
	}
	tag, err := rr.Close()
	if err != nil {
		return nil, convertErr(err)
	}
	out.Tag = tag.String()
	out.RowsAffected = tag.RowsAffected()
	return out, nil
}

func (p *pgConn) ExecSimple(ctx context.Context, sql string) ([]*Rows, error) {
	mrr := p.c.Exec(ctx, sql)
	var out []*Rows
	for mrr.NextResult() {
		rows, err := readRows(mrr.ResultReader())
		if err != nil {
			_ = mrr.Close()
			return out, err
		}
		out = append(out, rows)
	}
	if err := mrr.Close(); err != nil {
		return out, convertErr(err)
	}
	return out, nil
}

func convertErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return &ServerError{Code: pgErr.Code, Message: pgErr.Message, Detail: pgErr.Detail}
	}
	return err
}

func (p *pgConn) Broken() bool { return p.c.IsClosed() }

// InTransaction implements Conn.
func (p *pgConn) InTransaction() bool { return p.c.TxStatus() != 'I' }

func (p *pgConn) Close(ctx context.Context) error { return p.c.Close(ctx) }
