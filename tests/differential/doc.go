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
// differing rows. Values are compared by PostgreSQL's column type: numbers
// numerically (1.50 = 1.5; non-integral numerics to 15 significant digits,
// floats to 12), timestamps and dates parsed, booleans as t/f.
//
// knownFailures (differential_test.go) and knownTxFailures
// (transactions_test.go) list failures whose cause is understood; the test
// fails when one of them starts to pass or fails differently.
//
// TestTransactions checks transactions whose statements touch the same
// rows, which the random workload avoids by default.
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
//	VIEWD_DIFF_TX_OVERLAP=1  let the statements of a random transaction
//	                    touch the same rows (by default they write disjoint
//	                    rows; TestTransactions covers the overlapping cases)
//	PGTEST_BINDIR, CI   see internal/pgtest: without PostgreSQL the tests
//	                    skip, unless CI is set
package differential
