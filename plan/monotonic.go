package plan

import "github.com/viewd/viewd/expr"

// MonotonicOracle is implemented by an IndexOracle that also knows which
// catalog collections only ever grow: no update of theirs has a negative
// multiplicity (append-only sources). Lower marks a Reduce or TopK over
// such a collection monotonic, which the renderer maintains with bounded
// state (dataflow.MonotonicReduce, MonotonicTopK).
type MonotonicOracle interface {
	Monotonic(id GlobalID) bool
}

// Monotonic reports whether rel only ever grows (see monotonic below),
// given which catalog collections do (oracle, a MonotonicOracle; any
// other oracle knows none). A maintained view of a monotonic rel is
// append-only: its output need not be arranged.
func Monotonic(rel Rel, oracle IndexOracle) bool {
	l := &lowerer{oracle: oracle, localKeys: map[LocalID][][]expr.Scalar{}, localMono: map[LocalID]bool{}}
	return l.monotonic(rel)
}

// monotonic reports whether rel only ever grows, given which globals and
// locals do: maps, projects, flat maps, filters without mz_now() (a
// temporal filter retracts rows as time passes), joins and unions of
// growing inputs grow; constants of positive rows never change; anything
// that can retract (Reduce, TopK, Negate, Threshold, Window, recursion)
// does not.
func (l *lowerer) monotonic(rel Rel) bool {
	switch r := rel.(type) {
	case Get:
		if r.Local != 0 {
			return l.localMono[r.Local]
		}
		mo, ok := l.oracle.(MonotonicOracle)
		return ok && mo.Monotonic(r.Global)
	case Constant:
		if r.Err != nil {
			return false
		}
		for _, row := range r.Rows {
			if row.Diff < 0 {
				return false
			}
		}
		return true
	case Map:
		return l.monotonic(r.Input)
	case Project:
		return l.monotonic(r.Input)
	case FlatMap:
		return l.monotonic(r.Input)
	case Filter:
		for _, p := range r.Predicates {
			if containsMzNow(p) {
				return false
			}
		}
		return l.monotonic(r.Input)
	case ArrangeBy:
		return l.monotonic(r.Input)
	case Join:
		for _, in := range r.Inputs {
			if !l.monotonic(in) {
				return false
			}
		}
		return true
	case Union:
		for _, in := range r.Inputs {
			if !l.monotonic(in) {
				return false
			}
		}
		return true
	case Let:
		l.localMono[r.ID] = l.monotonic(r.Value)
		return l.monotonic(r.Body)
	}
	return false
}
