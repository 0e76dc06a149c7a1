package plan

import (
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// A naive LIR evaluator that follows the documented contract of each node
// (in particular of join lookups: keys over the arranged collection, the
// looked-up input's MFP applied to matches, stream layout in path order,
// closures and final MFPs). Every path of a delta join is evaluated on its
// own over the whole input: for a static collection each path must equal
// the join.

func applyMFP(m expr.MapFilterProject, rows []ConstRow) ([]ConstRow, error) {
	var ctx expr.EvalCtx
	var scratch []repr.Datum
	var p repr.Packer
	var out []ConstRow
	for _, r := range rows {
		p.Reset()
		keep, err := m.Apply(&ctx, r.Row.Datums(), &scratch, &p)
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, ConstRow{Row: p.Clone(), Diff: r.Diff})
		}
	}
	return out, nil
}

type lirEval struct {
	db     database
	locals map[LocalID][]ConstRow
}

func (e *lirEval) eval(n Node) ([]ConstRow, error) {
	switch x := n.(type) {
	case LGet:
		rows := e.db[x.Global]
		if x.Local != 0 {
			rows = e.locals[x.Local]
		}
		return applyMFP(x.MFP, rows)
	case LConstant:
		if x.Err != nil {
			return nil, x.Err
		}
		return x.Rows, nil
	case LMfp:
		in, err := e.eval(x.Input)
		if err != nil {
			return nil, err
		}
		return applyMFP(x.MFP, in)
	case LArrangeBy:
		return e.eval(x.Input)
	case LNegate:
		in, err := e.eval(x.Input)
		if err != nil {
			return nil, err
		}
		out := make([]ConstRow, len(in))
		for i, r := range in {
			out[i] = ConstRow{Row: r.Row, Diff: -r.Diff}
		}
		return out, nil
	case LThreshold:
		in, err := e.eval(x.Input)
		if err != nil {
			return nil, err
		}
		return evalRel(Threshold{Input: Constant{Rows: in}}, nil, nil)
	case LUnion:
		var out []ConstRow
		for _, in := range x.Inputs {
			rows, err := e.eval(in)
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
		return out, nil
	case LReduce:
		in, err := e.eval(x.Input)
		if err != nil {
			return nil, err
		}
		return evalRel(Reduce{Input: Constant{Rows: in}, GroupKey: x.Key, Aggregates: x.Aggregates}, nil, nil)
	case LLet:
		v, err := e.eval(x.Value)
		if err != nil {
			return nil, err
		}
		inner := &lirEval{db: e.db, locals: map[LocalID][]ConstRow{}}
		for k, r := range e.locals {
			inner.locals[k] = r
		}
		inner.locals[x.ID] = v
		return inner.eval(x.Body)
	case LJoin:
		switch p := x.Plan.(type) {
		case LinearJoinPlan:
			return e.evalPath(x.Inputs, p.Source, p.SourceMFP, p.Stages, p.FinalMFP)
		case DeltaJoinPlan:
			var first []ConstRow
			for i, path := range p.Paths {
				rows, err := e.evalPath(x.Inputs, path.Source, path.SourceMFP, path.Stages, path.FinalMFP)
				if err != nil {
					return nil, err
				}
				if i == 0 {
					first = rows
				} else if formatRows(rows) != formatRows(first) {
					return nil, fmt.Errorf("delta path %d disagrees with path 0", i)
				}
			}
			return first, nil
		}
	}
	return nil, fmt.Errorf("lir eval: %T unsupported", n)
}

// arranged returns the rows of the arrangement a lookup into n reads, and
// the MFP applied to matches.
func (e *lirEval) arranged(n Node) ([]ConstRow, expr.MapFilterProject, error) {
	switch x := n.(type) {
	case LGet:
		rows := e.db[x.Global]
		if x.Local != 0 {
			rows = e.locals[x.Local]
		}
		return rows, x.MFP, nil
	case LArrangeBy:
		rows, err := e.eval(x.Input)
		return rows, expr.Identity(x.Input.Arity()), err
	}
	return nil, expr.MapFilterProject{}, fmt.Errorf("lookup into %T, which is not arranged", n)
}

func evalKey(key []expr.Scalar, ds []repr.Datum) ([]repr.Datum, bool, error) {
	var ctx expr.EvalCtx
	out := make([]repr.Datum, len(key))
	for i, k := range key {
		v, err := expr.Eval(&ctx, k, ds)
		if err != nil {
			return nil, false, err
		}
		if v.IsNull() {
			return nil, false, nil
		}
		out[i] = v
	}
	return out, true, nil
}

func (e *lirEval) evalPath(inputs []Node, src int, smfp expr.MapFilterProject, stages []LookupStage, final expr.MapFilterProject) ([]ConstRow, error) {
	stream, err := e.eval(inputs[src])
	if err != nil {
		return nil, err
	}
	if stream, err = applyMFP(smfp, stream); err != nil {
		return nil, err
	}
	for _, st := range stages {
		base, mfp, err := e.arranged(inputs[st.Lookup])
		if err != nil {
			return nil, err
		}
		var next []ConstRow
		for _, s := range stream {
			sds := s.Row.Datums()
			sk, ok, err := evalKey(st.StreamKey, sds)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			for _, b := range base {
				bk, ok, err := evalKey(st.LookupKey, b.Row.Datums())
				if err != nil {
					return nil, err
				}
				if !ok || len(bk) != len(sk) {
					continue
				}
				match := true
				for i := range bk {
					if repr.Compare(bk[i], sk[i]) != 0 {
						match = false
					}
				}
				if !match {
					continue
				}
				out, err := applyMFP(mfp, []ConstRow{b})
				if err != nil {
					return nil, err
				}
				for _, o := range out {
					ds := append(append([]repr.Datum(nil), sds...), o.Row.Datums()...)
					next = append(next, ConstRow{Row: repr.PackRow(ds...), Diff: s.Diff * o.Diff})
				}
			}
		}
		if stream, err = applyMFP(st.Closure, next); err != nil {
			return nil, err
		}
	}
	return applyMFP(final, stream)
}
