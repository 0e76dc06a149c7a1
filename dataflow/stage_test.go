package dataflow

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestInputStage: staged updates take no part in steps until they are
// committed at a time, then land whole at that time; discarded ones never
// appear; the staged queue consolidates as it grows, so a transaction that
// rewrites the same rows many times holds its net effect.
func TestInputStage(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2)
	o := in.Collection().Materialize(0)
	step := func(at repr.Timestamp) {
		t.Helper()
		in.Advance(at)
		if err := g.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	read := func(at repr.Timestamp) coll {
		t.Helper()
		ok, _, err := o.Read(at)
		if err != nil {
			t.Fatal(err)
		}
		return fromRows(ok)
	}
	if err := in.Send(repr.Update{Row: irow(0, 0), Time: 1, Diff: 1}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	want := coll{}
	want.add(irow(0, 0), 1)
	// A churning transaction: 64 keys, each rewritten many times; every
	// rewrite retracts the previous value. Far more updates than the
	// consolidation threshold.
	cur := map[int64]int64{}
	n := 0
	for n = 0; n < 400_000; n++ {
		if n%1000 == 0 {
			in.StageReserve(2000, 2000*len(irow(1, 1)))
		}
		k := r.Int64N(64) + 1
		if v, ok := cur[k]; ok {
			in.Stage(irow(k, v), -1)
		}
		v := r.Int64N(1 << 40)
		in.Stage(irow(k, v), 1)
		cur[k] = v
	}
	for k, v := range cur {
		want.add(irow(k, v), 1)
	}
	if got := in.StagedLen(); got > 4*len(cur)+stageConsolidateMin/16 {
		t.Fatalf("staged queue holds %d updates after %d changes of %d rows: not consolidated", got, n, len(cur))
	}
	// Steps before the commit see none of it.
	step(1)
	step(2)
	if d := diffColls(coll{string(irow(0, 0)): 1}, read(2)); d != "" {
		t.Fatalf("staged updates visible before the commit: %s", d)
	}
	if err := in.CommitStaged(3); err != nil {
		t.Fatal(err)
	}
	if err := in.CommitStaged(1); err != nil {
		t.Fatalf("an empty commit failed: %v", err)
	}
	step(3)
	if d := diffColls(coll{string(irow(0, 0)): 1}, read(2)); d != "" {
		t.Fatalf("as of 2: %s", d)
	}
	if d := diffColls(want, read(3)); d != "" {
		t.Fatalf("as of 3: %s", d)
	}
	// Discarded updates never appear; a commit before the upper fails.
	in.Stage(irow(99, 99), 1)
	in.DiscardStaged()
	if err := in.CommitStaged(4); err != nil {
		t.Fatal(err)
	}
	step(4)
	if d := diffColls(want, read(4)); d != "" {
		t.Fatalf("discarded update visible: %s", d)
	}
	in.Stage(irow(98, 98), 1)
	if err := in.CommitStaged(2); err == nil {
		t.Fatal("a commit before the upper was accepted")
	}
	// Committed beside updates sent for the same step.
	if err := in.Send(repr.Update{Row: irow(97, 97), Time: 5, Diff: 1}); err != nil {
		t.Fatal(err)
	}
	if err := in.CommitStaged(5); err != nil {
		t.Fatal(err)
	}
	step(5)
	want.add(irow(97, 97), 1)
	want.add(irow(98, 98), 1)
	if d := diffColls(want, read(5)); d != "" {
		t.Fatalf("as of 5: %s", d)
	}
}
