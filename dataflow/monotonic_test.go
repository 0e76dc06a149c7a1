package dataflow

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TestMonotonicStateBounded: over an append-only input, MonotonicTopK
// keeps offset+limit rows per group and MonotonicReduce one min and one
// max value per group, however many rows arrive; the results are those of
// the whole input.
func TestMonotonicStateBounded(t *testing.T) {
	g := NewGraph(Options{Workers: 2, ParallelMin: 8})
	in := g.NewInput("in", 2)
	order := []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}
	top, err := in.Collection().MonotonicTopK([]int{0}, order, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	red, err := in.Collection().MonotonicReduce([]expr.Scalar{col(0)}, []expr.Aggregate{
		{Func: expr.AggMin, Expr: col(1), Typ: typ8}, {Func: expr.AggMax, Expr: col(1), Typ: typ8}, {Func: expr.AggCountStar, Typ: typ8}})
	if err != nil {
		t.Fatal(err)
	}
	topOut, redOut := top.Materialize(0), red.Materialize(0)
	const groups, perStep, steps = 5, 200, 10
	ts := repr.Timestamp(0)
	for s := range steps {
		ts++
		var ups []repr.Update
		for i := range perStep {
			v := int64((s*perStep + i) * 7919 % 100003)
			ups = append(ups, repr.Update{Row: irow(int64(i%groups), v), Time: ts, Diff: 1})
		}
		if err := in.Send(ups...); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(t.Context(), ts); err != nil {
			t.Fatal(err)
		}
	}
	// The naive answers over every row sent.
	all := coll{}
	for s := range steps {
		for i := range perStep {
			all.add(irow(int64(i%groups), int64((s*perStep+i)*7919%100003)), 1)
		}
	}
	ok, errs, err := topOut.Read(ts)
	if err != nil || errs.Len() > 0 {
		t.Fatalf("topk read: %v %v", err, errs.Len())
	}
	if d := diffColls(naiveTopK(all, []int{0}, order, 2, 1), fromRows(ok)); d != "" {
		t.Fatalf("topk differs:\n%s", d)
	}
	if ok, errs, err = redOut.Read(ts); err != nil || errs.Len() > 0 || ok.Len() != groups {
		t.Fatalf("reduce read: %v, %d errors, %d rows", err, errs.Len(), ok.Len())
	}
	for i := range ok.Len() {
		ds := ok.Row(i).Unpack(nil)
		k := ds[0].Int()
		mn, mx := int64(1<<62), int64(-1<<62)
		for r := range all {
			v := ints(r)
			if v[0] == k {
				mn, mx = min(mn, v[1]), max(mx, v[1])
			}
		}
		if ds[1].Int() != mn || ds[2].Int() != mx || ds[3].Int() != steps*perStep/groups {
			t.Fatalf("group %d: %v, want min %d max %d", k, ds, mn, mx)
		}
	}
	for _, op := range g.ops {
		switch op := op.(type) {
		case *topkOp:
			for _, s := range op.shards {
				for slot := range s.groups.keys.all() {
					if ms := s.groups.at(slot); ms.len() > 3 {
						t.Errorf("topk group %q keeps %d rows, want at most offset+limit = 3", s.groups.keys.key(slot), ms.len())
					}
				}
			}
		case *reduceOp:
			for si := range op.shards {
				s := &op.shards[si]
				for slot := range s.groups.all() {
					for i := range op.aggs {
						acc := op.accOf(s, slot, i)
						if acc == nil {
							continue // a plain count
						}
						if ms := s.msOf(acc); ms != nil && ms.len() > 1 {
							t.Errorf("reduce group %q aggregate %d keeps %d values, want 1", s.groups.key(slot), i, ms.len())
						}
					}
				}
			}
		}
	}
}

// TestMonotonicRetractionIsAnError: a retraction reaching a monotonic
// operator (a planning bug) shows as an internal error on its err stream,
// not as a silently wrong answer or a panic.
func TestMonotonicRetractionIsAnError(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("in", 2)
	top, _ := in.Collection().MonotonicTopK([]int{0}, []ColumnOrder{{Column: 1}}, 1, 0)
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	red, _ := in.Collection().MonotonicReduce([]expr.Scalar{col(0)}, []expr.Aggregate{{Func: expr.AggMax, Expr: col(1), Typ: typ8}})
	outs := []*Output{top.Materialize(0), red.Materialize(0)}
	if err := in.Send(repr.Update{Row: irow(1, 5), Time: 1, Diff: 1}); err != nil {
		t.Fatal(err)
	}
	if err := g.Step(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if err := in.Send(repr.Update{Row: irow(1, 5), Time: 2, Diff: -1}); err != nil {
		t.Fatal(err)
	}
	if err := g.Step(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	for i, out := range outs {
		_, errs, err := out.Read(2)
		if err != nil {
			t.Fatal(err)
		}
		if errs.Len() == 0 {
			t.Fatalf("output %d: no error after a retraction", i)
		}
		if e := DecodeErrRow(errs.Row(0)); e == nil || e.Code != pgcode.InternalError || !strings.Contains(e.Message, "append-only") {
			t.Fatalf("output %d: error %v", i, e)
		}
	}
}
