// Package storage keeps viewd's durable state in its data directory: the
// catalog (statements that created objects), table writes, the bindings of
// upstream source positions to timestamps, the timestamp oracle's high
// water mark, and snapshots of the tables' arrangements as Arrow IPC
// files.
//
// # Layout
//
// The directory and the files the store creates are the server's user's
// only (0700 and 0600): they hold every table's rows, role password
// verifiers and secret values. Open restricts an existing directory open
// to other users, with a warning.
//
//	DATA/LOCK            flock'd while a process owns the directory
//	DATA/log.N           the write-ahead log of generation N: records
//	                     appended and synced before the write they
//	                     describe is acknowledged; the manifest's
//	                     generation and any later ones are live
//	DATA/snapshot        the manifest of the state as of the start of a
//	                     log generation: the generation number, then
//	                     records (catalog, one per table file, bindings,
//	                     timestamp), written by Compact to snapshot.tmp,
//	                     synced, and renamed
//	DATA/snap.N.T.arrow  table T's contents as of the start of generation
//	                     N, in the order of its arrangement (an Arrow IPC
//	                     file; see Table files), or for an append-only
//	                     table the rows appended between an earlier
//	                     snapshot and that one
//
// # Records
//
// Each record is framed as uint32 length, uint32 CRC-32C of the body, then
// the body: a type byte and a payload. A body is at least one byte, so a
// zero length never frames a record: zeros read as the end of the log.
//
// Source transactions too large for one record (a PostgreSQL source's
// large transaction or initial snapshot) are appended in chunks
// (RecSourceChunk, AppendSourceChunk), each tagged with its source. A
// chunk counts only once the source's next source write record
// (RecSourceWrite with a binding for that source: the transaction's
// commit, AppendSourceWrite) follows it; an abort chunk
// (AbortSourceChunks) drops the source's pending chunks. Replay holds
// chunks aside until their commit and drops those left without one (a
// crash during the apply), and Open then appends an abort for each such
// source, so that the source's next commit never adopts them. Digests
// take chunks at their commit. BeginCompact refuses to run while chunks
// are pending (ErrChunksPending): the snapshot would not hold them, and
// the log that does is removed once it is in place; the coordinator
// compacts after the commit.
//
// # Memory
//
// The store holds no table contents. Open replays the manifest and the log
// and hands each table to the caller in State.Tables: the table's file in
// the snapshot, unread (TableSnapshot; the caller reads it once, with
// TableSnapshot.Open, before the next Compact removes it), and the updates
// logged since. From then on the caller's copy (the coordinator's
// dataflows) is the only one. The store keeps per table only a digest (a
// count and an order-free hash of the rows), with which Compact checks the
// contents the caller streams to it, plus the latest source bindings and
// the timestamp. The manifest records each table file's digest, so Open
// knows the digests without reading the files.
//
// # Table files
//
// Compact writes each live table to its own Arrow IPC file (the random
// access "file" format, readable by pyarrow.ipc.open_file, DuckDB's arrow
// extension or any Arrow library) holding the table's arrangement as it
// was in memory: the updates sorted as the arrangement's batches sort
// them, consolidated, with their diffs, in record batches of at most
// 65,536 updates and about 8 MiB. A table arranged by a key (the
// coordinator's primary arrangement of a table with a primary key) has
// three columns, a table arranged by whole row (no primary key, a source)
// two:
//
//	key   binary, not null   the packed key (repr.Row of the key columns)
//	row   binary, not null   the packed row (repr.Row of every column)
//	diff  int64, not null    the row's multiplicity (non-zero)
//
// sorted by key bytes, then row bytes, each (key, row) once; or by row
// bytes alone when there is no key column; or, for a collection kept as
// an append log (an append-only source: SnapshotTable.Unordered), in the
// log's order, unsorted, a row possibly more than once. The schema's
// metadata says so: viewd.format ("1"), viewd.table (the table's id) and
// viewd.order ("key,row", "row" or "none"), plus what the coordinator adds: viewd.name,
// viewd.columns (the column names and SQL types, "?" marking a nullable
// one, e.g. "(id integer, v text?)"), viewd.key_columns (the key's
// column positions, e.g. "0") and viewd.key_format (how keys are packed:
// "3" since intervals inside array and record keys are in span form, "2"
// since jsonb keys are canonical; a file without it holds format 1; the
// coordinator arranges the keys of an older format again on load).
// Rows are repr's packed encoding (repr/doc.go: a tag byte per datum and
// its payload); an external reader decodes them with repr or, simpler,
// exports with COPY ... TO.
//
// The columns are the packed bytes, not typed Arrow columns (int32, utf8,
// ...): a restart loads them straight into the arrangement's batches, whose
// keys and vals are packed bytes, copying each once and comparing each
// with its predecessor to check the order (dataflow.Loader), where typed
// columns would cost a decode and a re-encode of every datum on each
// compaction and each restart, or a second copy of the data in the file.
//
// The record batches are not compressed, so that a restart reads the
// file's bytes as they are (arrow-go's mapped reader copies nothing) and
// any reader opens them, codecs or not. On BenchmarkRestart's 1M-row table
// the files take 60.9 MB (the framed records before them took 45.9 MB:
// varints where Arrow has int32 offsets, int64 diffs and a key column);
// arrow-go's LZ4 gives 53.0 MB at about the same restart time, ZSTD
// 35.6 MB but about 0.1 s more CPU per restart and two to three times
// the compaction time (0.5-0.65 s instead of 0.2-0.25 s, measured when a
// compaction ran under the coordinator's lock; the framed records took
// 0.2-0.35 s).
//
// One file per table rather than one file of many record-batch streams:
// a table is read (and its memory released) on its own, when the
// coordinator creates it; a file is named by the generation and table id,
// so a compaction never writes over the files the live manifest names; an
// external reader opens one table's file with no viewd-specific framing;
// and a dropped table's file goes with the next compaction.
//
// An append-only table (unordered) may be written in increments
// (SnapshotTable.Increment): the compaction keeps the live snapshot's
// files of the table and writes one more, of the rows appended since, so
// that a source that only grows is written once rather than again at each
// compaction. The manifest then names the table's files in order, each
// record carrying the generation that wrote its file when that is an
// earlier one (a manifest without kept files reads as before); the
// contents check sums the kept files' digests and the new one's.
//
// A table file is trusted only as far as the manifest vouches for it: the
// manifest (checksummed, framed records) holds each file's size and CRC-32C,
// its update count and key and row bytes (to size the memory it loads
// into), and its digest. TableSnapshot.Open reads the file whole and
// checks its size and checksum before the Arrow reader sees a byte of it:
// arrow-go trusts the lengths in a file's flatbuffer metadata, and a
// damaged one can make it allocate without bound (a fatal error no recover
// catches; TestTableFileUntrustedBytes found it). Then the schema must be
// the one above, each record batch is checked (types, no nulls, offsets
// within bounds) before its updates are handed out, and at the end the
// count, the sizes and the digest must be the manifest's. A damaged file
// is an error naming it, never a panic. A manifest written before table
// files existed holds tables as table write records; Open still reads it
// (its tables come as updates) and the next Compact writes files.
//
// # The log file
//
// The log is allocated ahead of its records in chunks of 64 MiB (fallocate,
// or zeros written where that is unsupported) and the new size synced once
// per chunk, so that a commit writes within the file and needs only
// fdatasync: no file size change, no inode update in the file system's
// journal. This is what PostgreSQL does with its WAL segments. The file
// size is therefore not the end of the log: the end is the first byte that
// does not start a whole record with a matching checksum, either the zeros
// of the allocated tail or a record torn by a crash. On open, any non-zero
// bytes after the end are zeroed and synced before the log takes appends:
// a flush interrupted by a power loss can leave a later record of the
// flush whole behind a torn one, and it must not be read back once new
// records have been written up to it.
//
// # Durability
//
// Append returns once the record and everything before it is on disk.
// Concurrent appends are batched into one write and one fdatasync (group
// commit), so throughput does not drop to one sync per write. A record
// whose append returned survives a kill -9 at any moment (TestKill9 kills
// a writer process and checks) and a power loss (TestTornTail cuts the log
// at every byte).
//
// A compaction is crash-safe in the same way. BeginCompact creates the
// next generation's log, fsyncs the directory and moves appends to it;
// the compaction's Write then writes and fsyncs every table file of that
// generation (names no manifest uses yet), fsyncs the directory, writes
// and fsyncs the manifest as snapshot.tmp, renames it over the old one and
// fsyncs the directory. Appends go on throughout, into the new log. Until
// the rename the old manifest, its log and the new log (a chain Open
// replays in order) and the old table files are the state; after it the
// new manifest, its log and table files. Open removes logs and table
// files outside that state (left by a compaction that did not finish, or
// by a crash before the old ones were removed); a compaction that fails
// leaves the chain, which the next one folds in. TestCompactionCrashStages
// copies the directory at each stage, as a kill -9 there leaves it, after
// an append made at that stage, and checks that every copy opens to the
// same contents.
//
// # Cost of an append
//
// BenchmarkAppend, one small table write per append, on the development
// VM's ext4 disk (2 vCPUs, shared), four alternating runs of each:
//
//	                      before (fsync,          after (preallocated,
//	                      growing file)           fdatasync)
//	1 appender   p50      171-215 µs              113-147 µs
//	             appends/s 2,700-4,500            2,500-6,900
//	             (median 4,100)                   (median 5,400)
//	8 appenders  appends/s 10,500-18,400          18,300-28,900
//	             (median 14,700)                  (median 24,300)
//
// With 8 appenders about 4.5 appends share each flush. Means swing with
// other tenants' I/O; the median latency is the steadier figure.
package storage
