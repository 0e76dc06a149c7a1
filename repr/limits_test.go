package repr

import (
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
)

// TestInputNestingLimits: deeply nested text input is refused as
// PostgreSQL refuses it, and quickly: arrays past 6 dimensions with
// 54000 (100,000 nested braces took minutes before), JSON past its depth
// limit with 54001 (check_stack_depth's code).
func TestInputNestingLimits(t *testing.T) {
	for _, c := range []struct {
		in   string
		typ  ScalarType
		code pgcode.Code
	}{
		{strings.Repeat("{", 100000) + strings.Repeat("}", 100000), ArrayOf(TypeInt4), pgcode.ProgramLimitExceeded},
		{strings.Repeat("{", 7) + "1" + strings.Repeat("}", 7), ArrayOf(TypeInt4), pgcode.ProgramLimitExceeded},
		{strings.Repeat("{", 6) + "1" + strings.Repeat("}", 6), ArrayOf(TypeInt4), ""},
		{strings.Repeat("[", 100000) + strings.Repeat("]", 100000), TypeJsonb, pgcode.StatementTooComplex},
		{strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000), TypeJsonb, pgcode.StatementTooComplex},
		{strings.Repeat("[", 1000) + strings.Repeat("]", 1000), TypeJsonb, ""},
	} {
		start := time.Now()
		_, err := ParseText(c.in, c.typ)
		if got := pgcode.Of(err); err != nil && got != c.code || err == nil && c.code != "" {
			t.Errorf("%.20s... as %s: got %v, want %s", c.in, c.typ, err, c.code)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.20s... as %s took %v", c.in, c.typ, d)
		}
	}
}
