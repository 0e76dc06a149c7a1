package coord

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// The statistics views and the smaller catalogs that BI tools and SQL
// clients read when they connect (DBeaver, Metabase, pgcli, JDBC):
// real contents where viewd has them (sessions, row counts, languages,
// routines, key columns), empty where it has none (locks, sequences).

// pgRelationOIDs are PostgreSQL's OIDs of its catalog tables, which
// clients write as 'pg_class'::regclass and compare with
// pg_description.classoid and the like. Other system relations keep
// OIDs numbered from 12000.
var pgRelationOIDs = map[string]uint32{
	"pg_catalog.pg_class": 1259, "pg_catalog.pg_type": 1247, "pg_catalog.pg_attribute": 1249, "pg_catalog.pg_proc": 1255,
	"pg_catalog.pg_database": 1262, "pg_catalog.pg_authid": 1260, "pg_catalog.pg_auth_members": 1261, "pg_catalog.pg_tablespace": 1213,
	"pg_catalog.pg_namespace": 2615, "pg_catalog.pg_index": 2610, "pg_catalog.pg_constraint": 2606, "pg_catalog.pg_attrdef": 2604,
	"pg_catalog.pg_description": 2609, "pg_catalog.pg_am": 2601, "pg_catalog.pg_inherits": 2611, "pg_catalog.pg_trigger": 2620,
	"pg_catalog.pg_rewrite": 2618, "pg_catalog.pg_depend": 2608, "pg_catalog.pg_shdescription": 2396, "pg_catalog.pg_collation": 3456,
	"pg_catalog.pg_extension": 3079, "pg_catalog.pg_enum": 3501, "pg_catalog.pg_sequence": 2224, "pg_catalog.pg_policy": 3256,
	"pg_catalog.pg_partitioned_table": 3350, "pg_catalog.pg_statistic_ext": 3381, "pg_catalog.pg_publication": 6104,
	"pg_catalog.pg_publication_rel": 6106, "pg_catalog.pg_publication_namespace": 6237, "pg_catalog.pg_language": 2612,
}

