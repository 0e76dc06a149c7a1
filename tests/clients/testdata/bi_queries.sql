-- Connect-time catalog queries of BI tools and SQL clients, as their
-- PostgreSQL drivers send them (simplified only where a tool interpolates
-- a name). Each runs against viewd and PostgreSQL 15 (clients_test.go);
-- the golden file records which fail or return a different row count.

-- name: metabase/version
SELECT version();

-- name: metabase/schemas
SELECT nspname AS schema FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' AND nspname NOT IN ('mz_catalog', 'mz_internal') AND has_schema_privilege(nspname, 'USAGE');

-- name: metabase/tables
SELECT n.nspname AS schema, c.relname AS name, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS type, d.description AS description, stat.n_live_tup AS estimated_row_count FROM pg_catalog.pg_class c INNER JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid LEFT JOIN pg_catalog.pg_description d ON c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass LEFT OUTER JOIN pg_stat_user_tables stat ON c.oid = stat.relid WHERE c.relnamespace = n.oid AND n.nspname !~ '^information_schema|catalog$|^pg_' AND c.relkind IN ('r', 'p', 'v', 'f', 'm');

-- name: metabase/table-privileges
SELECT table_schema, table_name, privilege_type FROM information_schema.table_privileges WHERE grantee = current_user AND table_schema = 'public';

-- name: metabase/fields
SELECT c.column_name AS name, c.udt_name AS database_type, c.ordinal_position - 1 AS database_position, c.table_schema AS table_schema, c.table_name AS table_name, pk.column_name IS NOT NULL AS pk, col_description(('"' || c.table_schema || '"."' || c.table_name || '"')::regclass::oid, c.ordinal_position) AS field_comment, ((column_default IS NULL OR lower(column_default) = 'null') AND is_nullable = 'NO') AS database_required FROM information_schema.columns c LEFT JOIN (SELECT tc.table_schema, tc.table_name, kc.column_name FROM information_schema.table_constraints tc INNER JOIN information_schema.key_column_usage kc ON tc.constraint_name = kc.constraint_name AND tc.table_schema = kc.table_schema AND tc.table_name = kc.table_name WHERE tc.constraint_type = 'PRIMARY KEY') pk ON c.table_schema = pk.table_schema AND c.table_name = pk.table_name AND c.column_name = pk.column_name WHERE c.table_schema = 'public' AND c.table_name = 't07';

-- name: metabase/fks
SELECT fk_ns.nspname AS fk_table_schema, fk_table.relname AS fk_table_name, fk_column.attname AS fk_column_name, pk_ns.nspname AS pk_table_schema, pk_table.relname AS pk_table_name, pk_column.attname AS pk_column_name FROM pg_constraint c JOIN pg_class fk_table ON c.conrelid = fk_table.oid JOIN pg_namespace fk_ns ON c.connamespace = fk_ns.oid JOIN pg_attribute fk_column ON c.conrelid = fk_column.attrelid JOIN pg_class pk_table ON c.confrelid = pk_table.oid JOIN pg_namespace pk_ns ON pk_table.relnamespace = pk_ns.oid JOIN pg_attribute pk_column ON c.confrelid = pk_column.attrelid WHERE fk_ns.nspname !~ '^information_schema|catalog$|^pg_' AND c.contype = 'f' AND fk_column.attnum = ANY(c.conkey) AND pk_column.attnum = ANY(c.confkey);

-- name: grafana/tables
SELECT quote_ident(table_name) AS "table" FROM information_schema.tables WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental') AND table_type = 'BASE TABLE' AND quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END FROM generate_series(array_lower(string_to_array(current_setting('search_path'), ','), 1), array_upper(string_to_array(current_setting('search_path'), ','), 1)) AS i, string_to_array(current_setting('search_path'), ',') s);

-- name: grafana/columns
SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 't07';

-- name: grafana/timescaledb-check
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- name: grafana/version-num
SELECT current_setting('server_version_num')::int / 100;

-- name: dbeaver/databases
SELECT db.oid, db.* FROM pg_catalog.pg_database db WHERE datallowconn AND NOT datistemplate OR db.datname = current_database() ORDER BY db.datname;

-- name: dbeaver/roles
SELECT a.oid, a.* FROM pg_catalog.pg_roles a ORDER BY a.rolname;

-- name: dbeaver/schemas
SELECT n.oid, n.*, d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = n.oid AND d.objsubid = 0 AND d.classoid = 'pg_namespace'::regclass ORDER BY nspname;

-- name: dbeaver/tables
SELECT c.oid, c.*, d.description, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS partition_expr, pg_catalog.pg_get_partkeydef(c.oid) AS partition_key FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass WHERE c.relnamespace = 'public'::regnamespace AND c.relkind NOT IN ('i', 'I', 'c');

-- name: dbeaver/columns
SELECT c.relname, a.*, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) AS def_value, dsc.description, dep.objid FROM pg_catalog.pg_attribute a INNER JOIN pg_catalog.pg_class c ON (a.attrelid = c.oid) LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid = ad.adrelid AND a.attnum = ad.adnum) LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid = dsc.objoid AND a.attnum = dsc.objsubid) LEFT OUTER JOIN pg_depend dep ON dep.refobjid = a.attrelid AND dep.deptype = 'i' AND dep.refobjsubid = a.attnum AND dep.classid = dep.refclassid WHERE NOT a.attisdropped AND c.relkind NOT IN ('i', 'I', 'c') AND c.oid = 'public.t07'::regclass ORDER BY a.attnum;

