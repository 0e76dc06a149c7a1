package sqllogictest

import (
	"strings"
	"testing"
)

func TestExpectedFailures(t *testing.T) {
	e, err := ParseExpectedFailures(strings.NewReader(`
# comment
evidence/in1.test:279 'hello' cannot be an integer
[view] select1.test:12 views only
[select] /abs/path/x.slt:3
`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 3 {
		t.Fatalf("Len = %d", e.Len())
	}
	for _, tc := range []struct {
		path string
		line int
		mode RunMode
		want string
		ok   bool
	}{
		{"../shared/slt/sqlite/test/evidence/in1.test", 279, SelectMode, "'hello' cannot be an integer", true},
		{"evidence/in1.test", 279, ViewMode, "'hello' cannot be an integer", true},
		{"other/evidence/in1.test", 280, SelectMode, "", false},
		{"xevidence/in1.test", 279, SelectMode, "", false},
		{"test/select1.test", 12, ViewMode, "views only", true},
		{"test/select1.test", 12, SelectMode, "", false},
		{"/abs/path/x.slt", 3, SelectMode, "", true},
	} {
		got, ok := e.Lookup(tc.path, tc.line, tc.mode)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%s:%d, %s) = %q %v, want %q %v", tc.path, tc.line, tc.mode, got, ok, tc.want, tc.ok)
		}
	}
	var none *ExpectedFailures
	if _, ok := none.Lookup("a", 1, SelectMode); ok {
		t.Error("a nil list expects nothing")
	}
	for _, bad := range []string{"nolinenumber reason", "a.test:x reason", "[both] a.test:1 r", "[view a.test:1"} {
		if _, err := ParseExpectedFailures(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

func TestExpectedFailuresPostgresFile(t *testing.T) {
	e, err := LoadExpectedFailures("testdata/expected-failures-postgresql.txt")
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 49 {
		t.Errorf("expected-failures-postgresql.txt has %d entries, want 49", e.Len())
	}
}
