// Package pgsource tests CREATE SOURCE ... FROM POSTGRES end to end: a
// private PostgreSQL 15 with wal_level=logical (internal/pgtest), viewd
// started from its binary (internal/viewdtest), writes upstream over pgx
// and reads from viewd over pgwire.
package pgsource
