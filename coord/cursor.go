package coord

import (
	"context"
	"io"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/storage"
	"github.com/viewd/viewd/wire"
)

// cursor is a DECLAREd cursor over a query's rows or a SUBSCRIBE.
type cursor struct {
	desc repr.RelationDesc
	// rows streams a query's result; FETCH pulls from it.
	rows *resultRows
	sub  *subscription
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
	cur := &cursor{}
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

func (s *session) copyFrom(p *sql.CopyFromPlan) (wire.Result, error) {
	opts, err := copyOptions(p.Options)
	if err != nil {
		return wire.Result{}, err
	}
	s.c.mu.Lock()
	it := s.c.cat.items[p.Table.ID]
	s.c.mu.Unlock()
	if it == nil || it.table == nil {
		return wire.Result{}, pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", p.Table.Name.Item)
	}
	desc := repr.RelationDesc{}
	for _, c := range p.Columns {
		desc.Names = append(desc.Names, p.Table.Desc.Names[c])
		desc.Types = append(desc.Types, p.Table.Desc.Types[c])
	}
	return wire.Result{CopyIn: &wire.CopyIn{Desc: desc, Options: opts, Sink: &copySink{s: s, table: p.Table, cols: p.Columns, defaults: it.table.defaults}}}, nil
}

// copySink turns COPY FROM rows into table updates, committed at the end.
type copySink struct {
	s        *session
	table    *sql.CatalogItem
	cols     []int
	defaults []expr.Scalar
	// batches are the updates of each Append, joined once at Commit
	// (appending a million updates to one slice would copy them ~20
	// times).
	batches [][]storage.TableUpdate
}

func (cs *copySink) Append(ctx context.Context, rows []repr.Row) error {
	arity := cs.table.Desc.Arity()
	// The rows of one Append are packed into one slab: no allocation per
	// row for the garbage collector to track.
	size := 0
	for _, r := range rows {
		size += len(r)
	}
	slab := make([]byte, 0, size+len(rows)*2)
	batch := make([]storage.TableUpdate, 0, len(rows))
	id := uint64(cs.table.ID)
	if cs.identity(arity) {
		// Every column, in order: the wire layer's rows are the table's.
		for _, r := range rows {
			if n := r.Arity(); n != arity {
				return pgcode.New(pgcode.BadCopyFileFormat, "row has %d columns, expected %d", n, arity)
			}
			start := len(slab)
			slab = append(slab, r...)
			batch = append(batch, storage.TableUpdate{Table: id, Row: repr.Row(slab[start:len(slab):len(slab)]), Diff: 1})
		}
		cs.batches = append(cs.batches, batch)
		return nil
	}
	ectx := cs.s.evalCtx()
	full := make([]repr.Datum, arity)
	var ds []repr.Datum
	for _, r := range rows {
		for i := range full {
			full[i] = repr.Null
			if i < len(cs.defaults) && cs.defaults[i] != nil {
				d, err := expr.Eval(ectx, cs.defaults[i], nil)
				if err != nil {
					return err
				}
				full[i] = d
			}
		}
		ds = r.Unpack(ds[:0])
		if len(ds) != len(cs.cols) {
			return pgcode.New(pgcode.BadCopyFileFormat, "row has %d columns, expected %d", len(ds), len(cs.cols))
		}
		for j, c := range cs.cols {
			full[c] = ds[j]
		}
		start := len(slab)
		for _, d := range full {
			slab = repr.AppendDatum(slab, d)
		}
		batch = append(batch, storage.TableUpdate{Table: id, Row: repr.Row(slab[start:len(slab):len(slab)]), Diff: 1})
	}
	cs.batches = append(cs.batches, batch)
	return nil
}

// identity reports whether the COPY lists every column in order.
func (cs *copySink) identity(arity int) bool {
	if len(cs.cols) != arity {
		return false
	}
	for i, c := range cs.cols {
		if c != i {
			return false
		}
	}
	return true
}

func (cs *copySink) Commit(ctx context.Context) error {
	n := 0
	for _, b := range cs.batches {
		n += len(b)
	}
	ups := make([]storage.TableUpdate, 0, n)
	for _, b := range cs.batches {
		ups = append(ups, b...)
	}
	cs.batches = nil
	return cs.s.write(ctx, cs.table, ups)
}

func (cs *copySink) Abort(error) { cs.batches = nil }
