package sql

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// PostgreSQL's FRAMEOPTION_* bits of WindowDef.FrameOptions.
const (
	frameNonDefault         = 0x00001
	frameRange              = 0x00002
	frameRows               = 0x00004
	frameGroups             = 0x00008
	frameBetween            = 0x00010
	frameStartUnboundedPrec = 0x00020
	frameEndUnboundedPrec   = 0x00040
	frameStartUnboundedFoll = 0x00080
	frameEndUnboundedFoll   = 0x00100
	frameStartCurrentRow    = 0x00200
	frameEndCurrentRow      = 0x00400
	frameStartOffsetPrec    = 0x00800
	frameEndOffsetPrec      = 0x01000
	frameStartOffsetFoll    = 0x02000
	frameEndOffsetFoll      = 0x04000
	frameExcludeCurrentRow  = 0x08000
	frameExcludeGroup       = 0x10000
	frameExcludeTies        = 0x20000
)

// windowFrame plans a window's frame clause; nil when it has none (the
// default frame). Offsets must be constants (PostgreSQL allows any
// expression without columns; viewd evaluates them when planning): a
// non-negative bigint for ROWS and GROUPS; for RANGE, a value of the one
// ORDER BY column's type (an interval for dates, timestamps, times and
// intervals), non-negative. GROUPS needs an ORDER BY, as does RANGE with
// an offset.
func (e *ectx) windowFrame(w *pg_query.WindowDef, orderBy []HOrderKey) (*expr.WindowFrame, error) {
	opts := w.FrameOptions
	if opts&frameNonDefault == 0 {
		return nil, nil
	}
	fr := &expr.WindowFrame{Mode: expr.FrameRange}
	switch {
	case opts&frameRows != 0:
		fr.Mode = expr.FrameRows
	case opts&frameGroups != 0:
		fr.Mode = expr.FrameGroups
		if len(orderBy) == 0 {
			return nil, e.q.errAt(pgcode.New(pgcode.WindowingError, "GROUPS mode requires an ORDER BY clause"), w.Location)
		}
	}
	switch {
	case opts&frameExcludeCurrentRow != 0:
		fr.Exclude = expr.ExcludeCurrentRow
	case opts&frameExcludeGroup != 0:
		fr.Exclude = expr.ExcludeGroup
	case opts&frameExcludeTies != 0:
		fr.Exclude = expr.ExcludeTies
	}
	var err error
	startKind := expr.BoundCurrentRow
	switch {
	case opts&frameStartUnboundedPrec != 0:
		startKind = expr.BoundUnboundedPreceding
	case opts&frameStartUnboundedFoll != 0:
		return nil, e.q.errAt(pgcode.New(pgcode.WindowingError, "frame start cannot be UNBOUNDED FOLLOWING"), w.Location)
	case opts&frameStartOffsetPrec != 0:
		startKind = expr.BoundOffsetPreceding
	case opts&frameStartOffsetFoll != 0:
		startKind = expr.BoundOffsetFollowing
	}
	endKind := expr.BoundCurrentRow
	if opts&frameBetween != 0 {
		switch {
		case opts&frameEndUnboundedFoll != 0:
			endKind = expr.BoundUnboundedFollowing
		case opts&frameEndUnboundedPrec != 0:
			return nil, e.q.errAt(pgcode.New(pgcode.WindowingError, "frame end cannot be UNBOUNDED PRECEDING"), w.Location)
		case opts&frameEndOffsetPrec != 0:
			endKind = expr.BoundOffsetPreceding
		case opts&frameEndOffsetFoll != 0:
			endKind = expr.BoundOffsetFollowing
		}
	}
	if fr.Start, err = e.frameBound(fr.Mode, startKind, w.StartOffset, "starting", orderBy, w.Location); err != nil {
		return nil, err
	}
	if fr.End, err = e.frameBound(fr.Mode, endKind, w.EndOffset, "ending", orderBy, w.Location); err != nil {
		return nil, err
	}
	if fr.Mode == expr.FrameRange && fr.Start.Kind == expr.BoundUnboundedPreceding && fr.End.Kind == expr.BoundCurrentRow && fr.Exclude == expr.ExcludeNoOthers {
		return nil, nil // the default frame, written out
	}
	return fr, nil
}

// frameBound plans one bound; offset is its n of n PRECEDING/FOLLOWING.
func (e *ectx) frameBound(mode expr.FrameMode, kind expr.FrameBoundKind, offset *pg_query.Node, which string, orderBy []HOrderKey, loc int32) (expr.FrameBound, error) {
	b := expr.FrameBound{Kind: kind}
	if kind != expr.BoundOffsetPreceding && kind != expr.BoundOffsetFollowing {
		return b, nil
	}
	h, err := e.plan(offset)
	if err != nil {
		return b, err
	}
	want := repr.TypeInt8
	if mode == expr.FrameRange {
		if len(orderBy) != 1 {
			return b, e.q.errAt(pgcode.New(pgcode.WindowingError, "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"), loc)
		}
		ot := orderBy[0].Expr.Typ().Type
		switch {
		case ot.Kind.IsInteger():
			want = repr.TypeInt8
			if isUnknown(h) {
				want = ot.WithoutTypmod() // a literal reads as the column's type
			}
		case ot.Kind == repr.KindNumeric, ot.Kind == repr.KindFloat4, ot.Kind == repr.KindFloat8:
			want = ot.WithoutTypmod()
			if ot.Kind == repr.KindFloat4 {
				want = repr.TypeFloat8
			}
		case ot.Kind == repr.KindDate, ot.Kind == repr.KindTimestamp, ot.Kind == repr.KindTimestampTz,
			ot.Kind == repr.KindTime, ot.Kind == repr.KindInterval:
			want = repr.TypeInterval
		default:
			return b, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s", ot), loc)
		}
	}
	if h, err = e.q.coerce(h, want, expr.Implicit, ""); err != nil {
		return b, e.q.errAt(err, nodeLocation(offset))
	}
	if hasSubquery([]HScalar{h}) || readsColumns(h) {
		return b, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "window frame offsets must be constants"), nodeLocation(offset))
	}
	s, err := (&lowerer{q: e.q, params: e.q.params}).lowerPlainScalar(h, 0, colMap{})
	if err != nil {
		return b, err
	}
	d, err := expr.Eval(&expr.EvalCtx{}, s, nil)
	if err != nil {
		return b, err
	}
	if d.IsNull() {
		return b, e.q.errAt(pgcode.New(pgcode.NullValueNotAllowed, "frame %s offset must not be null", which), nodeLocation(offset))
	}
	negative := false
	switch {
	case d.Kind().IsInteger():
		negative = d.Int() < 0
	case d.Kind() == repr.KindNumeric:
		negative = d.Numeric().Negative
	case d.Kind() == repr.KindFloat8:
		negative = d.Float() < 0
	case d.Kind() == repr.KindInterval:
		negative = d.Interval().SpanMicros().Negative
	}
	if negative {
		if mode == expr.FrameRange {
			return b, e.q.errAt(pgcode.New("22013", "invalid preceding or following size in window function"), nodeLocation(offset))
		}
		return b, e.q.errAt(pgcode.New("22013", "frame %s offset must not be negative", which), nodeLocation(offset))
	}
	b.Offset = d
	return b, nil
}

// readsColumns reports whether h reads a column of any scope.
func readsColumns(h HScalar) bool {
	found := false
	rewriteHScalar(h, 0, func(s HScalar, _ int) HScalar {
		if _, ok := s.(HColumn); ok {
			found = true
		}
		return s
	})
	return found
}
