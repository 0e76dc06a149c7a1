package plan

import (
	"github.com/viewd/viewd/expr"
)

// IndexOracle reports the arrangements that exist for catalog objects:
// Indexes returns the key of each index on id, as expressions over the
// object's columns (nil when it has none).
type IndexOracle interface {
	Indexes(id GlobalID) [][]expr.Scalar
}

// JoinPlanning plans every Join: it chooses a delta join when the
// join has at least three inputs and every lookup of every path (one path
// per input) can use an existing arrangement, and no path needs a cross
// product; otherwise a linear join whose order follows the equivalence
// classes (a connected order avoids cross products), preferring lookups
// into existing arrangements, then lower input numbers. Each stage records
// the key its lookup uses, as expressions over that input's columns.
type JoinPlanning struct {
	Oracle IndexOracle
}

// Name implements Rule.
func (JoinPlanning) Name() string { return "join-implementation" }

// Transform implements Rule.
func (ji JoinPlanning) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) {
		j, ok := r.(Join)
		if !ok {
			return r, nil
		}
		j.Implementation = planJoin(j, ji.Oracle)
		return j, nil
	})
}

// arrangedInput describes what is known about the arrangements of one join
// input: the base collection's available keys, and the definition of each
// of the input's columns over the base's columns.
type arrangedInput struct {
	keys [][]expr.Scalar // arrangement keys over the base columns
	defs []expr.Scalar   // input column i = defs[i] over the base columns
}

// analyzeInput looks through Map/Filter/Project to a Get of an indexed
// collection or an ArrangeBy; ok is false when the input is not arranged.
func analyzeInput(in Rel, oracle IndexOracle) (arrangedInput, bool) {
	switch r := in.(type) {
	case Get:
		if r.Local != 0 || oracle == nil {
			return arrangedInput{}, false
		}
		keys := oracle.Indexes(r.Global)
		if len(keys) == 0 {
			return arrangedInput{}, false
		}
		return arrangedInput{keys: keys, defs: columnDefs(r.Type.Arity())}, true
	case ArrangeBy:
		return arrangedInput{keys: r.Keys, defs: columnDefs(Arity(r.Input))}, true
	case Filter:
		return analyzeInput(r.Input, oracle)
	case Project:
		a, ok := analyzeInput(r.Input, oracle)
		if !ok {
			return a, false
		}
		defs := make([]expr.Scalar, len(r.Outputs))
		for i, o := range r.Outputs {
			defs[i] = a.defs[o]
		}
		a.defs = defs
		return a, true
	case Map:
		a, ok := analyzeInput(r.Input, oracle)
		if !ok {
			return a, false
		}
		defs := append([]expr.Scalar(nil), a.defs...)
		for _, s := range r.Scalars {
			defs = append(defs, substituteColumns(s, defs))
		}
		a.defs = defs
		return a, true
	}
	return arrangedInput{}, false
}

func columnDefs(n int) []expr.Scalar {
	defs := make([]expr.Scalar, n)
	for i := range defs {
		defs[i] = expr.Column{Index: i}
	}
	return defs
}

// match finds an arrangement whose key is exactly the set of expressions
// key (over the input's columns). It returns the arrangement key (over the
// base) and key reordered to follow it.
func (a arrangedInput) match(key []expr.Scalar) (arr []expr.Scalar, ordered []expr.Scalar, ok bool) {
	if len(key) == 0 {
		return nil, nil, false
	}
	base := make([]string, len(key))
	for i, k := range key {
		base[i] = scalarKey(substituteColumns(k, a.defs))
	}
	for _, ak := range a.keys {
		if len(ak) != len(key) {
			continue
		}
		ord := make([]expr.Scalar, len(ak))
		all := true
		for i, e := range ak {
			found := -1
			for k, b := range base {
				if b == scalarKey(e) {
					found = k
					break
				}
			}
			if found < 0 {
				all = false
				break
			}
			ord[i] = key[found]
		}
		if all {
			return ak, ord, true
		}
	}
	return nil, nil, false
}

// joinPlanner holds what planning one Join needs.
type joinPlanner struct {
	j        Join
	lay      joinLayout
	classes  [][]expr.Scalar
	arranged []arrangedInput
	isArr    []bool
	// members describes each class member: the single input it reads
	// (localTo's answer) and every input it reads. Planning asks about
	// them O(n³) times for n inputs, so they are computed once.
	members [][]memberInfo
}

type memberInfo struct {
	local  int
	inputs []int
}

