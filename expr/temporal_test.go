package expr

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// temporalMFP builds Identity(cols) filtered by preds (SQL over #i, planned
// by the golden mini-planner) and extracts its temporal bounds.
func temporalMFP(t *testing.T, cols []repr.ColumnType, preds ...string) (*TemporalMFP, error) {
	t.Helper()
	m := Identity(len(cols))
	for _, p := range preds {
		e, _, err := planSQLCols(p, cols)
		if err != nil {
			t.Fatalf("plan %q: %v", p, err)
		}
		m = m.Filter(e)
	}
	return m.ExtractTemporal()
}

func TestTemporalBounds(t *testing.T) {
	cols := []repr.ColumnType{{Type: repr.TypeInt8}, {Type: repr.TypeInt8, Nullable: true}}
	type want struct {
		keep         bool
		lower, upper repr.Timestamp
	}
	max := repr.MaxTimestamp
	cases := []struct {
		preds []string
		row   []repr.Datum
		want  want
	}{
		// A sliding window: present from created (#0) for 1000 ms.
		{[]string{"mz_now() >= #0", "mz_now() < #0 + 1000"}, []repr.Datum{repr.Int8Datum(5000), repr.Null}, want{true, 5000, 6000}},
		// Mirrored forms and a conjunction in one predicate.
		{[]string{"#0 <= mz_now() and #0 + 10 > mz_now()"}, []repr.Datum{repr.Int8Datum(7), repr.Null}, want{true, 7, 17}},
		// Strict lower, inclusive upper.
		{[]string{"mz_now() > #0", "mz_now() <= #0 + 2"}, []repr.Datum{repr.Int8Datum(7), repr.Null}, want{true, 8, 10}},
		// Equality: exactly one time.
		{[]string{"mz_now() = #0"}, []repr.Datum{repr.Int8Datum(42), repr.Null}, want{true, 42, 43}},
		// Fractional bounds round inwards: t >= 2.5 means t >= 3; t < 4.5 means t <= 4.
		{[]string{"mz_now() >= #0 / 2.0", "mz_now() < #0 / 2.0 + 2"}, []repr.Datum{repr.Int8Datum(5), repr.Null}, want{true, 3, 5}},
		// Only an upper bound; negative lower bound clamps to 0.
		{[]string{"mz_now() < #0"}, []repr.Datum{repr.Int8Datum(9), repr.Null}, want{true, 0, 9}},
		{[]string{"mz_now() >= #0 - 100"}, []repr.Datum{repr.Int8Datum(9), repr.Null}, want{true, 0, max}},
		// Empty interval and NULL bound drop the row.
		{[]string{"mz_now() >= #0", "mz_now() < #0"}, []repr.Datum{repr.Int8Datum(9), repr.Null}, want{}},
		{[]string{"mz_now() < #1"}, []repr.Datum{repr.Int8Datum(9), repr.Null}, want{}},
		// Special and huge numeric bounds clamp to the timestamp range.
		{[]string{"mz_now() < 'NaN'::numeric"}, []repr.Datum{repr.Int8Datum(1), repr.Null}, want{true, 0, max}},
		{[]string{"mz_now() >= '-Infinity'::numeric"}, []repr.Datum{repr.Int8Datum(1), repr.Null}, want{true, 0, max}},
		{[]string{"mz_now() >= 'Infinity'::numeric"}, []repr.Datum{repr.Int8Datum(1), repr.Null}, want{}},
		{[]string{"mz_now() < 1e30", "mz_now() >= 12.0"}, []repr.Datum{repr.Int8Datum(1), repr.Null}, want{true, 12, max}},
		// Non-temporal predicates still filter.
		{[]string{"mz_now() < #0", "#0 > 100"}, []repr.Datum{repr.Int8Datum(9), repr.Null}, want{}},
	}
	for _, c := range cases {
		tm, err := temporalMFP(t, cols, c.preds...)
		if err != nil {
			t.Fatalf("%v: %v", c.preds, err)
		}
		var scratch []repr.Datum
		var out repr.Packer
		keep, lo, hi, err := tm.Apply(&EvalCtx{}, c.row, &scratch, &out)
		if err != nil {
			t.Fatalf("%v: %v", c.preds, err)
		}
		if got := (want{keep, lo, hi}); got != c.want {
			t.Errorf("%s on %v: got %+v, want %+v", strings.Join(c.preds, " AND "), c.row, got, c.want)
		}
		if keep && out.Row().Arity() != 2 {
			t.Errorf("%v: output %v", c.preds, out.Row())
		}
	}
}

func TestTemporalUnsupported(t *testing.T) {
	cols := []repr.ColumnType{{Type: repr.TypeInt8}}
	for _, p := range []string{"mz_now() < #0 or #0 = 1", "mz_now() + 1 < #0", "mz_now() < mz_now()"} {
		if _, err := temporalMFP(t, cols, p); pgcode.Of(err) != pgcode.FeatureNotSupported {
			t.Errorf("%s: want 0A000, got %v", p, err)
		}
	}
	m := Identity(1).Map(MzNow{})
	if _, err := m.ExtractTemporal(); pgcode.Of(err) != pgcode.FeatureNotSupported {
		t.Errorf("mz_now() in a map: %v", err)
	}
	plain := Identity(1)
	if plain.IsTemporal() {
		t.Error("IsTemporal of identity")
	}
	e, _, err := planSQLCols("mz_now() < #0", cols)
	if err != nil {
		t.Fatal(err)
	}
	if tf := plain.Filter(e); !tf.IsTemporal() {
		t.Error("IsTemporal of a temporal filter")
	}
	tm, err := temporalMFP(t, cols, "mz_now() < #0 + 5", "#0 > 0")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tm.String(), "temporal(mfp(in=1 filter=[(#0 > 0)@1] project=[0]) upper=temporal_ceil(int8_to_numeric((#0 + 5))) project=[0])"; got != want {
		t.Errorf("String() = %s, want like %s", got, want)
	}
}
