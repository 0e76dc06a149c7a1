package coord

import (
	"slices"
	"strings"
	"syscall"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// runtimeState is an item's compute state.
//
//   - table with a primary key: input feeds graph, which arranges the rows
//     by the key into arranged (the table's primary arrangement).
//   - table without one, source: input feeds graph, whose output out holds
//     the rows (an append-only source's output is an append log:
//     dataflow.Collection.MaterializeAppendOnly).
//   - materialized view: graph computes the view; out holds its rows.
//   - index: graph arranges the indexed collection by key into arranged.
//   - view, connection: nil.
type runtimeState struct {
	graph *dataflow.Graph
	input *dataflow.Input
	out   *dataflow.Output
	// arranged is an index's arrangement (key columns, whole-row vals).
	arranged *dataflow.Arranged
	// indexHold keeps an index's history readable from the coordinator's
	// since.
	indexHold dataflow.TraceReader
	// primaryKey is a table's primary key when arranged (the columns, as
	// key expressions); arranged and indexHold are then its primary
	// arrangement and the coordinator's hold on it.
	primaryKey []expr.Scalar
	// sourceErr is set when a source has failed: reads of the source and
	// of everything built on it fail with it.
	sourceErr error
	// stop ends a source's ingestion.
	stop func()
	// snapHold holds an append-only source's output (an append log) at
	// snapAt, the time as of which the live snapshot holds its rows,
	// written by a compaction of this process: the next compaction
	// writes only the rows appended since (compact.go). nil before the
	// first compaction (and after a restart).
	snapHold *dataflow.OutputReader
	snapAt   repr.Timestamp
}

// newInputDataflow builds the dataflow of a table or source: an input
// whose collection is materialized, readable from since. The rows of an
// append-only source (appendOnly) are kept as they come, in an append
// log, rather than arranged: its readers scan it or import it whole, so
// sorting and merging it by row would be work for no reader.
func (c *Coordinator) newInputDataflow(name string, arity int, since repr.Timestamp, appendOnly bool) *runtimeState {
	g := dataflow.NewGraph(c.graphOptions())
	in := g.NewInput(name, arity)
	var out *dataflow.Output
	if appendOnly {
		out = in.Collection().MaterializeAppendOnly(since)
	} else {
		out = in.Collection().Materialize(since)
	}
	return &runtimeState{graph: g, input: in, out: out}
}

// newTableDataflow builds the dataflow of a table. A table with a primary
// key keeps its rows in one arrangement by that key (the primary
// arrangement): it is the table's only in-memory copy, every read of the
// table imports it, lookups and joins on the key use it, and writes check
// keys against it. A table without one is materialized by whole row.
func (c *Coordinator) newTableDataflow(name string, arity int, pk []int, since repr.Timestamp) *runtimeState {
	if len(pk) == 0 {
		return c.newInputDataflow(name, arity, since, false)
	}
	g := dataflow.NewGraph(c.graphOptions())
	in := g.NewInput(name, arity)
	arr := in.Collection().ArrangeColumns(pk...)
	key := make([]expr.Scalar, len(pk))
	for i, col := range pk {
		key[i] = expr.Column{Index: col}
	}
	return &runtimeState{graph: g, input: in, arranged: arr, indexHold: arr.Trace().Reader(since), primaryKey: key}
}

func (c *Coordinator) graphOptions() dataflow.Options {
	return dataflow.Options{Workers: c.cfg.Workers, Logger: c.log}
}

// defaultQueryMemory is a quarter of the machine's memory (1 GiB when it
// cannot be read).
func defaultQueryMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 1 << 30
	}
	return int64(si.Totalram) * int64(si.Unit) / 4
}

// packKey packs the primary key columns of row (as the primary
// arrangement keys it: canonically, see repr.Packer.PushKey).
func (rt *runtimeState) packKey(ds []repr.Datum, pk *repr.Packer) repr.Row {
	pk.Reset()
	for _, k := range rt.primaryKey {
		pk.PushKey(ds[k.(expr.Column).Index])
	}
	return pk.Row()
}

// count returns the multiplicity of row in a table as of at (at must be
// readable: at least the coordinator's since, at most now).
func (rt *runtimeState) count(at repr.Timestamp, row repr.Row) (repr.Diff, error) {
	switch {
	case rt.primaryKey != nil:
		var pk repr.Packer
		var n repr.Diff
		err := rt.indexHold.Lookup(at, rt.packKey(row.Datums(), &pk), func(v repr.Row, d repr.Diff) bool {
			if string(v) == string(row) {
				n += d
			}
			return true
		})
		return n, err
	case rt.out != nil:
		return rt.out.Count(at, row)
	}
	return 0, pgcode.New(pgcode.InternalError, "coord: table has no readable contents")
}

// keyCount returns how many rows of a primary-keyed table have the packed
// primary key key as of at, and one of them.
func (rt *runtimeState) keyCount(at repr.Timestamp, key repr.Row) (repr.Diff, repr.Row, error) {
	var n repr.Diff
	var one repr.Row
	err := rt.indexHold.Lookup(at, key, func(v repr.Row, d repr.Diff) bool {
		n += d
		if d > 0 && one == nil {
			one = v
		}
		return true
	})
	return n, one, err
}

// ordered reports whether scanArranged gives the updates in the
// arrangement's order, each once (false for an append-only source).
func (rt *runtimeState) ordered() bool { return rt.out == nil || rt.out.Ordered() }

