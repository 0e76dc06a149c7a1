package main

import "testing"

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
