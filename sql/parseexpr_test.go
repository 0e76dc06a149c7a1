package sql

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// TestParseExprCacheClones: parseExpr caches trees by text, and callers
// rewrite what it returns in place (template parameters): each call must
// get its own tree.
func TestParseExprCacheClones(t *testing.T) {
	const text = "($1)::oid = 0"
	params := func(n *pg_query.Node) int {
		c := 0
		walkNodes(n, func(x *pg_query.Node) bool {
			if x.GetParamRef() != nil {
				c++
			}
			return true
		})
		return c
	}
	for i := range 3 {
		n, err := parseExpr(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := params(n); got != 1 {
			t.Fatalf("call %d: %d parameters in the tree, want 1 (an earlier caller's rewrite leaked)", i, got)
		}
		walkNodes(n, func(x *pg_query.Node) bool {
			if x.GetParamRef() != nil {
				x.Node = &pg_query.Node_AConst{AConst: &pg_query.A_Const{}}
				return false
			}
			return true
		})
	}
}
