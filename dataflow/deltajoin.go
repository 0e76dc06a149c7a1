package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// DeltaPath is how the changes of one input travel through the others:
// starting from the changes of input Source (read from Arr, any
// arrangement of that input), each stage looks the accumulated row up in
// an arrangement of another input.
type DeltaPath struct {
	Source int
	Arr    *Arranged
	Stages []DeltaStage
}

// DeltaStage looks up input Input in arrangement Arr with a key computed by
// Key: expressions over the join's output layout (every input's columns,
// in input order) that read only columns of inputs already on the path.
type DeltaStage struct {
	Input int
	Arr   *Arranged
	Key   []expr.Scalar
}

// DeltaJoin is an n-way equi-join maintained without intermediate
// arrangements: one path per input, each turning that input's changes into
// changes of the join by lookups in the other inputs' arrangements. The
// output row is every input's row, concatenated in input order, then the
// final MFP.
//
// Algebra: with inputs I_0..I_{n-1}, the change of their product is
// Σ_i I_0'⋈…⋈I_{i-1}'⋈ΔI_i⋈I_{i+1}⋈…⋈I_{n-1}, where I' is the new
// state and I the old: path i meets the NEW state of inputs before i and
// the OLD state of inputs after i, so each combination of changes is
// counted exactly once. Diffs multiply. Memory is that of the inputs'
// arrangements alone. Hazards: every stage's arrangement must be keyed by
// the same key its stage computes (same columns, same types); keys with
// NULL never match; a path's intermediate results are not consolidated
// between stages, so a poor stage order multiplies work.
func DeltaJoin(inputs int, paths []DeltaPath, final expr.MapFilterProject) (*Collection, error) {
	if len(paths) != inputs {
		return nil, fmt.Errorf("dataflow: delta join of %d inputs needs %d paths, got %d", inputs, inputs, len(paths))
	}
	arity := make([]int, inputs)
	var g *Graph
	for _, p := range paths {
		if p.Source < 0 || p.Source >= inputs || p.Arr == nil {
			return nil, fmt.Errorf("dataflow: delta join path with bad source %d", p.Source)
		}
		arity[p.Source] = p.Arr.arity
		g = p.Arr.g
		if len(p.Stages) != inputs-1 {
			return nil, fmt.Errorf("dataflow: delta join path of input %d has %d stages, want %d", p.Source, len(p.Stages), inputs-1)
		}
		seen := map[int]bool{p.Source: true}
		for _, st := range p.Stages {
			if st.Input < 0 || st.Input >= inputs || seen[st.Input] || st.Arr == nil {
				return nil, fmt.Errorf("dataflow: delta join path of input %d visits input %d twice or out of range", p.Source, st.Input)
			}
			if st.Arr.keyLen != len(st.Key) {
				return nil, fmt.Errorf("dataflow: delta join stage key of %d columns for an arrangement keyed by %d", len(st.Key), st.Arr.keyLen)
			}
			if st.Arr.g != g {
				return nil, fmt.Errorf("dataflow: delta join over several graphs")
			}
			seen[st.Input] = true
		}
	}
	offs := make([]int, inputs+1)
	for i, a := range arity {
		offs[i+1] = offs[i] + a
	}
	if final.InputArity != offs[inputs] {
		return nil, fmt.Errorf("dataflow: delta join final MFP expects %d columns, inputs give %d", final.InputArity, offs[inputs])
	}
	out := g.newCollection(len(final.Projection))
	op := &deltaJoinOp{g: g, paths: paths, offs: offs, out: out, plan: newMFPPlan(final), ws: make([]deltaWorker, g.opts.Workers)}
	op.planBytes(final)
	for i := range op.ws {
		op.ws[i].segs = make([]repr.Row, inputs)
		op.ws[i].datums = make([]repr.Datum, offs[inputs])
		op.ws[i].cols = make([][]int, inputs)
		op.ws[i].vals = make([][]valDiff, inputs)
	}
	g.add(op)
	return out, nil
}

// colRef is a column of the join's layout as input and column of it.
type colRef struct{ input, col int }

// ref returns where column c of the join's layout lives.
func (o *deltaJoinOp) ref(c int) colRef {
	i := 0
	for o.offs[i+1] <= c {
		i++
	}
	return colRef{i, c - o.offs[i]}
}

