// Package sources turns upstream change streams (Kafka topics carrying
// Debezium, Maxwell, CockroachDB changefeed, upsert or plain records) into
// atomic Units of updates for the coordinator, never splitting an upstream
// transaction, even when its records are spread over several topics and
// partitions. Load generators live in sources/loadgen.
//
// # Terms
//
//   - A source collection (CollectionID) is one relation a source feeds,
//     declared by a SourceSpec: its topic, format, envelope, columns.
//   - A record is one Kafka message at (topic, partition, offset).
//   - A Unit is an atomic unit of ingestion: all updates of one upstream
//     transaction, across every collection it touches, or a batch of
//     records that belong to no transaction. The coordinator gives a Unit
//     exactly one viewd timestamp.
//   - A Checkpoint is the resume point after a Unit: per partition the
//     first offset not covered by an emitted Unit, plus an envelope token.
//
// # Division of labour with the coordinator
//
// The coordinator owns time. It builds a Reader (Kafka) or a
// loadgen.Generator per group of related sources and implements Sink:
// Emit(ctx, Unit) assigns the Unit a timestamp, applies its updates, and
// durably binds the Unit's Checkpoint to that timestamp before returning.
// ReportError marks a collection errored; queries that read it must fail
// with SourceError.PgError(). To restart, the coordinator passes the last
// durable Checkpoint as Config.Resume. Reading resumes exactly there:
// nothing lost, nothing doubled. Envelopes that resolve a change against
// the current row (keyed ones: an update or delete names the key, an
// upsert replaces the key's row; keyless ones check a retracted row is
// there) read the collection as the sink holds it through
// Config.Collections (a CollectionReader; the coordinator arranges such a
// collection by the decoder's key): the Assembler keeps only the rows it
// changed in the units not yet applied, and the Reader calls Applied
// after each emission. Without Collections the Assembler keeps every
// collection's rows itself, rebuilt on restart from Config.Contents.
//
// # Consistency model
//
// Records are decoded as they arrive (per partition in offset order) into
// ops (insert, delete, update, upsert), which stay pending until their
// transaction is complete. The Assembler decides completeness per
// envelope:
//
//   - Debezium with TRANSACTION METADATA (Config.TxnTopic): a transaction
//     is complete when its END record has arrived and every data collection
//     read here has delivered the END's event_count events carrying its
//     transaction.id. Transactions are released strictly in END order
//     (commit order). Snapshot reads (op "r", no transaction block) are
//     held and released together as one unit once the snapshot is over
//     (snapshot.go); they need no transaction metadata topic, which a
//     connector that has only taken its snapshot has not written yet:
//     the Reader reads the data topics meanwhile and says so in Status.
//   - Maxwell: records of one xid form a transaction that ends at the
//     record with commit=true; with output_xoffset (required when a
//     transaction's records span several topics or partitions) it is
//     complete once xoffset+1 records are in.
//   - CockroachDB: all rows with the same updated HLC are one transaction;
//     rows at or below the least resolved timestamp received on every
//     partition are complete and are released in HLC order, one Unit per
//     HLC. Rows re-delivered at or below the last released HLC (the
//     Checkpoint token) are dropped.
//   - UPSERT, NONE, and Debezium without metadata: each record stands alone.
//
// A Unit is released only when all of its records are at the head of the
// pending records of their partitions. Hence each partition's released
// records are a prefix of it, a Checkpoint's offsets never pass an
// unreleased record, and replay from a Checkpoint re-reads exactly the
// unreleased records (CockroachDB, whose partitions are not in HLC order,
// instead drops re-read rows by HLC). Within a partition records are in
// upstream commit order (Debezium, Maxwell, and per key CockroachDB), so a
// key's changes are applied in commit order; transactions that share no
// partition may be released in either order (Maxwell; they commute).
//
// Ops are resolved against per-collection state when their Unit is
// released: for a collection with a primary key, the current row per key
// (so a Debezium delete or update without a full before image — REPLICA
// IDENTITY DEFAULT — and upserts retract the right row); without one, the
// multiplicity of every row (so a retraction of a row that is not there is
// caught). ENVELOPE NONE keeps no state. Memory is therefore proportional
// to the collection for every envelope but NONE.
//
// # Decoding
//
// Every JSON envelope parses each message once, with jsonScanner
// (jsonscan.go): a validating tokenizer that hands out each value as a
// span of the message, so a decoder finds the declared columns' values in
// one pass and converts them straight into datums pushed onto a
// repr.Packer — no map, no tree, no `any` per value. Strings are
// unescaped into per-message scratch only when they hold escapes; text
// datums alias the message until they are packed. The grammar accepted,
// the unescaping (U+FFFD for lone surrogates and bad UTF-8) and the
// envelopes' own fields (case-insensitive keys, last duplicate wins, null
// leaves a field unset, a wrong type invalidates the message) are
// encoding/json's, which decoded messages before: decode_oracle_test.go
// checks the two agree on random messages, and FuzzDecode explores more.
// encoding/json remains only on rare paths: schema blocks (parsed once
// per distinct schema and cached), transaction metadata records,
// VariableScaleDecimal values and records that failed to decode.
//
// The tokenizer was chosen over libraries by measuring a Nexmark bid
// decoded into a packed row (go test -bench in a scratch module, 2 shared
// cores; parse and field extraction only, conversions excluded):
// encoding/json into map[string]RawMessage 5.4 us, 39 allocs;
// segmentio/encoding 5.0 us; bytedance/sonic 2.9 us (map) and 3.6 us
// (ast.Node; its JIT works with this toolchain); goccy/go-json 2.2 us,
// 25 allocs; valyala/fastjson 0.90 us, 4 allocs; this tokenizer 0.95 us,
// 1 alloc (the row). fastjson is as fast but builds a value tree, validates
// and unescapes by its own rules and errors in its own words; the
// tokenizer keeps encoding/json's, adds no dependency and gives spans the
// converters take as they are.
//
// BenchmarkDecode and BenchmarkIngest (decode_bench_test.go; the second
// is all of sources' work per event: push, decode, release) report CPU
// time per event. Before this decoder, on a loaded 2-core machine: a
// Nexmark bid 9.5 us of CPU and 52 allocations (2264 B); a Debezium c/u/d
// event 41 us (132 allocations), 58 us with the schema block. After: a
// bid 1.35 us and 2 allocations (288 B: the row and a share of slabs), of
// which the timestamp is a fifth (fastISOTimestamp spares
// repr.ParseTimestamp for the common ISO form); a Debezium event 3.8 us
// and 8 allocations, the same with the schema block (an unchanged block
// costs one comparison). Ingesting: Nexmark 9.2 -> 1.6 us per event
// (53 -> 1 allocations), Debezium 33 -> 5.5 us (141 -> 9). The whole server, issue #13's q0 measurement
// (500K events pre-produced into the embedded broker, CPU of viewd until
// the view holds every bid), went from 58K-75K to 112K-180K events per
// CPU-second (58K to 140K with the machine quiet); decoding is now about a
// quarter of viewd's CPU there. For q4 (a join and two levels of group
// by) it went from 42K-49K to 112K-122K. The same measurement of a
// Debezium source (500K create and update events of an orders table,
// declared columns with a primary key) went from 13K to 48K-72K events
// per CPU-second, decoding about 40% of it.
//
// ENVELOPE NONE with declared columns (decodeObject) goes faster still
// when the upstream writes the columns in declared order, as upstreams
// do (jsonfast.go, session 12): each value is converted where it stands,
// strings and numbers read once, the expected key matched in place
// (jsonScanner.memberLike); anything out of order, repeated or wrong
// sends the message back to the general path, so rows and errors are
// the general path's exactly (TestPackInOrderAgreesWithGeneralPath,
// FuzzPackInOrder). BenchmarkDecode/nexmark-mix-padded went from
// 1144 to 535 CPU-ns per event and BenchmarkIngest/nexmark/workers=1
// from 1505 to 725 (the second also by looking up a record's sources
// once per poll), on the shared machine at load ~5.
//
// A Reader decodes each poll's records on Config.DecodeWorkers goroutines
// (decodepool.go) and then adds them to the Assembler one by one in the
// poll's order, so the Assembler sees exactly what sequential decoding
// would give: per-partition order and transaction assembly are unchanged.
// Decoders keep no per-message state; each worker has a workspace (its
// scanner, packer and scratch).
//
// An append-only collection (ENVELOPE NONE, which keeps no state) goes out
// packed: its decoder cuts each row from its worker's slab (no allocation
// per message; the slab's chunks are reused once no record is pending,
// every row being copied out by then), and the Assembler copies the rows
// of a unit back to back
// into one slab per collection (Unit.Packed, sources.PackedRows), which the
// coordinator hands to the dataflow's input queue as it is. A tracked
// collection's rows live on in its state and go out as Unit.Updates.
//
// # Errors
//
// Bad input — bytes that are not JSON, JSON that does not fit the declared
// columns, a delete or update of a row that is not there, a negative
// multiplicity — never stops the reader and is never dropped silently: it
// is reported through Sink.ReportError as a *SourceError with topic,
// partition and offset, and the collection enters StateErrored. Other
// collections, including others in the same transaction, go on. A record
// that fails to decode still counts towards its transaction when its
// transaction fields can be read, so the transaction is not held forever.
// Upstream trouble (an unreachable broker, a topic not yet created) makes
// the reader's collections StateStalled and is retried; upstream data loss
// (see below) errors them. Reader.Status
// returns state, last error and statistics: messages, bytes, updates and
// units, and per partition the next offset, high watermark and lag.
//
// # Embedded broker
//
// StartEmbedded runs franz-go's kfake, a Kafka-compatible broker, in
// process (127.0.0.1:9092 by default), creating topics on first produce.
// With WithDataDir its log (topics, records, consumer offsets) is kept in
// a directory and reloaded on start, so a restart or kill -9 loses no
// acknowledged record; WithSyncWrites fsyncs each batch before the
// acknowledgement, against OS crashes and power loss too. Without a
// directory its data lives in memory only.
//
// # PostgreSQL
//
// PGReader (pgreader.go) reads a publication through a logical
// replication slot with the pgoutput plugin, over pgx's replication
// connection and github.com/jackc/pglogrepl. DiscoverPG (pgschema.go)
// reads the published tables, their columns (types mapped to viewd's;
// enums and TEXT COLUMNS as text) and their key (primary key, or the
// replica identity index). The reader's invariants:
//
//   - Snapshot: the slot is created with EXPORT_SNAPSHOT; every table is
//     COPYed in one REPEATABLE READ transaction at that snapshot and the
//     whole is one unit (sent in chunks, below) whose checkpoint is the
//     slot's consistent point. Streaming starts there, so the snapshot
//     and the stream neither overlap nor leave a gap. A slot left by a
//     snapshot that never became durable is dropped and created again.
//   - Stream: one unit per upstream transaction, its checkpoint token the
//     transaction's end LSN. Messages are buffered until the commit (in
//     memory up to SpillBytes, then in a spill file); with protocol v2
//     (server 14+) large transactions arrive streamed, interleaved, and
//     a rolled-back subtransaction's changes are dropped at the commit.
//   - Large units in chunks: at the commit the buffered messages are
//     replayed into updates, and whenever those pass ChunkBytes (8 MiB
//     of packed rows by default) they are emitted as a chunk
//     (Unit.More, numbered by Unit.Chunk) and the reader goes on with an
//     empty unit; the snapshot's COPY does the same as rows arrive. The
//     last unit alone carries the checkpoint. So neither the reader nor
//     the sink ever holds a large transaction whole: the coordinator
//     appends each chunk to its log as pending and stages it in the
//     subsources' inputs, where no step sees it, and the last unit
//     commits them at its one timestamp (coord/sources.go, and
//     storage's RecSourceChunk). Readers and SUBSCRIBE see none of the
//     transaction or all of it; a crash during the chunks loses them
//     (storage.Open drops chunks without a commit), and since the
//     frontier moves only when the last unit is durable, the slot has
//     not confirmed the transaction and the upstream sends it again. A
//     reader that gives up on a transaction part way (a reconnect after
//     chunks were sent) starts it again at chunk 0, which makes the
//     coordinator drop the chunks it holds. A transaction that fails
//     part way through its resolution stops the source (pgFatal): what
//     failed to decode would fail again; a restart resumes from what is
//     durable.
//   - Malformed messages: pglogrepl's decoders index and allocate what
//     the message says, so insert, update, delete and truncate lengths
//     are checked first (checkPGOutputLengths) and the decoders run under
//     recover; a bad message is an error of the stream, never a crash.
//     FuzzPGOutput explores it. What remains proportional to
//     the transaction: the staged queue (its net effect: a transaction
//     that rewrites the same rows holds their last values, so its memory
//     does not grow with its length), and the step at its timestamp,
//     which takes the queue as one delta and builds the arrangement's
//     new batch from it (about 2 times the data of an insert-only
//     transaction, beside the result). The result is held once, by the
//     subsources' arrangements: the reader keeps no copy of the tables
//     (below). tests/pgsource/memory_test.go measures all of it.
//   - Exactly once: a transaction whose commit LSN is before the resume
//     point is skipped (the upstream re-sends from the slot's position).
//     The frontier (Frontier) is the LSN before which every upstream
//     transaction is durable in viewd: a unit's end LSN once Emit has
//     returned, or a keepalive's WAL end when no transaction is open
//     and every received one is durable. Standby status updates confirm
//     the frontier and nothing beyond it.
//   - Changes are resolved against the collections as the sink has
//     applied them (CollectionReader; the coordinator arranges a keyed
//     subsource by its key and looks rows up there) and the changes
//     resolved since (pgresolve.go: pgPending, the units not yet
//     acknowledged and the transaction being resolved, dropped as units
//     are acknowledged): an update or delete under REPLICA IDENTITY
//     DEFAULT carries only the key, so the row it retracts is the one
//     held under the key; unchanged TOASTed values are taken from it; a
//     table without a key needs the whole old row (REPLICA IDENTITY
//     FULL) and one that is there; TRUNCATE retracts every row, read
//     from the collection as it is retracted. So the reader holds what
//     is in flight, never a table (before session 9 it kept a row per
//     key, more than the subsource's arrangement). A spilled transaction
//     without TRUNCATE is read twice: first to count the changes per key
//     (countKeys), then resolved with the units before it flushed and
//     its own last unit flushed at once, so a key it changes once needs
//     no pending entry (a bulk insert keeps nothing per row). An insert
//     of a key already held replaces the row (a re-delivered unchanged
//     row changes nothing).
//   - A table whose columns change upstream (a Relation message, or the
//     catalog at the snapshot, that differs from the source's columns) is
//     errored through Sink.ReportError; its later changes are dropped and
//     the other tables go on. A resuming reader checks the upstream
//     catalog too, since a changed table sends no Relation message until
//     its next change. Connection trouble stalls the source and is
//     retried with backoff; a missing slot is fatal.
//
// # Offsets that move under a source
//
// A resumed or running reader checks each partition's log start offset,
// high-water mark and topic ID against its position (offsets.go): a topic
// deleted and recreated, truncated, or whose retention deleted records not
// yet read, and a partition that disappeared, put the collections it
// feeds into StateErrored instead of skipping records silently.
package sources
