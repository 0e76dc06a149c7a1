package plan

import (
	"slices"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// EquivalencePropagation normalises the equivalence classes of every Join:
//   - classes that share an expression are merged, duplicate members and
//     classes of fewer than two members are removed;
//   - a class containing a literal is replaced by `member = literal`
//     filters on the inputs its members read (the members are then all
//     equal to each other already), so the constant reaches the input;
//   - two members over the same input become a filter `a = b` on that
//     input, and only one of them stays in the class;
//   - an equality predicate in a Filter directly above the Join that the
//     classes already imply is removed.
type EquivalencePropagation struct{}

// Name implements Rule.
func (EquivalencePropagation) Name() string { return "equivalence-propagation" }

// Transform implements Rule.
func (EquivalencePropagation) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) {
		switch r := r.(type) {
		case Join:
			return propagateJoin(r), nil
		case Filter:
			j, ok := r.Input.(Join)
			if !ok {
				return r, nil
			}
			var keep []expr.Scalar
			for _, p := range r.Predicates {
				if a, b, ok := asEquality(p); ok && sameClass(j.Equivalences, a, b) {
					continue
				}
				keep = append(keep, p)
			}
			return withFilter(j, keep), nil
		}
		return r, nil
	})
}

func sameClass(classes [][]expr.Scalar, a, b expr.Scalar) bool {
	if scalarsEqual(a, b) {
		return false // x = x is not implied: it is false for NULL x
	}
	for _, c := range classes {
		if containsScalar(c, a) && containsScalar(c, b) {
			return true
		}
	}
	return false
}

// mergeClasses merges classes sharing a member and removes duplicates and
// trivial classes, keeping first-appearance order.
func mergeClasses(classes [][]expr.Scalar) [][]expr.Scalar {
	// Each input class merges with every earlier (merged) class it
	// shares a member with; the merged class goes after the others. The
	// classes are slots ordered by seq; the slots that hold a member are
	// found through its signature (scalarSig), then compared.
	type slot struct {
		members []expr.Scalar
		seq     int
		alive   bool
	}
	var slots []*slot
	owners := map[string][]*slot{}
	for seq, c := range classes {
		cur := dedupScalars(c)
		var overlap []*slot
		for _, m := range cur {
			for _, o := range owners[scalarSig(m)] {
				if o.alive && !slices.Contains(overlap, o) && containsScalar(o.members, m) {
					overlap = append(overlap, o)
				}
			}
		}
		if len(overlap) > 0 {
			slices.SortFunc(overlap, func(a, b *slot) int { return a.seq - b.seq })
			var merged []expr.Scalar
			for _, o := range overlap {
				merged = append(merged, o.members...)
				o.alive = false
			}
			cur = dedupScalars(append(merged, cur...))
		}
		n := &slot{members: cur, seq: seq, alive: true}
		for _, m := range cur {
			sig := scalarSig(m)
			live := owners[sig][:0]
			for _, o := range owners[sig] {
				if o.alive {
					live = append(live, o)
				}
			}
			owners[sig] = append(live, n)
		}
		slots = append(slots, n)
	}
	var kept [][]expr.Scalar
	for _, o := range slots {
		if o.alive && len(o.members) >= 2 {
			kept = append(kept, o.members)
		}
	}
	return kept
}

func propagateJoin(j Join) Rel {
	classes := mergeClasses(j.Equivalences)
	lay := layoutOf(j.Inputs)
	cols := j.Typ().Cols
	perInput := make([][]expr.Scalar, len(j.Inputs))
	var above []expr.Scalar
	var out [][]expr.Scalar
	for _, c := range classes {
		var lits, others []expr.Scalar
		for _, m := range c {
			if l, ok := m.(expr.Literal); ok && l.Err == nil {
				lits = append(lits, m)
			} else {
				others = append(others, m)
			}
		}
		if len(lits) > 0 {
			lit := lits[0]
			var kept []expr.Scalar
			ok := true
			var preds []inputPred
			for _, m := range others {
				i := lay.localTo(m)
				if i < 0 {
					kept = append(kept, m)
					continue
				}
				p, built := mkEquality(shiftColumns(m, -lay.offsets[i]), lit, colsOf(j.Inputs[i]))
				if !built {
					ok = false
					break
				}
				preds = append(preds, inputPred{i, p})
			}
			var extra []expr.Scalar
			for _, l2 := range lits[1:] {
				p, built := mkEquality(lit, l2, cols)
				if !built {
					ok = false
					break
				}
				extra = append(extra, p)
			}
			if ok {
				for _, ip := range preds {
					perInput[ip.input] = append(perInput[ip.input], ip.pred)
				}
				above = append(above, extra...)
				if len(kept) > 0 {
					out = append(out, append([]expr.Scalar{lit}, kept...))
				}
				continue
			}
		}
		// Members over the same input: keep the first, filter the rest.
		first := map[int]expr.Scalar{}
		var kept []expr.Scalar
		for _, m := range c {
			i := lay.localTo(m)
			if i < 0 {
				kept = append(kept, m)
				continue
			}
			f, seen := first[i]
			if !seen {
				first[i] = m
				kept = append(kept, m)
				continue
			}
			p, built := mkEquality(shiftColumns(f, -lay.offsets[i]), shiftColumns(m, -lay.offsets[i]), colsOf(j.Inputs[i]))
			if !built {
				kept = append(kept, m)
				continue
			}
			perInput[i] = append(perInput[i], p)
		}
		if len(kept) >= 2 {
			out = append(out, kept)
		}
	}
	ins := make([]Rel, len(j.Inputs))
	changed := !classesEqual(out, j.Equivalences)
	for i, in := range j.Inputs {
		ins[i] = withFilter(in, perInput[i])
		changed = changed || len(perInput[i]) > 0
	}
	nj := Join{Inputs: ins, Equivalences: out, Implementation: j.Implementation}
	if changed {
		nj.Implementation = JoinImplementation{}
	}
	return withFilter(nj, above)
}

// classesEqual reports whether two lists of equivalence classes are the
// same, member for member (cheaper than comparing printed plans).
func classesEqual(a, b [][]expr.Scalar) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for k := range a[i] {
			if !scalarsEqual(a[i][k], b[i][k]) {
				return false
			}
		}
	}
	return true
}

func colsOf(r Rel) []repr.ColumnType { return r.Typ().Cols }

// inputPred is a predicate destined for one join input.
type inputPred struct {
	input int
	pred  expr.Scalar
}
