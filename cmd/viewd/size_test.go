package main

import (
	"math"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "512MB": 512 << 20, "2GB": 2 << 30, "1.5GiB": 3 << 29, "4096": 4096, "64 kB": 64 << 10} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"lots", "-1GB", "GB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		flag, env string
		avail     int64
		want      int64
		set       bool
	}{
		{"", "", 8 * gib, 6 * gib, true},          // default: 3/4 of the memory
		{"", "5GiB", 8 * gib, 0, false},           // GOMEMLIMIT stays
		{"2GB", "5GiB", 8 * gib, 2 * gib, true},   // the flag wins
		{"off", "", 8 * gib, math.MaxInt64, true}, // no limit
		{"0", "", 8 * gib, math.MaxInt64, true},   // no limit
		{"", "", 0, math.MaxInt64, true},          // memory unknown: none
		{" 512mb ", "", 8 * gib, 512 << 20, true}, // sizes as elsewhere
	} {
		got, set, err := memoryLimit(c.flag, c.env, c.avail)
		if err != nil || got != c.want || set != c.set {
			t.Errorf("memoryLimit(%q, %q, %d) = %d, %v, %v; want %d, %v", c.flag, c.env, c.avail, got, set, err, c.want, c.set)
		}
	}
	if _, _, err := memoryLimit("lots", "", gib); err == nil {
		t.Error("memoryLimit(\"lots\") succeeded")
	}
	if availableMemory() <= 0 {
		t.Error("availableMemory found no memory on this machine")
	}
}
