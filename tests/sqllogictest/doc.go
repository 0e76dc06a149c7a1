// Package sqllogictest runs sqllogictest files against a server that speaks
// the PostgreSQL wire protocol: viewd, or PostgreSQL itself for reference.
//
// # Format
//
// The format is SQLite's (https://www.sqlite.org/sqllogictest), with the
// CockroachDB and Materialize extensions viewd's own tests use. Records are
// separated by blank lines; lines starting with '#' are comments; files may
// use "\n" or "\r\n".
//
//	statement ok | statement error [pgcode XXXXX] [regex] | statement count N
//	query <types> [nosort|rowsort|valuesort] [label] [colnames] [retry]
//	query error [pgcode XXXXX] [regex]
//	simple                      (SQL over the simple query protocol)
//	skipif <engine> / onlyif <engine>   (apply to the next record)
//	hash-threshold N, halt, mode standard|cockroach, sleep <duration>
//
// A query's SQL ends at "----"; the expected result follows, one value per
// line (SQLite), or one row per line with values separated by white space
// (CockroachDB), or "N values hashing to <md5>", where the hash is the MD5
// of every value followed by "\n", after sorting. Queries with the same
// label must have the same result. Without "----" a query only has to
// succeed.
//
// A simple block's expected output is each row's values joined by ",",
// then "COMPLETE n" for each statement, or "db error: ERROR: message" for
// an error. Options after "simple" (conn=..., user=...) are ignored.
//
// # Values
//
// Results are requested in text format and formatted by the column's type
// letter and the value's actual type (see FormatValue): I truncates
// decimals and floats as SQLite's runner does, R prints "%.3f", T prints
// "(empty)" for "" and '@' for bytes outside 0x20..0x7e, NULL is "NULL".
// rowsort orders rows by their formatted values compared as byte strings,
// column by column; valuesort orders all values.
//
// # Modes
//
// In select mode each query runs as written over the extended protocol. In
// view mode each query becomes a materialized view created as early as
// possible, before the data it reads is written, and the view is read at
// the query's place; see viewmode.go for the rules and fallbacks. Against
// PostgreSQL, whose materialized views are snapshots, view mode fails; with
// Config.LateViews (views created right before their query) it passes,
// which is how the view-mode machinery itself is tested.
//
// # Results
//
// Every statement, query and simple record counts as passed, failed or
// skipped (skipif/onlyif, after halt, or after MaxFailures). Failures
// listed in an ExpectedFailures file count as known rather than failed; a
// listed record that passes is counted (Fixed) and fails the command's
// run, so that the list stays exact. In view mode a query PostgreSQL can
// keep as a materialized view whose view viewd refuses is a failure
// (counted in ViewRefused too), never silently run as a SELECT.
// A failing record never stops the file. Each record is bounded by
// Config.Timeout; a timed-out statement is cancelled with a CancelRequest
// and the runner reconnects if the connection was lost.
//
// The command in cmd/slt runs files and directories against viewd (built
// and started per file), a server at --url, or a private PostgreSQL
// (--postgres).
package sqllogictest
