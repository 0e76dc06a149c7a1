package sqllogictest

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestBuildViewdMissing(t *testing.T) {
	_, err := BuildViewd(context.Background(), t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "cmd/viewd does not exist") {
		t.Fatalf("got %v, want an error saying cmd/viewd does not exist", err)
	}
}

func TestViewdTargetExits(t *testing.T) {
	target := &ViewdTarget{Bin: "/bin/false", StartTimeout: 10 * time.Second, Log: quietLog()}
	_, _, err := target.Open(context.Background(), "x.slt")
	if err == nil || !strings.Contains(err.Error(), "exited before accepting connections") {
		t.Fatalf("got %v, want an error saying viewd exited", err)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h:5/old?sslmode=disable": "postgres://u@h:5/new?sslmode=disable",
		"postgresql://h/":                      "postgresql://h/new",
		"host=h user=u":                        "host=h user=u dbname=new",
	} {
		got, err := withDatabase(in, "new")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := sanitize("dir/Select-1.test"); got != "select_1" {
		t.Errorf("sanitize = %q", got)
	}
}
