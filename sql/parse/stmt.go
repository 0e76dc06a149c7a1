package parse

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// Span is the text of a statement or of an embedded query or expression,
// and where it sits in the whole input.
type Span struct {
	// Text is the statement's text, without a trailing semicolon.
	Text string
	// Start is the byte offset of Text within the whole input.
	Start int
	// CharBase is the number of characters of the input before Text.
	CharBase int
	// Adjust is subtracted from pg_query locations inside Text (an
	// expression parsed as "SELECT <expr>" has Adjust 7).
	Adjust int
}

// SQL returns the statement text.
func (s Span) SQL() string { return s.Text }

// Position converts a pg_query location (a byte offset within the parsed
// text) into the 1-based character position within the whole input, as
// PostgreSQL reports it in ErrorResponse; 0 for an unknown location (-1).
func (s Span) Position(loc int32) int {
	if loc < 0 {
		return 0
	}
	l := int(loc) - s.Adjust
	if l < 0 {
		l = 0
	}
	return s.CharBase + charPos(s.Text, l)
}

func (s Span) span() Span { return s }

// Statement is one parsed statement: *PG for anything PostgreSQL's grammar
// accepts, or one of viewd's statement types.
type Statement interface {
	SQL() string
	span() Span
}

// PG is a statement PostgreSQL's grammar accepts. Locations inside Raw are
// byte offsets within Text.
type PG struct {
	Span
	Raw *pg_query.RawStmt
}

// Query is a query embedded in a viewd statement (SUBSCRIBE's body, the
// SELECT before AS OF, a materialized view's definition). Node is the
// statement node (a SelectStmt).
type Query struct {
	Span
	Node *pg_query.Node
}

// Expr is a scalar expression embedded in a viewd statement (AS OF, UP
// TO); it is parsed as "SELECT <expr>" so Span.Adjust is 7.
type Expr struct {
	Span
	Node *pg_query.Node
}

// AsOf is an AS OF [AT LEAST] clause.
type AsOf struct {
	AtLeast bool
	Expr    Expr
}

// ValueKind says what an option value is.
type ValueKind uint8

// Option value kinds.
const (
	ValueNone    ValueKind = iota // a bare option (e.g. SNAPSHOT): true
	ValueString                   // 'text'
	ValueNumber                   // 42, 0.5, -1
	ValueWord                     // an identifier or keyword (INLINE, true)
	ValueList                     // (v, v, ...)
	ValueOptions                  // (NAME v, NAME v, ...)
)

// Value is an option's value. Words holds leading words before a literal
// (RETAIN HISTORY = FOR '1h' has Words [for], Str "1h").
type Value struct {
	Kind    ValueKind
	Str     string
	Words   []string
	Items   []Value
	Options []Option
}

// Option is NAME [=] value; Name is upper-case words joined by spaces.
type Option struct {
	Name  string
	Value Value
}

// Subscribe is SUBSCRIBE [TO] name | (query) [WITH (...)] [AS OF ...]
// [UP TO expr]. Exactly one of Object and Query is set.
type Subscribe struct {
	Span
	Object   []string
	Query    *Query
	Options  []Option
	Snapshot *bool
	Progress *bool
	AsOf     *AsOf
	UpTo     *Expr
}

// SelectAsOf is a query with a trailing AS OF clause.
type SelectAsOf struct {
	Span
	Query Query
	AsOf  AsOf
}

// CreateConnection is CREATE CONNECTION [IF NOT EXISTS] name TO type (...).
type CreateConnection struct {
	Span
	Name        []string
	IfNotExists bool
	Type        string // "kafka", "postgres"
	Options     []Option
}

// CreateSecret is CREATE SECRET [IF NOT EXISTS] name AS 'value'.
type CreateSecret struct {
	Span
	Name        []string
	IfNotExists bool
	Value       string
}

// Format is a source's FORMAT, KEY FORMAT or VALUE FORMAT: JSON, TEXT,
// BYTES, AVRO ..., with options when given.
type Format struct {
	Name    string
	Options []Option
}

// Include is one INCLUDE item (KEY, PARTITION, OFFSET, TIMESTAMP, HEADERS)
// with its optional AS alias.
type Include struct {
	What  string
	Alias string
}

