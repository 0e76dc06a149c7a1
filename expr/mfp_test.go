package expr

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// op builds a resolved binary operator call over int4 operands.
func op(t testing.TB, name string, a, b Scalar) Scalar {
	t.Helper()
	res, err := Resolve(name, LookupBinaryOp(name), []repr.ScalarType{repr.TypeInt4, repr.TypeInt4})
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	return Call{Func: res.Func, Args: []Scalar{a, b}}
}

func col(i int) Scalar { return Column{Index: i} }

func i4(v int32) Scalar { return NewLiteral(repr.Int4Datum(v), repr.TypeInt4) }

func ints(vs ...int32) []repr.Datum {
	out := make([]repr.Datum, len(vs))
	for i, v := range vs {
		out[i] = repr.Int4Datum(v)
	}
	return out
}

// applyRow runs m over one row and returns the output datums, or nil when
// the row is dropped.
func applyRow(t testing.TB, m *MapFilterProject, in []repr.Datum) ([]repr.Datum, error) {
	t.Helper()
	var scratch []repr.Datum
	var p repr.Packer
	keep, err := m.Apply(&EvalCtx{}, in, &scratch, &p)
	if err != nil || !keep {
		return nil, err
	}
	return p.Row().Datums(), nil
}

func TestMFPApply(t *testing.T) {
	// in: (a, b); map c = a + b, d = c * 2; filter a > 1 (support 1),
	// d > 10 (support 4); project (d, a).
	m := MapFilterProject{
		InputArity:  2,
		Expressions: []Scalar{op(t, "+", col(0), col(1)), op(t, "*", col(2), i4(2))},
		Predicates: []Predicate{
			{Support: 1, Expr: op(t, ">", col(0), i4(1))},
			{Support: 4, Expr: op(t, ">", col(3), i4(10))},
		},
		Projection: []int{3, 0},
	}
	cases := []struct {
		in   []repr.Datum
		want []repr.Datum
	}{
		{ints(2, 4), ints(12, 2)},
		{ints(1, 100), nil},                               // fails a > 1
		{ints(2, 3), nil},                                 // d = 10, fails d > 10
		{[]repr.Datum{repr.Null, repr.Int4Datum(1)}, nil}, // NULL predicate drops
	}
	for _, c := range cases {
		got, err := applyRow(t, &m, c.in)
		if err != nil {
			t.Fatalf("%v: %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%v: got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestMFPErrorsAndEarlyFilter(t *testing.T) {
	// The expression 1 / b errors when b = 0, but the earlier filter on a
	// drops the row before the expression is evaluated.
	m := MapFilterProject{
		InputArity:  2,
		Expressions: []Scalar{op(t, "/", i4(1), col(1))},
		Predicates:  []Predicate{{Support: 1, Expr: op(t, ">", col(0), i4(0))}},
		Projection:  []int{2},
	}
	if got, err := applyRow(t, &m, ints(0, 0)); err != nil || got != nil {
		t.Fatalf("row filtered before the expression: got %v, %v", got, err)
	}
	_, err := applyRow(t, &m, ints(1, 0))
	if pgcode.Of(err) != pgcode.DivisionByZero {
		t.Fatalf("want division by zero, got %v", err)
	}
}

func TestMFPComposeOptimizeDemand(t *testing.T) {
	// First: (a, b, c) -> map a + b -> project (c, 3).
	first := MapFilterProject{
		InputArity:  3,
		Expressions: []Scalar{op(t, "+", col(0), col(1))},
		Projection:  []int{2, 3},
	}
	// Then: (x, y) -> filter y > 5 -> map x * 2 (unused) -> project (y).
	second := MapFilterProject{
		InputArity:  2,
		Expressions: []Scalar{op(t, "*", col(0), i4(2))},
		Predicates:  []Predicate{{Support: 2, Expr: op(t, ">", col(1), i4(5))}},
		Projection:  []int{1},
	}
	m := first.Compose(second)
	if got, want := m.String(), "mfp(in=3 map=[(#0 + #1), (#2 * 2)] filter=[(#3 > 5)@4] project=[3])"; got != want {
		t.Fatalf("compose:\n got %s\nwant %s", got, want)
	}
	if d := m.Demand(); !reflect.DeepEqual(d, []int{0, 1}) {
		t.Fatalf("demand before optimize: %v", d)
	}
	// InputPrefix counts every expression, needed or not.
	if n := first.InputPrefix(); n != 3 {
		t.Fatalf("first's input prefix %d, want 3", n)
	}
	if n := (&MapFilterProject{InputArity: 4, Projection: []int{1, 0}}).InputPrefix(); n != 2 {
		t.Fatalf("projection's input prefix %d, want 2", n)
	}
	if n := (&MapFilterProject{InputArity: 4, Expressions: []Scalar{op(t, "*", col(2), i4(2))}, Projection: []int{0}}).InputPrefix(); n != 3 {
		t.Fatalf("an unneeded expression's column: input prefix %d, want 3", n)
	}
	m.Optimize()
	if got, want := m.String(), "mfp(in=3 map=[(#0 + #1)] filter=[(#3 > 5)@4] project=[3])"; got != want {
		t.Fatalf("optimize:\n got %s\nwant %s", got, want)
	}
	for _, row := range [][]repr.Datum{ints(1, 2, 9), ints(3, 4, 9), ints(10, -10, 0)} {
		a, errA := applyRow(t, &first, row)
		var want []repr.Datum
		if errA == nil && a != nil {
			want, _ = applyRow(t, &second, a)
		}
		got, err := applyRow(t, &m, row)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: composed %v (%v), sequential %v", row, got, err, want)
		}
	}
}

func TestMFPOptimizeInlinesCopiesAndSortsPredicates(t *testing.T) {
	m := MapFilterProject{
		InputArity:  2,
		Expressions: []Scalar{col(1), op(t, "+", col(2), i4(1))},
		Predicates: []Predicate{
			{Support: 4, Expr: op(t, ">", col(3), i4(0))},
			{Support: 4, Expr: op(t, "<", col(2), i4(100))}, // reads the copy of #1
			{Support: 0, Expr: NewLiteral(repr.True, repr.TypeBool)},
		},
		Projection: []int{2, 3},
	}
	m.Optimize()
	// The copy expression is gone; (#1 + 1) is renumbered to #2.
	want := "mfp(in=2 map=[(#1 + 1)] filter=[(#1 < 100)@2, (#2 > 0)@3] project=[1, 2])"
	if got := m.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestMFPBuilders(t *testing.T) {
	m := Identity(2).Map(op(t, "+", col(0), col(1))).Filter(op(t, ">", col(2), i4(3))).Project(2, 0)
	got, err := applyRow(t, &m, ints(1, 5))
	if err != nil || !reflect.DeepEqual(got, ints(6, 1)) {
		t.Fatalf("got %v %v", got, err)
	}
	if got, _ := applyRow(t, &m, ints(1, 1)); got != nil {
		t.Fatalf("row should be filtered, got %v", got)
	}
	id := Identity(3)
	if !id.IsIdentity() || m.IsIdentity() {
		t.Fatal("IsIdentity")
	}
	types := m.OutputTypes([]repr.ColumnType{{Type: repr.TypeInt4}, {Type: repr.TypeInt4, Nullable: true}})
	if len(types) != 2 || !types[0].Nullable || types[1].Nullable {
		t.Fatalf("output types %v", types)
	}
}

// TestMFPComposeRandom checks Compose against applying two MFPs in
// sequence, and Optimize against the unoptimised MFP, on random MFPs and
// rows.
func TestMFPComposeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	randExpr := func(arity int) Scalar {
		a, b := col(rng.Intn(arity)), i4(int32(rng.Intn(7)-3))
		switch rng.Intn(3) {
		case 0:
			return op(t, "+", a, b)
		case 1:
			return op(t, "*", a, col(rng.Intn(arity)))
		}
		return op(t, "-", b, a)
	}
	randMFP := func(in int) MapFilterProject {
		m := MapFilterProject{InputArity: in}
		for i := rng.Intn(3); i > 0; i-- {
			m.Expressions = append(m.Expressions, randExpr(m.Arity()))
		}
		for i := rng.Intn(3); i > 0; i-- {
			p := op(t, ">", randExpr(m.Arity()), i4(int32(rng.Intn(5)-2)))
			m.Predicates = append(m.Predicates, Predicate{Support: MaxColumn(p) + 1, Expr: p})
		}
		for i := 1 + rng.Intn(3); i > 0; i-- {
			m.Projection = append(m.Projection, rng.Intn(m.Arity()))
		}
		return m
	}
	for iter := 0; iter < 300; iter++ {
		a := randMFP(1 + rng.Intn(3))
		b := randMFP(len(a.Projection))
		c := a.Compose(b)
		o := c
		o.Expressions = append([]Scalar(nil), c.Expressions...)
		o.Predicates = append([]Predicate(nil), c.Predicates...)
		o.Projection = append([]int(nil), c.Projection...)
		o.Optimize()
		for r := 0; r < 5; r++ {
			row := make([]repr.Datum, a.InputArity)
			for i := range row {
				row[i] = repr.Int4Datum(int32(rng.Intn(9) - 4))
			}
			var want []repr.Datum
			mid, err := applyRow(t, &a, row)
			if err == nil && mid != nil {
				want, _ = applyRow(t, &b, mid)
			}
			got, _ := applyRow(t, &c, row)
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("compose %s then %s = %s on %v: got %v want %v", a.String(), b.String(), c.String(), row, got, want)
			}
			gotO, _ := applyRow(t, &o, row)
			if !reflect.DeepEqual(gotO, got) && !(len(gotO) == 0 && len(got) == 0) {
				t.Fatalf("optimize %s -> %s on %v: got %v want %v", c.String(), o.String(), row, gotO, got)
			}
		}
	}
}

func TestMFPPermuteAfterDemand(t *testing.T) {
	// Reads only column 2 of 4: after projection pushdown the input is
	// just that column.
	m := Identity(4).Map(op(t, "*", col(2), i4(3))).Filter(op(t, ">", col(4), i4(5))).Project(4, 2)
	m.Optimize()
	demand := m.Demand()
	if !reflect.DeepEqual(demand, []int{2}) {
		t.Fatalf("demand %v", demand)
	}
	perm := []int{-1, -1, 0, -1}
	p := m.Permute(perm, len(demand))
	for _, v := range []int32{1, 2, 7} {
		want, _ := applyRow(t, &m, ints(9, 9, v, 9))
		got, err := applyRow(t, &p, ints(v))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("v=%d: permuted %s gives %v (%v), original %s gives %v", v, p.String(), got, err, m.String(), want)
		}
	}
}

func TestWalkHelpers(t *testing.T) {
	e := If{Cond: op(t, ">", col(3), col(1)), Then: op(t, "+", col(1), i4(1)), Else: MzNow{}}
	if got := Columns(e); !reflect.DeepEqual(got, []int{1, 3}) {
		t.Fatalf("Columns = %v", got)
	}
	if MaxColumn(e) != 3 || MaxColumn(i4(1)) != -1 {
		t.Fatal("MaxColumn")
	}
	shifted := MapColumns(e, func(c int) int { return c + 10 })
	if got := Columns(shifted); !reflect.DeepEqual(got, []int{11, 13}) {
		t.Fatalf("MapColumns: %s", shifted)
	}
	sub := SubstituteColumns(e, func(c int) Scalar {
		if c == 1 {
			return i4(5)
		}
		return nil
	})
	if got := sub.String(); got != "case when (#3 > 5) then (5 + 1) else mz_now() end" {
		t.Fatalf("SubstituteColumns: %s", got)
	}
	if !ContainsMzNow(e) || ContainsMzNow(sub.(If).Cond) {
		t.Fatal("ContainsMzNow")
	}
}
