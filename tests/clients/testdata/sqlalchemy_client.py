"""SQLAlchemy's inspector and psycopg2 against one server, as an
application or a BI tool (Superset reflects tables this way) would use
them: connect, list tables, views and materialized views, reflect
columns with types and nullability, primary keys, indexes, foreign keys
and unique constraints, reflect a whole table, and query it.

Usage: sqlalchemy_client.py URL

Prints one JSON object: {"results": {capability: result}, "times_ms":
{call: milliseconds}, "errors": {call: message}}. The Go test compares
the results of viewd and PostgreSQL; a call that fails is reported, not
raised.
"""
import json
import sys
import time

import psycopg2
import sqlalchemy
from sqlalchemy import inspect


def main():
    url = sys.argv[1]
    out = {"results": {}, "times_ms": {}, "errors": {}}

    def call(name, fn):
        start = time.monotonic()
        try:
            value = fn()
        except Exception as e:  # reported, compared by the test
            out["errors"][name] = type(e).__name__ + ": " + str(e).splitlines()[0]
            return None
        finally:
            out["times_ms"][name] = round((time.monotonic() - start) * 1000, 2)
        out["results"][name] = value
        return value

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        holder = []
        call("connect+inspect", lambda: holder.append(inspect(conn)) or True)
        if not holder:
            print(json.dumps(out))
            return
        insp = holder[0]
        call("get_table_names", lambda: sorted(insp.get_table_names()))
        call("get_view_names", lambda: sorted(insp.get_view_names()))
        call("get_materialized_view_names", lambda: sorted(insp.get_materialized_view_names()))
        for t in ("t00", "t07", "t49"):
            call("get_columns " + t, lambda: [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)])
            call("get_pk_constraint " + t, lambda: insp.get_pk_constraint(t)["constrained_columns"])
            call("get_indexes " + t, lambda: sorted((i["name"], list(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)))
            call("get_foreign_keys " + t, lambda: insp.get_foreign_keys(t))
            call("get_unique_constraints " + t, lambda: insp.get_unique_constraints(t))
        call("get_columns v03", lambda: [(c["name"], str(c["type"])) for c in insp.get_columns("v03")])
        call("get_view_definition v03", lambda: bool(insp.get_view_definition("v03")))

        def reflect():
            md = sqlalchemy.MetaData()
            t = sqlalchemy.Table("t07", md, autoload_with=conn)
            return [c.name for c in t.primary_key.columns]
        call("reflect t07", reflect)
        call("query", lambda: [tuple(str(v) for v in r) for r in conn.execute(sqlalchemy.text("SELECT id, name, amount FROM t07 ORDER BY id"))])

    def dbapi():
        c = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
        try:
            cur = c.cursor()
            cur.execute("SELECT id, name FROM t03 WHERE id = %s", (1,))
            rows = cur.fetchall()
            cols = [(d.name, d.type_code) for d in cur.description]
            return {"rows": rows, "cols": cols}
        finally:
            c.close()
    call("psycopg2 query", dbapi)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
