// node-postgres (npm pg) against one server, as a Node application or a
// tool built on it would: connect, list tables, views and materialized
// views, columns with types and nullability, primary keys and indexes,
// then a parameterised query whose fields name their table.
//
// Usage: node client.js URL
// Prints one line per call: "name\tms\tresult" (result "ERROR ..." when the
// call failed); the Go test compares viewd's results with PostgreSQL's.
const { Client } = require('pg');

async function main() {
  const client = new Client({ connectionString: process.argv[2] });
  const call = async (name, fn) => {
    const start = process.hrtime.bigint();
    let result;
    try {
      result = await fn();
    } catch (e) {
      result = 'ERROR ' + String(e.message).split('\n')[0];
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(name + '\t' + ms.toFixed(2) + '\t' + String(result).replace(/[\t\n]/g, ' '));
  };
  const rows = async (sql, params) => {
    const r = await client.query(sql, params);
    return r.rows.map((row) => Object.values(row).join('|')).sort().join('; ');
  };
  let connected = false;
  await call('connect', async () => { await client.connect(); connected = true; return 'ok'; });
  if (!connected) return;
  await call('tables', () => rows(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`));
  await call('views', () => rows(`SELECT viewname FROM pg_views WHERE schemaname = 'public'`));
  await call('materialized views', () => rows(`SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'`));
  await call('columns t07', () => rows(`SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 ORDER BY a.attnum`, ['public.t07']));
  await call('primary key t07', () => rows(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary`, ['public.t07']));
  await call('indexes t05', () => rows(`SELECT c.relname, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass`, ['public.t05']));
  await call('foreign keys', () => rows(`SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`));
  await call('query', async () => {
    const r = await client.query('SELECT id, name, amount FROM t07 WHERE id = $1', [1]);
    const fields = r.fields.map((f) => `${f.name}:from-table=${f.tableID !== 0}:column=${f.columnID}`).join(' ');
    return fields + ' ' + r.rows.map((row) => Object.values(row).join(',')).join(';');
  });
  await client.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
