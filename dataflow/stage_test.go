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

// packRows packs rows back to back as SendPacked takes them.
func packRows(diff repr.Diff, rows ...repr.Row) ([]byte, []uint32, []repr.Diff) {
	var data []byte
	var ends []uint32
	var diffs []repr.Diff
	for _, r := range rows {
		data = append(data, r...)
		ends = append(ends, uint32(len(data)))
		diffs = append(diffs, diff)
	}
	return data, ends, diffs
}

// TestInputSendPacked: packed updates land at their time like sent ones,
// whether the queue is empty (the slab becomes the queue) or not (they
// are appended), beside Send's; malformed slabs and times before the
// upper are refused.
func TestInputSendPacked(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2)
	o := in.Collection().Materialize(0)
	step := func(at repr.Timestamp) coll {
		t.Helper()
		in.Advance(at)
		if err := g.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
		ok, _, err := o.Read(at)
		if err != nil {
			t.Fatal(err)
		}
		return fromRows(ok)
	}
	want := coll{}
	// Into an empty queue, then a second slab and a sent update at the
	// same time, then a later time queued before the step.
	data, ends, diffs := packRows(1, irow(1, 1), irow(2, 2), irow(1, 1))
	if err := in.SendPacked(data, ends, diffs, 1); err != nil {
		t.Fatal(err)
	}
	data, ends, diffs = packRows(1, irow(3, 3))
	if err := in.SendPacked(data, ends, diffs, 1); err != nil {
		t.Fatal(err)
	}
	if err := in.Send(repr.Update{Row: irow(4, 4), Time: 1, Diff: 1}); err != nil {
		t.Fatal(err)
	}
	data, ends, diffs = packRows(-1, irow(2, 2))
	if err := in.SendPacked(data, ends, diffs, 2); err != nil {
		t.Fatal(err)
	}
	want.add(irow(1, 1), 2)
	want.add(irow(2, 2), 1)
	want.add(irow(3, 3), 1)
	want.add(irow(4, 4), 1)
	if d := diffColls(want, step(1)); d != "" {
		t.Fatalf("as of 1: %s", d)
	}
	want.add(irow(2, 2), -1)
	if d := diffColls(want, step(2)); d != "" {
		t.Fatalf("as of 2: %s", d)
	}
	// Refused: a time before the upper, ends that do not match the slab.
	data, ends, diffs = packRows(1, irow(5, 5), irow(6, 6), irow(7, 7))
	if err := in.SendPacked(data, ends, diffs, 1); err == nil {
		t.Fatal("packed updates before the upper were accepted")
	}
	if err := in.SendPacked(data[:len(data)-1], ends, diffs, 3); err == nil {
		t.Fatal("ends past the slab were accepted")
	}
	if err := in.SendPacked(data, []uint32{ends[1], ends[0], ends[2]}, diffs, 3); err == nil {
		t.Fatal("ends not ascending were accepted")
	}
	if err := in.SendPacked(data, ends, diffs[:1], 3); err == nil {
		t.Fatal("fewer diffs than rows were accepted")
	}
	if d := diffColls(want, step(3)); d != "" {
		t.Fatalf("as of 3 (after refused sends): %s", d)
	}
}
