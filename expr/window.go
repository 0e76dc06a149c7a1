package expr

import "github.com/viewd/viewd/repr"

// WindowFrame is a window function's frame clause (ROWS | RANGE | GROUPS
// BETWEEN start AND end [EXCLUDE ...]), the rows of the partition an
// aggregate, first_value or last_value reads for each row. Plans carry
// it; the window operator applies it. A nil frame is the default: RANGE
// BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
type WindowFrame struct {
	Mode       FrameMode
	Start, End FrameBound
	Exclude    FrameExclude
}

// FrameMode is how frame offsets count: rows, ORDER BY values (RANGE), or
// peer groups.
type FrameMode uint8

// Frame modes.
const (
	FrameRange FrameMode = iota
	FrameRows
	FrameGroups
)

// FrameBoundKind is the kind of a frame bound.
type FrameBoundKind uint8

// Frame bounds.
const (
	BoundUnboundedPreceding FrameBoundKind = iota
	BoundOffsetPreceding
	BoundCurrentRow
	BoundOffsetFollowing
	BoundUnboundedFollowing
)

// FrameBound is one end of a frame. Offset is the constant of n
// PRECEDING / n FOLLOWING: a non-negative bigint for ROWS and GROUPS, a
// value to add to or subtract from the ORDER BY value for RANGE (an
// interval for dates and timestamps).
type FrameBound struct {
	Kind   FrameBoundKind
	Offset repr.Datum
}

// FrameExclude is the frame's EXCLUDE option.
type FrameExclude uint8

// Frame exclusions.
const (
	ExcludeNoOthers FrameExclude = iota
	ExcludeCurrentRow
	ExcludeGroup
	ExcludeTies
)

// String prints the frame as SQL writes it.
func (f WindowFrame) String() string {
	s := [...]string{"RANGE", "ROWS", "GROUPS"}[f.Mode] + " BETWEEN " + f.Start.String() + " AND " + f.End.String()
	switch f.Exclude {
	case ExcludeCurrentRow:
		s += " EXCLUDE CURRENT ROW"
	case ExcludeGroup:
		s += " EXCLUDE GROUP"
	case ExcludeTies:
		s += " EXCLUDE TIES"
	}
	return s
}

// String prints the bound as SQL writes it.
func (b FrameBound) String() string {
	switch b.Kind {
	case BoundUnboundedPreceding:
		return "UNBOUNDED PRECEDING"
	case BoundOffsetPreceding:
		return b.Offset.String() + " PRECEDING"
	case BoundCurrentRow:
		return "CURRENT ROW"
	case BoundOffsetFollowing:
		return b.Offset.String() + " FOLLOWING"
	}
	return "UNBOUNDED FOLLOWING"
}
