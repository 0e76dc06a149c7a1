package plan

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// PeekKind says how a one-shot read (a SELECT, or the selection of an
// UPDATE or DELETE) is answered. Every kind but PeekDataflow is a fast
// path (Materialize's "fast-path peek"): it reads arrangements directly,
// at the read timestamp, and builds no dataflow.
type PeekKind uint8

// Peek kinds.
const (
	// PeekDataflow builds a transient dataflow over the imported
	// arrangements, steps it once at the read time and reads its output.
	PeekDataflow PeekKind = iota
	// PeekConstant: the plan is a constant collection (or error).
	PeekConstant
	// PeekLookup: equality (or IN) on the full key of an index: one key
	// lookup per key value, then the Get's MFP on the rows found.
	PeekLookup
	// PeekStream: a stateless pipeline over scans of arranged collections
	// and constants (Get, Mfp, FlatMap, Union of those): rows stream out as
	// they are produced, and LIMIT stops the scan. A plan that is one Get
	// is a scan with its MFP applied.
	PeekStream
)

// PeekPlan is the fast path chosen for a plan.
type PeekPlan struct {
	Kind PeekKind
	// Node is the LIR plan (for PeekDataflow, PeekConstant and PeekStream).
	Node Node
	// Get is the collection a lookup reads, with the MFP applied to the
	// rows found.
	Get LGet
	// Key is the index key a lookup uses (expressions over Get's columns).
	Key []expr.Scalar
	// Values are the key values looked up, one tuple per lookup, each in
	// Key's order.
	Values [][]repr.Datum
}

// maxLookups bounds the key tuples one lookup peek may make (the cross
// product of IN lists over a multi-column key).
const maxLookups = 4096

// PlanPeek chooses the fast path for an LIR plan, or PeekDataflow.
func PlanPeek(n Node) PeekPlan {
	switch x := n.(type) {
	case LConstant:
		return PeekPlan{Kind: PeekConstant, Node: n}
	case LGet:
		if x.Global != 0 && x.Local == 0 {
			if key, vals, ok := lookupKey(x); ok {
				return PeekPlan{Kind: PeekLookup, Node: n, Get: x, Key: key, Values: vals}
			}
		}
	}
	if streamable(n) {
		return PeekPlan{Kind: PeekStream, Node: n}
	}
	return PeekPlan{Kind: PeekDataflow, Node: n}
}

// streamable reports whether n is a stateless pipeline over global Gets
// and constants with no negative multiplicities, so that its rows can be
// produced one by one without consolidation.
func streamable(n Node) bool {
	switch x := n.(type) {
	case LGet:
		return x.Global != 0 && x.Local == 0
	case LConstant:
		if x.Err != nil {
			return true
		}
		for _, r := range x.Rows {
			if r.Diff < 0 {
				return false
			}
		}
		return true
	case LMfp:
		return streamable(x.Input)
	case LFlatMap:
		return streamable(x.Input)
	case LUnion:
		for _, in := range x.Inputs {
			if !streamable(in) {
				return false
			}
		}
		return true
	}
	return false
}

// lookupKey finds an index of g whose every key column is fixed by the
// MFP's predicates to literal values (col = lit, or an OR of them, as IN
// lists plan), and returns that key and the key tuples to look up.
func lookupKey(g LGet) ([]expr.Scalar, [][]repr.Datum, bool) {
	fixed := g.fixedColumns()
	for _, k := range g.Keys {
		if ts, n := fixed.tuples(k); n > 0 && n == len(k) {
			return k, ts, true
		}
	}
	return nil, nil, false
}

// LiteralPrefix finds the index of g whose leading key columns the MFP's
// predicates fix to literal values (col = lit, or an OR of them, as IN
// lists plan): one whose whole key they fix if there is one, else the one
// with the most fixed leading columns; it returns that index's key and the tuples of values of those leading
// columns: the rows of g that can pass the MFP are the index's entries
// whose keys start with one of the tuples. A dataflow reads them by
// seeking each tuple in the index (dataflow.Graph.ImportPrefixes) rather
// than scanning the collection.
func (g LGet) LiteralPrefix() (key []expr.Scalar, tuples [][]repr.Datum, ok bool) {
	if g.Global == 0 || g.Local != 0 {
		return nil, nil, false
	}
	if k, ts, ok := lookupKey(g); ok {
		return k, ts, true
	}
	fixed := g.fixedColumns()
	for _, k := range g.Keys {
		if ts, n := fixed.tuples(k); n > 0 && (tuples == nil || n > len(tuples[0])) {
			key, tuples = k, ts
		}
	}
	return key, tuples, tuples != nil
}

