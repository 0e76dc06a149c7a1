package sources

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// PGConn says how to reach an upstream PostgreSQL server (CREATE
// CONNECTION ... TO POSTGRES).
type PGConn struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	// SSLMode is libpq's sslmode: disable, require, verify-full, ...
	SSLMode string
}

// connString renders the connection as libpq key=value pairs; with
// replication it asks for a logical replication connection
// (replication=database), on which CREATE_REPLICATION_SLOT and
// START_REPLICATION run.
func (c PGConn) connString(replication bool) string {
	q := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	parts := []string{"host=" + q(c.Host), fmt.Sprintf("port=%d", c.Port), "user=" + q(c.User), "dbname=" + q(c.Database),
		"application_name='viewd'", "connect_timeout=10"}
	if c.Password != "" {
		parts = append(parts, "password="+q(c.Password))
	}
	if c.SSLMode != "" {
		parts = append(parts, "sslmode="+q(c.SSLMode))
	}
	if replication {
		parts = append(parts, "replication=database")
	}
	return strings.Join(parts, " ")
}

// ConnectPG opens an ordinary (non-replication) connection.
func ConnectPG(ctx context.Context, c PGConn) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, c.connString(false))
	if err != nil {
		return nil, pgcode.Wrap(err, pgcode.ConnectionException, fmt.Sprintf("sources: connecting to PostgreSQL at %s:%d: %v", c.Host, c.Port, err))
	}
	return conn, nil
}

// PGColumn is one column of an upstream table as viewd ingests it.
type PGColumn struct {
	Name    string
	TypeOID uint32
	Typmod  int32 // pg_attribute.atttypmod
	// Text is set for TEXT COLUMNS and enums: the value is kept as its
	// text form.
	Text bool
	Type repr.ScalarType
	// NotNull is pg_attribute.attnotnull.
	NotNull bool
}

// PGTable is one published upstream table and the collection (subsource)
// it feeds.
type PGTable struct {
	ID     CollectionID
	Schema string
	Name   string
	// Columns are the table's columns in attnum order, dropped and
	// generated columns excluded (pgoutput sends exactly these).
	Columns []PGColumn
	// KeyCols are the columns of the primary key (or of the replica
	// identity index); nil when the table has neither.
	KeyCols []int
	// Identity is pg_class.relreplident: d(efault), f(ull), i(ndex) or
	// n(othing).
	Identity string
	// ColumnList is set when the publication sends only some of the
	// table's columns (PostgreSQL 15 column lists): Columns are those,
	// and a column added upstream outside the list changes nothing.
	ColumnList bool `json:",omitempty"`
}

// QualifiedName is schema.name as the upstream spells it.
func (t PGTable) QualifiedName() string { return t.Schema + "." + t.Name }

// Desc is the relation viewd exposes for the table: its columns with their
// nullability and the key.
func (t PGTable) Desc() repr.RelationDesc {
	var d repr.RelationDesc
	for _, c := range t.Columns {
		d.Names = append(d.Names, c.Name)
		d.Types = append(d.Types, repr.ColumnType{Type: c.Type, Nullable: !c.NotNull})
	}
	if t.KeyCols != nil {
		d.Keys = [][]int{append([]int(nil), t.KeyCols...)}
	}
	return d
}

// PGSelection is what CREATE SOURCE ... FROM POSTGRES asks for: FOR ALL
// TABLES, FOR TABLES (schema.t, ...) or FOR SCHEMAS (s, ...), restricted
// to the tables of the publication.
type PGSelection struct {
	All     bool
	Tables  []PGTableRef
	Schemas []string
	// TextColumns are TEXT COLUMNS entries: "table.column" or
	// "schema.table.column".
	TextColumns []string
}

// PGTableRef is one FOR TABLES entry; Schema "" means any schema (the
// table's name must then be unique in the publication).
type PGTableRef struct {
	Schema, Name string
}

