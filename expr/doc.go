// Package expr is viewd's scalar expression language: expressions over the
// columns of one row, their evaluation, the catalog of functions, operators
// and casts the SQL planner resolves against, fused map/filter/project
// (MFP), table functions for FlatMap, and aggregate result types.
//
// # Terms
//
//   - Scalar: an expression node (Column, Literal, Call, If, MzNow). Nodes
//     are immutable values; rewriting (Rewrite, MapColumns, FoldConstants)
//     builds new trees. Column references are positional over the input
//     row.
//   - Func: one resolved overload. Ret is fixed; Strict functions return
//     NULL for any NULL argument without being called; Volatility says
//     whether a call may be folded (Immutable), reads the EvalCtx (Stable:
//     now()), or must not appear in maintained views (Volatile: random()).
//   - Overload / ParamType: a catalog signature, possibly polymorphic
//     (anyelement, anyarray, anycompatible, any). Resolve chooses among
//     overloads as PostgreSQL's func_select_candidate does; LookupCast and
//     CastContext follow pg_cast (implicit, assignment, explicit);
//     CommonType is select_common_type; TypeCategory/IsPreferredType are
//     pg_type.typcategory/typispreferred.
//   - EvalCtx: what evaluation may read beyond the row (time zone,
//     statement time for now(), logical time for mz_now()) plus a reusable
//     argument stack. One EvalCtx per goroutine.
//   - MapFilterProject: Materialize's fused operator: append expressions,
//     keep rows whose predicates are all true, project columns. Each
//     Predicate runs as soon as its Support columns exist.
//   - TemporalMFP: an MFP whose mz_now() comparisons are split out as
//     bounds [lower, upper) on logical time (Materialize's MfpPlan), for
//     the temporal-filter operator that schedules future retractions.
//   - TableFunc: a set-returning function (generate_series, unnest,
//     jsonb_each, ...), the body of a FlatMap.
//
// # Invariants
//
//   - Errors a user can see are *pgcode.Error with PostgreSQL's SQLSTATE and
//     message wording ("integer out of range" 22003, "division by zero"
//     22012, `invalid input syntax for type integer: "abc"` 22P02).
//     Nothing in this package panics on user data.
//   - Evaluating column references, literals, integer arithmetic and
//     comparisons does not allocate (tested with testing.AllocsPerRun).
//   - AND and OR are evaluated order-independently (Materialize's rule): the
//     absorbing value (FALSE for AND, TRUE for OR) wins over NULL and over
//     an error in another argument; otherwise an error wins over NULL. CASE
//     and COALESCE evaluate only the arguments they need. So predicates can
//     be reordered and pushed down freely. PostgreSQL, which evaluates left
//     to right and folds constants eagerly, can raise an error where viewd
//     returns FALSE/TRUE.
//   - FoldConstants never changes a result: it folds only immutable calls
//     over literals, and a failing call becomes an error Literal that
//     raises only if evaluated.
//   - An MFP's Optimize, Compose and Permute preserve its output row for
//     every input row (property-tested against sequential application).
//
// # Testing
//
// testdata/eval_* are datadriven files of SQL scalar expressions, planned
// by a miniature planner in golden_test.go on top of this package's
// catalog. The expected output of every "eval" block (and of every
// "assign type=T" block, which casts in assignment context as INSERT does)
// was produced by PostgreSQL 15 (testdata/pg_expected.py regenerates it
// from a server), so they check conformance, not just stability.
// "eval-local" blocks hold behaviour PostgreSQL shows differently (fixed
// statement time, mz_now(), the AND/OR rule above), reviewed by hand.
// testdata/mfp holds MapFilterProject goldens (build, optimise, demand,
// apply). Property tests check MFP composition and optimisation, and
// constant folding, against direct evaluation on random inputs.
package expr
