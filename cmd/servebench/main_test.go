package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/testenv"
)

// TestSmall runs the whole command on small data so that it cannot rot:
// every row must print, PostgreSQL's figures must be there, and viewd must
// at least answer the point lookups.
func TestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: starts PostgreSQL and viewd")
	}
	if _, err := pgtest.FindBinDir(); err != nil {
		testenv.SkipUnlessCI(t, "%v", err)
	}
	cfg, err := parseFlags([]string{"-rows=2000", "-duration=1s", "-series=100000",
		"-first-row-wait=10s", "-timeout-wait=10s", "-stmt-timeout=10s", "-load-timeout=2m"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	if err := run(ctx, cfg, &out, &progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	t.Logf("output:\n%s", out.String())
	cells := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| # ") {
			continue
		}
		f := strings.Split(strings.Trim(line, "| "), " | ")
		if len(f) != 5 {
			t.Errorf("table line has %d cells, want 5: %s", len(f), line)
			continue
		}
		cells[f[0]] = f
	}
	for _, n := range strings.Split(allRows, ",") {
		if cells[n] == nil {
			t.Errorf("row %s is missing from the table", n)
		}
	}
	for _, n := range []string{"1", "2", "3", "4", "5", "7", "8"} {
		if f := cells[n]; f != nil && !startsWithDigit(f[3]) {
			t.Errorf("row %s: PostgreSQL has no figure: %q", n, f[3])
		}
	}
	if f := cells["1"]; f != nil && !startsWithDigit(f[2]) {
		t.Errorf("row 1: viewd has no figure: %q", f[2])
	}
	if !strings.Contains(out.String(), "Machine: ") {
		t.Errorf("no machine line")
	}
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-only=1, 5", "-max-rss=1.5GiB"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.only) != 2 || !cfg.only[1] || !cfg.only[5] || cfg.maxRSS != 3<<29 {
		t.Errorf("got only=%v max-rss=%d", cfg.only, cfg.maxRSS)
	}
	for _, bad := range [][]string{{"-only=0"}, {"-only=1,x"}, {"-rows=0"}, {"-max-rss=lots"}, {"extra"}} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
}

func TestRowReader(t *testing.T) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(newRowReader(998, 1001, 1000)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), b.String())
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || len(f[2]) != 32 {
			t.Errorf("line %d: %q", i, l)
		}
	}
	if !strings.HasPrefix(lines[3], "1001\t1\t") {
		t.Errorf("line 3: %q, want id 1001, k 1", lines[3])
	}
	stmt := insertStatement("x", 1, 3, 1000)
	if !strings.HasPrefix(stmt, "INSERT INTO x VALUES (1,1,'") || strings.Count(stmt, "),(") != 2 {
		t.Errorf("insertStatement: %s", stmt)
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 12.345: "12.3", 0.0425: "0.0425", 1: "1.00", 999.6: "1,000"} {
		if got := sig3(v); got != want {
			t.Errorf("sig3(%v) = %q, want %q", v, got, want)
		}
	}
	r := row{sense: lowerBetter, viewd: figure(2, ""), pg: figure(1, "")}
	if got := r.ratio(); got != "0.500×" {
		t.Errorf("ratio = %q", got)
	}
}
