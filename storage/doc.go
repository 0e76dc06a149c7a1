// Package storage keeps viewd's durable state in its data directory: the
// catalog (statements that created objects), table writes, the bindings of
// upstream source positions to timestamps, and the timestamp oracle's high
// water mark.
//
// # Layout
//
//	DATA/LOCK        flock'd while a process owns the directory
//	DATA/log         the write-ahead log: records appended and fsync'd
//	                 before the write they describe is acknowledged
//	DATA/snapshot    the state as of a log position, written atomically
//	                 (temp file + rename) by Compact
//
// # Records
//
// Each record is framed as uint32 length, uint32 CRC-32C of the body, then
// the body: a type byte and a payload. A torn or corrupt record can only be
// the last one written (records are appended and fsync'd in order); on open
// the log is cut back to the last whole record, which loses nothing that was
// acknowledged.
//
// # Durability
//
// Append returns once the record and everything before it is on disk.
// Concurrent appends are batched into one write and one fsync (group
// commit), so throughput does not drop to one fsync per write.
package storage
