package plan

import (
	"math/rand"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// evalTemporal evaluates an LTemporalFilter at logical time now, following
// its documented contract: a row is present iff lo <= now < hi.
func evalTemporal(tf LTemporalFilter, rows []ConstRow, now int64) ([]ConstRow, error) {
	pre, err := applyMFP(tf.Pre, rows)
	if err != nil {
		return nil, err
	}
	var ctx expr.EvalCtx
	var out []ConstRow
	for _, r := range pre {
		ds := r.Row.Datums()
		lo, hi, ok := int64(0), int64(1<<62), true
		for _, b := range tf.Lower {
			v, err := expr.Eval(&ctx, b.Expr, ds)
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				ok = false
				break
			}
			x := datumInt(v)
			if !b.Inclusive {
				x++
			}
			lo = max(lo, x)
		}
		for _, b := range tf.Upper {
			v, err := expr.Eval(&ctx, b.Expr, ds)
			if err != nil {
				return nil, err
			}
			if v.IsNull() {
				ok = false
				break
			}
			x := datumInt(v)
			if b.Inclusive {
				x++
			}
			hi = min(hi, x)
		}
		if !ok || now < lo || now >= hi {
			continue
		}
		ps := make([]repr.Datum, len(tf.Projection))
		for i, c := range tf.Projection {
			ps[i] = ds[c]
		}
		out = append(out, ConstRow{Row: repr.PackRow(ps...), Diff: r.Diff})
	}
	return out, nil
}

// TestTemporalFilterBounds checks that the extracted bounds select, at
// every logical time, exactly the rows the original predicates accept.
func TestTemporalFilterBounds(t *testing.T) {
	cat := newTestCatalog()
	xs, err := parseSexps(`(table events ((id int8) (ts int8?) (ttl int8)))`)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.define(xs[0]); err != nil {
		t.Fatal(err)
	}
	ev := cat.tables["events"]
	rng := rand.New(rand.NewSource(11))
	g := &relGen{rng: rng, cat: cat}
	cols := ev.Type.Cols
	defer func() { oracleNow = 0 }()
	for i := 0; i < 100; i++ {
		var preds []expr.Scalar
		for k := 0; k < 1+rng.Intn(3); k++ {
			var e expr.Scalar = expr.Column{Index: 1}
			if rng.Intn(2) == 0 {
				e = g.call("+", cols, expr.Column{Index: 1}, expr.Column{Index: 2})
			}
			ops := []string{"<", "<=", ">", ">=", "="}
			op := ops[rng.Intn(len(ops))]
			var a, b expr.Scalar = expr.MzNow{}, e
			if rng.Intn(2) == 0 {
				a, b = b, a
			}
			preds = append(preds, g.call(op, append(cols, repr.ColumnType{Type: repr.TypeNumeric}), a, b))
		}
		if rng.Intn(2) == 0 {
			preds = append(preds, g.pred(cols))
		}
		rel := Project{Input: Filter{Input: ev, Predicates: preds}, Outputs: []int{0, 2}}
		opt, err := Optimize(rel, cat)
		if err != nil {
			t.Fatal(err)
		}
		node, err := Lower(opt, cat)
		if err != nil {
			t.Fatalf("%v\n%s", err, Explain(opt))
		}
		tf, ok := node.(LTemporalFilter)
		if !ok {
			t.Fatalf("expected a temporal filter:\n%s", ExplainLIR(node))
		}
		var rows []ConstRow
		for k := 0; k < 6; k++ {
			ts := repr.Int8Datum(int64(rng.Intn(8)))
			if k == 0 {
				ts = repr.Null
			}
			rows = append(rows, ConstRow{Row: repr.PackRow(repr.Int8Datum(int64(k)), ts, repr.Int8Datum(int64(rng.Intn(4)))), Diff: 1})
		}
		base, err := applyMFP(tf.Input.(LGet).MFP, rows)
		if err != nil {
			t.Fatal(err)
		}
		for now := int64(0); now < 14; now++ {
			oracleNow = repr.Timestamp(now)
			want, err := evalRel(rel, database{ev.Global: rows}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := evalTemporal(tf, base, now)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := formatRows(want), formatRows(got); a != b {
				t.Fatalf("now=%d\n%s\n%s\nwant:\n%s\ngot:\n%s", now, Explain(rel), ExplainLIR(node), a, b)
			}
		}
	}
}

func datumInt(d repr.Datum) int64 {
	if d.Kind() == repr.KindNumeric {
		v, err := d.Numeric().Int64()
		if err != nil {
			panic(err)
		}
		return v
	}
	return d.Int()
}
