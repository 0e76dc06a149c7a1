// Package cdc tests viewd's change-data-capture ingestion end to end: a
// viewd process started from the built binary, Kafka topics fed by
// franz-go (and kcat) producers, and readers over pgwire that check what a
// user sees: views equal to a model computed in the test, upstream
// transactions never split across topics, timestamps never going back, bad
// input reported instead of dropped, and sources that survive a restart.
//
// Run with
//
//	go test ./tests/cdc/
//
// Longer variants are behind environment variables:
//
//	VIEWD_CDC_TRANSFERS=10000  transfers per envelope in the consistency test (default 2000)
//	CI=1                       fail instead of skipping when kcat is not on PATH
package cdc
