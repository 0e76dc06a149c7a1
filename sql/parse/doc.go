// Package parse turns SQL text into statements: PostgreSQL statements as
// pg_query_go parses them (PostgreSQL's own grammar), and viewd's own
// statements, which that grammar rejects (SUBSCRIBE, SELECT ... AS OF,
// CREATE SOURCE / CONNECTION, CREATE DEFAULT INDEX, DECLARE ... FOR
// SUBSCRIBE, FETCH ... WITH, EXPLAIN with a stage, SHOW of viewd objects,
// GRANT and REVOKE ON CONNECTION | SECRET | SOURCE).
//
// The extension parser works on the tokens of PostgreSQL's scanner
// (pg_query.Scan), so quoting, comments and positions are exactly
// PostgreSQL's. Text made only of the plain part of the lexical grammar
// (ASCII words, quoted identifiers, decimal numbers, '...' strings,
// whitespace and ( ) , ; . + -) is tokenised by scanSimple instead, whose
// tokens are exactly those (a test and a fuzz target compare them with
// pg_query's); anything else goes to pg_query.Scan. A bulk-load INSERT
// INTO t [(cols)] VALUES (constants), ... is built into pg_query's tree
// straight from the tokens (fastInsert, tested node for node against
// pg_query), skipping the cgo parser. Any other statement is first
// offered to pg_query; only when it rejects it does the extension parser
// look at the leading keywords.
// Every query embedded in a viewd statement (the body of SUBSCRIBE, the
// SELECT before AS OF, the query of a materialized view) is parsed by
// pg_query again.
//
// Positions: every Statement records the byte offset of its text within
// the whole input; syntax errors are *pgcode.Error with code 42601 and the
// 1-based character position within the whole input, as PostgreSQL
// reports it.
package parse
