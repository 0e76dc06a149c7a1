// Package plan holds viewd's relational plans and the optimiser that
// rewrites them.
//
// # MIR
//
// MIR (mid-level intermediate representation, after Materialize's) is
// relational algebra over collections: multisets of rows with signed
// multiplicities. Its nodes (mir.go) are immutable values: Get, Constant,
// Map, Filter, Project, FlatMap, Join, Reduce, TopK, Negate, Threshold,
// Union, ArrangeBy, Let, LetRec and Window. Scalar expressions (package
// expr) refer to the columns of the node's input positionally; for a Join,
// to the concatenation of its inputs' columns.
//
// Invariants of a well-formed MIR tree:
//   - Typ() is total: every node computes its column types (with
//     nullability) and unique keys from its inputs. A unique key is a set of
//     columns no two rows (with positive multiplicity) share.
//   - Every column reference is within the arity of the node's input.
//   - Union inputs have equal arity and compatible column types.
//   - Local Gets refer to an enclosing Let or LetRec binding.
//   - A Join's Implementation is Unimplemented until join planning; any
//     rewrite that changes a Join's inputs or equivalences resets it.
//
// # Optimiser
//
// Optimize runs ordered batches of named rules (Optimizations); each batch
// is applied to a fixed point (bounded by a pass limit):
//
//	normalize: fusion, inline-let, fold-constants
//	logical:   predicate-pushdown, equivalence-propagation, fold-constants,
//	           literal-lifting, reduce-elision, window-topk, fusion,
//	           inline-let, projection-pushdown, fusion
//	physical:  join-implementation (one pass)
//
// Every rule preserves the collection a plan computes, its arity and its
// column scalar types (nullability may only become stricter); the property
// tests check this against a naive evaluator on random plans and data.
// OptimizeTrace records the plan after every rule application that changed
// it, for EXPLAIN and golden tests. Join planning fills each Join's
// Implementation: a delta join when it has three or more inputs and every
// lookup of every path can use an existing arrangement (IndexOracle, or an
// ArrangeBy input), otherwise a linear join whose order follows the
// equivalence classes (no cross product when a connected order exists),
// preferring lookups into existing arrangements.
//
// Rules recognise a few functions by their printed name: "=" (equalities
// become join equivalences), "and" (conjunctions are split), "IS NOT NULL"
// and strict functions (non-null requirements), and the comparisons with
// mz_now(). Equalities the optimiser builds use expr's "=" overloads.
//
// # LIR
//
// LIR (lir.go) is the physical plan the renderer (dataflow/render) turns
// into operators: map/filter/project are fused into MapFilterProject
// operators, every join names the arrangement each lookup uses, reduces
// carry their reduce plan and temporal predicates (comparisons with
// mz_now()) are extracted into bounds. Lower turns optimised MIR into LIR;
// ExplainLIR prints it. Lower also marks a Reduce or TopK monotonic when
// its input only ever grows (monotonic.go: append-only sources, as the
// oracle's MonotonicOracle names them, through maps, filters without
// mz_now(), joins and unions); the renderer then keeps only the extreme
// value of each min/max and the first offset+limit rows of each TopK
// group, as Materialize's monotonic operators do. A Window whose functions
// are all row_number() over a TopK by the same partition and order (the
// top-k idiom whose rank is read) lowers to the TopK numbering its rows
// itself (LTopK.RowNumber), without a second copy of each partition's top
// rows.
//
// Errors returned by this package carry the "plan: " prefix; errors a user
// can cause are *pgcode.Error values.
package plan