// planBytes finds the paths that need no datums: every stage key is a
// list of columns, packed by copying their bytes (in canonical packing, as
// the arrangements' keyers pack them), and the final MFP is the identity
// or a projection, whose row is the projected columns' bytes. Rows on
// such a path are never decoded.
func (o *deltaJoinOp) planBytes(final expr.MapFilterProject) {
	if len(final.Expressions) == 0 && len(final.Predicates) == 0 && !o.plan.ident {
		o.proj = make([]colRef, len(final.Projection))
		for i, c := range final.Projection {
			o.proj[i] = o.ref(c)
		}
	}
	o.keys = make([][][]colRef, len(o.paths))
	o.bytesOnly = make([]bool, len(o.paths))
	o.need = make([][]int, len(o.paths))
	for pi, p := range o.paths {
		only := o.plan.ident || o.proj != nil
		need := make([]int, len(o.offs)-1)
		for _, r := range o.proj {
			need[r.input] = max(need[r.input], r.col+1)
		}
		o.need[pi] = need
		o.keys[pi] = make([][]colRef, len(p.Stages))
		for k, st := range p.Stages {
			cols, ok := keyColumns(st.Key)
			if !ok {
				only = false
				continue
			}
			refs := make([]colRef, len(cols))
			for i, c := range cols {
				refs[i] = o.ref(c)
				need[refs[i].input] = max(need[refs[i].input], refs[i].col+1)
			}
			o.keys[pi][k] = refs
		}
		o.bytesOnly[pi] = only
	}
}

type deltaJoinOp struct {
	g     *Graph
	paths []DeltaPath
	offs  []int
	out   *Collection
	plan  *mfpPlan
	ws    []deltaWorker
	// keys[p][k] is stage k of path p's key as columns (nil: the key
	// has expressions to evaluate); proj is the final MFP as columns
	// when it is a projection (nil: the identity, or expressions);
	// bytesOnly[p] is whether path p needs no datums (planBytes).
	keys      [][][]colRef
	proj      []colRef
	bytesOnly []bool
	// need[p][i] is how many leading columns of input i path p reads
	// by their bytes (keys and projection).
	need [][]int
}

type deltaWorker struct {
	joinWorker
	segs   []repr.Row
	datums []repr.Datum
	// cols[i] is the byte offset of each column of segs[i] the path
	// reads (need) and the end of the last, on paths that need no
	// datums.
	cols [][]int
	// vals[k] is the scratch of stage k's lookups (a stage's lookup is
	// done with before a later one at the same stage starts).
	vals   [][]valDiff
	keyPk  []repr.Packer
	concat repr.Packer
	// m meters this step's walks; stop is the error that ended them (a
	// lookup callback cannot return it, so later calls skip their work).
	m    meter
	stop error
}

func (o *deltaJoinOp) step(_ context.Context, _ repr.Timestamp) error {
	g := o.g
	o.out.ok.Reset()
	o.out.errs.Reset()
	n := 0
	for _, p := range o.paths {
		o.out.errs.Append(&p.Arr.errs.ok, 1)
		n += p.Arr.deltaLen()
	}
	if n > 0 {
		err := g.parallel(n, func(s int) error {
			w := &o.ws[s]
			w.ok.Reset()
			w.errs.Reset()
			w.ctx = g.workerCtx()
			w.m, w.stop = g.meter(&w.ok, &w.errs), nil
			if w.keyPk == nil {
				w.keyPk = make([]repr.Packer, len(o.offs))
			}
			for pi, p := range o.paths {
				b := p.Arr.delta[s]
				if b == nil || o.pathEmpty(pi) {
					continue
				}
				for u := range b.Len() {
					if w.stop != nil {
						return w.stop
					}
					o.enter(w, pi, p.Source, b.val(u))
					o.walk(w, pi, 0, b.diff(u))
				}
			}
			if w.stop == nil {
				w.stop = w.m.poll()
			}
			return w.stop
		})
		if err != nil {
			return err
		}
		parts := make([]*Rows, len(o.ws))
		for s := range o.ws {
			parts[s] = &o.ws[s].ok
			o.out.errs.Append(&o.ws[s].errs, 1)
		}
		if err := g.gather(&o.out.ok, parts); err != nil {
			return err
		}
	}
	return o.out.errs.consolidate(g.ctl)
}

// pathEmpty reports whether path pi produces nothing this step: one of
// its stages reads an empty state (no batch of its arrangement has an
// update at a time the stage keeps: the old state, at a dataflow's first
// step), reached through stages whose keys are columns, which cannot
// fail. At hydration, every update of such a path would otherwise be
// looked up in the stages before it for nothing (two of a 3-way star
// join's three paths).
func (o *deltaJoinOp) pathEmpty(pi int) bool {
	p := o.paths[pi]
	for k, st := range p.Stages {
		if o.keys[pi][k] == nil {
			return false
		}
		keep := o.keep(pi, k)
		empty := true
		for _, sp := range st.Arr.trace.shards {
			for _, b := range sp.snapshot() {
				if b.Keys() > 0 && keep(b.minTime()) {
					empty = false
					break
				}
			}
			if !empty {
				break
			}
		}
		if empty {
			return true
		}
	}
	return false
}

