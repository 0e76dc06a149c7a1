// Package dataflow is viewd's incremental runtime: batches, arrangements
// (traces), operators and the step scheduler. It knows nothing of SQL:
// dataflow/render turns LIR plans into the operators built here.
//
// # Time and steps
//
// An update is (row, time, diff); a collection is the sum of its updates,
// and a row's multiplicity at time t is the sum of its diffs at times <= t.
// Times are totally ordered (repr.Timestamp), so the runtime follows DBSP:
// a Graph advances in steps. Graph.Step(ctx, t) consumes every pending
// input update at a time <= t and runs each operator once, in topological
// order (the order they were added), turning its inputs' changes at t into
// its output's changes at t. After the step, outputs are complete through
// t: their upper is t+1. This gives the same results as differential
// dataflow for a total order. Operators that hold work for the future
// (temporal filters) report it through Graph.NextScheduled so the caller
// can step the graph then.
//
// Every collection carries two streams, as in Materialize: ok rows and err
// rows (ErrRow: a SQLSTATE and a message). An evaluation error never drops
// a row: it becomes an err update with the row's diff, so retracting the
// row retracts the error. Err streams flow through every operator; a reader
// sees an error at t when the err collection is non-empty at t.
//
// Within a step, an operator sees the state of its arranged inputs "old"
// (as of the previous step) and "new" (as of t), which is what the delta
// rules of join and delta join need: Δ(A⋈B) = ΔA⋈B_old + A_new⋈ΔB.
//
// An Input can also stage updates whose time is not known yet
// (Input.Stage): a large upstream transaction is handed over in chunks
// as it arrives, held by the input (consolidated as it grows, so its net
// effect, not its history), invisible to steps until CommitStaged gives
// it the transaction's one time, or dropped by DiscardStaged. The step
// at that time then takes the whole transaction, as it would any update.
//
// # Batches and arrangements
//
// A Batch is an immutable, sorted, consolidated run of
// (key, val, time, diff). Keys and vals are packed repr.Rows stored back to
// back in two byte slabs with uint32 end offsets; times are stored as an
// offset from the batch's least time in the narrowest width that fits
// (zero bytes when a batch has one time), and diffs take zero bytes when
// all are +1, one byte when all fit an int8. Each batch also keeps a
// Bloom filter of its keys (a byte per key) and a fence, the 8-byte
// prefix of every 16th key (half a byte per key): a lookup skips the
// batches whose filter rules its key out and searches the fence as
// integers before it touches at most 16 keys. A batch of n distinct keys
// costs 13.5 bytes per update beyond the packed bytes, and the garbage
// collector sees ten slices per batch, never a pointer per row: arranged
// state of tens of millions of rows costs the GC almost nothing to scan.
//
// Keys are canonical: every keyed operator (arrange, reduce, threshold and
// distinct, topk and window partitions, delta-join lookups) packs a
// numeric key value without its display scale (repr.Packer.PushKey,
// repr.AppendCanonical), so 1.10 and 1.1 are one key, while vals keep the
// rows as they are. Where an output shows a key (reduce's group key,
// threshold's rows), it shows per column the largest display scale among
// the rows present (scaleReps), a function of the collection's contents.
//
// A Trace is a multiversion index of a collection by key, partitioned by
// key hash into one Spine per worker. A Spine is an LSM of batches in
// levels of about 2^k updates (one batch, or a merge in progress of two,
// per level; older updates higher), so an update is merged O(log n) times.
// Merges are fuelled (as in differential dataflow): a large merge is
// started, then advanced by every later insert in proportion to the
// inserted batch, finishing before its level receives another batch, so no
// step stalls on a merge of the whole spine; readers see a merge in progress as
// its two inputs. Merges apply logical compaction: times before the
// compaction frontier (the least since held by a TraceReader, and never
// past the previous step) are advanced to it and consolidated, so history
// is kept only as far back as some reader can ask for. Reads at any time
// in [since, upper) are exact.
//
// A Loader fills an arrangement (or an Output) from a snapshot of its
// contents given in its own order, key bytes then val bytes, as a
// snapshot written from an arrangement holds them: each update goes to
// its shard's batch as it comes, with no sort, and the next step takes
// the batches as its delta. The order is checked update by update; an
// update out of order sends the rest to a sort and logs a warning, so a
// snapshot is never trusted to be sorted.
//
// Writers and readers are separate (TraceWriter, TraceReader). A trace is
// shared: Graph.Import gives another graph the arrangement as an input
// whose deltas are the batches the trace gains each step (its first step
// sees the whole trace as a snapshot), with lookups into the shared
// batches; the import's reader holds back compaction until the graph is
// closed. Graph.ImportPrefixes imports only the entries whose keys start
// with given packed prefixes (an index read: its first step seeks them in
// a cursor, later steps filter the new batches), and
// Graph.ImportWithErrors / ImportOutputErrors give an imported index the
// errors of the collection it indexes, which the arrangement does not
// hold. Neither Import nor ImportPrefixes is fed the batches a trace gained
// before the call: a graph whose first step lies in the past reads
// outputs (ImportOutput) instead.
//
// # Group state
//
// Reduce, distinct/threshold, TopK and window index their groups with a
// keyTable (keytable.go): packed key -> dense slot, an open-addressing
// index and a byte slab of keys with no pointer per key. Each keeps its
// per-group state in slices indexed by slot (reduce: a groupState, plain
// counts and pointer-free accums, output rows in a spanArena; threshold:
// a count; TopK and window: a multiset), and what only some aggregates
// need by index in side slices (decimals) or an msTable (multisets). An
// msTable (mstable.go) packs small multisets in one pointer-free slab and
// keeps large ones apart, so that a million groups are not a million heap
// objects. A group that empties frees its slot for the next new key.
// Graph.StateBytes counts this state.
//
// # Monotonic operators
//
// Reduce's min and max and TopK keep each group's values in an ordered
// multiset, so that a retraction can reveal the next value. Over an input
// that never retracts (an append-only source) MonotonicReduce and
// MonotonicTopK drop, after each step, what can no longer matter: all but
// the extreme values of a min/max, all but the first offset+limit rows of
// a TopK group (limit 1: just the first row, in an arena, no multiset).
// A retraction reaching one is a planning error: XX000 on
// its err stream. The planner decides (plan: LReduce/LTopK.Monotonic).
//
// # Parallelism
//
// A graph has W workers (Options.Workers). Keyed state (arrangements,
// reduce, distinct/threshold, topk) is sharded by key hash; within a step,
// an operator whose input carries at least Options.ParallelMin updates
// runs its shards on W goroutines and the step continues when all finish;
// smaller steps run on the calling goroutine, so a single-update step costs
// no goroutine handoff. Outputs are consolidated (sorted), so results do
// not depend on W: joins and TopK consolidate each worker's output on its
// worker and merge the sorted parts into the step's output (gather), so
// that a bulk step's output is not copied three times over. One step's
// output of an operator holds at most 4 GiB of packed rows (uint32
// offsets); an operator that would pass it fails the step with 54000.
//
// # Cancellation and the memory limit
//
// A step runs under a control shared by its operators and their worker
// goroutines: a stop flag, raised by context.AfterFunc when the step's
// context is done, and a running sum of the bytes the step's operators
// produced (packed rows plus 12 bytes each, and an estimate of new keyed
// state). Every operator loop whose work can be large (join and delta
// join lookups and output, reduce, flat map, threshold, topk, window,
// iterate rounds, MFP, long consolidations, and an arrangement's builder
// sorting and building a large batch) ticks a meter that, every
// 1024 iterations, charges its output's growth and polls the flag, so a
// cancelled step stops within about a millisecond of work per worker and
// Step returns an error wrapping ctx.Err(). Options.MemoryLimit (0:
// unlimited) stops a step whose sum passes it, with a *pgcode.Error of
// code OutOfMemory (53200). The sum bounds growth; it is not a heap
// measure (transient copies can take about as much again).
//
// A stopped step has run some operators part way: the graph is unusable
// afterwards (every later Step fails) and must be closed. That suits the
// one-shot dataflows of reads, which are dropped after their only step,
// and the bound on a materialized view (the coordinator's
// --max-dataflow-memory), whose view fails and is dropped past it.
// Persistent dataflows are stepped with a context no client can cancel.
// Graph.StateBytes measures what a graph's own arrangements and outputs
// and its operators' group state (key tables, flat slices, multiset
// entries) hold, for a bound on state that grows step by step.
//
// # Sinks and reads
//
// Collection.Materialize keeps an Output readable as of any time in
// [since, upper); Collection.Subscribe delivers each step's consolidated
// ok and err updates to a callback, in time order.
//
// Collection.MaterializeAppendOnly keeps an Output whose ok rows are an
// append log rather than an arrangement: each step's rows as they come,
// in time order, unsorted, in segments of a few MiB with a mark per step
// (its time and the segment's length), so a read as of t scans a prefix
// of the log and history needs no compaction. It is for a collection that
// only grows (an append-only source), whose readers scan it or import it
// whole: arranging it would sort and merge every row for no reader. A
// sealed segment whose times are all before every reader's since is
// looked at once: when a sample of its rows shows many repeats it is
// consolidated (sorted, equal rows summed), so a collection that repeats
// rows does not hold each copy; rows that do not repeat are never sorted.
// The Output's readers are the same (Read, Count, Reader's Scan, Cursor
// and Errs, Loader, ImportOutput); Scan gives the rows in log order, a
// row appended twice twice, Cursor sorts what it reads, Count scans, and
// ImportOutput delivers each step the log's rows of the times since its
// previous step (unconsolidated: a collection's delta need not be). The
// err rows are arranged as in any Output, and the err trace's reader
// holds the output's since.
//
// Reading a trace: a TraceReader (or an Output's OutputReader) is a read
// hold: while it is held, reads at times at or after its since are exact,
// so a reader takes one under the coordinator's lock and reads outside it,
// concurrently with the steps that write the trace. A Cursor walks the
// trace as of a time, key by key in key order with each val's accumulated
// multiplicity; it merges the immutable batches of every shard lazily (a
// k-way merge, nothing copied), and its SeekKey gallops, so walking sorted
// keys is a merge. TraceReader.Lookup reads one key from its shard.
//
// After a step, a top-level graph releases delta buffers past 16 MiB, or
// past 1 MiB when the step used less than a quarter of them (a bulk
// load's), and the snapshot an import's first step copied, so idle
// dataflows hold their arrangements and little else, while a stream of
// similar steps reuses its buffers (keepBuffers).
package dataflow
