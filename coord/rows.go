package coord

import (
	"bytes"
	"context"
	"io"
	"slices"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// rowSource is a pull stream of (row, multiplicity) pairs: the output of a
// peek before the query's finishing. next returns io.EOF at the end; the
// row may alias memory valid until the next call. close releases the
// source's holds and goroutines; it is called exactly once.
type rowSource interface {
	next(ctx context.Context) (repr.Row, repr.Diff, error)
	close()
}

// sliceSource is a rowSource over rows in memory.
type sliceSource struct {
	rows  []repr.Row
	diffs []repr.Diff // nil: every multiplicity is 1
	i     int
	done  func()
}

func (s *sliceSource) next(context.Context) (repr.Row, repr.Diff, error) {
	if s.i >= len(s.rows) {
		return nil, 0, io.EOF
	}
	s.i++
	d := repr.Diff(1)
	if s.diffs != nil {
		d = s.diffs[s.i-1]
	}
	return s.rows[s.i-1], d, nil
}

func (s *sliceSource) close() {
	if s.done != nil {
		s.done()
		s.done = nil
	}
}

// resultRows applies a query's finishing (ORDER BY, OFFSET, LIMIT, the
// final projection) to a rowSource and repeats each row by its
// multiplicity: it is the wire.Rows of a SELECT. Without ORDER BY it
// streams: each Next pulls from the source, and LIMIT stops (and closes)
// the source. With ORDER BY it must see every row first; it keeps them
// packed, bounded by maxMem (53200 past it), and with a LIMIT keeps only
// the first OFFSET+LIMIT rows in order.
type resultRows struct {
	src    rowSource
	f      sql.Finishing
	maxMem int64

	sorted  bool
	buf     []rowCount // ORDER BY: the rows in order
	bufPos  int
	row     repr.Row // the current row, repeated rep more times
	rep     repr.Diff
	skipped int64 // OFFSET rows skipped so far
	sent    int64 // rows returned so far
	pk      repr.Packer
	ds      []repr.Datum
	closed  bool
}

type rowCount struct {
	row repr.Row
	n   repr.Diff
	ds  []repr.Datum
}

func newResultRows(src rowSource, f sql.Finishing, maxMem int64) *resultRows {
	return &resultRows{src: src, f: f, maxMem: maxMem}
}

// Next implements wire.Rows.
func (r *resultRows) Next(ctx context.Context) (repr.Row, error) {
	if r.closed {
		return nil, io.EOF
	}
	if len(r.f.Order) > 0 && !r.sorted {
		if err := r.sortAll(ctx); err != nil {
			// A failed sort ends the stream: no partial order afterwards.
			r.Close()
			return nil, err
		}
	}
	for {
		if r.f.Limit >= 0 && r.sent >= r.f.Limit {
			r.closeSource()
			return nil, io.EOF
		}
		if r.rep == 0 {
			row, n, err := r.pull(ctx)
			if err != nil {
				if err == io.EOF {
					r.closeSource()
				}
				return nil, err
			}
			if n < 0 {
				return nil, pgcode.New(pgcode.InternalError, "negative multiplicity %d for row %s", n, row)
			}
			r.row, r.rep = row, n
			continue
		}
		r.rep--
		if r.skipped < r.f.Offset {
			r.skipped++
			continue
		}
		r.sent++
		return r.project(r.row), nil
	}
}

// pull returns the next (row, multiplicity) in result order.
func (r *resultRows) pull(ctx context.Context) (repr.Row, repr.Diff, error) {
	if r.sorted {
		if r.bufPos >= len(r.buf) {
			return nil, 0, io.EOF
		}
		rc := r.buf[r.bufPos]
		r.buf[r.bufPos] = rowCount{}
		r.bufPos++
		return rc.row, rc.n, nil
	}
	if r.src == nil {
		return nil, 0, io.EOF
	}
	return r.src.next(ctx)
}

// project applies the finishing's projection.
func (r *resultRows) project(row repr.Row) repr.Row {
	identity := true
	for i, p := range r.f.Project {
		if p != i {
			identity = false
			break
		}
	}
	if identity && row.Arity() == len(r.f.Project) {
		return row
	}
	r.ds = row.Unpack(r.ds[:0])
	r.pk.Reset()
	for _, c := range r.f.Project {
		r.pk.Push(r.ds[c])
	}
	return r.pk.Row()
}

// sortAll drains the source into buf in ORDER BY order. With a LIMIT it
// keeps at most about twice OFFSET+LIMIT rows, sorting and cutting as it
// goes.
func (r *resultRows) sortAll(ctx context.Context) error {
	r.sorted = true
	keep := int64(-1)
	if r.f.Limit >= 0 {
		keep = r.f.Offset + r.f.Limit
	}
	var mem int64
	cut := func() {
		r.sortBuf()
		var n int64
		for i, rc := range r.buf {
			n += int64(rc.n)
			if n >= keep {
				clear(r.buf[i+1:])
				r.buf = r.buf[:i+1]
				break
			}
		}
		mem = 0
		for _, rc := range r.buf {
			mem += rowMem(rc)
		}
	}
	for {
		row, n, err := r.src.next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rc := rowCount{row: row.Clone(), n: n}
		rc.ds = rc.row.Datums()
		r.buf = append(r.buf, rc)
		mem += rowMem(rc)
		if keep >= 0 && int64(len(r.buf)) > 2*keep+1024 {
			cut()
		}
		if r.maxMem > 0 && mem > r.maxMem {
			r.closeSource()
			return outOfMemory(r.maxMem)
		}
	}
	r.closeSource()
	r.sortBuf()
	return nil
}

// rowMem estimates the bytes a buffered row costs.
func rowMem(rc rowCount) int64 { return int64(len(rc.row)) + 24*int64(len(rc.ds)) + 64 }

func outOfMemory(limit int64) error {
	return pgcode.New(pgcode.OutOfMemory, "query exceeded its memory limit of %d MB", limit>>20).
		WithHint("Add a LIMIT, an index that gives the order, or raise --max-query-memory.")
}

func (r *resultRows) sortBuf() {
	if r.ordersJSONB() {
		r.sortBufByKeys()
		return
	}
	r.sortBufByCompare()
}

// sortBufByCompare sorts buf by comparing rows' ORDER BY columns.
func (r *resultRows) sortBufByCompare() {
	order := r.f.Order
	slices.SortStableFunc(r.buf, func(a, b rowCount) int {
		for _, o := range order {
			x, y := a.ds[o.Column], b.ds[o.Column]
			if x.IsNull() || y.IsNull() {
				if x.IsNull() && y.IsNull() {
					continue
				}
				if x.IsNull() == o.Order.NullsFirst {
					return -1
				}
				return 1
			}
			c := repr.Compare(x, y)
			if c == 0 {
				continue
			}
			if o.Order.Desc {
				return -c
			}
			return c
		}
		return 0
	})
}

// ordersJSONB reports whether an ORDER BY column of buf holds jsonb,
// whose comparison (repr.Compare) reads both documents.
func (r *resultRows) ordersJSONB() bool {
	for _, o := range r.f.Order {
		for _, rc := range r.buf {
			if k := rc.ds[o.Column].Kind(); k != repr.KindNull {
				if k == repr.KindJsonb {
					return true
				}
				break
			}
		}
	}
	return false
}

// sortBufByKeys sorts buf as sortBuf does, by the memcomparable key of
// each row's ORDER BY columns (repr.AppendKey agrees with repr.Compare and
// places NULLs by NullsFirst alone, as sortBuf does), built once per row:
// n keys rather than n log n comparisons of jsonb documents (a 100k-row
// ORDER BY of jsonb took 3-5 s by comparisons, see the commit).
func (r *resultRows) sortBufByKeys() {
	type keyed struct {
		key []byte
		rc  rowCount
	}
	ks := make([]keyed, len(r.buf))
	var slab []byte
	ends := make([]int, len(r.buf))
	for i, rc := range r.buf {
		for _, o := range r.f.Order {
			slab = repr.AppendKey(slab, rc.ds[o.Column], o.Order)
		}
		ends[i] = len(slab)
	}
	start := 0
	for i, rc := range r.buf {
		ks[i] = keyed{key: slab[start:ends[i]:ends[i]], rc: rc}
		start = ends[i]
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	for i := range ks {
		r.buf[i] = ks[i].rc
	}
}

func (r *resultRows) closeSource() {
	if r.src != nil {
		r.src.close()
		r.src = nil
	}
}

// Close implements wire.Rows.
func (r *resultRows) Close() {
	r.closed = true
	r.closeSource()
	r.buf = nil
}

// drain reads every row of a wire.Rows stream (DML selections, RETURNING).
func drain(ctx context.Context, rows *resultRows) ([]repr.Row, error) {
	defer rows.Close()
	var out []repr.Row
	for {
		row, err := rows.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row.Clone())
	}
}
