package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/pgtest"
)

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if rc := run([]string{"--mode=sideways", "x.slt"}, &out, &errOut); rc != 2 {
		t.Errorf("bad mode: exit %d, want 2", rc)
	}
	if rc := run(nil, &out, &errOut); rc != 2 {
		t.Errorf("no files: exit %d, want 2", rc)
	}
}

// TestPostgres runs the command against a private PostgreSQL in both modes:
// select mode passes, view mode fails (PostgreSQL does not maintain
// materialized views), so the exit code is 1, and the report is written.
func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	report := filepath.Join(t.TempDir(), "report.md")
	var out, errOut bytes.Buffer
	rc := run([]string{"--url", srv.URL(), "--mode=both", "--report", report,
		filepath.Join("..", "..", "testdata", "maintenance.slt")}, &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "26 passed, 6 failed, 0 skipped" {
		t.Errorf("last line %q, want %q\n%s\n%s", last, "26 passed, 6 failed, 0 skipped", out.String(), errOut.String())
	}
	if rc != 1 {
		t.Errorf("exit %d, want 1", rc)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| **total** | view | 1 | 10 | 6 | 0 | 0 | 62.5% | 6/0 | 1 |") {
		t.Errorf("report:\n%s", b)
	}

	out.Reset()
	rc = run([]string{"--url", srv.URL(), filepath.Join("..", "..", "testdata", "maintenance.slt")}, &out, &errOut)
	if rc != 0 || !strings.HasSuffix(out.String(), "\n16 passed, 0 failed, 0 skipped\n") {
		t.Errorf("select mode: exit %d, output:\n%s", rc, out.String())
	}
}
