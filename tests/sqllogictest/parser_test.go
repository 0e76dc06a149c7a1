package sqllogictest

import (
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestParse prints parsed records. In inputs, "====" stands for slt's
// "----" separator; crlf converts the input's line endings to "\r\n".
func TestParse(t *testing.T) {
	datadriven.RunTest(t, "testdata/parse", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "parse":
			in := sltInput(d.Input)
			if d.HasArg("crlf") {
				in = strings.ReplaceAll(in, "\n", "\r\n")
			}
			var b strings.Builder
			for _, r := range ParseString(in) {
				b.WriteString(r.String())
			}
			return b.String()
		}
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	})
}

func TestApplies(t *testing.T) {
	recs := ParseString("skipif mysql\nonlyif postgresql # comment\nstatement ok\nSELECT 1\n")
	if len(recs) != 1 {
		t.Fatalf("got %d records", len(recs))
	}
	for engine, want := range map[string]bool{"postgresql": true, "PostgreSQL": true, "mysql": false, "sqlite": false} {
		if got := recs[0].Applies(engine); got != want {
			t.Errorf("Applies(%q) = %v, want %v", engine, got, want)
		}
	}
}
