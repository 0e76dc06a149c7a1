package storage

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestSourceChunks: a source transaction appended in chunks counts only
// once its commit (the source's next source write) is durable; chunks
// left without a commit (a crash) or aborted are dropped and never
// adopted by a later commit; another source's commit does not commit
// them; Compact waits for the commit, and the committed chunks are in the
// digests it checks.
func TestSourceChunks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	ups := func(vals ...int64) []TableUpdate {
		var out []TableUpdate
		for _, v := range vals {
			out = append(out, TableUpdate{Table: 7, Row: row(v), Diff: 1})
		}
		return out
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	bind := func(src uint64, ts repr.Timestamp, pos string) []Binding {
		return []Binding{{Source: src, Time: ts, Positions: []byte(pos)}}
	}
	check := func(st State, want []int64, pos string) {
		t.Helper()
		got := contents(tableUpdates(t, st)[7])
		w := contents(ups(want...))
		if len(got) != len(w) {
			t.Fatalf("table holds %v, want %v", got, w)
		}
		for k, d := range w {
			if got[k] != d {
				t.Fatalf("table holds %v, want %v", got, w)
			}
		}
		if b := st.Bindings[3]; string(b.Positions) != pos {
			t.Fatalf("binding %q, want %q", b.Positions, pos)
		}
	}
	// Committed: the chunks and the commit's own updates.
	must(s.AppendSourceChunk(ctx, 3, ups(1, 2)))
	must(s.AppendSourceChunk(ctx, 3, ups(3)))
	if !s.PendingChunks() {
		t.Fatal("no pending chunks reported")
	}
	if err := s.Compact(nil, nil); !errors.Is(err, ErrChunksPending) {
		t.Fatalf("Compact with chunks pending: %v", err)
	}
	must(s.AppendSourceWrite(ctx, 5, ups(4), bind(3, 5, "p1")))
	if s.PendingChunks() {
		t.Fatal("chunks still pending after the commit")
	}
	// Left without a commit, as by a crash while applying; a chunk of
	// another source and that source's commit do not commit them.
	must(s.AppendSourceChunk(ctx, 3, ups(10, 11)))
	must(s.AppendSourceChunk(ctx, 4, []TableUpdate{{Table: 8, Row: row(1), Diff: 1}}))
	must(s.AppendSourceWrite(ctx, 6, nil, []Binding{{Source: 4, Time: 6, Positions: []byte("q")}}))
	must(s.Close())
	s, st := mustOpen(t, dir)
	check(st, []int64{1, 2, 3, 4}, "p1")
	if got := contents(tableUpdates(t, st)[8]); len(got) != 1 {
		t.Fatalf("source 4's committed chunk: %v", got)
	}
	// The next commit of the source holds only its own chunks.
	must(s.AppendSourceChunk(ctx, 3, ups(12)))
	must(s.AppendSourceWrite(ctx, 7, ups(13), bind(3, 7, "p2")))
	// An explicit abort.
	must(s.AppendSourceChunk(ctx, 3, ups(20)))
	must(s.AbortSourceChunks(ctx, 3))
	must(s.AppendSourceWrite(ctx, 8, ups(21), bind(3, 8, "p3")))
	must(s.Close())
	s, st = mustOpen(t, dir)
	check(st, []int64{1, 2, 3, 4, 12, 13, 21}, "p3")
	// Compact checks the caller's contents against digests that include
	// the committed chunks: a table without them is refused.
	table := func(vals ...int64) SnapshotTable {
		var rs []repr.Row
		for _, v := range vals {
			rs = append(rs, row(v))
		}
		slices.SortFunc(rs, func(a, b repr.Row) int { return bytes.Compare(a, b) })
		return rowsTable(7, rs...)
	}
	src4 := SnapshotTable{ID: 8, Scan: emitAll(nil, []repr.Row{row(1)}, []repr.Diff{1})}
	if err := s.Compact(nil, []SnapshotTable{table(1, 2, 3, 4, 13, 21), src4}); err == nil {
		t.Fatal("Compact accepted contents without a committed chunk")
	}
	must(s.Compact(nil, []SnapshotTable{table(1, 2, 3, 4, 12, 13, 21), src4}))
	must(s.Close())
	s, st = mustOpen(t, dir)
	defer s.Close()
	check(st, []int64{1, 2, 3, 4, 12, 13, 21}, "p3")
}
