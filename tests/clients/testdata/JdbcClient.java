import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.util.ArrayList;
import java.util.List;

/**
 * The PostgreSQL JDBC driver's DatabaseMetaData against one server, called
 * as DBeaver and Metabase call it when they connect: tables and views,
 * columns with types and nullability, primary keys, indexes, foreign keys,
 * then a query whose ResultSetMetaData names its table.
 *
 * Usage: java -cp postgresql.jar:. JdbcClient URL USER
 *
 * Prints one line per call: "name\tms\tresult" where result is "ERROR ..."
 * when the call failed. The Go test compares the results of viewd and
 * PostgreSQL.
 */
public class JdbcClient {
    interface Call {
        String run() throws Exception;
    }

    static void call(String name, Call c) {
        long start = System.nanoTime();
        String result;
        try {
            result = c.run();
        } catch (Exception e) {
            String msg = String.valueOf(e.getMessage());
            int nl = msg.indexOf('\n');
            result = "ERROR " + (nl >= 0 ? msg.substring(0, nl) : msg);
        }
        double ms = (System.nanoTime() - start) / 1e6;
        System.out.println(name + "\t" + String.format("%.2f", ms) + "\t" + result.replace('\n', ' ').replace('\t', ' '));
    }

    static String rows(ResultSet rs, String... cols) throws Exception {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                StringBuilder b = new StringBuilder("(");
                for (int i = 0; i < cols.length; i++) {
                    if (i > 0) b.append(",");
                    b.append(rs.getString(cols[i]));
                }
                out.add(b.append(")").toString());
            }
        }
        java.util.Collections.sort(out);
        return String.join(" ", out);
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String user = args[1];
        Connection[] conn = new Connection[1];
        call("connect", () -> {
            conn[0] = DriverManager.getConnection(url, user, "");
            return "ok";
        });
        if (conn[0] == null) return;
        Connection c = conn[0];
        DatabaseMetaData md = c.getMetaData();
        call("getDatabaseProductName", () -> md.getDatabaseProductName());
        call("getSchemas", () -> rows(md.getSchemas(), "TABLE_SCHEM"));
        call("getTableTypes", () -> rows(md.getTableTypes(), "TABLE_TYPE"));
        call("getTables TABLE", () -> rows(md.getTables(null, "public", "%", new String[] {"TABLE"}), "TABLE_NAME"));
        call("getTables VIEW", () -> rows(md.getTables(null, "public", "%", new String[] {"VIEW"}), "TABLE_NAME"));
        call("getTables MATERIALIZED VIEW", () -> rows(md.getTables(null, "public", "%", new String[] {"MATERIALIZED VIEW"}), "TABLE_NAME"));
        for (String t : new String[] {"t00", "t07", "v03", "mv1"}) {
            call("getColumns " + t, () -> rows(md.getColumns(null, "public", t, "%"), "COLUMN_NAME", "TYPE_NAME", "DATA_TYPE", "COLUMN_SIZE", "NULLABLE", "ORDINAL_POSITION"));
        }
        call("getColumns all", () -> String.valueOf(rows(md.getColumns(null, "public", "%", "%"), "TABLE_NAME", "COLUMN_NAME").split(" ").length));
        for (String t : new String[] {"t00", "t07", "t07_items"}) {
            call("getPrimaryKeys " + t, () -> rows(md.getPrimaryKeys(null, "public", t), "COLUMN_NAME", "KEY_SEQ", "PK_NAME"));
            call("getIndexInfo " + t, () -> rows(md.getIndexInfo(null, "public", t, false, true), "INDEX_NAME", "COLUMN_NAME", "NON_UNIQUE"));
            call("getImportedKeys " + t, () -> rows(md.getImportedKeys(null, "public", t), "PKTABLE_NAME", "FKCOLUMN_NAME"));
            call("getExportedKeys " + t, () -> rows(md.getExportedKeys(null, "public", t), "FKTABLE_NAME", "FKCOLUMN_NAME"));
            call("getBestRowIdentifier " + t, () -> rows(md.getBestRowIdentifier(null, "public", t, DatabaseMetaData.bestRowSession, true), "COLUMN_NAME"));
        }
        call("getProcedures", () -> String.valueOf(md.getProcedures(null, "pg_catalog", "abs") != null));
        call("query", () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT id, name, amount FROM t07 WHERE id = ? ")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData m = rs.getMetaData();
                    StringBuilder b = new StringBuilder();
                    for (int i = 1; i <= m.getColumnCount(); i++) {
                        b.append(m.getColumnName(i)).append(":").append(m.getColumnTypeName(i)).append(":").append(m.getTableName(i)).append(" ");
                    }
                    while (rs.next()) b.append(rs.getString(1)).append(",").append(rs.getString(2)).append(",").append(rs.getString(3));
                    return b.toString();
                }
            }
        });
        c.close();
    }
}
