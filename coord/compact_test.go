package coord

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// syncBuffer is a log sink safe for the coordinator's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitCompacted waits (up to 10 s) until the tick loop has compacted all
// the log held: a compaction ran, none is running, and the log is empty.
func waitCompacted(t testing.TB, c *Coordinator) {
	t.Helper()
	waitFor(t, 10*time.Second, "the log to be compacted", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.compactions > 0 && !c.compacting && c.store.LogSize() == 0
	})
}

// TestSnapshotFilesRestart: tables of every arrangement (a primary key of
// one and of two columns, no primary key with duplicate rows, a UNIQUE
// column besides the key) and a view over them are compacted into table
// files; two restarts in a row (the second after the restarted server
// compacted again) give the same answers, load every file into its
// arrangement without sorting (no warning), and still enforce the keys.
func TestSnapshotFilesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE p (id int PRIMARY KEY, v text)",
		"CREATE TABLE p2 (a int, b text, n int, PRIMARY KEY (b, a))",
		"CREATE TABLE n (a int, b int)",
		"CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE)",
		"INSERT INTO p SELECT g, 'v' || (g % 7) FROM generate_series(1, 3000) g",
		"INSERT INTO p2 SELECT g % 10, 'k' || (g % 13), g FROM generate_series(1, 130) g",
		"INSERT INTO n VALUES (1, 1), (1, 1), (2, 2), (NULL, 3)",
		"INSERT INTO u VALUES (1, 'a@x'), (2, 'b@x'), (3, NULL)",
		"UPDATE p SET v = 'changed' WHERE id % 100 = 0",
		"DELETE FROM p WHERE id > 2900",
		"DELETE FROM n WHERE a = 2",
		"CREATE MATERIALIZED VIEW pv AS SELECT v, count(*) AS c FROM p GROUP BY v",
	)
	queries := []string{"SELECT * FROM p", "SELECT * FROM p2", "SELECT * FROM n", "SELECT * FROM u", "SELECT * FROM pv"}
	var want [][]string
	for _, q := range queries {
		want = append(want, s.query(q))
	}
	waitCompacted(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "snap.*.arrow"))
	if len(files) != 4 {
		t.Fatalf("table files: %v", files)
	}
	for round := range 2 {
		var logs syncBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c := openTest(t, cfg)
		s := newTestSession(t, c)
		for i, q := range queries {
			if got := s.query(q); !slices.Equal(got, want[i]) {
				t.Fatalf("round %d: %s:\n got %v\nwant %v", round, q, got, want[i])
			}
		}
		if l := logs.String(); l != "" {
			t.Fatalf("round %d: warnings while loading: %s", round, l)
		}
		for _, q := range []string{"INSERT INTO p VALUES (5, 'dup')", "INSERT INTO p2 VALUES (1, 'k1', 0)", "INSERT INTO u VALUES (9, 'b@x')"} {
			if _, _, err := s.run(context.Background(), q); errCode(err) != string(pgcode.UniqueViolation) {
				t.Fatalf("round %d: %s after restart: %v", round, q, err)
			}
		}
		// A write, then (CompactLogBytes: 1) a compaction by the
		// restarted server, then undo it so that the answers stay.
		s.exec("INSERT INTO n VALUES (7, 7)", "DELETE FROM n WHERE a = 7")
		waitCompacted(t, c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactionWaitsForSnapshotSize: with the default snapshot ratio a
// log is not compacted before it has grown to the live snapshot's size, so
// a table that keeps growing is not rewritten whole at every few
// megabytes of log; past that size it is compacted, and the answers stay.
func TestCompactionWaitsForSnapshotSize(t *testing.T) {
	c := openTest(t, Config{DataDir: t.TempDir(), CompactLogBytes: 1})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE g (id int PRIMARY KEY, pad text)",
		"INSERT INTO g SELECT n, repeat('x', 100) FROM generate_series(1, 20000) n")
	waitCompacted(t, c)
	state := func() (compactions int, logSize, snapSize int64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.compactions, c.store.LogSize(), c.store.SnapshotSize()
	}
	first, _, snap := state()
	if snap < 20000*100 {
		t.Fatalf("snapshot of 20000 rows of 100 bytes is %d bytes", snap)
	}
	// Small writes: the log stays far below the snapshot's size, and
	// several ticks pass without a compaction.
	for i := range 20 {
		s.exec(fmt.Sprintf("INSERT INTO g VALUES (%d, 'y')", 100000+i))
	}
	time.Sleep(100 * time.Millisecond)
	if n, logSize, _ := state(); n != first || logSize == 0 {
		t.Fatalf("compactions %d -> %d with a log of %d bytes under a snapshot of %d", first, n, logSize, snap)
	}
	// A write that takes the log past the snapshot's size compacts it.
	s.exec("INSERT INTO g SELECT n, repeat('z', 100) FROM generate_series(200001, 230000) n")
	waitFor(t, 10*time.Second, "a compaction past the snapshot's size", func() bool {
		n, logSize, _ := state()
		return n > first && logSize == 0
	})
	if got := s.query("SELECT count(*), sum(length(pad)) FROM g"); !slices.Equal(got, []string{"50020 5000020"}) {
		t.Fatalf("after compaction: %v", got)
	}
}

// TestSnapshotFileDamaged: a damaged table file stops the server's start
// with an error naming the file, and the server does not come up with the
// table's rows missing.
func TestSnapshotFileDamaged(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec("CREATE TABLE p (id int PRIMARY KEY, v text)", "INSERT INTO p SELECT g, 'v' FROM generate_series(1, 100) g")
	waitCompacted(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "snap.*.arrow"))
	if len(files) != 1 {
		t.Fatalf("table files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 2
	c2, err := Open(context.Background(), cfg)
	if err == nil {
		c2.Close()
		t.Fatal("Open succeeded on a damaged table file")
	}
	if !strings.Contains(err.Error(), filepath.Base(files[0])) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("error does not say which file is damaged: %v", err)
	}
}

// TestSnapshotJSONBKeyFormat1: a table file written before jsonb and array
// keys were canonical, or (format 2) before intervals inside array keys
// were in span form (ARRAY['24 hours'] kept apart from ARRAY['1 day']), (key format 1: a jsonb primary key packed as its
// text, '1.0' and '[2.50]' kept; an array as its elements print,
// ARRAY[1.50]) is arranged again on load, so that its keys meet the
// canonical keys writes look up: '1' collides with the stored '1.0', an
// UPDATE or DELETE by an equal jsonb finds its row. The file is written as
// such a coordinator wrote it: keys of the raw jsonb packing and no
// viewd.key_format entry. A table without a jsonb key is loaded straight
// into its arrangement. The restarted server's own compaction writes format
// 3, which the next restart loads straight too.
func TestSnapshotJSONBKeyFormat1(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE jk (k jsonb PRIMARY KEY, v int)",
		"CREATE TABLE ik (id int PRIMARY KEY, v int)",
		"CREATE TABLE ak (k numeric[] PRIMARY KEY, v int)",
		"INSERT INTO ak VALUES (ARRAY[1.50, 2], 1), (ARRAY[3], 2)",
		"CREATE TABLE vk (k interval[] PRIMARY KEY, v int)",
		"INSERT INTO vk VALUES (ARRAY['24 hours'::interval], 1), (ARRAY['1 mon'::interval], 2)",
		`INSERT INTO jk VALUES ('1.0', 1), ('[2.50, "x"]', 2), ('{"a": 3}', 3), ('"s"', 4), ('{"b": [0.10]}', 5)`,
		"INSERT INTO ik VALUES (1, 1), (2, 2)",
	)
	want := s.query("SELECT k, v FROM jk ORDER BY v")

	// Compact as a format-1 coordinator would have: jk's keys are the raw
	// packing of its jsonb column, sorted by those bytes.
	c.mu.Lock()
	var rows atomic.Int64
	tables, release := c.snapshotTablesLocked(&rows)
	defer release(false)
	rekeyed := 0
	for i, tb := range tables {
		name := tb.Metadata[metaName]
		if !strings.HasSuffix(name, ".jk") && !strings.HasSuffix(name, ".ak") && !strings.HasSuffix(name, ".vk") {
			continue
		}
		meta := maps.Clone(tb.Metadata)
		delete(meta, metaKeyFormat)
		if strings.HasSuffix(name, ".vk") {
			// Format 2 packed an interval element as its fields.
			meta[metaKeyFormat] = "2"
		}
		tables[i].Metadata = meta
		scan := tb.Scan
		tables[i].Scan = func(emit func(key, row repr.Row, d repr.Diff) error) error {
			type update struct {
				key, row repr.Row
				d        repr.Diff
			}
			var ups []update
			err := scan(func(key, row repr.Row, d repr.Diff) error {
				old := repr.PackRow(row.Get(0))
				if !bytes.Equal(old, key) {
					rekeyed++
				}
				ups = append(ups, update{old, row.Clone(), d})
				return nil
			})
			if err != nil {
				return err
			}
			slices.SortFunc(ups, func(a, b update) int {
				if c := bytes.Compare(a.key, b.key); c != 0 {
					return c
				}
				return bytes.Compare(a.row, b.row)
			})
			for _, u := range ups {
				if err := emit(u.key, u.row, u.d); err != nil {
					return err
				}
			}
			return nil
		}
	}
	err := c.store.Compact(c.catalogRecs, tables)
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if rekeyed != 5 {
		t.Fatalf("%d keys of formats 1 and 2 differ from format 3's, want 5 ('1.0', '[2.50, \"x\"]', '{\"b\": [0.10]}', ARRAY[1.50, 2], ARRAY['24 hours'])", rekeyed)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		var logs syncBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		cfg.CompactLogBytes, cfg.CompactSnapshotRatio = 1, -1
		c := openTest(t, cfg)
		s := newTestSession(t, c)
		rearranged := strings.Count(logs.String(), "predate the current key format")
		if wantN := 3 * (1 - round); rearranged != wantN || strings.Contains(logs.String(), "not arranged as its table is") {
			t.Fatalf("round %d: %d tables arranged again for their key format, want %d; log:\n%s", round, rearranged, wantN, logs.String())
		}
		if got := s.query("SELECT k, v FROM jk ORDER BY v"); !slices.Equal(got, want) {
			t.Fatalf("round %d: got %v, want %v", round, got, want)
		}
		for _, q := range []string{"INSERT INTO jk VALUES ('1', 9)", `INSERT INTO jk VALUES ('[2.5, "x"]', 9)`, "INSERT INTO ik VALUES (2, 9)", "INSERT INTO ak VALUES (ARRAY[1.5, 2.000], 9)", "INSERT INTO vk VALUES (ARRAY['1 day'::interval], 9)", "INSERT INTO vk VALUES (ARRAY['30 days'::interval], 9)"} {
			if _, _, err := s.run(context.Background(), q); errCode(err) != string(pgcode.UniqueViolation) {
				t.Fatalf("round %d: %s after restart: %v", round, q, err)
			}
		}
		s.exec(`UPDATE jk SET v = v + 10 WHERE k = '{"b": [0.1]}'`, "DELETE FROM jk WHERE k = '1.00'")
		if got, wantRows := s.query("SELECT v FROM jk"), []string{"15", "2", "3", "4"}; !slices.Equal(got, wantRows) {
			t.Fatalf("round %d: after an update and a delete by equal keys: %v, want %v", round, got, wantRows)
		}
		// Undo, so that the next round sees the same rows; the restarted
		// server then compacts (CompactLogBytes: 1) in format 2.
		s.exec(`UPDATE jk SET v = v - 10 WHERE k = '{"b": [0.1]}'`, "INSERT INTO jk VALUES ('1.0', 1)")
		waitCompacted(t, c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactionInBackground: a compaction writes its snapshot on its own
// goroutine from arrangements held as of its start. While it waits in its
// scan, writes commit, reads answer and history is compacted past its
// time (a retention of 1 ms); when it finishes, the next compaction takes
// what was logged meanwhile, and a restart holds every write.
func TestCompactionInBackground(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1, RetainHistory: time.Millisecond}
	c := openTest(t, cfg)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(point string) {
		if point == "compact-scan" {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	}
	c.testHook.Store(&hook)
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE p (id int PRIMARY KEY, v text)",
		"CREATE TABLE n (a int)",
		"INSERT INTO p SELECT g, 'a' FROM generate_series(1, 2000) g",
		"INSERT INTO n SELECT g % 10 FROM generate_series(1, 1000) g",
	)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no compaction began")
	}
	began := s.query("SELECT count(*) FROM p")
	s.exec(
		"UPDATE p SET v = 'b' WHERE id % 2 = 0",
		"DELETE FROM p WHERE id > 1900",
		"INSERT INTO p VALUES (5000, 'c')",
		"INSERT INTO n VALUES (42)",
		"DELETE FROM n WHERE a = 3",
	)
	queries := []string{"SELECT * FROM p", "SELECT * FROM n", "SELECT v, count(*) FROM p GROUP BY v"}
	var want [][]string
	for _, q := range queries {
		want = append(want, s.query(q))
	}
	c.mu.Lock()
	compacting, done := c.compacting, c.compactions
	c.mu.Unlock()
	if !compacting || done != 0 {
		t.Fatalf("while the compaction waits: compacting %v, %d done (the first read gave %v)", compacting, done, began)
	}
	close(release)
	waitCompacted(t, c)
	c.testHook.Store(nil)
	c.mu.Lock()
	failures := c.compactFailures
	c.mu.Unlock()
	if failures != 0 {
		t.Fatalf("%d compactions failed", failures)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openTest(t, cfg)
	s = newTestSession(t, c)
	for i, q := range queries {
		if got := s.query(q); !slices.Equal(got, want[i]) {
			t.Fatalf("after restart: %s:\n got %v\nwant %v", q, got, want[i])
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
