// Package sql plans SQL statements: it resolves names against a Catalog,
// type-checks expressions as PostgreSQL does, builds a high-level
// representation of queries (HIR: names resolved, subqueries still
// expressions), decorrelates and lowers it to MIR (plan.Rel), and turns
// every other statement into a statement plan the coordinator executes.
//
// Use:
//
//	stmts, err := parse.Parse(text)                 // sql/parse
//	scx := &sql.StatementContext{Catalog: cat, Vars: sessionVars}
//	p, err := sql.PlanStatement(scx, stmts[0], nil) // describe: $n typed in scx.ParamTypes
//	p, err = sql.PlanStatement(scx, stmts[0], vals) // execute with parameter values
//	switch p := p.(type) { case *sql.SelectPlan: ...; case *sql.InsertPlan: ... }
//
// Terms:
//   - HIR: HRel and HScalar. A column reference carries a Level: 0 is the
//     nearest enclosing FROM scope, 1 the scope of the enclosing query, and
//     so on (correlated subqueries, LATERAL).
//   - Aggregate level: an aggregate call belongs to the lowest query
//     level whose columns its arguments, FILTER and ORDER BY read (its
//     own when they read none; PostgreSQL's agglevelsup). One written in
//     a subquery but reading only enclosing columns makes that enclosing
//     query an aggregate query (planSelect finds it by planning the
//     select list once without aggregation, then again with it), and is
//     an outer reference to that query's aggregate column (testdata/agglevel).
//   - Lowering: every HIR relation is lowered against an outer relation
//     (the distinct values of the columns it reads from enclosing scopes);
//     the MIR it produces has those outer columns first. A subquery becomes
//     a join against the distinct values of the outer columns it reads
//     (the unit relation when uncorrelated), joined back to the rows it
//     came from with a NULL-safe equality: its value per key (false or
//     NULL for keys without rows) is computed on those keys and joined
//     back once. Parts of a subquery that read no outer column are
//     lowered once and joined with the keys (never carried through with
//     them), a WHERE's subquery-free conjuncts filter before its
//     subqueries take their keys, and x IN / NOT IN (subquery) is
//     membership by equality (a join on x, plus whether the subquery has
//     a NULL or any row), so no plan pairs every outer key with every
//     row of a subquery (sql/testdata/decorrelate: TPC-H's shapes).
//     Outer joins are the inner join
//     plus the antijoin (Join, Negate, Union over distinct keys, which
//     keeps multiplicities) padded with NULLs; a global aggregate adds the
//     default row (count 0, others NULL) for outer rows that produced none;
//     a scalar subquery that yields several rows for an outer row produces
//     an error value (21000) rather than failing planning, so maintained
//     views report it. A subquery in a CASE branch or a COALESCE argument
//     past the first is computed only for the outer rows whose expression
//     reaches it (its guard), so a branch not taken raises no error.
//   - Equal values that pack differently: intervals keep their fields, so
//     a Reduce (GROUP BY, DISTINCT, UNION) groups an interval key by its
//     span (interval_span) and shows one of the group's intervals (min),
//     and = / IS NOT DISTINCT FROM on intervals compare spans, which makes
//     equality joins key on spans. INTERSECT, EXCEPT, DISTINCT ON and
//     unique keys still compare intervals by their packed fields.
//   - Finishing: ORDER BY / LIMIT / OFFSET / the final projection at the top
//     of a SELECT, applied by the coordinator when it reads the result;
//     inside a view or subquery LIMIT/OFFSET become TopK and a bare ORDER BY
//     is dropped.
//
// Invariants: every error is a *pgcode.Error with PostgreSQL's SQLSTATE and
// wording, positioned (1-based characters in the statement text) where
// PostgreSQL positions it; planning never panics across the package
// boundary (PlanStatement recovers and reports an internal error).
// HIRString and plan.Explain print plans deterministically (golden tests
// under testdata/, run by TestPlanner; "eval" cases evaluate lowered plans
// with a naive test-only evaluator against hand-computed results).
package sql
