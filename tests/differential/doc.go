// Package differential holds a differential test of viewd's maintained
// views against PostgreSQL: the same schema, queries and seeded random DML
// are applied to a viewd server and to a private PostgreSQL
// (internal/pgtest), and each query's result in viewd must equal, as a
// multiset, PostgreSQL's.
//
// TestDifferential creates every query of views_test.go as a MATERIALIZED
// VIEW in viewd and as a plain VIEW in PostgreSQL, over tables that already
// hold data, then applies batches of random INSERTs, UPDATEs (key-preserving,
// key-changing, moving rows between groups, multi-row) and DELETEs, some in
// multi-statement transactions (a few rolled back), and compares every view
// after every batch. A quarter of the way through it creates a second
// ("_late") materialized view of every query; half way through, and at the
// end, it restarts viewd on the same data directory and compares again;
// finally it runs every query as an ad hoc SELECT ("_adhoc"). Each query
// reports as its own subtest, with the SQL and the error or the first
// differing rows. Results are compared exactly: column names, type OIDs
// and every value's text as the server sends it (1.50 and 1.5 differ), as
// multisets of rows; every DML statement must succeed with the same row
// count on both servers or fail with the same SQLSTATE. The only
// exceptions are the reviewed entries of deviations (compare_test.go), each
// naming a view's column, what is rewritten before comparing and why; an
// entry no comparison needed fails the test.
//
// knownFailures (differential_test.go) and knownTxFailures
// (transactions_test.go) list failures whose cause is understood; the test
// fails when one of them starts to pass or fails differently.
//
// Random transactions may touch the same rows with several statements
// (VIEWD_DIFF_TX_OVERLAP, on by default). TestTransactions checks such
// transactions case by case.
//
// Run it with
//
//	go test ./tests/differential/ -v
//
// Environment:
//
//	VIEWD_DIFF_SEED     seed of the random DML (default 1)
//	VIEWD_DIFF_BATCHES  number of DML batches (default 20; try 200)
//	VIEWD_DIFF_VIEWS    comma-separated view names to run (default all; a
//	                    view over other views needs them listed too)
//	VIEWD_DIFF_TX_OVERLAP=0  keep the statements of a random transaction
//	                    on disjoint rows (by default they may touch the
//	                    same rows)
//	PGTEST_BINDIR, CI   see internal/pgtest: without PostgreSQL the tests
//	                    skip, unless CI is set
package differential
