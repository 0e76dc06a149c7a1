#!/usr/bin/env python3
"""Fill the expected output of the "eval" blocks of expr/testdata/eval_* files
from a real PostgreSQL server, so that the golden tests check conformance.

    PGARGS='-h /tmp/exprpg -p 54329 -U postgres' python3 expr/testdata/pg_expected.py expr/testdata/eval_*

Each expression X becomes  select pg_typeof(X)::text || ' ' || case when (X) is null then 'NULL'
else format('%s', X) end  (format uses the type's output function)
run with TimeZone UTC; an error prints as "error SQLSTATE: message".
"assign type=T" blocks run INSERT INTO a temp table with a column of type T
(assignment casts). "eval-local" blocks are left alone (their expectations are viewd's own).
"""
import os, subprocess, sys

ARGS = os.environ.get("PGARGS", "-h /tmp/exprpg -p 54329 -U postgres").split()

def pg(expr):
    q = f"select pg_typeof({expr})::text || ' ' || case when ({expr}) is null then 'NULL' else format('%s', {expr}) end"
    p = subprocess.run(["psql", *ARGS, "-X", "-At", "-v", "VERBOSITY=verbose",
                        "-c", "set timezone = 'UTC'", "-c", q],
                       capture_output=True, text=True)
    out = (p.stdout + p.stderr)
    i = out.find("ERROR:  ")
    if i >= 0:
        msg = out[i + 8:].split("\n", 1)[0]
        code, _, text = msg.partition(": ")
        return f"error {code}: {text}"
    lines = p.stdout.rstrip("\n").split("\n", 1)
    return lines[1] if len(lines) > 1 else lines[0]

def pg_assign(typ, expr):
    q = (f"begin; create temp table t (c {typ}); insert into t values ({expr}) returning "
         f"pg_typeof(c)::text || ' ' || case when c is null then 'NULL' else format('%s', c) end; rollback;")
    p = subprocess.run(["psql", *ARGS, "-X", "-q", "-At", "-v", "VERBOSITY=verbose", "-c", q],
                       capture_output=True, text=True)
    out = p.stdout + p.stderr
    i = out.find("ERROR:  ")
    if i >= 0:
        msg = out[i + 8:].split("\n", 1)[0]
        code, _, text = msg.partition(": ")
        return f"error {code}: {text}"
    return p.stdout.rstrip("\n")

def process(path):
    src = open(path).read().split("\n")
    out, i = [], 0
    while i < len(src):
        line = src[i]
        head = line.strip()
        if head == "eval" or head.startswith("assign type="):
            typ = head[len("assign type="):] if head.startswith("assign") else None
            out.append(line)
            i += 1
            exprs = []
            while src[i] != "----":
                out.append(src[i])
                if src[i].strip():
                    exprs.append(src[i].strip())
                i += 1
            out.append("----")
            i += 1
            while i < len(src) and src[i].strip() != "":  # drop old expectations
                i += 1
            for e in exprs:
                out.append(pg(e) if typ is None else pg_assign(typ, e))
            continue
        out.append(line)
        i += 1
    open(path, "w").write("\n".join(out))

for f in sys.argv[1:]:
    process(f)
