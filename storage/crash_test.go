package storage

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

const crashDirEnv = "VIEWD_STORAGE_CRASH_DIR"

// TestKill9 runs a writer in a child process, kills it with SIGKILL at a
// random moment, reopens its data directory and checks that every write
// the child saw acknowledged is there, again and again on the same
// directory. The child appends from several goroutines (so flushes are
// shared) and compacts now and then, so the kill lands in appends, in
// flushes, in log growth and in compactions. The page cache survives the
// kill, as it does a real kill -9 of viewd; TestTornTail and
// TestStaleRecordAfterTornOne cover what only a power loss can leave.
func TestKill9(t *testing.T) {
	if testing.Short() {
		// CI runs it (no -short); it takes a few seconds.
		t.Skip("skipping in -short mode: starts and kills a child process six times")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// id -> whether it must be present. An id whose insert was seen but
	// whose delete (every fifth id) was not may be either: the delete
	// may have been durable when the kill came.
	acked := map[int64]bool{}
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, "VIEWD_STORAGE_CRASH_BASE="+strconv.Itoa(round*1_000_000))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		lines := 0
		started := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return // a line cut by the kill was not seen
				}
				line = strings.TrimSpace(line)
				if len(line) < 2 || (line[0] != '+' && line[0] != '-') {
					continue
				}
				id, err := strconv.ParseInt(line[1:], 10, 64)
				if err != nil {
					continue
				}
				mu.Lock()
				acked[id] = line[0] == '+'
				lines++
				if lines == 1 {
					close(started)
				}
				mu.Unlock()
			}
		}()
		select {
		case <-started:
		case <-done:
			cmd.Wait()
			t.Fatalf("round %d: child exited before writing", round)
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: child wrote nothing", round)
		}
		time.Sleep(time.Duration(20+rng.Intn(400)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-done
		cmd.Wait()

		s, st, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		present := map[int64]repr.Diff{}
		for _, ups := range tableUpdates(t, st) {
			for _, u := range ups {
				id, err := idOf(u.Row)
				if err != nil {
					t.Fatal(err)
				}
				present[id] += u.Diff
			}
		}
		for id, d := range present {
			// 0: inserted and deleted (in the snapshot and in the log).
			if d != 0 && d != 1 {
				t.Fatalf("round %d: id %d has multiplicity %d", round, id, d)
			}
		}
		for id, want := range acked {
			if want && id%5 != 0 && present[id] != 1 {
				t.Fatalf("round %d: acknowledged insert of %d lost", round, id)
			}
			if !want && present[id] != 0 {
				t.Fatalf("round %d: acknowledged delete of %d lost", round, id)
			}
		}
		t.Logf("round %d: %d acknowledged writes, %d rows, log %d bytes", round, lines, len(present), s.LogSize())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func idOf(r repr.Row) (int64, error) {
	v, err := strconv.ParseInt(strings.Trim(r.String(), "()"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("row %s: %w", r, err)
	}
	return v, nil
}

// TestCrashChild is TestKill9's child: it writes until it is killed.
// Every fifth id it inserts it deletes again. It prints "+id" or "-id"
// once the write is acknowledged. Its log grows in 16 KiB chunks.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		// Not a test of its own: the child process TestKill9 starts (with
		// the directory in crashDirEnv) and kills.
		t.Skip("run by TestKill9")
	}
	base, _ := strconv.ParseInt(os.Getenv("VIEWD_STORAGE_CRASH_BASE"), 10, 64)
	logChunk = 16 << 10 // so that the kill also lands while the log grows
	ctx := context.Background()
	s, st, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newModel()
	m.load(t, st)
	ts := st.Timestamp
	var tsMu sync.Mutex
	next := func() repr.Timestamp {
		tsMu.Lock()
		defer tsMu.Unlock()
		ts++
		return ts
	}
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "storage crash child:", err)
		os.Exit(1)
	}
	say := func(sign byte, id int64) {
		os.Stdout.Write(fmt.Appendf(nil, "%c%d\n", sign, id))
	}
	for w := int64(0); w < 4; w++ {
		go func() {
			for i := int64(0); ; i++ {
				id := base + i*4 + w
				up := TableUpdate{Table: uint64(id % 3), Row: row(id), Diff: 1}
				if err := m.write(ctx, s, next(), []TableUpdate{up}); err != nil {
					die(err)
				}
				say('+', id)
				if id%5 == 0 {
					up.Diff = -1
					if err := m.write(ctx, s, next(), []TableUpdate{up}); err != nil {
						die(err)
					}
					say('-', id)
				}
			}
		}()
	}
	for {
		time.Sleep(100 * time.Millisecond)
		if err := m.compact(s, st.Catalog); err != nil {
			die(err)
		}
	}
}
