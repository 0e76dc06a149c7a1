package sources

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
)

func TestOffsetProblem(t *testing.T) {
	for _, tc := range []struct {
		next          int64
		logStart, hwm int64
		want          string // "" for no problem
	}{
		{next: 100, logStart: 0, hwm: 100},
		{next: 100, logStart: 0, hwm: 150},
		{next: 100, logStart: 100, hwm: 100}, // everything read, then deleted
		{next: 0, logStart: 0, hwm: 0},
		{next: 100, logStart: 0, hwm: 50, want: `topic "ev" partition 3: high-water mark 50 is below the resume offset 100`},
		{next: 100, logStart: 120, hwm: 200, want: `topic "ev" partition 3: log start offset 120 is above the resume offset 100 (records 100 to 119 were deleted before they were read)`},
	} {
		err := offsetProblem("ev", 3, "resume offset", tc.next, partBounds{logStart: tc.logStart, hwm: tc.hwm})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: unexpected %v", tc, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want %q", tc, err, tc.want)
		case err != nil && pgcode.Of(err) != pgcode.ObjectNotInPrerequisiteState:
			t.Errorf("%+v: SQLSTATE %s", tc, pgcode.Of(err))
		}
	}
}
