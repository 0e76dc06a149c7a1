package expr

import "github.com/viewd/viewd/repr"

// TableFunc is a set-returning function used by FlatMap: for each input row
// it evaluates Args and emits zero or more rows of Cols.Types columns,
// appended to the input row.
type TableFunc struct {
	// Name prints in plans, e.g. "generate_series", "unnest",
	// "jsonb_array_elements".
	Name string
	Cols []repr.ColumnType
	// Eval emits the output rows for one set of argument values; emit must
	// not retain the slice it is given.
	Eval func(ctx *EvalCtx, args []repr.Datum, emit func(row []repr.Datum)) error
}