// CreateSource is CREATE SOURCE for Kafka, load generators and PostgreSQL.
type CreateSource struct {
	Span
	Name        []string
	IfNotExists bool
	// Columns, when declared, is a CREATE TABLE statement holding the
	// column definitions and table constraints (PRIMARY KEY), parsed by
	// pg_query so types and constraints read as they do for tables.
	Columns   *pg_query.CreateStmt
	InCluster string
	// Kind is "kafka", "load generator" or "postgres".
	Kind       string
	Connection []string
	// ConnectionOptions are the options after CONNECTION name, or the load
	// generator's options.
	ConnectionOptions []Option
	// Generator names the load generator (counter, auction, tpch,
	// nexmark).
	Generator    string
	ForAllTables bool
	ForTables    [][]string
	// ForTableAliases holds, per FOR TABLES entry, its AS name ("" when
	// absent).
	ForTableAliases []string
	// ForSchemas are the schemas of FOR SCHEMAS (...).
	ForSchemas  []string
	KeyFormat   *Format
	ValueFormat *Format // FORMAT f sets ValueFormat alone
	Include     []Include
	// Envelope is none, debezium, maxwell, cockroachdb or upsert; empty
	// when absent.
	Envelope        string
	EnvelopeOptions []Option
	With            []Option
}

// CreateDefaultIndex is CREATE DEFAULT INDEX [IF NOT EXISTS] [name]
// [IN CLUSTER c] ON obj.
type CreateDefaultIndex struct {
	Span
	Name        string
	IfNotExists bool
	On          []string
	InCluster   string
}

// CreateMaterializedView is a CREATE MATERIALIZED VIEW that PostgreSQL's
// grammar rejects (IN CLUSTER, WITH (RETAIN HISTORY ...), OR REPLACE).
type CreateMaterializedView struct {
	Span
	Name        []string
	Columns     []string
	OrReplace   bool
	IfNotExists bool
	InCluster   string
	Options     []Option
	Query       Query
}

// DeclareSubscribe is DECLARE c CURSOR [WITHOUT HOLD] FOR SUBSCRIBE ...
type DeclareSubscribe struct {
	Span
	Cursor string
	// Hold is WITH HOLD: the cursor outlives its transaction.
	Hold      bool
	Subscribe *Subscribe
}

// Fetch is FETCH [n | ALL | FORWARD n] [FROM | IN] c [WITH (...)], when
// PostgreSQL's grammar rejects it (the WITH clause).
type Fetch struct {
	Span
	Cursor  string
	Count   int64 // -1 for ALL
	Options []Option
}

// Explain is EXPLAIN [stage] [PLAN] [FOR] stmt.
type Explain struct {
	Span
	// Stage is raw, hir, decorrelated, mir, optimized, lir or physical
	// (lower case); "optimized" when absent.
	Stage string
	Inner Statement
}

// Show is SHOW of viewd objects: What is sources, views, materialized
// views, indexes, tables, connections, schemas, objects, columns, or
// "create table|view|materialized view|source|index|connection|secret"
// (secrets: names only, never their values).
type Show struct {
	Span
	What string
	// From is the object or schema after FROM/ON/IN; Name the object of
	// SHOW CREATE.
	From []string
	Name []string
}

// CopyTo is COPY (SUBSCRIBE ...) TO STDOUT [WITH (...)].
type CopyTo struct {
	Span
	Subscribe *Subscribe
	Options   []Option
}

// Drop is DROP SOURCE | CONNECTION | SECRET | SINK | CLUSTER [IF EXISTS] names
// [CASCADE | RESTRICT], which PostgreSQL's grammar rejects.
type Drop struct {
	Span
	Kind     string // "source", "connection", "secret", "sink", "cluster"
	Names    [][]string
	IfExists bool
	Cascade  bool
}

// AlterRename is ALTER SOURCE | CONNECTION | SINK [IF EXISTS] name RENAME
// TO new.
type AlterRename struct {
	Span
	Kind     string
	Name     []string
	IfExists bool
	NewName  string
}

// GrantOn is GRANT privileges ON CONNECTION | SECRET | SOURCE names TO
// roles [WITH GRANT OPTION], and REVOKE [GRANT OPTION FOR] privileges ON
// ... FROM roles [CASCADE | RESTRICT]: kinds PostgreSQL's grammar rejects.
type GrantOn struct {
	Span
	Grant bool
	// Privileges are upper case; nil is ALL [PRIVILEGES].
	Privileges  []string
	Kind        string // "connection", "secret", "source"
	Names       [][]string
	Grantees    []string // as written, PUBLIC included
	GrantOption bool
	Cascade     bool
}

var (
	_ Statement = (*GrantOn)(nil)
	_ Statement = (*Drop)(nil)
	_ Statement = (*AlterRename)(nil)
	_ Statement = (*PG)(nil)
	_ Statement = (*Subscribe)(nil)
	_ Statement = (*SelectAsOf)(nil)
	_ Statement = (*CreateConnection)(nil)
	_ Statement = (*CreateSecret)(nil)
	_ Statement = (*CreateSource)(nil)
	_ Statement = (*CreateDefaultIndex)(nil)
	_ Statement = (*CreateMaterializedView)(nil)
	_ Statement = (*DeclareSubscribe)(nil)
	_ Statement = (*Fetch)(nil)
	_ Statement = (*Explain)(nil)
	_ Statement = (*Show)(nil)
	_ Statement = (*CopyTo)(nil)
)