func newJoinPlanner(j Join, oracle IndexOracle) *joinPlanner {
	p := &joinPlanner{j: j, lay: layoutOf(j.Inputs), classes: mergeClasses(j.Equivalences)}
	p.arranged = make([]arrangedInput, len(j.Inputs))
	p.isArr = make([]bool, len(j.Inputs))
	for i, in := range j.Inputs {
		p.arranged[i], p.isArr[i] = analyzeInput(in, oracle)
	}
	p.members = make([][]memberInfo, len(p.classes))
	for ci, c := range p.classes {
		p.members[ci] = make([]memberInfo, len(c))
		for mi, m := range c {
			info := memberInfo{local: p.lay.localTo(m)}
			for _, col := range support(m) {
				in := p.lay.inputOf(col)
				if len(info.inputs) == 0 || info.inputs[len(info.inputs)-1] != in {
					info.inputs = append(info.inputs, in)
				}
			}
			p.members[ci][mi] = info
		}
	}
	return p
}

// boundBy reports whether a member reading inputs can be evaluated once
// the inputs in bound are joined (a literal always can).
func boundBy(inputs []int, bound []bool) bool {
	for _, in := range inputs {
		if !bound[in] {
			return false
		}
	}
	return true
}

// stageKey is the lookup key of input j after the inputs in bound: for
// each class with a member over j alone and a member evaluable from bound,
// j's first such member (over j's columns).
func (p *joinPlanner) stageKey(j int, bound []bool) []expr.Scalar {
	var key []expr.Scalar
	for ci, c := range p.classes {
		var mine expr.Scalar
		has := false
		for mi, m := range c {
			info := p.members[ci][mi]
			if info.local == j {
				if mine == nil {
					mine = m
				}
			} else if boundBy(info.inputs, bound) {
				has = true
			}
		}
		if mine != nil && has {
			local := shiftColumns(mine, -p.lay.offsets[j])
			if !containsScalar(key, local) {
				key = append(key, local)
			}
		}
	}
	return key
}

// path is a join order starting at one input, with each lookup's key.
type path struct {
	stages   []JoinStage
	cross    int // lookups with an empty key
	arranged int // lookups served by an existing arrangement
}

// greedyPath orders the inputs starting at start: at each step it prefers
// inputs connected to the prefix by an equivalence, among them ones with
// an existing arrangement on the needed key, then the lowest number.
func (p *joinPlanner) greedyPath(start int) path {
	n := len(p.j.Inputs)
	bound := make([]bool, n)
	bound[start] = true
	pt := path{stages: []JoinStage{{Input: start}}}
	for len(pt.stages) < n {
		best, bestKey, bestScore := -1, []expr.Scalar(nil), -1
		for i := 0; i < n; i++ {
			if bound[i] {
				continue
			}
			key := p.stageKey(i, bound)
			score := 0
			if len(key) > 0 {
				score = 1
				if p.isArr[i] {
					if _, ord, ok := p.arranged[i].match(key); ok {
						score = 2
						key = ord
					}
				}
			}
			if score > bestScore {
				best, bestKey, bestScore = i, key, score
			}
		}
		switch bestScore {
		case 0:
			pt.cross++
		case 2:
			pt.arranged++
		}
		bound[best] = true
		pt.stages = append(pt.stages, JoinStage{Input: best, Key: bestKey})
	}
	return pt
}

// planJoin chooses the join's implementation.
func planJoin(j Join, oracle IndexOracle) JoinImplementation {
	n := len(j.Inputs)
	if n == 0 {
		return JoinImplementation{Kind: LinearJoin}
	}
	p := newJoinPlanner(j, oracle)
	// A greedy path costs O(n²) key computations, so planning every start
	// is O(n³): for wide joins (SQLite's corpus joins up to 64 tables) the
	// search stops at the first path that rules out a delta join, and the
	// linear join's start is chosen among the first maxLinearStarts.
	const maxLinearStarts = 8
	paths := make([]path, 0, n)
	delta := n >= 3
	for s := 0; s < n; s++ {
		if !delta && s >= maxLinearStarts {
			break
		}
		pt := p.greedyPath(s)
		paths = append(paths, pt)
		if pt.cross > 0 || pt.arranged != n-1 {
			delta = false
		}
	}
	if delta {
		impl := JoinImplementation{Kind: DeltaJoin}
		for _, pt := range paths {
			impl.Paths = append(impl.Paths, pt.stages)
		}
		return impl
	}
	best := 0
	for s := 1; s < len(paths); s++ {
		a, b := paths[s], paths[best]
		if a.cross < b.cross || (a.cross == b.cross && a.arranged > b.arranged) {
			best = s
		}
	}
	return JoinImplementation{Kind: LinearJoin, Paths: [][]JoinStage{paths[best].stages}}
}
