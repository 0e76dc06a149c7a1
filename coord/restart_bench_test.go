package coord

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRestart measures a restart through a snapshot: the data
// directory holds a table t(id int primary key, k int, v text) of
// VIEWD_RESTART_ROWS rows (default 1,000,000; v 32 characters, k = id %
// 1000) and the materialized view tv grouped by k, with an index, all
// compacted into a snapshot (the log is empty). Each iteration opens the
// coordinator and reads tv until it is right, then closes it. It reports
// s/restart (wall clock), cpu-s/restart (the process's CPU time, steadier
// on a shared machine) and the size of the data directory's snapshot
// files.
func BenchmarkRestart(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("VIEWD_RESTART_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("VIEWD_RESTART_ROWS=%q: want a number of at least 1000", v)
		}
		rows = n
	}
	dir := b.TempDir()
	setup := openTest(b, Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1, Logger: benchLogger()})
	s := newTestSession(b, setup)
	s.exec("CREATE TABLE t (id int PRIMARY KEY, k int, v text)")
	const chunk = 100_000
	for lo := 1; lo <= rows; lo += chunk {
		hi := min(lo+chunk-1, rows)
		s.exec(fmt.Sprintf("INSERT INTO t SELECT g, g %% 1000, md5(g::text) FROM generate_series(%d, %d) g", lo, hi))
	}
	s.exec(
		"CREATE MATERIALIZED VIEW tv AS SELECT k, count(*) AS n, sum(id) AS s FROM t GROUP BY k",
		"CREATE INDEX ON tv (k)",
	)
	want := s.query("SELECT count(*), sum(n) FROM tv")
	waitCompacted(b, setup)
	if err := setup.Close(); err != nil {
		b.Fatal(err)
	}
	size := snapshotBytes(b, dir)
	var total, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		start, cpu0 := time.Now(), cpuTime(b)
		c := openTest(b, Config{DataDir: dir, Logger: benchLogger()})
		s := newTestSession(b, c)
		got := s.query("SELECT count(*), sum(n) FROM tv")
		elapsed := time.Since(start)
		cpu += cpuTime(b) - cpu0
		if fmt.Sprint(got) != fmt.Sprint(want) {
			b.Fatalf("after restart: %v, want %v", got, want)
		}
		b.StopTimer()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		total += elapsed
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/restart")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/restart")
	b.ReportMetric(float64(size), "snapshot-bytes")
}

// cpuTime returns the process's user and system CPU time: on a shared
// machine it varies less with other tenants' load than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// snapshotBytes returns the size of the snapshot files in dir (everything
// but the lock file and the logs).
func snapshotBytes(b *testing.B, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		name := e.Name()
		if name == "LOCK" || strings.HasPrefix(name, "log.") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// benchLogger logs to stderr when VIEWD_BENCH_LOG is set (to see where a
// restart's time goes), else nowhere.
func benchLogger() *slog.Logger {
	if os.Getenv("VIEWD_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
