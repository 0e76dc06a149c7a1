package parse

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// TestFastInsertMatchesPgQuery: on random INSERT ... VALUES statements of
// constants, the tree the fast path builds from tokens equals pg_query's,
// node for node (locations included); statements outside its shape are
// left to pg_query.
func TestFastInsertMatchesPgQuery(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	names := []string{"t", "orders", `"Mixed Case"`, `"values"`, "t_2", "s.t", `"s"."t"`, "ünï"}
	consts := func() string {
		switch r.IntN(14) {
		case 0:
			return fmt.Sprint(r.Int64N(1 << 40))
		case 1:
			return fmt.Sprint(-r.Int64N(1 << 40))
		case 2:
			return []string{"2147483647", "2147483648", "-2147483648", "-2147483649", "0", "-0", "007"}[r.IntN(7)]
		case 3:
			return []string{"1.5", "-1.50", ".5", "1e5", "1E-3", "-2.5e+10", "1.", "0.0"}[r.IntN(8)]
		case 4:
			return "'" + strings.ReplaceAll([]string{"", "x", "it's", "héllo", "a\tb", "back\\slash?"}[r.IntN(6)], "'", "''") + "'"
		case 5:
			return []string{"NULL", "null", "TRUE", "false", "DEFAULT"}[r.IntN(5)]
		default:
			return fmt.Sprint(r.IntN(1000))
		}
	}
	for i := range 2000 {
		name := names[r.IntN(len(names))]
		ncols := 1 + r.IntN(4)
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s", name)
		if r.IntN(2) == 0 {
			cols := make([]string, ncols)
			for j := range cols {
				cols[j] = []string{"a", "b", `"C"`, "d_1"}[j%4]
			}
			fmt.Fprintf(&b, " (%s)", strings.Join(cols, ", "))
		}
		b.WriteString(" VALUES ")
		for row := range 1 + r.IntN(5) {
			if row > 0 {
				b.WriteString(",\n  ")
			}
			vals := make([]string, ncols)
			for j := range vals {
				vals[j] = consts()
			}
			fmt.Fprintf(&b, "(%s)", strings.Join(vals, ", "))
		}
		// Strings with backslashes are left to pg_query on purpose.
		compareFast(t, i, b.String(), !strings.Contains(b.String(), "\\"))
	}
	// Outside the fast path's shape: pg_query decides.
	for i, q := range []string{
		"INSERT INTO t VALUES (1 + 1)",
		"INSERT INTO t VALUES (1::int)",
		"INSERT INTO t VALUES (E'a\\nb')",
		"INSERT INTO t VALUES ($$x$$)",
		"INSERT INTO t VALUES ('a' 'b')",
		"INSERT INTO t VALUES (0x1F)",
		"INSERT INTO t VALUES (1_000)",
		"INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
		"INSERT INTO t VALUES (1) RETURNING *",
		"INSERT INTO t SELECT 1",
		"INSERT INTO user VALUES (1)",
		"INSERT INTO d.s.t VALUES (1)",
		"INSERT INTO t (a, a) VALUES (1, 2)",
		"INSERT INTO t VALUES (-'1')",
		"INSERT INTO t VALUES (1), ()",
	} {
		compareFast(t, i, q, false)
	}
}

// compareFast checks q's fast tree against pg_query's; wantFast says
// whether the fast path must take q.
func compareFast(t *testing.T, i int, q string, wantFast bool) {
	t.Helper()
	toks, err := scan(q)
	if err != nil {
		t.Fatalf("%d: scan %q: %v", i, q, err)
	}
	sp := Span{Text: q}
	fast, ok := fastInsert(sp, toks)
	if ok != wantFast && wantFast {
		t.Fatalf("%d: the fast path refused %q", i, q)
	}
	if !ok {
		return
	}
	res, err := pg_query.Parse(q)
	if err != nil {
		t.Fatalf("%d: the fast path took %q, which PostgreSQL rejects: %v", i, q, err)
	}
	if !proto.Equal(fast.Raw, res.Stmts[0]) {
		t.Fatalf("%d: %q\nfast:\n%s\npg_query:\n%s", i, q, prototext.Format(fast.Raw), prototext.Format(res.Stmts[0]))
	}
}
