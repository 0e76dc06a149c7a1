package coord

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/storage"
	"github.com/viewd/viewd/wire"
)

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
	sink := &copySink{s: s, table: p.Table, cols: p.Columns, defaults: it.table.defaults}
	// The table's arrangement is keyed by its primary key, or by the
	// whole row when it has none (nil).
	var key []int
	if it.table.primary {
		key = it.table.keys[0]
	}
	sink.sorter = newCopySorter(key)
	return wire.Result{CopyIn: &wire.CopyIn{Desc: desc, Options: opts, Sink: sink}}, nil
}

// copySink turns COPY FROM rows into table updates, committed at the end.
//
// A bulk load spends most of its commit sorting: the primary key check
// sorts the keys, and the table's arrangement sorts its batch. The sink
// therefore sorts the rows by the arrangement's key while they arrive, on
// its sorter's goroutine (the connection's goroutine parses meanwhile),
// and commits them in that order, which both sorts then find already
// sorted. The order is only an optimisation: commit checks everything as
// for any other write.
type copySink struct {
	s        *session
	table    *sql.CatalogItem
	cols     []int
	defaults []expr.Scalar
	sorter   *copySorter
	// batches are the updates of each Append, joined once at Commit
	// when there is no sorter.
	batches [][]storage.TableUpdate
}

func (cs *copySink) Append(ctx context.Context, rows []repr.Row) error {
	arity := cs.table.Desc.Arity()
	batch := make([]storage.TableUpdate, 0, len(rows))
	id := uint64(cs.table.ID)
	if cs.identity(arity) {
		// Every column, in order: the wire layer's rows are the table's,
		// and the sink keeps them as they are (they share one slab).
		for _, r := range rows {
			if n := r.Arity(); n != arity {
				return pgcode.New(pgcode.BadCopyFileFormat, "row has %d columns, expected %d", n, arity)
			}
			batch = append(batch, storage.TableUpdate{Table: id, Row: r, Diff: 1})
		}
		return cs.add(batch)
	}
	// The rows of one Append are packed into one slab: no allocation per
	// row for the garbage collector to track.
	size := 0
	for _, r := range rows {
		size += len(r)
	}
	slab := make([]byte, 0, size+len(rows)*2)
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
	return cs.add(batch)
}

