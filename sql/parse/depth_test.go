package parse

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
)

// deepStatements are generated statements of the shapes that recurse in
// pg_query's C code or in Go: name, text, and whether the parse must
// fail with 54001 (otherwise it must succeed). The limits agree with
// PostgreSQL 15's (max_stack_depth 2 MB) where the shape is named after
// a measurement: 3,000 `+ 1` pass there and 10,000 fail; IN lists,
// AND/OR chains and CASE branches are lists, not nesting.
var deepStatements = []struct {
	name     string
	text     string
	tooDeep  bool
	parseErr bool // a syntax error (42601) rather than 54001 is expected
}{
	{"plus 30000 (the issue's crash)", "SELECT 1" + strings.Repeat(" + 1", 30000), true, false},
	{"plus 2000", "SELECT 1" + strings.Repeat(" + 1", 2000), false, false},
	{"concat 100000", "SELECT 'a'" + strings.Repeat(" || 'a'", 100000), true, false},
	{"cast 30000", "SELECT 1" + strings.Repeat("::int", 30000), true, false},
	{"union 30000", "SELECT 1" + strings.Repeat(" UNION SELECT 1", 30000), true, false},
	{"parentheses 10000", "SELECT " + strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000), true, false},
	{"parentheses 1000", "SELECT " + strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000), false, false},
	{"subqueries 3000", strings.Repeat("SELECT (", 3000) + "SELECT 1" + strings.Repeat(")", 3000), true, false},
	{"subqueries 1000", strings.Repeat("SELECT (", 1000) + "SELECT 1" + strings.Repeat(")", 1000), false, false},
	{"arrays 10000", "SELECT " + strings.Repeat("ARRAY[", 10000) + "1" + strings.Repeat("]", 10000), true, false},
	{"not 30000", "SELECT " + strings.Repeat("NOT ", 30000) + "true", true, false},
	{"nested case 1000", "SELECT " + strings.Repeat("CASE WHEN true THEN 1 ELSE ", 1000) + "1" + strings.Repeat(" END", 1000), false, false},
	{"nested case 6000", "SELECT " + strings.Repeat("CASE WHEN true THEN 1 ELSE ", 6000) + "1" + strings.Repeat(" END", 6000), true, false},
	{"case with 5000 branches", "SELECT CASE" + strings.Repeat(" WHEN 1 = 2 THEN 3", 5000) + " END", false, false},
	{"in list 10000", "SELECT 1 IN (" + strings.Repeat("1, ", 9999) + "1)", false, false},
	{"or chain 20000", "SELECT 1 WHERE" + strings.Repeat(" 1 = 2 OR", 20000) + " true", false, false},
	{"values 10000 rows", "VALUES " + strings.Repeat("(1, 'a'), ", 9999) + "(1, 'a')", false, false},
	{"unbalanced close", "SELECT 1)" + strings.Repeat(" + 1", 10), false, true},
	{"deep before a ; inside brackets", "SELECT (" + strings.Repeat("1 + ", 30000) + "1; SELECT 1)", true, false},
}

// TestNestingDepth: statements past MaxNestingDepth get 54001 before
// pg_query sees them (without the guard, the first case kills the test
// binary with SIGSEGV); those within it parse.
func TestNestingDepth(t *testing.T) {
	for _, c := range deepStatements {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.text)
			switch {
			case c.tooDeep:
				pe := pgcode.As(err)
				if pe == nil || pe.Code != pgcode.StatementTooComplex || pe.Message != "stack depth limit exceeded" {
					t.Fatalf("want 54001 stack depth limit exceeded, got %v", err)
				}
			case c.parseErr:
				if pe := pgcode.As(err); pe == nil || pe.Code != pgcode.SyntaxError {
					t.Fatalf("want 42601, got %v", err)
				}
			case err != nil:
				t.Fatalf("want success, got %v (depth estimate %d)", err, nestingDepth(mustScan(t, c.text)))
			}
		})
	}
}

// TestNestingDepthEstimate pins the estimate on small statements.
func TestNestingDepthEstimate(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"SELECT 1", 2},
		{"SELECT 1 + 2 + 3", 6},
		{"SELECT f(1, 2, 3)", 4},             // SELECT f ( 1: three levels deep plus the bracket
		{"SELECT (1 + 2) + 3", 5},            // SELECT ( 1 + 2: 1 + 1 + 3
		{"SELECT a AND b AND c", 2},          // flattened
		{"SELECT CASE WHEN a THEN b END", 4}, // SELECT CASE, the frame, one level inside
		{"SELECT 1; SELECT 1 + 1", 4},
	} {
		if got := nestingDepth(mustScan(t, c.text)); got != c.want {
			t.Errorf("%s: depth %d, want %d", c.text, got, c.want)
		}
	}
}

func mustScan(t *testing.T, text string) []token {
	t.Helper()
	toks, err := scan(text)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}
