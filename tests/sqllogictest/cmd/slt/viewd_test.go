package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestViewdSurface runs the .slt files of viewd's SQL surface
// (testdata/viewd) against fresh viewd servers in both modes: every query
// also checked as a materialized view maintained through the file's
// writes. It includes testdata/maintenance.slt, which PostgreSQL's own
// (non-incremental) materialized views fail in view mode (TestPostgres):
// viewd must pass it.
func TestViewdSurface(t *testing.T) {
	bin := viewdtest.Binary(t)
	var out, errOut bytes.Buffer
	rc := run([]string{"--viewd-bin", bin, "--mode=both", filepath.Join("..", "..", "testdata", "viewd"),
		filepath.Join("..", "..", "testdata", "maintenance.slt")}, &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if rc != 0 || !strings.HasSuffix(last, " 0 failed, 0 skipped") {
		t.Fatalf("exit %d, last line %q\n%s\n%s", rc, last, out.String(), errOut.String())
	}
}

// TestViewdRoles runs testdata/roles (roles and privileges, acted out
// with SET ROLE) in select mode: view mode would create its materialized
// views as whichever role is current.
func TestViewdRoles(t *testing.T) {
	bin := viewdtest.Binary(t)
	var out, errOut bytes.Buffer
	rc := run([]string{"--viewd-bin", bin, "--mode=select", filepath.Join("..", "..", "testdata", "roles")}, &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if rc != 0 || !strings.HasSuffix(last, " 0 failed, 0 skipped") {
		t.Fatalf("exit %d, last line %q\n%s\n%s", rc, last, out.String(), errOut.String())
	}
}
