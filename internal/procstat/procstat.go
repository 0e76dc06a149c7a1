// Package procstat reads what the benchmark commands measure of a process
// and of the machine from Linux's /proc: CPU time, resident memory and its
// peak, the load average, the CPU model and memory. It imports nothing of
// viewd.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// TicksPerSecond is the unit of CPUTicks (USER_HZ, 100 on Linux).
const TicksPerSecond = 100

// CPUTicks returns a process's user+system CPU time in clock ticks
// (1/TicksPerSecond s) from /proc/PID/stat.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("procstat: reading CPU time: %w", err)
	}
	// The command name is in parentheses and may hold spaces; fields
	// after it start with the state (field 3): utime and stime are
	// fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: malformed /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("procstat: parsing /proc/%d/stat: %w", pid, err)
	}
	return u + s, nil
}

// RSS returns a process's resident memory (VmRSS) in bytes.
func RSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS:") }

// PeakRSS returns a process's peak resident memory (VmHWM) in bytes since
// it started or since the last ResetPeakRSS.
func PeakRSS(pid int) (int64, error) { return statusBytes(pid, "VmHWM:") }

// ResetPeakRSS sets a process's peak resident memory to its current RSS
// (writing 5 to /proc/PID/clear_refs; Linux 4.0 and later), so that a
// long-lived server's peak can be measured per task.
func ResetPeakRSS(pid int) error {
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("procstat: resetting the peak RSS: %w", err)
	}
	return nil
}

// statusBytes reads a kB field of /proc/PID/status.
func statusBytes(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("procstat: reading %s: %w", field, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			return kB(rest)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("procstat: reading %s: %w", field, err)
	}
	return 0, fmt.Errorf("procstat: no %s in /proc/%d/status", field, pid)
}

// kB parses " 1234 kB" into bytes.
func kB(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "kB")), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("procstat: parsing %q: %w", s, err)
	}
	return v * 1024, nil
}

// Machine describes the host at one moment.
type Machine struct {
	CPUs    int
	Model   string // CPU model name, or ""
	Memory  int64  // MemTotal, bytes
	Avail   int64  // MemAvailable, bytes
	LoadAvg string // the 1, 5 and 15 minute load averages
}

// ReadMachine reads the host's description; fields it cannot read stay
// zero.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				m.Memory, _ = kB(rest)
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				m.Avail, _ = kB(rest)
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}