// add hands a batch of updates to the sorter, or keeps it.
func (cs *copySink) add(batch []storage.TableUpdate) error {
	if cs.sorter != nil {
		cs.sorter.add(batch)
		return nil
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
	start := time.Now()
	var ups []storage.TableUpdate
	if cs.sorter != nil {
		ups = cs.sorter.finish()
		cs.sorter = nil
	} else {
		n := 0
		for _, b := range cs.batches {
			n += len(b)
		}
		ups = make([]storage.TableUpdate, 0, n)
		for _, b := range cs.batches {
			ups = append(ups, b...)
		}
		cs.batches = nil
	}
	sorted := time.Since(start)
	err := cs.s.write(ctx, cs.table, ups)
	cs.s.c.log.Debug("coord: COPY FROM committed", "table", cs.table.Name.Item, "rows", len(ups),
		"merge", sorted.Round(time.Millisecond), "commit", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}

func (cs *copySink) Abort(error) {
	if cs.sorter != nil {
		cs.sorter.abort()
		cs.sorter = nil
	}
	cs.batches = nil
}

// copyRunRows is the number of rows the sorter gathers into one sorted
// run. Commit merges the runs; the last run is sorted at commit.
const copyRunRows = 1 << 16

// copySorter sorts a COPY's updates by the table's arrangement key (key
// columns, or the whole row for nil) on its own goroutine, in runs of
// copyRunRows updates, and merges the runs when the copy ends.
type copySorter struct {
	key    []int
	chunks chan []storage.TableUpdate
	wg     sync.WaitGroup
	// Owned by the goroutine until wg is done:
	cur  []storage.TableUpdate
	runs []*copyRun
	stop bool
}

// copyRun is a sorted run: its updates in key order, their rows packed
// in that order in one slab, and their keys' prefixes.
type copyRun struct {
	ups  []storage.TableUpdate
	spfx []uint64
	key  func(i int) []byte
	pos  int // the merge's position
}

func (r *copyRun) head() []byte { return r.key(r.pos) }

func newCopySorter(key []int) *copySorter {
	s := &copySorter{key: key, chunks: make(chan []storage.TableUpdate, 4)}
	s.wg.Add(1)
	go s.run()
	return s
}

func (s *copySorter) run() {
	defer s.wg.Done()
	for chunk := range s.chunks {
		if s.stop {
			continue
		}
		if chunk == nil {
			// abort: drop everything.
			s.stop, s.cur, s.runs = true, nil, nil
			continue
		}
		s.cur = append(s.cur, chunk...)
		if len(s.cur) >= copyRunRows {
			s.cut()
		}
	}
	if !s.stop && len(s.cur) > 0 {
		s.cut()
	}
}

// cut sorts the current run and starts another. The run's rows are
// copied into a slab in sorted order (the reads stay within the run,
// which fits in cache), so that the merge and every later pass read
// memory in order.
func (s *copySorter) cut() {
	ups := s.cur
	s.cur = make([]storage.TableUpdate, 0, copyRunRows+copyBatchRows)
	var keys keySlab
	key := func(i int) []byte { return ups[i].Row }
	if s.key != nil {
		key = keys.key
	}
	var offs []int
	pfx := make([]uint64, len(ups))
	perm := make([]int32, len(ups))
	size := 0
	for i, u := range ups {
		size += len(u.Row)
		if s.key != nil {
			var err error
			if offs, err = u.Row.Offsets(offs[:0]); err != nil {
				// A malformed row has no key; the commit's checks
				// report it.
				keys.ends = append(keys.ends, len(keys.data))
			} else {
				keys.add(u.Row, offs, s.key)
			}
		}
		pfx[i] = repr.Row(key(i)).Prefix()
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if pa, pb := pfx[a], pfx[b]; pa != pb {
			if pa < pb {
				return -1
			}
			return 1
		}
		return bytes.Compare(key(int(a)), key(int(b)))
	})
	r := &copyRun{ups: make([]storage.TableUpdate, len(ups)), spfx: make([]uint64, len(ups))}
	slab := make([]byte, 0, size)
	var sorted keySlab
	for i, j := range perm {
		u := ups[j]
		start := len(slab)
		slab = append(slab, u.Row...)
		u.Row = repr.Row(slab[start:len(slab):len(slab)])
		r.ups[i] = u
		r.spfx[i] = pfx[j]
		if s.key != nil {
			sorted.data = append(sorted.data, keys.key(int(j))...)
			sorted.ends = append(sorted.ends, len(sorted.data))
		}
	}
	r.key = func(i int) []byte { return r.ups[i].Row }
	if s.key != nil {
		r.key = sorted.key
	}
	s.runs = append(s.runs, r)
}

// copyBatchRows is about the number of rows the wire layer hands the sink
// at once.
const copyBatchRows = 1024

// add queues a batch for sorting.
func (s *copySorter) add(batch []storage.TableUpdate) { s.chunks <- batch }

// abort stops the sorter and drops what it holds.
func (s *copySorter) abort() {
	s.chunks <- nil
	close(s.chunks)
	s.wg.Wait()
}

// finish waits for the sorter and returns every update, sorted by key.
// Each run's rows lie in order in its own slab, so every later pass over
// the updates (checks, the log record, the table's input) reads a few
// streams of memory in order.
func (s *copySorter) finish() []storage.TableUpdate {
	close(s.chunks)
	s.wg.Wait()
	n := 0
	for _, r := range s.runs {
		n += len(r.ups)
	}
	out := make([]storage.TableUpdate, 0, n)
	h := s.runs
	for i := len(h)/2 - 1; i >= 0; i-- {
		runDown(h, i)
	}
	for len(h) > 0 {
		r := h[0]
		out = append(out, r.ups[r.pos])
		r.pos++
		if r.pos == len(r.ups) {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		runDown(h, 0)
	}
	s.runs = nil
	return out
}

// runLess orders runs by their next key.
func runLess(a, b *copyRun) bool {
	if pa, pb := a.spfx[a.pos], b.spfx[b.pos]; pa != pb {
		return pa < pb
	}
	return bytes.Compare(a.head(), b.head()) < 0
}

// runDown restores the heap order of h (a min-heap by runLess) below i.
func runDown(h []*copyRun, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && runLess(h[r], h[l]) {
			m = r
		}
		if !runLess(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
