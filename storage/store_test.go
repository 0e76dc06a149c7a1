package storage

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/viewd/viewd/repr"
)

func row(vals ...int64) repr.Row {
	ds := make([]repr.Datum, len(vals))
	for i, v := range vals {
		ds[i] = repr.Int8Datum(v)
	}
	return repr.PackRow(ds...)
}

func mustOpen(t *testing.T, dir string) (*Store, State) {
	t.Helper()
	s, st, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// contents renders a table's consolidated state as row -> diff.
func contents(ups []TableUpdate) map[string]repr.Diff {
	m := map[string]repr.Diff{}
	for _, u := range ups {
		m[u.Row.String()] += u.Diff
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, st := mustOpen(t, dir)
	if len(st.Catalog) != 0 || len(st.Tables) != 0 {
		t.Fatalf("fresh store not empty: %+v", st)
	}
	if err := s.AppendCatalog(ctx, []byte("create table t")); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTableWrite(ctx, 5, []TableUpdate{{1, row(1), 1}, {1, row(2), 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTableWrite(ctx, 7, []TableUpdate{{1, row(2), -1}, {1, row(1), -1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendBinding(ctx, Binding{Source: 9, Time: 8, Positions: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, st = mustOpen(t, dir)
	defer s.Close()
	if len(st.Catalog) != 1 || string(st.Catalog[0]) != "create table t" {
		t.Fatalf("catalog: %q", st.Catalog)
	}
	got := contents(st.Tables[1])
	if len(got) != 1 || got["(2)"] != 1 {
		t.Fatalf("table contents: %v", got)
	}
	if b := st.Bindings[9]; b.Time != 8 || string(b.Positions) != "p" {
		t.Fatalf("binding: %+v", b)
	}
	if st.Timestamp != 8 {
		t.Fatalf("timestamp: %d", st.Timestamp)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	defer s.Close()
	if _, _, err := Open(dir, nil); err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
}

// TestTornTail cuts the log at every byte offset and checks that the state
// on reopen is always a prefix of the acknowledged writes, never an error.
func TestTornTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	const n = 20
	for i := 0; i < n; i++ {
		if err := s.AppendTableWrite(ctx, repr.Timestamp(i+1), []TableUpdate{{1, row(int64(i)), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	full, err := os.ReadFile(filepath.Join(dir, "log.0"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut <= len(full); cut++ {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "log.0"), full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		s, st, err := Open(d, nil)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		got := contents(st.Tables[1])
		k := len(got)
		for i := 0; i < k; i++ {
			if got[fmt.Sprintf("(%d)", i)] != 1 {
				t.Fatalf("cut %d: state is not a prefix: %v", cut, got)
			}
		}
		if st.Timestamp != repr.Timestamp(k) {
			t.Fatalf("cut %d: timestamp %d for %d writes", cut, st.Timestamp, k)
		}
		// The store must accept appends after the cut and keep them.
		if err := s.AppendTableWrite(ctx, 100, []TableUpdate{{2, row(1), 1}}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, st, err = Open(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Tables[2]) != 1 || len(contents(st.Tables[1])) != k {
			t.Fatalf("cut %d: append after recovery lost", cut)
		}
		s.Close()
	}
}

// TestConcurrentAppendsAndCompaction runs concurrent writers with
// compactions between them and checks the final state against a model.
func TestConcurrentAppendsAndCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := s.AppendTableWrite(ctx, repr.Timestamp(i), []TableUpdate{{uint64(w), row(int64(i)), 1}}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 9 {
					if err := s.AppendTableWrite(ctx, repr.Timestamp(i), []TableUpdate{{uint64(w), row(int64(i)), -1}}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		if err := s.Compact([][]byte{[]byte("c")}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	defer s.Close()
	for w := 0; w < writers; w++ {
		got := contents(st.Tables[uint64(w)])
		if len(got) != each-each/10 {
			t.Fatalf("writer %d: %d rows, want %d", w, len(got), each-each/10)
		}
	}
	if len(st.Catalog) != 1 {
		t.Fatalf("catalog after compaction: %q", st.Catalog)
	}
}

func TestCompactionInterrupted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 30; i++ {
		if err := s.AppendTableWrite(ctx, repr.Timestamp(i), []TableUpdate{{1, row(int64(rng.Intn(5))), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Simulate a crash after the snapshot rename but before the old log
	// was removed: put a stale log.0 back. It must be ignored.
	if err := os.WriteFile(filepath.Join(dir, "log.0"), frame(nil, RecTableWrite, encodeTableWrite(1, []TableUpdate{{1, row(99), 1}})), 0o644); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	defer s.Close()
	total := repr.Diff(0)
	for _, u := range st.Tables[1] {
		total += u.Diff
		if u.Row.String() == "(99)" {
			t.Fatal("stale log replayed after compaction")
		}
	}
	if total != 30 {
		t.Fatalf("total multiplicity %d, want 30", total)
	}
}
