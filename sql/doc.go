// Package sql plans SQL statements: it resolves names against a Catalog,
// type-checks expressions as PostgreSQL does, builds a high-level
// representation of queries (HIR: names resolved, subqueries still
// expressions), decorrelates and lowers it to MIR (plan.Rel), and turns
// every other statement into a statement plan the coordinator executes.
//
// Terms:
//   - HIR: HRel and HScalar. A column reference carries a Level: 0 is the
//     nearest enclosing FROM scope, 1 the scope of the enclosing query, and
//     so on (correlated subqueries, LATERAL).
//   - Lowering: every HIR relation is lowered against an outer relation
//     (the distinct values of the columns it may reference from enclosing
//     scopes); the MIR it produces has the outer columns first. A subquery
//     becomes a join against the distinct outer rows, joined back to the
//     rows it came from on all columns with a NULL-safe equality.
//   - Finishing: ORDER BY / LIMIT / OFFSET / the final projection at the top
//     of a SELECT, applied by the coordinator when it reads the result;
//     inside a view or subquery they become TopK.
//
// Invariants: every error is a *pgcode.Error with PostgreSQL's SQLSTATE and
// wording; planning never panics across the package boundary (Plan
// recovers and reports an internal error).
package sql