-- name: dbeaver/constraints
SELECT c.oid, c.*, t.relname AS tabrelname, rt.relnamespace AS refnamespace, d.description, CASE WHEN c.contype = 'c' THEN pg_catalog.pg_get_constraintdef(c.oid) ELSE NULL END AS consrc_copy FROM pg_catalog.pg_constraint c INNER JOIN pg_catalog.pg_class t ON t.oid = c.conrelid LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid = c.confrelid LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_constraint'::regclass WHERE t.relnamespace = 'public'::regnamespace ORDER BY c.oid;

-- name: dbeaver/indexes
SELECT i.*, i.indkey AS keys, c.relname, c.relnamespace, c.relam, c.reltablespace, tc.relname AS tabrelname, dsc.description, pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred_expr, pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) AS expr, pg_catalog.pg_relation_size(i.indexrelid) AS index_rel_size, pg_catalog.pg_stat_get_numscans(i.indexrelid) AS index_num_scans FROM pg_catalog.pg_index i INNER JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid INNER JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid = dsc.objoid WHERE tc.relnamespace = 'public'::regnamespace ORDER BY c.relname;

-- name: dbeaver/procedures
SELECT p.oid, p.*, pg_catalog.pg_get_expr(p.proargdefaults, 0) AS arg_defaults, d.description FROM pg_catalog.pg_proc p LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = p.oid WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname;

-- name: dbeaver/sequences
SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public';

-- name: dbeaver/session-activity
SELECT pid, usename, application_name, state, query FROM pg_catalog.pg_stat_activity WHERE pid = pg_backend_pid();

-- name: dbeaver/locks
SELECT locktype, mode, granted FROM pg_catalog.pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory';

-- name: dbeaver/table-stats
SELECT relname, n_live_tup, seq_scan FROM pg_catalog.pg_stat_user_tables WHERE schemaname = 'public' AND relname = 't07';

-- name: dbeaver/database-stats
SELECT datname, numbackends >= 0 FROM pg_catalog.pg_stat_database WHERE datname = current_database();

-- name: superset/schemas
SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' ORDER BY nspname;

-- name: superset/table-names
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p');

-- name: superset/view-names
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm');

-- name: superset/has-table
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 't07' AND c.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']));

-- name: pgcli/schemas
SELECT nspname FROM pg_catalog.pg_namespace ORDER BY 1;

-- name: pgcli/tables-views
SELECT n.nspname schema_name, c.relname table_name FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = ANY(ARRAY['r', 'p', 'v', 'm']) ORDER BY 1, 2;

-- name: pgcli/columns
SELECT nsp.nspname schema_name, cls.relname table_name, att.attname column_name, att.atttypid::regtype::text type_name, att.atthasdef AS has_default, pg_catalog.pg_get_expr(def.adbin, def.adrelid, true) AS default FROM pg_catalog.pg_attribute att INNER JOIN pg_catalog.pg_class cls ON att.attrelid = cls.oid INNER JOIN pg_catalog.pg_namespace nsp ON cls.relnamespace = nsp.oid LEFT OUTER JOIN pg_attrdef def ON def.adrelid = att.attrelid AND def.adnum = att.attnum WHERE cls.relkind = ANY(ARRAY['r', 'p', 'v', 'm']) AND NOT att.attisdropped AND att.attnum > 0 ORDER BY 1, 2, att.attnum;

-- name: pgcli/functions
SELECT n.nspname schema_name, p.proname func_name, p.proargnames, COALESCE(proallargtypes::regtype[], proargtypes::regtype[])::text[], p.proargmodes, prorettype::regtype::text return_type, p.prokind = 'a' is_aggregate, p.prokind = 'w' is_window, p.proretset is_set_returning, d.deptype = 'e' is_extension, pg_get_expr(proargdefaults, 0) AS arg_defaults FROM pg_catalog.pg_proc p INNER JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' WHERE p.prorettype::regtype != 'trigger'::regtype ORDER BY 1, 2;

-- name: pgcli/datatypes
SELECT n.nspname schema_name, t.typname type_name FROM pg_catalog.pg_type t INNER JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid) AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ORDER BY 1, 2;

-- name: pgcli/keywords
SELECT upper(word) FROM pg_get_keywords() WHERE catcode = 'R';

-- name: misc/routines
SELECT routine_name FROM information_schema.routines WHERE routine_schema = 'public';

-- name: misc/constraint-column-usage
SELECT table_name, column_name FROM information_schema.constraint_column_usage WHERE table_schema = 'public' AND table_name = 't07';

-- name: misc/languages
SELECT lanname FROM pg_language ORDER BY 1;

-- name: misc/sequences
SELECT sequencename FROM pg_sequences;

-- name: misc/postmaster-start
SELECT pg_postmaster_start_time() <= now();

-- name: misc/server-addr
SELECT inet_server_addr() IS NOT NULL;

-- name: misc/tableoid
SELECT count(*) FROM pg_class c WHERE c.tableoid = 'pg_class'::regclass;

-- name: misc/expandarray
SELECT (information_schema._pg_expandarray(ARRAY[10, 20])).n;

-- name: misc/cursors
SELECT name FROM pg_cursors;
