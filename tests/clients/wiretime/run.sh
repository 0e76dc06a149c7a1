#!/bin/bash
# run.sh HOST:PORT N [COLD_FROM COLD_TO]    (env: SERVER_PID, COLD_REFLECT="FROM TO")
#
# Measures the server time over the wire of the slowest introspection calls
# of tests/clients (README, "### Clients"), through the wiretime proxy, for
# a server loaded with tests/clients/testdata/schema.sql (user and database
# viewd): psql 15's \d t07 and \d+ t07 (N each, in one psql session),
# SQLAlchemy's reflect of t07 and pgjdbc's getColumns over all tables (N
# each, one connection). With COLD_FROM and COLD_TO, also \d of the first
# half of tables tCOLD_FROM..tCOLD_TO and \d+ of the second half, once
# each: the first describe of each table (use tables not described before
# on that server); with COLD_REFLECT="FROM TO", SQLAlchemy's reflect of
# tFROM..tTO once each. Prints the server's CPU time per call when
# SERVER_PID is set.
set -euo pipefail
TARGET=$1; N=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $proxy 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/wiretime" "$here"
port=$((27400 + RANDOM % 500))
"$work/wiretime" -listen 127.0.0.1:$port -target "$TARGET" > "$work/rt.log" &
proxy=$!
sleep 0.3
cpu() { if [ -n "${SERVER_PID:-}" ]; then awk '{print $14+$15}' /proc/$SERVER_PID/stat; else echo 0; fi; }
tick=$(getconf CLK_TCK)
report() { echo "server CPU per call, $1: $(( ($3 - $2) * 1000 / tick / $4 )) ms"; }
psqlrun() { psql -X -q -h 127.0.0.1 -p $port -U viewd -d viewd -f "$1" > /dev/null; }
cat > "$work/reflect.py" <<'PY'
import sys, sqlalchemy
url, n, label, tables = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
engine = sqlalchemy.create_engine(url)
with engine.connect() as conn:
    for t in tables:
        for _ in range(n):
            conn.exec_driver_sql("SELECT 'mark %s'" % label)
            sqlalchemy.Table(t, sqlalchemy.MetaData(), autoload_with=conn)
    conn.exec_driver_sql("SELECT 'mark end'")
PY
cat > "$work/Columns.java" <<'JAVA'
import java.sql.*;
public class Columns {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], "viewd", "")) {
      DatabaseMetaData md = c.getMetaData();
      for (int i = 0; i < Integer.parseInt(a[1]); i++) {
        try (Statement s = c.createStatement()) { s.execute("SELECT 'mark getColumns (all tables)'"); }
        try (ResultSet rs = md.getColumns(null, "public", "%", "%")) { while (rs.next()) {} }
      }
      try (Statement s = c.createStatement()) { s.execute("SELECT 'mark end'"); }
    }
  }
}
JAVA
javac -d "$work" -cp /usr/share/java/postgresql.jar "$work/Columns.java"
for cmd in '\d t07' '\d+ t07'; do
  for _ in $(seq "$N"); do echo "SELECT 'mark $cmd';"; echo "$cmd"; done > "$work/q.sql"
  echo "SELECT 'mark end';" >> "$work/q.sql"
  a=$(cpu); psqlrun "$work/q.sql"; b=$(cpu); report "$cmd" $a $b "$N"
done
a=$(cpu); /usr/bin/python3 "$work/reflect.py" "postgresql+psycopg2://viewd@127.0.0.1:$port/viewd" "$N" "reflect t07" t07; b=$(cpu); report "reflect t07" $a $b "$N"
a=$(cpu); java -cp "/usr/share/java/postgresql.jar:$work" Columns "jdbc:postgresql://127.0.0.1:$port/viewd?sslmode=disable" "$N"; b=$(cpu); report "getColumns" $a $b "$N"
if [ $# -ge 4 ]; then
  # \d and \d+ share some statements: each describes its own half.
  mid=$(( ($3 + $4) / 2 ))
  half() { for i in $(seq "$1" "$2"); do printf "t%02d " "$i"; done; }
  for spec in "\\d $3 $mid" "\\d+ $((mid + 1)) $4"; do
    read -r cmd from to <<< "$spec"
    tables=$(half "$from" "$to"); n=$(( to - from + 1 ))
    for t in $tables; do echo "SELECT 'mark $cmd (cold)';"; echo "$cmd $t"; done > "$work/q.sql"
    echo "SELECT 'mark end';" >> "$work/q.sql"
    a=$(cpu); psqlrun "$work/q.sql"; b=$(cpu); report "$cmd (cold)" $a $b $n
  done
fi
if [ -n "${COLD_REFLECT:-}" ]; then
  tables=$(for i in $(seq $COLD_REFLECT); do printf "t%02d " "$i"; done); n=$(echo $tables | wc -w)
  a=$(cpu); /usr/bin/python3 "$work/reflect.py" "postgresql+psycopg2://viewd@127.0.0.1:$port/viewd" 1 "reflect (cold)" $tables; b=$(cpu); report "reflect (cold)" $a $b $n
fi
kill $proxy; wait $proxy 2>/dev/null || true
"$work/wiretime" -sum "$work/rt.log"