// keep returns which times stage k of path pi reads: the new state of
// inputs before the path's source, the old state of those after it.
func (o *deltaJoinOp) keep(pi, k int) func(repr.Timestamp) bool {
	if o.paths[pi].Stages[k].Input < o.paths[pi].Source {
		return o.g.keepNew
	}
	return o.g.keepOld
}

// enter places input i's row on path pi: its column offsets when the
// path needs no datums, else its datums.
func (o *deltaJoinOp) enter(w *deltaWorker, pi, i int, row repr.Row) {
	w.segs[i] = row
	if o.bytesOnly[pi] {
		cols := w.cols[i][:0]
		it := row.Iter()
		for range o.need[pi][i] {
			cols = append(cols, it.Offset())
			if !it.Skip() {
				w.stop = fmt.Errorf("dataflow: delta join: malformed row of input %d: %v", i, it.Err())
				return
			}
		}
		w.cols[i] = append(cols, it.Offset())
		return
	}
	it := row.Iter()
	for c := o.offs[i]; c < o.offs[i+1]; c++ {
		d, _ := it.Next()
		w.datums[c] = d
	}
}

// column returns the packed bytes of column r of the row on the path.
func (w *deltaWorker) column(r colRef) []byte {
	cs := w.cols[r.input]
	return w.segs[r.input][cs[r.col]:cs[r.col+1]]
}

// walk runs stages k.. of path pi for the accumulated row with diff d.
func (o *deltaJoinOp) walk(w *deltaWorker, pi int, k int, d repr.Diff) {
	if w.stop != nil {
		return
	}
	if w.stop = w.m.tick(); w.stop != nil {
		return
	}
	p := o.paths[pi]
	if k == len(p.Stages) {
		o.emit(w, pi, d)
		return
	}
	st := p.Stages[k]
	pk := &w.keyPk[k]
	pk.Reset()
	if refs := o.keys[pi][k]; refs != nil && o.bytesOnly[pi] {
		for _, r := range refs {
			c := w.column(r)
			if c[0] == byte(repr.KindNull) {
				return
			}
			pk.PushCanonical(c)
		}
	} else {
		for _, e := range st.Key {
			v, err := evalScalar(&w.ctx, e, w.datums)
			if err != nil {
				w.errs.Push(ErrRow(err), d)
				return
			}
			if v.IsNull() {
				return
			}
			pk.PushKey(v)
		}
	}
	key := pk.Row()
	keep := o.keep(pi, k)
	h := keyHash(key)
	bs := st.Arr.trace.shards[h%uint64(len(st.Arr.trace.shards))].snapshot()
	// The key's vals, consolidated across the spine's batches: an
	// update and its retraction in another batch cancel here rather
	// than each walking the later stages and cancelling in the output.
	vs := lookupVals(bs, key, h, keep, w.vals[k][:0])
	w.vals[k] = vs
	for _, x := range vs {
		if w.stop != nil {
			return
		}
		o.enter(w, pi, st.Input, x.v)
		o.walk(w, pi, k+1, d*x.d)
	}
}

// emit outputs the row on path pi with diff d.
func (o *deltaJoinOp) emit(w *deltaWorker, pi int, d repr.Diff) {
	w.concat.Reset()
	switch {
	case o.plan.ident:
		for _, seg := range w.segs {
			w.concat.PushRow(seg)
		}
		w.ok.Push(w.concat.Row(), d)
	case o.proj != nil && o.bytesOnly[pi]:
		for _, r := range o.proj {
			w.concat.PushRow(w.column(r))
		}
		w.ok.Push(w.concat.Row(), d)
	default:
		w.pk.Reset()
		keep, err := o.plan.apply(&w.ctx, w.datums, &w.scratch, &w.pk)
		switch {
		case err != nil:
			w.errs.Push(ErrRow(err), d)
		case keep:
			w.ok.Push(w.pk.Row(), d)
		}
	}
}

// trim drops the workers' references into the step's rows (their datum
// slices have a fixed length) and into the batches they looked up, which
// later merges may replace.
func (o *deltaJoinOp) trim() {
	for i := range o.ws {
		w := &o.ws[i]
		clear(w.datums)
		clear(w.segs)
		for k := range w.vals {
			clear(w.vals[k][:cap(w.vals[k])])
			w.vals[k] = w.vals[k][:0]
		}
	}
}