// pgStatDefs are the relations of this file, appended after the others
// so that their OIDs stay as they were.
func pgStatDefs() []builtinDef {
	return []builtinDef{
		cols("relid oid, schemaname text, relname text, seq_scan int8, seq_tup_read int8, idx_scan int8, idx_tup_fetch int8",
			"n_tup_ins int8, n_tup_upd int8, n_tup_del int8, n_tup_hot_upd int8, n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, n_ins_since_vacuum int8",
			"last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz",
			"vacuum_count int8, autovacuum_count int8, analyze_count int8, autoanalyze_count int8").
			def("pg_catalog", "pg_stat_user_tables", pgStatUserTablesRows),
		cols("datid oid, datname text, numbackends int4, xact_commit int8, xact_rollback int8, blks_read int8, blks_hit int8",
			"tup_returned int8, tup_fetched int8, tup_inserted int8, tup_updated int8, tup_deleted int8, conflicts int8, temp_files int8, temp_bytes int8",
			"deadlocks int8, checksum_failures int8, checksum_last_failure timestamptz, blk_read_time float8, blk_write_time float8",
			"session_time float8, active_time float8, idle_in_transaction_time float8, sessions int8, sessions_abandoned int8, sessions_fatal int8, sessions_killed int8, stats_reset timestamptz").
			def("pg_catalog", "pg_stat_database", func(c *Coordinator) [][]repr.Datum {
				row := []repr.Datum{oid(16384), text(defaultDatabase), i4(len(c.sessions)), repr.Int8Datum(c.commits.Load())}
				for len(row) < 28 {
					row = append(row, repr.Null)
				}
				return [][]repr.Datum{row}
			}),
		cols("locktype text, database oid, relation oid, page int4, tuple int2, virtualxid text, transactionid text, classid oid, objid oid, objsubid int2",
			"virtualtransaction text, pid int4, mode text, granted bool, fastpath bool, waitstart timestamptz").def("pg_catalog", "pg_locks", empty),
		cols("oid oid, lanname text, lanowner oid, lanispl bool, lanpltrusted bool, lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl text[]").
			def("pg_catalog", "pg_language", func(*Coordinator) [][]repr.Datum {
				// The languages of pg_proc.prolang: built-in functions
				// are internal.
				lang := func(o uint32, name string) []repr.Datum {
					return []repr.Datum{oid(o), text(name), oid(ownerOID), repr.False, repr.False, oid(0), oid(0), oid(0), repr.Null}
				}
				return [][]repr.Datum{lang(12, "internal"), lang(14, "sql")}
			}),
		cols("schemaname text, sequencename text, sequenceowner text, data_type oid, start_value int8, min_value int8, max_value int8, increment_by int8, cycle bool, cache_size int8, last_value int8").
			def("pg_catalog", "pg_sequences", empty),
		cols("sequence_catalog text, sequence_schema text, sequence_name text, data_type text, numeric_precision int4, numeric_precision_radix int4, numeric_scale int4",
			"start_value text, minimum_value text, maximum_value text, increment text, cycle_option text").def("information_schema", "sequences", empty),
		cols("specific_catalog text, specific_schema text, specific_name text, routine_catalog text, routine_schema text, routine_name text, routine_type text, data_type text, type_udt_name text, external_language text, is_deterministic text").
			def("information_schema", "routines", routinesRows),
		cols("table_catalog text, table_schema text, table_name text, column_name text, constraint_catalog text, constraint_schema text, constraint_name text").
			def("information_schema", "constraint_column_usage", func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				forEachKeyColumn(c, func(ix relIndex, _ int, col string) {
					s := ix.table.Name.Schema
					out = append(out, []repr.Datum{text(defaultDatabase), text(s), text(ix.table.Name.Item), text(col),
						text(defaultDatabase), text(s), text(ix.name)})
				})
				// A foreign key uses the columns it references.
				for _, fk := range c.sortedForeignKeys() {
					for _, col := range fk.RefColumns {
						out = append(out, []repr.Datum{text(defaultDatabase), text(fk.parent.Name.Schema), text(fk.parent.Name.Item), text(fk.parent.Desc.Names[col]),
							text(defaultDatabase), text(fk.child.Name.Schema), text(fk.Name)})
					}
				}
				return out
			}),
	}
}

// forEachKeyColumn calls fn for each column of each key constraint, with
// its position in the key (from 1).
func forEachKeyColumn(c *Coordinator, fn func(ix relIndex, pos int, col string)) {
	for _, ix := range c.relIndexes() {
		if ix.constr == 0 {
			continue
		}
		for i, a := range ix.attnums {
			fn(ix, i+1, ix.table.Desc.Names[a-1])
		}
	}
}

// pgStatUserTablesRows gives each table and source its row count (the
// sum of the diffs committed or loaded, kept by the table's state); the
// scan counters are not kept (NULL).
func pgStatUserTablesRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if it.Kind != sql.KindTable && it.Kind != sql.KindSource {
			continue
		}
		live := repr.Null
		if it.table != nil {
			live = repr.Int8Datum(it.table.live)
		}
		row := []repr.Datum{oid(it.oid), text(it.Name.Schema), text(it.Name.Item), repr.Null, repr.Null, repr.Null, repr.Null,
			repr.Null, repr.Null, repr.Null, repr.Null, live}
		for len(row) < 23 {
			row = append(row, repr.Null)
		}
		out = append(out, row)
	}
	return out
}

// routinesRows lists the built-in functions, as pg_proc does.
func routinesRows(*Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	for _, name := range expr.FuncNames() {
		for range expr.LookupFunc(name) {
			out = append(out, []repr.Datum{text(defaultDatabase), text("pg_catalog"), text(name), text(defaultDatabase), text("pg_catalog"), text(name),
				text("FUNCTION"), repr.Null, repr.Null, text("INTERNAL"), text("NO")})
		}
	}
	return out
}
