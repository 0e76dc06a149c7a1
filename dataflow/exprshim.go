package dataflow

// This file is the runtime's one point of contact with scalar evaluation:
// expr.Eval and (*expr.MapFilterProject).Apply.

import (
	"slices"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// evalScalar evaluates e over row. ctx must not be shared between
// goroutines (it holds evaluation scratch): each worker uses its own.
func evalScalar(ctx *expr.EvalCtx, e expr.Scalar, row []repr.Datum) (repr.Datum, error) {
	return expr.Eval(ctx, e, row)
}

// mfpPlan is a MapFilterProject prepared for evaluation: predicates sorted
// by support so that each runs as soon as its columns exist.
type mfpPlan struct {
	m     expr.MapFilterProject
	ident bool
	// prefix is the number of leading input columns the MFP reads; the
	// others are not decoded (unpack).
	prefix int
}

func newMFPPlan(m expr.MapFilterProject) *mfpPlan {
	m.Predicates = slices.Clone(m.Predicates)
	slices.SortStableFunc(m.Predicates, func(a, b expr.Predicate) int { return a.Support - b.Support })
	return &mfpPlan{m: m, ident: m.IsIdentity(), prefix: m.InputPrefix()}
}

// unpack decodes the input columns of row that the MFP reads into buf,
// and pads the rest with NULLs, which it never reads.
func (p *mfpPlan) unpack(row repr.Row, buf []repr.Datum) []repr.Datum {
	if p.prefix >= p.m.InputArity {
		return row.Unpack(buf)
	}
	buf = row.UnpackPrefix(buf, p.prefix)
	for len(buf) < p.m.InputArity {
		buf = append(buf, repr.Null)
	}
	return buf
}

// apply evaluates the MFP over datums (the input row; *scratch is reused
// for the extended row) and packs the projected row into out. keep is
// false when a predicate rejects the row; err is an evaluation error,
// which belongs on the err stream.
func (p *mfpPlan) apply(ctx *expr.EvalCtx, datums []repr.Datum, scratch *[]repr.Datum, out *repr.Packer) (bool, error) {
	return p.m.Apply(ctx, datums, scratch, out)
}
