package sql

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// qctx is the state of planning one statement.
type qctx struct {
	scx       *StatementContext
	span      parse.Span
	nextLocal plan.LocalID
	depends   map[plan.GlobalID]bool
	// volatile records a volatile function call (random()); views reject it.
	volatile bool
	// mzNow records a call of mz_now().
	mzNow bool
	// wallClock lists calls of now() and the like.
	wallClock []string
	// params are the values of $n (nil when describing).
	params []repr.Datum
	// exprDepth, queryDepth and setOpDepth count the expression, query
	// and set operation levels being planned (see enterExpr, enterQuery).
	exprDepth, queryDepth, setOpDepth int
	// aggReplans counts the query levels planned again as aggregate
	// queries (planSelect) and the aggregate arguments planned to find
	// their level (plannedLevel): bounded by maxAggReplans, as each one
	// plans its subqueries again.
	aggReplans int
}

// maxAggReplans bounds how often parts of a statement are planned again
// for aggregate levels; nested levels that each do so double the work.
// Past it, a query level to plan again gets 54001 and an aggregate's
// level is taken from the columns outside its arguments' subqueries.
const maxAggReplans = 1000

// qctxState is what planning an expression changes in a qctx, saved to
// plan it again (save, restore).
type qctxState struct {
	q          qctx
	paramTypes []repr.ScalarType
}

func (q *qctx) save() qctxState {
	return qctxState{q: *q, paramTypes: append([]repr.ScalarType(nil), q.scx.ParamTypes...)}
}

// restore undoes what planning did to q since save; aggReplans is kept,
// as it bounds the statement's work.
func (q *qctx) restore(s qctxState) {
	n := q.aggReplans
	*q = s.q
	q.aggReplans = n
	q.scx.ParamTypes = s.paramTypes
}

// The planner's recursion bounds. The parser's guard
// (parse.MaxNestingDepth) keeps the tree pg_query builds within about
// 2,500 levels; these bound what the planner and the optimiser do with
// it: planning an expression is quadratic in its depth (types are
// computed again at each level), and each query level becomes a join
// that every optimiser pass walks, so 250 nested scalar subqueries took
// seconds to optimise (sql TestZZ probe, noisy 2-core machine) and 1,500
// more than two minutes. PostgreSQL 15 accepts 1,000 nested subqueries;
// viewd stops at maxQueryDepth with the same 54001. A chain of 1,000
// UNIONs plans and optimises in about 2.6 s (1,600 in 17 s; PostgreSQL
// accepts 3,000).
const (
	maxExprDepth  = 3000
	maxQueryDepth = 200
	maxSetOpDepth = 1000
)

// enterExpr counts one level of expression nesting; leaveExpr undoes it.
func (q *qctx) enterExpr() error {
	q.exprDepth++
	if q.exprDepth > maxExprDepth {
		return parse.ErrTooComplex()
	}
	return nil
}

func (q *qctx) leaveExpr() { q.exprDepth-- }

// enterQuery counts one level of query nesting (subqueries, set
// operation arms, CTEs); leaveQuery undoes it.
func (q *qctx) enterQuery() error {
	q.queryDepth++
	if q.queryDepth > maxQueryDepth {
		return parse.ErrTooComplex()
	}
	return nil
}

func (q *qctx) leaveQuery() { q.queryDepth-- }

func newQctx(scx *StatementContext, span parse.Span) *qctx {
	return &qctx{scx: scx, span: span, depends: map[plan.GlobalID]bool{}}
}

// errAt attaches a statement position to a *pgcode.Error without one.
func (q *qctx) errAt(err error, loc int32) error {
	if pe, ok := err.(*pgcode.Error); ok && pe.Position == 0 && loc >= 0 {
		pe.Position = q.span.Position(loc)
	}
	return err
}

// scopeCol is one column visible in a FROM scope.
type scopeCol struct {
	table string // range variable name ("" for none)
	name  string
	typ   repr.ColumnType
	// hidden columns (the right-hand copies of USING/NATURAL join columns)
	// are reachable only qualified and are not expanded by *.
	hidden bool
	// relOID is the OID of the catalog relation the column comes from
	// (its tableoid system column), 0 when unknown.
	relOID uint32
	// attnum is the column's number in that relation (from 1).
	attnum int16
}

// cte is a WITH query visible by name.
type cte struct {
	name  string
	cols  []string
	rel   HRel // the planned query, inlined at each reference
	local plan.LocalID
	typ   []repr.ColumnType
	// recursive binding being planned: references become HGet of local.
	recursive bool
	// owner is the scope the CTE's query was planned in (its enclosing
	// scope; nil at the top).
	owner *scope
}

