// Package pgsource tests CREATE SOURCE ... FROM POSTGRES end to end: a
// private PostgreSQL 15 with wal_level=logical (internal/pgtest), viewd
// started from its binary (internal/viewdtest), writes upstream over pgx
// and reads from viewd over pgwire. The functional tests run in parallel
// (two at a time with GOMAXPROCS=2); the ones that measure (snapshot,
// throughput and lag, bank, kill -9 restarts, memory) run alone.
// -pgsource.long runs longer variants: memory_test.go's large
// transactions and snapshot then move 1M rows (over 200 MB of row data)
// instead of 100K, and the server's heap (from its GC trace) and RSS are
// logged and bounded.
package pgsource