// DiscoverPG reads the publication's tables that sel selects, with their
// columns, keys and replica identity, and maps their types to viewd's. A
// column of a type viewd lacks is an error naming TEXT COLUMNS, unless it
// is listed there (or is an enum, always ingested as text).
func DiscoverPG(ctx context.Context, c PGConn, publication string, sel PGSelection) ([]PGTable, error) {
	conn, err := ConnectPG(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return discoverPG(ctx, conn, publication, sel)
}

// pgQuerier is what discovery needs: a connection or a transaction.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func discoverPG(ctx context.Context, conn pgQuerier, publication string, sel PGSelection) ([]PGTable, error) {
	var wal string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&wal); err != nil {
		return nil, fmt.Errorf("sources: reading wal_level: %w", err)
	}
	if wal != "logical" {
		return nil, pgcode.New(pgcode.ObjectNotInPrerequisiteState, "the upstream's wal_level is %s, not logical", wal).
			WithHint("Set wal_level = logical in postgresql.conf and restart the upstream server.")
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", publication).Scan(&n); err != nil {
		return nil, fmt.Errorf("sources: reading publication: %w", err)
	}
	if n == 0 {
		return nil, pgcode.New(pgcode.UndefinedObject, "publication %q does not exist upstream", publication).
			WithHint("Create it upstream: CREATE PUBLICATION %s FOR ALL TABLES (or FOR TABLE ...).", publication)
	}
	// PostgreSQL 15 publications may list a table's columns: its
	// pg_publication_tables row names them (attnames; every column when
	// there is no list), and pgoutput sends only those.
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, fmt.Errorf("sources: reading the upstream's version: %w", err)
	}
	attnames := "NULL::text[]"
	if version >= 150000 {
		attnames = "pt.attnames::text[]"
	}
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname, c.relname, c.relreplident::text, `+attnames+`
		FROM pg_publication_tables pt
		JOIN pg_namespace n ON n.nspname = pt.schemaname
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
		WHERE pt.pubname = $1 ORDER BY n.nspname, c.relname`, publication)
	if err != nil {
		return nil, fmt.Errorf("sources: reading publication tables: %w", err)
	}
	type rel struct {
		oid          uint32
		schema, name string
		ident        string
		published    []string // nil: every column
	}
	var rels []rel
	for rows.Next() {
		var r rel
		if err := rows.Scan(&r.oid, &r.schema, &r.name, &r.ident, &r.published); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sources: reading publication tables: %w", err)
		}
		rels = append(rels, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sources: reading publication tables: %w", err)
	}
	// Select.
	var chosen []rel
	switch {
	case sel.All:
		chosen = rels
	case len(sel.Schemas) > 0:
		for _, s := range sel.Schemas {
			found := false
			for _, r := range rels {
				if r.schema == s {
					chosen = append(chosen, r)
					found = true
				}
			}
			if !found {
				return nil, pgcode.New(pgcode.UndefinedObject, "publication %q has no table in schema %q", publication, s)
			}
		}
	default:
		for _, ref := range sel.Tables {
			var match []rel
			for _, r := range rels {
				if r.name == ref.Name && (ref.Schema == "" || ref.Schema == r.schema) {
					match = append(match, r)
				}
			}
			switch len(match) {
			case 0:
				return nil, pgcode.New(pgcode.UndefinedTable, "table %q is not in publication %q", refName(ref), publication)
			case 1:
				chosen = append(chosen, match[0])
			default:
				return nil, pgcode.New(pgcode.AmbiguousAlias, "table name %q is in several schemas of publication %q: qualify it", ref.Name, publication)
			}
		}
	}
	if len(chosen) == 0 {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "publication %q has no tables", publication)
	}
	text := map[string]bool{}
	for _, tc := range sel.TextColumns {
		text[tc] = false
	}
	var out []PGTable
	for _, r := range chosen {
		t, err := readPGTable(ctx, conn, r.oid, r.schema, r.name, r.ident, r.published, text)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	var unused []string
	for k, used := range text {
		if !used {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return nil, pgcode.New(pgcode.UndefinedColumn, "TEXT COLUMNS names columns of no selected table: %s", strings.Join(unused, ", "))
	}
	return out, nil
}

func refName(r PGTableRef) string {
	if r.Schema == "" {
		return r.Name
	}
	return r.Schema + "." + r.Name
}

// readPGTable reads one table's columns and key. published names the
// columns the publication sends (nil: all); the others are left out, and
// the table is marked ColumnList when that leaves any out. text holds the
// TEXT COLUMNS entries; those used are set to true.
func readPGTable(ctx context.Context, conn pgQuerier, oid uint32, schema, name, ident string, published []string, text map[string]bool) (PGTable, error) {
	t := PGTable{Schema: schema, Name: name, Identity: ident}
	rows, err := conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, t.typtype::text,
			COALESCE(et.typtype::text, ''), format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, oid)
	if err != nil {
		return t, fmt.Errorf("sources: reading columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var c PGColumn
		var typtype, elemtype, typname string
		if err := rows.Scan(&c.Name, &c.TypeOID, &c.Typmod, &c.NotNull, &typtype, &elemtype, &typname); err != nil {
			rows.Close()
			return t, fmt.Errorf("sources: reading columns of %s.%s: %w", schema, name, err)
		}
		if published != nil && !slices.Contains(published, c.Name) {
			t.ColumnList = true
			continue
		}
		for _, k := range []string{name + "." + c.Name, schema + "." + name + "." + c.Name} {
			if _, ok := text[k]; ok {
				text[k] = true
				c.Text = true
			}
		}
		if typtype == "e" {
			c.Text = true // enums as text
		}
		if elemtype == "e" {
			c.Text = true // arrays of enums as one text value, in array syntax
		}
		if c.Text {
			c.Type = repr.TypeText
		} else {
			st, ok := PGScalarType(c.TypeOID, c.Typmod)
			if !ok {
				rows.Close()
				return t, pgcode.New(pgcode.FeatureNotSupported, "column %s.%s.%s has type %s, which viewd does not support: list it in TEXT COLUMNS to ingest its text form", schema, name, c.Name, typname).
					WithHint("CREATE SOURCE ... (PUBLICATION '...', TEXT COLUMNS (%s.%s)) ...", name, c.Name)
			}
			c.Type = st
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("sources: reading columns of %s.%s: %w", schema, name, err)
	}
	// The key: the primary key, else the replica identity index.
	krows, err := conn.Query(ctx, `SELECT a.attname FROM pg_index i
		JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
		ORDER BY (CASE WHEN $2 = 'i' THEN i.indisreplident ELSE i.indisprimary END) DESC, i.indexrelid, k.ord`, oid, ident)
	if err != nil {
		return t, fmt.Errorf("sources: reading the key of %s.%s: %w", schema, name, err)
	}
	var keyNames []string
	for krows.Next() {
		var n string
		if err := krows.Scan(&n); err != nil {
			krows.Close()
			return t, err
		}
		keyNames = append(keyNames, n)
	}
	krows.Close()
	if err := krows.Err(); err != nil {
		return t, fmt.Errorf("sources: reading the key of %s.%s: %w", schema, name, err)
	}
	// Only the first index's columns: the replica identity index sorts
	// first under REPLICA IDENTITY USING INDEX (its columns are what old
	// tuples carry), the primary key otherwise. A key a column list
	// leaves a column of out is no key of the subsource (PostgreSQL then
	// publishes only inserts of the table).
	seen := map[string]bool{}
	for _, kn := range keyNames {
		if seen[kn] {
			break
		}
		seen[kn] = true
		found := false
		for i, c := range t.Columns {
			if c.Name == kn {
				t.KeyCols = append(t.KeyCols, i)
				found = true
			}
		}
		if !found {
			t.KeyCols = nil
			break
		}
	}
	if ident == "i" || ident == "d" {
		for _, k := range t.KeyCols {
			t.Columns[k].NotNull = true
		}
	}
	return t, nil
}

// PGScalarType maps an upstream column type (pg_type OID and atttypmod) to
// viewd's type: numeric keeps its precision and scale, varchar and char
// their length; json becomes jsonb. ok is false for types viewd lacks.
func PGScalarType(oid uint32, typmod int32) (repr.ScalarType, bool) {
	st, ok := repr.TypeForOid(oid)
	if !ok {
		return st, false
	}
	apply := func(t *repr.ScalarType) {
		switch t.Kind {
		case repr.KindNumeric, repr.KindVarchar, repr.KindChar:
			if typmod >= 4 {
				t.Typmod = typmod - 4
			}
		}
	}
	if st.Kind == repr.KindArray && st.Elem != nil {
		e := *st.Elem
		apply(&e)
		st.Elem = &e
	} else {
		apply(&st)
	}
	return st, true
}

// sameColumns reports whether the columns a relation message (or a fresh
// catalog read) describes are the ones the collection was created with:
// same names, same type OIDs and modifiers, same order.
func sameColumns(want []PGColumn, names []string, oids []uint32, typmods []int32) bool {
	if len(want) != len(names) {
		return false
	}
	for i, c := range want {
		if c.Name != names[i] || c.TypeOID != oids[i] || c.Typmod != typmods[i] {
			return false
		}
	}
	return true
}

// copyFields splits one line of COPY's text format into its fields,
// unescaping each; a nil entry is NULL (\N).
func copyFields(line []byte, out [][]byte) ([][]byte, error) {
	out = out[:0]
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != '\t' {
			continue
		}
		f := line[start:i]
		start = i + 1
		if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
			out = append(out, nil)
			continue
		}
		if bytes.IndexByte(f, '\\') < 0 {
			out = append(out, f)
			continue
		}
		u, ok := repr.UnescapeCopyText(string(f))
		if !ok {
			return nil, fmt.Errorf("COPY field ends inside an escape")
		}
		out = append(out, []byte(u))
	}
	return out, nil
}
