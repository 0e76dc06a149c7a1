// Package tpch keeps the 22 TPC-H queries as materialized views in viewd
// and checks them against PostgreSQL.
//
// TestTPCH creates the tables (queries_test.go: TPC-H's DDL, char and
// varchar as text) in viewd and in a private PostgreSQL 15
// (internal/pgtest), creates each query as a MATERIALIZED VIEW in viewd on
// the empty tables, then applies the same statements to both servers in
// steps (tpch_test.go: steps): the dimension tables, orders and lineitems
// in two steps, a transaction of deletes (refresh function RF2) and
// updates of every table the queries read, and a step that inserts the
// remaining orders (RF1) and deletes others. Bulk steps run as
// transactions of 40 statements. After each step every view is read and
// compared with PostgreSQL's answer to its query: the same rows (as a
// multiset) with the same text (numerics with PostgreSQL's display scale),
// column types and count.
//
// The data come from gen_test.go, a generator following dbgen's
// distributions (see gen's doc comment for what it follows and where it
// deviates). The queries use the specification's validation parameters;
// queries() lists the adaptations.
//
// Each step logs viewd's time to apply the step (statements and COMMIT,
// which returns once every view is maintained), the first reads of the 22
// views after it, PostgreSQL's time for the same writes and the 22
// queries, viewd's RSS, its slowest statement, and the arranged state per
// dataflow (mz_internal.mz_dataflow_memory). The end logs viewd's peak RSS
// (sampled every 50 ms and the kernel's high-water mark). A goroutine
// kills viewd when its RSS passes -tpch.rsscap (default 4 GB; viewd also
// runs with GOMEMLIMIT at that value), so that a plan whose state runs
// away fails the test instead of starving the machine.
//
// Run it with
//
//	go test ./tests/tpch/ -run TestTPCH -v                  # SF 0.01, about 1-3 minutes
//	go test ./tests/tpch/ -run TestTPCH -v -timeout 60m -tpch.sf=0.1
//
// Flags: -tpch.sf (scale factor), -tpch.seed, -tpch.rsscap (bytes),
// -tpch.queries=2,17 (a subset), -tpch.viewd-args="--http-listen
// 127.0.0.1:27400" (extra viewd flags, e.g. for pprof). Without
// PostgreSQL the test skips, unless CI is set.
package tpch