// scope is the set of names a query level can see: its FROM columns, the
// scopes of enclosing queries (outer), and its CTEs.
type scope struct {
	cols  []scopeCol
	outer *scope
	ctes  []*cte
	// grouped, when set, makes column references from subqueries resolve
	// to the output of the aggregation: cols are the pre-aggregation
	// columns and grouped maps them.
	grouped *aggState
	// level, when set, is the state of the query level whose FROM
	// columns cols are, for aggregates of that level written in its
	// subqueries (see levelAggs); copies of the scope share it.
	level *levelAggs
}

// lateralClause names, in errors, where an aggregate of a level written
// in a LATERAL item of its FROM clause is.
const lateralClause = "FROM clause of their own query level"

// levelAggs follows, for one query level, the aggregates that belong to
// it but are written in its subqueries: an aggregate whose arguments
// (and FILTER and ORDER BY) read columns of enclosing levels only
// belongs to the lowest of them (PostgreSQL's agglevelsup), which it
// makes an aggregate query; in the subquery it is an outer reference to
// that query's aggregate.
//
// Invariant: such an aggregate is planned into the level's aggregation
// when the subquery sees the level grouped (scope.grouped); otherwise,
// while probing is set, found records it (planSelect then plans the level
// as an aggregate query), and otherwise it is an error naming clause.
type levelAggs struct {
	// clause names the clause of the level being planned, for "aggregate
	// functions are not allowed in ..." errors.
	clause  string
	probing bool
	found   bool
}

// lookupCTE finds a CTE by name in this scope or enclosing ones.
func (s *scope) lookupCTE(name string) *cte {
	for sc := s; sc != nil; sc = sc.outer {
		for i := len(sc.ctes) - 1; i >= 0; i-- {
			if sc.ctes[i].name == name {
				return sc.ctes[i]
			}
		}
	}
	return nil
}

// tableOID returns the OID of the relation of range variable table (or,
// with table empty, of the only relation in FROM), searching outward:
// the value of its tableoid system column.
func (s *scope) tableOID(table string) (uint32, bool) {
	for sc := s; sc != nil; sc = sc.outer {
		found := uint32(0)
		for _, c := range sc.cols {
			if (table != "" && c.table != table) || c.relOID == 0 {
				continue
			}
			if found != 0 && found != c.relOID {
				return 0, false // ambiguous
			}
			found = c.relOID
		}
		if found != 0 {
			return found, true
		}
	}
	return 0, false
}

// resolveColumn finds table.name (table may be empty) starting at this
// scope; it returns the level and index. ok false means not found at any
// level.
func (s *scope) resolveColumn(table, name string) (level, index int, typ repr.ColumnType, err error) {
	level = 0
	for sc := s; sc != nil; sc = sc.outer {
		found := -1
		tableSeen := false
		for i, c := range sc.cols {
			if table != "" {
				if c.table != table {
					continue
				}
				tableSeen = true
			} else if c.hidden {
				continue
			}
			if c.name != name {
				continue
			}
			if found >= 0 {
				ref := name
				if table != "" {
					ref = table + "." + name
				}
				return 0, 0, typ, pgcode.New(pgcode.AmbiguousColumn, "column reference %q is ambiguous", ref)
			}
			found = i
		}
		if found >= 0 {
			if sc.grouped != nil {
				k, ok := sc.grouped.groupColumn(found)
				if !ok {
					ref := name
					if t := sc.cols[found].table; t != "" {
						ref = t + "." + name
					}
					return 0, 0, typ, pgcode.New(pgcode.GroupingError, "subquery uses ungrouped column %q from outer query", ref)
				}
				return level, k, sc.grouped.keyType(k), nil
			}
			return level, found, sc.cols[found].typ, nil
		}
		if table != "" && tableSeen {
			return 0, 0, typ, pgcode.New(pgcode.UndefinedColumn, "column %s.%s does not exist", table, name)
		}
		level++
	}
	if table != "" {
		if !s.hasTable(table) {
			return 0, 0, typ, pgcode.New(pgcode.UndefinedTable, "missing FROM-clause entry for table %q", table)
		}
		return 0, 0, typ, pgcode.New(pgcode.UndefinedColumn, "column %s.%s does not exist", table, name)
	}
	return 0, 0, typ, pgcode.New(pgcode.UndefinedColumn, "column %q does not exist", name)
}

func (s *scope) hasTable(table string) bool {
	for sc := s; sc != nil; sc = sc.outer {
		for _, c := range sc.cols {
			if c.table == table {
				return true
			}
		}
	}
	return false
}

// colTypes returns the scope's column types.
func (s *scope) colTypes() []repr.ColumnType {
	out := make([]repr.ColumnType, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.typ
	}
	return out
}