// scan calls fn with every row of a table and its multiplicity as of at,
// until fn returns false.
func (rt *runtimeState) scan(at repr.Timestamp, fn func(row repr.Row, d repr.Diff) bool) error {
	if rt.primaryKey != nil {
		return dataflow.ScanVals(rt.indexHold, at, fn)
	}
	r := rt.out.Reader(at)
	defer r.Release()
	return r.Scan(at, fn)
}

// scanArranged calls fn with every update of a table's arrangement as of
// at, in the arrangement's order, until fn returns an error: for a table
// with a primary key each (key, row) of its primary arrangement, by key
// then row; for another table (or a source) each row, by row, with a nil
// key. Each comes once, with its non-zero multiplicity. An append-only
// source's rows (ordered() false) come in the order its log holds them,
// with nil keys, a row possibly more than once.
func (rt *runtimeState) scanArranged(at repr.Timestamp, fn func(key, row repr.Row, d repr.Diff) error) error {
	scan, release := rt.holdArranged(at)
	defer release()
	return scan(fn)
}

// holdArranged takes a read hold on a table's arrangement at at and
// returns a scan of it as of at, as scanArranged's, and the release of
// the hold. The scan may run any time before the release, on any
// goroutine, while the table's dataflow goes on stepping: it reads the
// arrangement's immutable batches (or its append log's prefix up to at).
func (rt *runtimeState) holdArranged(at repr.Timestamp) (scan func(fn func(key, row repr.Row, d repr.Diff) error) error, release func()) {
	if rt.primaryKey != nil {
		r := rt.indexHold.Trace().Reader(at)
		return func(fn func(key, row repr.Row, d repr.Diff) error) error {
			cur, err := r.Cursor(at)
			if err != nil {
				return err
			}
			for ; cur.KeyValid(); cur.StepKey() {
				for ; cur.ValValid(); cur.StepVal() {
					v, d := cur.Val()
					if err := fn(cur.Key(), v, d); err != nil {
						return err
					}
				}
			}
			return nil
		}, r.Release
	}
	r := rt.out.Reader(at)
	return func(fn func(key, row repr.Row, d repr.Diff) error) error {
		if !r.Ordered() {
			return scanRows(func(emit func(repr.Row, repr.Diff) bool) error { return r.Scan(at, emit) }, fn)
		}
		cur, err := r.Cursor(at)
		if err != nil {
			return err
		}
		for ; cur.KeyValid(); cur.StepKey() {
			if err := fn(nil, cur.Key(), cur.Count()); err != nil {
				return err
			}
		}
		return nil
	}, r.Release
}

// scanRows runs read, a scan of rows that stops when its emit returns
// false (an append log's), giving each row to fn with a nil key until fn
// fails; it returns read's error or fn's.
func scanRows(read func(emit func(repr.Row, repr.Diff) bool) error, fn func(key, row repr.Row, d repr.Diff) error) error {
	var ferr error
	if err := read(func(row repr.Row, d repr.Diff) bool {
		ferr = fn(nil, row, d)
		return ferr == nil
	}); err != nil {
		return err
	}
	return ferr
}

// batchLookupMin is the number of keys from which a check walks a cursor
// through the sorted keys instead of looking each up.
const batchLookupMin = 64

// rowCounts returns the multiplicity of each row as of at, by row bytes.
// Many rows are checked by one merge through the sorted rows.
func (rt *runtimeState) rowCounts(at repr.Timestamp, rows []string) (map[string]repr.Diff, error) {
	out := make(map[string]repr.Diff, len(rows))
	if len(rows) < batchLookupMin {
		for _, r := range rows {
			n, err := rt.count(at, repr.Row(r))
			if err != nil {
				return nil, err
			}
			out[r] = n
		}
		return out, nil
	}
	if rt.primaryKey == nil {
		r := rt.out.Reader(at)
		defer r.Release()
		cur, err := r.Cursor(at)
		if err != nil {
			return nil, err
		}
		sorted := slices.Clone(rows)
		slices.Sort(sorted)
		for _, row := range sorted {
			cur.SeekKey(repr.Row(row))
			if cur.KeyValid() && string(cur.Key()) == row {
				out[row] = cur.Count()
			}
		}
		return out, nil
	}
	// Primary-keyed: seek each row's key, then find the row among its vals.
	type keyed struct{ key, row string }
	ks := make([]keyed, len(rows))
	var pk repr.Packer
	for i, r := range rows {
		ks[i] = keyed{string(rt.packKey(repr.Row(r).Datums(), &pk)), r}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	cur, err := rt.indexHold.Cursor(at)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
		cur.SeekKey(repr.Row(k.key))
		if !cur.KeyValid() || string(cur.Key()) != k.key {
			continue
		}
		out[k.row] = valCount(cur, k.row)
	}
	return out, nil
}

// valCount returns the multiplicity of val v at the cursor's current key.
func valCount(cur *dataflow.Cursor, v string) repr.Diff {
	var n repr.Diff
	cur.VisitVals(func(val repr.Row, d repr.Diff) {
		if string(val) == v {
			n += d
		}
	})
	return n
}

// keyCounts returns, for each packed primary key, the number of rows with
// that key as of at.
func (rt *runtimeState) keyCounts(at repr.Timestamp, keys []string) (map[string]repr.Diff, error) {
	out := make(map[string]repr.Diff, len(keys))
	if len(keys) < batchLookupMin {
		for _, k := range keys {
			n, _, err := rt.keyCount(at, repr.Row(k))
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	cur, err := rt.indexHold.Cursor(at)
	if err != nil {
		return nil, err
	}
	for _, k := range sorted {
		cur.SeekKey(repr.Row(k))
		if cur.KeyValid() && string(cur.Key()) == k {
			out[k] = cur.Count()
		}
	}
	return out, nil
}
