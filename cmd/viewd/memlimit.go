package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// The Go runtime's soft memory limit (--memory-limit). Without one the
// collector lets the heap grow to twice what the last collection found
// live before it runs again, so a server holding several GB of state
// (arrangements, append logs, reduce and TopK state) needs about twice
// that in RAM, plus the transient of a merge or a large step: a Nexmark
// q9 at 1M events had a live heap of ~585 MB and a peak RSS of 1.4 GB. A
// soft limit makes the collector run more often as the heap nears it
// (spending at most about half the CPU on it), so the same state fits in
// less memory; it does not fail allocations, so past it the server goes
// on, collecting hard (the per-query and per-dataflow limits,
// --max-query-memory and --max-dataflow-memory, are what fail work).

// defaultMemoryShare is the share of the machine's (or the cgroup's)
// memory the limit defaults to: the rest is for the kernel's page cache
// (the data directory's files), memory outside the Go heap (the
// PostgreSQL parser's C allocations) and other processes.
const defaultMemoryShare = 0.75

// memoryLimit resolves --memory-limit: "off" (or "0") for none; empty for
// the default, which leaves a GOMEMLIMIT from the environment in force
// and is otherwise defaultMemoryShare of avail (0: unknown, no limit).
// It returns the limit in bytes, math.MaxInt64 for none, and whether it
// should be set (false: the environment's stays).
func memoryLimit(flag, env string, avail int64) (int64, bool, error) {
	switch f := strings.ToLower(strings.TrimSpace(flag)); {
	case f == "off" || f == "0":
		return math.MaxInt64, true, nil
	case f != "":
		n, err := parseSize(f)
		if err != nil {
			return 0, false, fmt.Errorf("--memory-limit: %w", err)
		}
		return n, true, nil
	case env != "":
		return 0, false, nil
	case avail <= 0:
		return math.MaxInt64, true, nil
	}
	return int64(float64(avail) * defaultMemoryShare), true, nil
}

// availableMemory is the machine's memory, or the memory limit of the
// cgroup viewd runs in when that is smaller (a container); 0 when neither
// can be read.
func availableMemory() int64 {
	var total int64
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		total = int64(si.Totalram) * int64(si.Unit)
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// applyMemoryLimit sets the runtime's soft memory limit from the flag and
// returns the limit in force (math.MaxInt64: none).
func applyMemoryLimit(flag string) (int64, error) {
	n, set, err := memoryLimit(flag, os.Getenv("GOMEMLIMIT"), availableMemory())
	if err != nil {
		return 0, err
	}
	if set {
		debug.SetMemoryLimit(n)
	}
	return debug.SetMemoryLimit(-1), nil
}
