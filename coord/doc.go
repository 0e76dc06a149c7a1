// Package coord is viewd's coordinator: it owns the catalog, the timestamp
// oracle, the dataflows that maintain indexes and materialized views, the
// inputs fed by tables and sources, and the execution of every statement a
// session sends. The wire layer calls it through wire.Backend.
//
// # Time
//
// The coordinator advances one logical clock (milliseconds, like
// mz_timestamp). Every change enters at a timestamp: table writes of one
// transaction at one timestamp, each upstream source transaction at one
// timestamp. Advancing to t means: feed every input its updates at t,
// step every dataflow at t in dependency order (tables and sources first,
// then indexes and materialized views in creation order), then record that
// reads at t are complete. A write is acknowledged only after the step that
// contains it, so a SELECT that starts after the acknowledgement reads at
// a timestamp that includes it (strict serializability): a plain SELECT
// reads at the latest complete timestamp.
//
// # Dataflows
//
// Each table and source has an input dataflow whose output (its rows,
// arranged, with history) every reader shares. A materialized view is a
// dataflow that imports the outputs it reads and exports its own; an index
// is a dataflow that arranges an object by a key, and joins look up in it.
// A one-shot SELECT builds a transient dataflow over the imported outputs
// and indexes, steps it once at the read timestamp, reads its output and
// drops it (reading a materialized view this way copies its contents;
// a direct peek at an arrangement is future work). SUBSCRIBE keeps such a
// dataflow and streams each step's changes. Dataflows whose inputs did not
// change at a step only advance their frontiers (dataflow.Graph.Quiet).
//
// # Concurrency
//
// One mutex (Coordinator.mu) serialises catalog changes, writes and steps.
// Sessions run on their connection goroutines and take the lock for the
// short critical sections; long waits (AS OF in the future, SUBSCRIBE)
// happen outside it.
//
// # Sessions
//
// A session's pid is the wire layer's process ID (pg_backend_pid()).
// pg_stat_activity lists the sessions with their state, current or last
// statement and its start; pg_cancel_backend and pg_terminate_backend
// reach another session through its wire.Client (activity.go).
// statement_timeout bounds a statement from Execute to the end of its
// result stream.
package coord
