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
// Each table and source has an input dataflow whose output every reader
// shares. A table with a primary key arranges its rows by that key (its
// primary arrangement, the table's only in-memory copy: reads import it,
// the optimiser sees it as an index, writes check keys by looking them up
// in it). A source with a key its reader resolves changes by (a PostgreSQL
// subsource, a keyed Kafka envelope: sourceState.primaryKey) is arranged the
// same way, and its reader looks current rows up there instead of keeping a
// copy (sourceCollections, a sources.CollectionReader). An append-only
// source (sourceState.appendOnly) keeps its rows in an append log
// (dataflow.Collection.MaterializeAppendOnly), as does a materialized view
// that can only grow; other tables and sources materialize their rows by
// whole row. A materialized view is a dataflow that imports the arrangements it reads
// and exports its own output; an index is a dataflow that arranges an
// object by a key. Dataflows whose inputs did not change at a step only
// advance their frontiers (dataflow.Graph.Quiet).
//
// # System catalog
//
// The pg_catalog, information_schema and mz_ relations that describe the
// catalog (pg_class, pg_attribute, information_schema.columns, ...) are
// input dataflows arranged by a key, like tables (catalogrel.go): the
// optimiser sees their arrangements as indexes and reads import them.
// The coordinator feeds them the difference of their rows at the first
// step after the catalog version moves, and a read that could see a
// stale one advances time first. Relations whose rows change with more
// than the catalog (sessions, source statuses, roles) or are tiny are
// computed when read and planned as constants.
//
// # Reads
//
// A read (read.go) takes the coordinator's lock only to pick its
// timestamp, plan, and take read holds (trace readers at the read time)
// on what it reads; it computes outside the lock and releases the holds
// when its result stream is closed. plan.PlanPeek chooses how: a constant;
// a lookup in an index or primary arrangement when the filter fixes its
// whole key (= or IN); a streamed pipeline over scans of arrangements
// (map, filter, project, flat map, union), stopped by LIMIT; any other
// query builds a transient dataflow that imports the arrangements it reads
// (its one step sees their contents as its input delta, released after
// the step), steps once at the read time and is read through a cursor. Rows stream to the client (rows.go): only ORDER
// BY buffers, bounded by Config.MaxQueryMemory. EXPLAIN PHYSICAL PLAN
// ends with the path a read takes. Prepared point reads reuse a lookup
// plan made once (plancache.go). A SELECT without parameters that any
// session ran before takes its parse tree, plan and optimised plan from
// the read cache (stmtcache.go) while the catalog is at the version it was
// planned at and the session's variables are those it was planned with:
// clients repeat their catalog statements, and planning was most of their
// cost. A cancelled read (CancelRequest,
// statement_timeout, pg_cancel_backend, a closed connection) stops within
// milliseconds wherever it is: the dataflow runtime and the streams poll
// their context.
//
// With real_time_recency on, a read first waits (pgsource.go) until the
// frontier of every PostgreSQL source it reads (through views too) has
// passed the upstream's pg_current_wal_lsn() read when the read began;
// the units before it were applied under the lock, so the read's
// timestamp includes them. Whatever the setting, a read (without AS OF)
// of a PostgreSQL source whose initial snapshot is not in yet waits for
// it (waitSnapshots, up to 30 s), so the subsources are never read empty
// before their first data.
//
// A materialized view's dataflow is bounded by Config.MaxDataflowMemory
// (--max-dataflow-memory; dataflowmem.go): past it the view fails, its
// state is dropped, and reads of it and of everything built on it return
// 53200 while the server and other views go on.
// mz_internal.mz_dataflow_memory shows each dataflow's arranged bytes and
// group state.
// A read-write transaction's pinned read timestamp holds back the since,
// so its reads stay valid however long it runs.
//
// # Writes
//
// A transaction's writes are checked (NOT NULL, unique keys by lookup,
// retractions of rows that must still be there) and committed at one
// timestamp. Commits are grouped (dml.go): concurrent transactions queue
// and the one holding the lock checks and commits them all with one
// durable log write and one step. A commit checks its client's context
// once, before its write is durable; from there it completes under the
// coordinator's own context, whatever the client does. Bulk writes take
// the shapes the checks and the arrangement want: COPY FROM (copy.go)
// sorts its rows by the table's arrangement key in runs on a goroutine of
// its own while the connection parses, and merges the runs at commit, so
// the key check and the arrangement's builder find them sorted; an
// INSERT ... VALUES list is evaluated from one expression per column
// (sql.InsertPlan.Rows), without the optimiser; a large batch of new keys
// is checked by one galloping walk per batch (dataflow.Cursor.CountKeys).
// INSERT ... ON CONFLICT resolves again when another session committed a
// conflicting key first. Foreign keys (fk.go) run at each statement's end:
// their actions (CASCADE, SET NULL, SET DEFAULT) join the statement's
// writes, so they commit at its timestamp, and their checks are lookups
// in the parent's key and in each foreign key's index of referencing rows;
// a commit checks them again against what committed since.
//
// # Durability and restart
//
// Catalog statements, table writes and source data and bindings are
// appended to the store's log before they are acknowledged. A load
// generator's data is the exception: its output is a function of its
// options and tick, so only its binding (the first tick not emitted) is
// logged, and replay computes the ticks before it again into the inputs
// for the first step (sources.go). Past
// Config.CompactLogBytes of log, and once the log has grown to
// Config.CompactSnapshotRatio times the live snapshot's size (so that a
// growing collection is not rewritten whole every 64 MiB), the tick loop
// begins a compaction between steps (compact.go): it takes a read hold at
// now on every table's and source's arrangement and the store moves its
// log to a new generation; a goroutine then streams each arrangement as
// it holds it (a primary arrangement by key, then row; other tables and
// sources by row; an append-only source, whose rows are kept in an
// append log rather than arranged (runtime.go, newInputDataflow), in the
// log's order, unsorted) and the store writes each to an Arrow IPC file
// (see storage's doc) and puts the snapshot in place, while writes,
// ingestion and steps go on into the new log. An append-only source whose
// live snapshot this process wrote is written in increments: its hold at
// that snapshot's time stays, and the next compaction writes only the rows
// appended since, the store keeping the earlier files.
//
// Open replays the catalog records in order. When it recreates a table or
// source it loads its files (one, or an append-only source's parts in
// order, through one loader) straight into the arrangement: a file is in
// the arrangement's order, so a dataflow.Loader appends each update to its
// shard's batch with no sort (checking the order as it goes, and sorting
// only if a file is not in order; an append log's file is appended as it
// is), and the updates logged since go
// through the table's input. Both enter at the first step, after the
// whole catalog is replayed, which also computes the views and indexes
// over the loaded tables (their own state is not in the snapshot).
//
// BenchmarkRestart measures a 1M-row table with a view grouped over it (2
// workers, the shared 2-core VM at a load average of about 2): 0.57-0.74
// s to a right answer from the table files (0.76-0.83 s of CPU; opening
// the store 0.01 s, reading, checking and loading the table 0.14-0.22 s,
// the rest the view's first step), against 0.90-1.25 s (1.1-1.3 s of
// CPU) when the same rows were decoded from framed records (0.24-0.44 s),
// fed through the input and arranged in the first step.
//
// # Roles and privileges
//
// Roles (roles.go) and the owners and ACLs of items and schemas
// (privileges.go) are PostgreSQL's, kept in the durable catalog as
// records of their whole new state. A session is a role that exists and
// has LOGIN (NewSession checks; the wire layer authenticates it first
// with LoginRole, which reads a published copy of the roles without the
// lock). Every statement is checked as the session's current role (SET
// ROLE): reads and writes in run (authorizeLocked), and DDL where it
// resolves its objects (the ddlSession the statement runs for); replay
// checks nothing. Superusers pass every check; a refusal is 42501.
//
// # Concurrency
//
// One mutex (Coordinator.mu) serialises catalog changes, commits and
// steps; reads hold it only to start. Sessions run on their connection
// goroutines; long waits (AS OF in the future, SUBSCRIBE) happen outside
// the lock.
package coord
