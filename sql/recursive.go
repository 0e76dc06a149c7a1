package sql

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/pgcode"
)

// checkWellFormedRecursion checks a WITH RECURSIVE query "base UNION
// [ALL] recursive" as PostgreSQL's checkWellFormedRecursion does, with
// its SQLSTATEs: the base term must not read the query (42P19); the
// recursive term must read it exactly once, not inside a subquery, an
// outer join's nullable side, INTERSECT ALL or EXCEPT (42P19), and must
// not aggregate (42P19); ORDER BY, LIMIT, OFFSET and
// FOR UPDATE on the whole query are not implemented (0A000).
func (q *qctx) checkWellFormedRecursion(sel *pg_query.SelectStmt, name string) error {
	notImpl := func(what string, n *pg_query.Node) error {
		return q.errAt(pgcode.New(pgcode.FeatureNotSupported, "%s in a recursive query is not implemented", what), nodeLocation(n))
	}
	switch {
	case len(sel.SortClause) > 0:
		return notImpl("ORDER BY", sel.SortClause[0])
	case sel.LimitOffset != nil:
		return notImpl("OFFSET", sel.LimitOffset)
	case sel.LimitCount != nil:
		return notImpl("LIMIT", sel.LimitCount)
	case len(sel.LockingClause) > 0:
		return notImpl("FOR UPDATE/SHARE", sel.LockingClause[0])
	}
	recErr := func(loc int32, format string, args ...any) error {
		return q.errAt(pgcode.New(pgcode.InvalidRecursion, format, args...), loc)
	}
	if rv := firstReference(wrapSelect(sel.Larg), name); rv != nil {
		return recErr(rv.Location, "recursive reference to query %q must not appear within its non-recursive term", name)
	}
	rterm := wrapSelect(sel.Rarg)
	var err error
	count := 0
	var visit func(n *pg_query.Node) bool
	visit = func(n *pg_query.Node) bool {
		if err != nil {
			return false
		}
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			if rv.Schemaname == "" && rv.Relname == name {
				if count++; count > 1 {
					err = recErr(rv.Location, "recursive reference to query %q must not appear more than once", name)
				}
			}
		case n.GetSubLink() != nil:
			if rv := firstReference(n.GetSubLink().Subselect, name); rv != nil {
				err = recErr(rv.Location, "recursive reference to query %q must not appear within a subquery", name)
			}
		case n.GetJoinExpr() != nil:
			j := n.GetJoinExpr()
			var nullable []*pg_query.Node
			switch j.Jointype {
			case pg_query.JoinType_JOIN_LEFT:
				nullable = []*pg_query.Node{j.Rarg}
			case pg_query.JoinType_JOIN_RIGHT:
				nullable = []*pg_query.Node{j.Larg}
			case pg_query.JoinType_JOIN_FULL:
				nullable = []*pg_query.Node{j.Larg, j.Rarg}
			}
			for _, side := range nullable {
				if rv := firstReference(side, name); rv != nil {
					err = recErr(rv.Location, "recursive reference to query %q must not appear within an outer join", name)
				}
			}
		case n.GetSelectStmt() != nil:
			// INTERSECT ALL and EXCEPT ALL may not read the query, nor
			// EXCEPT's right side; INTERSECT and EXCEPT's left side may.
			s := n.GetSelectStmt()
			var banned []*pg_query.Node
			what := "INTERSECT"
			switch s.Op {
			case pg_query.SetOperation_SETOP_INTERSECT:
				if s.All {
					banned = []*pg_query.Node{wrapSelect(s.Larg), wrapSelect(s.Rarg)}
				}
			case pg_query.SetOperation_SETOP_EXCEPT:
				what = "EXCEPT"
				banned = []*pg_query.Node{wrapSelect(s.Rarg)}
				if s.All {
					banned = append(banned, wrapSelect(s.Larg))
				}
			}
			for _, side := range banned {
				if rv := firstReference(side, name); rv != nil && err == nil {
					err = recErr(rv.Location, "recursive reference to query %q must not appear within %s", name, what)
				}
			}
		}
		return err == nil
	}
	walkNodes(rterm, visit)
	if err != nil {
		return err
	}
	if r := sel.Rarg; r != nil && r.Op == pg_query.SetOperation_SETOP_NONE {
		for _, t := range append(append([]*pg_query.Node(nil), r.TargetList...), r.HavingClause) {
			if t == nil {
				continue
			}
			if containsAgg(t) {
				return recErr(nodeLocation(t), "aggregate functions are not allowed in a recursive query's recursive term")
			}
		}
	}
	return nil
}

// firstReference returns the first range variable below n that names
// the WITH query name, or nil.
func firstReference(n *pg_query.Node, name string) *pg_query.RangeVar {
	var found *pg_query.RangeVar
	walkNodes(n, func(x *pg_query.Node) bool {
		if rv := x.GetRangeVar(); rv != nil && rv.Schemaname == "" && rv.Relname == name {
			found = rv
		}
		return found == nil
	})
	return found
}

func wrapSelect(s *pg_query.SelectStmt) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s}}
}
