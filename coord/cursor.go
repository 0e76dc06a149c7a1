package coord

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// cursor is a DECLAREd cursor over a query's rows or a SUBSCRIBE.
// Lifetime, as in PostgreSQL: a cursor without WITH HOLD lives in a
// transaction block (BEGIN ... COMMIT, or the implicit block of a Query
// message holding several statements) and its end closes it; a WITH HOLD cursor
// outlives the COMMIT of the transaction that declared it (or is declared
// outside any block), but that transaction's ROLLBACK closes it. Closing
// releases what the cursor holds: a SUBSCRIBE's dataflow and read holds,
// a query's row stream.
type cursor struct {
	desc repr.RelationDesc
	// rows streams a query's result; FETCH pulls from it.
	rows *resultRows
	sub  *subscription
	// hold is WITH HOLD; uncommitted marks a WITH HOLD cursor declared
	// in the transaction block still open.
	hold, uncommitted bool
	// stmt is the query text that declared it and created the time, as
	// pg_cursors shows them.
	stmt    string
	created time.Time
}

func (cur *cursor) close() {
	if cur.sub != nil {
		cur.sub.Close()
	}
	if cur.rows != nil {
		cur.rows.Close()
	}
}

func (s *session) declare(ctx context.Context, p *sql.DeclarePlan) (wire.Result, error) {
	if _, dup := s.cursors[p.Name]; dup {
		return wire.Result{}, pgcode.New(pgcode.DuplicateCursor, "cursor %q already exists", p.Name)
	}
	if !p.Hold && !s.txn.explicit && !s.multiStatement {
		return wire.Result{}, pgcode.New(pgcode.NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks")
	}
	s.act.mu.Lock()
	stmt := s.act.query
	s.act.mu.Unlock()
	cur := &cursor{hold: p.Hold, uncommitted: p.Hold && s.txn.explicit, stmt: stmt, created: time.Now()}
	switch {
	case p.Subscribe != nil:
		sub, err := s.subscribe(ctx, p.Subscribe)
		if err != nil {
			return wire.Result{}, err
		}
		cur.sub = sub
		cur.desc = *subscribeDesc(p.Subscribe)
	case p.Query != nil:
		rows, err := s.selectRows(ctx, p.Query, nil, false)
		if err != nil {
			return wire.Result{}, err
		}
		cur.rows = rows
		cur.desc = p.Query.Desc
	default:
		return wire.Result{}, pgcode.New(pgcode.FeatureNotSupported, "DECLARE of this statement is not supported")
	}
	s.cursors[p.Name] = cur
	return wire.Result{Tag: "DECLARE CURSOR"}, nil
}

// endTxnCursors closes the cursors that end with the transaction block
// (explicit, or the implicit one of a multi-statement Query message):
// those without WITH HOLD, and on ROLLBACK (committed false) the WITH
// HOLD cursors an explicit block declared.
func (s *session) endTxnCursors(committed bool) {
	for name, cur := range s.cursors {
		if !cur.hold || (cur.uncommitted && !committed) {
			cur.close()
			delete(s.cursors, name)
			continue
		}
		cur.uncommitted = false
	}
}

func (s *session) fetch(ctx context.Context, p *sql.FetchPlan) (wire.Result, error) {
	cur, ok := s.cursors[p.Name]
	if !ok {
		return wire.Result{}, pgcode.New(pgcode.InvalidCursorName, "cursor %q does not exist", p.Name)
	}
	if cur.sub == nil {
		var out []repr.Row
		for p.Count < 0 || int64(len(out)) < p.Count {
			row, err := cur.rows.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return wire.Result{}, err
			}
			out = append(out, row.Clone())
		}
		return wire.Result{Rows: &sliceRows{rows: out}, Tag: "FETCH"}, nil
	}
	wait := true
	if p.Timeout != "" {
		d, err := parseTimeout(p.Timeout)
		if err != nil {
			return wire.Result{}, pgcode.New(pgcode.InvalidParameterValue, "invalid FETCH timeout %q", p.Timeout)
		}
		if d == 0 {
			wait = false
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	rows, err := cur.sub.fetch(ctx, p.Count, wait)
	if err != nil {
		return wire.Result{}, err
	}
	return wire.Result{Rows: &sliceRows{rows: rows}, Tag: "FETCH"}, nil
}

// copyOptions turns COPY's WITH options into the wire layer's.
func copyOptions(opts map[string]string) (wire.CopyOptions, error) {
	var o wire.CopyOptions
	for k, v := range opts {
		switch strings.ToLower(k) {
		case "format":
			switch strings.ToLower(v) {
			case "text":
				o.Format = wire.CopyText
			case "csv":
				o.Format = wire.CopyCSV
			case "binary":
				o.Format = wire.CopyBinary
			default:
				return o, pgcode.New(pgcode.FeatureNotSupported, "COPY format %q is not supported", v)
			}
		case "delimiter":
			o.Delimiter = v
		case "null":
			o.Null = v
		case "header":
			o.Header = v == "" || strings.EqualFold(v, "true") || strings.EqualFold(v, "on") || v == "1"
		case "quote":
			o.Quote = v
		case "escape":
			o.Escape = v
		default:
			return o, pgcode.New(pgcode.SyntaxError, "option %q not recognized", k)
		}
	}
	return o, nil
}

func (s *session) copyTo(ctx context.Context, p *sql.CopyToPlan) (wire.Result, error) {
	opts, err := copyOptions(p.Format)
	if err != nil {
		return wire.Result{}, err
	}
	if p.Subscribe != nil {
		sub, err := s.subscribe(ctx, p.Subscribe)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{CopyOut: &wire.CopyOut{Desc: *subscribeDesc(p.Subscribe), Rows: sub, Options: opts}}, nil
	}
	rows, err := s.selectRows(ctx, p.Query, nil, false)
	if err != nil {
		return wire.Result{}, err
	}
	return wire.Result{CopyOut: &wire.CopyOut{Desc: p.Query.Desc, Rows: rows, Options: opts}}, nil
}

// pgCursorsDef is pg_catalog.pg_cursors: the cursors of the session that
// reads it, by name (none where no session reads: a view's definition).
// viewd's cursors are neither binary nor scrollable.
func pgCursorsDef() builtinDef {
	return cols("name text, statement text, is_holdable bool, is_binary bool, is_scrollable bool, creation_time timestamptz").
		def("pg_catalog", "pg_cursors", func(c *Coordinator) [][]repr.Datum {
			s := c.reading
			if s == nil {
				return nil
			}
			names := make([]string, 0, len(s.cursors))
			for n := range s.cursors {
				names = append(names, n)
			}
			sort.Strings(names)
			rows := make([][]repr.Datum, len(names))
			for i, n := range names {
				cur := s.cursors[n]
				rows[i] = []repr.Datum{text(n), text(cur.stmt), repr.BoolDatum(cur.hold), repr.BoolDatum(false), repr.BoolDatum(false), repr.TimestampTzDatum(cur.created.UnixMicro())}
			}
			return rows
		})
}
