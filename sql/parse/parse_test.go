package parse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/viewd/viewd/pgcode"
)

// TestParse runs testdata/parse: "parse" prints each statement of the input
// with Dump, or the error with its SQLSTATE and position.
func TestParse(t *testing.T) {
	datadriven.RunTest(t, "testdata/parse", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "parse":
			stmts, err := Parse(d.Input)
			if err != nil {
				return formatErr(err)
			}
			var b strings.Builder
			for _, s := range stmts {
				b.WriteString(Dump(s))
				b.WriteString("\n")
			}
			return b.String()
		}
		t.Fatalf("unknown command %s", d.Cmd)
		return ""
	})
}

func formatErr(err error) string {
	pe := pgcode.As(err)
	return fmt.Sprintf("error %s at %d: %s\n", pe.Code, pe.Position, pe.Message)
}

// TestPositions checks that spans and positions refer to the whole input.
func TestPositions(t *testing.T) {
	in := "SELECT 1; /* c */ SELECT ünï, x FROM t"
	stmts, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements", len(stmts))
	}
	pg := stmts[1].(*PG)
	if pg.Text != "SELECT ünï, x FROM t" {
		t.Fatalf("text %q", pg.Text)
	}
	if in[pg.Start:pg.Start+len(pg.Text)] != pg.Text {
		t.Fatalf("start %d", pg.Start)
	}
	// 18 characters precede the statement and "x" is its 13th character.
	loc := int32(strings.Index(pg.Text, "x"))
	if got := pg.Position(loc); got != 31 {
		t.Fatalf("position %d, want 31", got)
	}
}
