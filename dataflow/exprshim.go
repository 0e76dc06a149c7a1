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
	// cols: the MFP computes no column, its projection picks input
	// columns, so applyRow copies the picked columns' bytes rather than
	// decoding and packing them again; filter is then the predicates
	// alone (nil without any), reading filterPrefix leading columns, and
	// lastCol the highest column picked.
	cols         bool
	filter       *expr.MapFilterProject
	filterPrefix int
	lastCol      int
}

func newMFPPlan(m expr.MapFilterProject) *mfpPlan {
	m.Predicates = slices.Clone(m.Predicates)
	slices.SortStableFunc(m.Predicates, func(a, b expr.Predicate) int { return a.Support - b.Support })
	p := &mfpPlan{m: m, ident: m.IsIdentity(), prefix: m.InputPrefix()}
	p.cols = len(m.Expressions) == 0 && !p.ident
	p.lastCol = -1
	for _, c := range m.Projection {
		if c < 0 || c >= m.InputArity {
			p.cols = false
		}
		p.lastCol = max(p.lastCol, c)
	}
	if p.cols && len(m.Predicates) > 0 {
		p.filter = &expr.MapFilterProject{InputArity: m.InputArity, Predicates: m.Predicates}
		p.filterPrefix = p.filter.InputPrefix()
	}
	return p
}

// unpack decodes the input columns of row that the MFP reads into buf,
// and pads the rest with NULLs, which it never reads.
func (p *mfpPlan) unpack(row repr.Row, buf []repr.Datum) []repr.Datum {
	return unpackPrefix(row, buf, p.prefix, p.m.InputArity)
}

// unpackPrefix decodes the first prefix columns of row into buf and pads
// it with NULLs to arity columns.
func unpackPrefix(row repr.Row, buf []repr.Datum, prefix, arity int) []repr.Datum {
	if prefix >= arity {
		return row.Unpack(buf)
	}
	buf = row.UnpackPrefix(buf, prefix)
	for len(buf) < arity {
		buf = append(buf, repr.Null)
	}
	return buf
}

// mfpScratch is a worker's scratch for applyRow.
type mfpScratch struct {
	datums, extended []repr.Datum
	offs             []int
}

// applyRow is apply of a packed input row. An MFP that only filters and
// picks columns (cols) decodes the predicates' columns alone and copies
// the picked columns' bytes: a packed datum is self-delimiting and packs
// the same wherever it stands, so the copy is the row packing the
// decoded datums would give (TestMFPColumnCopy).
func (p *mfpPlan) applyRow(ctx *expr.EvalCtx, row repr.Row, w *mfpScratch, out *repr.Packer) (bool, error) {
	if p.cols {
		if p.filter != nil {
			w.datums = unpackPrefix(row, w.datums[:0], p.filterPrefix, p.m.InputArity)
			keep, err := p.filter.Apply(ctx, w.datums, &w.extended, out)
			if !keep || err != nil {
				return keep, err
			}
		}
		var ok bool
		if w.offs, ok = columnOffsets(row, w.offs[:0], p.lastCol); ok {
			for _, c := range p.m.Projection {
				out.PushRow(row[w.offs[c]:w.offs[c+1]])
			}
			return true, nil
		}
		// A row shorter than the projection: the general path reports it.
	}
	w.datums = p.unpack(row, w.datums[:0])
	return p.apply(ctx, w.datums, &w.extended, out)
}

// columnOffsets appends to buf the byte offsets at which row's datums
// 0..last start and the offset just past datum last, reading only their
// lengths; ok is false when the row does not hold last+1 well-formed
// datums.
func columnOffsets(row repr.Row, buf []int, last int) ([]int, bool) {
	it := row.Iter()
	for range last + 1 {
		buf = append(buf, it.Offset())
		if !it.Skip() {
			return buf, false
		}
	}
	return append(buf, it.Offset()), true
}

// apply evaluates the MFP over datums (the input row; *scratch is reused
// for the extended row) and packs the projected row into out. keep is
// false when a predicate rejects the row; err is an evaluation error,
// which belongs on the err stream.
func (p *mfpPlan) apply(ctx *expr.EvalCtx, datums []repr.Datum, scratch *[]repr.Datum, out *repr.Packer) (bool, error) {
	return p.m.Apply(ctx, datums, scratch, out)
}