// fixedCols maps the columns of a Get that its MFP's predicates fix to
// literals to their values.
type fixedCols map[int][]repr.Datum

func (g LGet) fixedColumns() fixedCols {
	fixed := fixedCols{}
	if len(g.Keys) == 0 {
		return fixed
	}
	for _, p := range g.MFP.Predicates {
		col, vals, ok := literalEqualities(p.Expr, g.Type.Cols)
		if !ok || col >= g.MFP.InputArity {
			continue
		}
		if _, seen := fixed[col]; !seen || len(vals) < len(fixed[col]) {
			fixed[col] = vals
		}
	}
	return fixed
}

// tuples returns the value tuples of key's leading columns that fixed
// fixes (at most maxLookups of them) and how many leading columns that is.
func (fixed fixedCols) tuples(key []expr.Scalar) ([][]repr.Datum, int) {
	ts := [][]repr.Datum{nil}
	n := 0
	for _, ke := range key {
		c, isCol := ke.(expr.Column)
		vals, has := fixed[c.Index]
		if !isCol || !has || len(ts)*len(vals) > maxLookups {
			break
		}
		next := make([][]repr.Datum, 0, len(ts)*len(vals))
		for _, t := range ts {
			for _, v := range vals {
				next = append(next, append(append([]repr.Datum(nil), t...), v))
			}
		}
		ts, n = next, n+1
	}
	return ts, n
}

// literalEqualities recognises `#c = literal` (either side) and ORs of
// such equalities on one column. The literal must have the column's type
// exactly (arrangement keys compare encoded bytes) and not be NULL (NULL
// never equals anything).
func literalEqualities(e expr.Scalar, cols []repr.ColumnType) (int, []repr.Datum, bool) {
	call, ok := e.(expr.Call)
	if !ok || call.Func == nil {
		return 0, nil, false
	}
	switch {
	case call.Func.Name == "=" && len(call.Args) == 2:
		c, l, ok := colLit(call.Args[0], call.Args[1])
		if !ok {
			c, l, ok = colLit(call.Args[1], call.Args[0])
		}
		if !ok || c.Index >= len(cols) || l.Err != nil || l.Value.IsNull() ||
			l.Value.Kind() != cols[c.Index].Type.Kind || l.Typ.Type.Kind != cols[c.Index].Type.Kind {
			return 0, nil, false
		}
		return c.Index, []repr.Datum{l.Value}, true
	case call.Func == expr.FuncOr:
		col := -1
		var vals []repr.Datum
		for _, a := range call.Args {
			c, vs, ok := literalEqualities(a, cols)
			if !ok || (col >= 0 && c != col) {
				return 0, nil, false
			}
			col = c
			vals = append(vals, vs...)
		}
		return col, vals, col >= 0
	}
	return 0, nil, false
}

func colLit(a, b expr.Scalar) (expr.Column, expr.Literal, bool) {
	c, ok1 := a.(expr.Column)
	l, ok2 := b.(expr.Literal)
	return c, l, ok1 && ok2
}

// String describes the peek for EXPLAIN.
func (p PeekPlan) String() string {
	switch p.Kind {
	case PeekConstant:
		return "Fast path: constant"
	case PeekLookup:
		keys := make([]string, len(p.Key))
		for i, k := range p.Key {
			keys[i] = k.String()
		}
		vals := make([]string, len(p.Values))
		for i, t := range p.Values {
			parts := make([]string, len(t))
			for j, d := range t {
				parts[j] = d.String()
			}
			vals[i] = "(" + strings.Join(parts, ", ") + ")"
		}
		return fmt.Sprintf("Fast path: lookup in the index of %s on (%s) for %s", p.Get.Name, strings.Join(keys, ", "), strings.Join(vals, ", "))
	case PeekStream:
		if g, ok := p.Node.(LGet); ok {
			return "Fast path: scan of " + g.Name
		}
		return "Fast path: streamed pipeline (no dataflow)"
	}
	return "Dataflow: transient, stepped once at the read time"
}
