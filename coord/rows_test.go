package coord

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// TestSortBufByKeys: an ORDER BY over a jsonb column sorts by keys built
// once per row (sortBufByKeys); on random rows of (jsonb, int, text) with
// NULLs, ties and equal jsonb values of different text ('1', '1.0'), under
// random directions and NULLS placements, it gives the order, stable on
// ties, that comparing rows (sortBufByCompare) gives.
func TestSortBufByKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	docs := []string{`[]`, `null`, `"a"`, `"ab"`, `1`, `1.0`, `-2.5`, `true`, `[9]`, `[1, 2]`, `[1.0, 2]`, `{}`, `{"a": 1}`, `{"b": 1}`, `{"aa": 1}`, `{"a": 1, "b": 2}`}
	for i := range 500 {
		n := r.IntN(40)
		buf := make([]rowCount, n)
		for j := range buf {
			ds := make([]repr.Datum, 4)
			ds[0] = repr.JsonbDatum(docs[r.IntN(len(docs))])
			ds[1] = repr.Int4Datum(int32(r.IntN(3)))
			ds[2] = repr.TextDatum([]string{"", "a", "b"}[r.IntN(3)])
			for c := range 3 {
				if r.IntN(6) == 0 {
					ds[c] = repr.Null
				}
			}
			ds[3] = repr.Int4Datum(int32(j)) // tells ties apart after sorting
			buf[j] = rowCount{row: repr.PackRow(ds...), n: 1, ds: ds}
		}
		var order []plan.ColumnOrder
		for _, c := range r.Perm(3)[:1+r.IntN(3)] {
			order = append(order, plan.ColumnOrder{Column: c, Order: repr.SortOrder{Desc: r.IntN(2) == 0, NullsFirst: r.IntN(2) == 0}})
		}
		if !slices.ContainsFunc(order, func(o plan.ColumnOrder) bool { return o.Column == 0 }) {
			order = append(order, plan.ColumnOrder{Column: 0})
		}
		byKeys := &resultRows{f: sql.Finishing{Order: order}, buf: slices.Clone(buf)}
		byCompare := &resultRows{f: sql.Finishing{Order: order}, buf: slices.Clone(buf)}
		if n > 0 && !byKeys.ordersJSONB() && !allNull(buf, 0) {
			t.Fatalf("case %d: ordersJSONB is false for a jsonb order column", i)
		}
		byKeys.sortBufByKeys()
		byCompare.sortBufByCompare()
		got, want := rowsText(byKeys.buf), rowsText(byCompare.buf)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: order %+v:\n by keys    %v\n by compare %v", i, order, got, want)
		}
	}
}

func allNull(buf []rowCount, c int) bool {
	for _, rc := range buf {
		if !rc.ds[c].IsNull() {
			return false
		}
	}
	return true
}

func rowsText(buf []rowCount) []string {
	out := make([]string, len(buf))
	for i, rc := range buf {
		out[i] = fmt.Sprint(rc.ds)
	}
	return out
}
