// pgjdbc against `zicht serve`: what a Java BI tool or ETL job relies on.
//
//   javac -cp /usr/share/java/postgresql.jar -d OUT JdbcClient.java
//   java -cp OUT:/usr/share/java/postgresql.jar JdbcClient
//
// Reads ZICHT_HOST, ZICHT_PORT, ZICHT_USER and PGPASSWORD (set by run.sh). Prints one line per
// check, "ok ID detail" or "FAIL ID detail", and "version NAME VALUE" lines; run.sh tallies them.
// A failing check does not stop the others.

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public class JdbcClient {
    static final List<String> THEMES = List.of("vastgoed", "drugs", "vakantieparken", "zorgfraude", "branches",
            "jongeren", "transacties", "logistiek", "digitaal", "schulden");
    static final String AGGREGATE = "SELECT b.gm_code, count(*) AS n FROM basis.persoon p "
            + "JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code ORDER BY b.gm_code";

    interface Check {
        String run() throws Exception;
    }

    static int failures = 0;

    /** Runs one check; its return value is the detail printed after "ok". */
    static void check(String id, Check body) {
        try {
            System.out.println("ok " + id + " " + body.run());
        } catch (Throwable e) {
            failures++;
            String message = String.valueOf(e.getMessage()).replace('\n', ' ');
            String state = e instanceof SQLException ? " [SQLSTATE " + ((SQLException) e).getSQLState() + "]" : "";
            System.out.println("FAIL " + id + " " + e.getClass().getSimpleName() + state + ": " + message);
        }
        System.out.flush();
    }

    static void require(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    static int count(ResultSet rs) throws SQLException {
        int rows = 0;
        try (rs) {
            while (rs.next()) {
                rows++;
            }
        }
        return rows;
    }

    static Connection connect(Properties extra) throws SQLException {
        String url = "jdbc:postgresql://" + env("ZICHT_HOST", "127.0.0.1") + ":" + env("ZICHT_PORT", "5433") + "/zicht";
        Properties props = new Properties();
        props.setProperty("user", env("ZICHT_USER", "analist"));
        props.setProperty("password", env("PGPASSWORD", ""));
        props.setProperty("sslmode", "disable");
        props.putAll(extra);
        return DriverManager.getConnection(url, props);
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    public static void main(String[] args) throws Exception {
        System.out.println("version pgjdbc " + org.postgresql.Driver.class.getPackage().getImplementationVersion());
        System.out.println("version java " + System.getProperty("java.version"));
        Connection conn;
        try {
            conn = connect(new Properties());
        } catch (SQLException e) {
            System.out.println("FAIL connect [SQLSTATE " + e.getSQLState() + "]: " + e.getMessage());
            System.exit(1);
            return;
        }
        DatabaseMetaData meta = conn.getMetaData();

        check("product-version", () -> {
            String product = meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion();
            require(meta.getDatabaseProductName().equals("PostgreSQL"), "product name: " + product);
            require(meta.getDatabaseMajorVersion() >= 10, "major version: " + product);
            return product + " (driver " + meta.getDriverVersion() + ")";
        });

        check("getSchemas", () -> {
            List<String> schemas = new ArrayList<>();
            try (ResultSet rs = meta.getSchemas()) {
                while (rs.next()) {
                    schemas.add(rs.getString("TABLE_SCHEM"));
                }
            }
            List<String> missing = new ArrayList<>(THEMES);
            missing.removeAll(schemas);
            require(missing.isEmpty(), "theme schemas missing: " + missing + " (got " + schemas + ")");
            require(schemas.contains("basis") && schemas.contains("regio"), "basis/regio missing: " + schemas);
            return schemas.size() + " schemas";
        });

        check("getTables-basis", () -> {
            Map<String, String> tables = new HashMap<>();
            try (ResultSet rs = meta.getTables(null, "basis", "%", null)) {
                while (rs.next()) {
                    tables.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
                }
            }
            require("TABLE".equals(tables.get("persoon")), "basis.persoon as TABLE: " + tables);
            require("TABLE".equals(tables.get("woning")), "basis.woning as TABLE: " + tables);
            return tables.keySet().toString();
        });

        // DBeaver, DataGrip and Tableau show REMARKS as a table's and a column's description.
        check("remarks", () -> {
            String table = null;
            try (ResultSet rs = meta.getTables(null, "basis", "persoon", null)) {
                while (rs.next()) {
                    table = rs.getString("REMARKS");
                }
            }
            require(table != null && table.startsWith("Persons registered in the BRP"), "table REMARKS: " + table);
            String column = null;
            try (ResultSet rs = meta.getColumns(null, "basis", "persoon", "bu_code")) {
                while (rs.next()) {
                    column = rs.getString("REMARKS");
                }
            }
            require("Buurt of residence on 1 January 2024".equals(column), "column REMARKS: " + column);
            return table.length() + "+" + column.length() + " characters";
        });

        check("getTables-views", () -> {
            Map<String, String> views = new HashMap<>();
            try (ResultSet rs = meta.getTables(null, "drugs", "%", new String[] {"VIEW"})) {
                while (rs.next()) {
                    views.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
                }
            }
            require("VIEW".equals(views.get("verdachten_inwoners")), "drugs.verdachten_inwoners as VIEW: " + views);
            require(!views.containsKey("verdachte"), "base table listed as a view: " + views);
            return views.keySet().toString();
        });

        check("getColumns-persoon", () -> {
            Map<String, String> types = new HashMap<>();
            try (ResultSet rs = meta.getColumns(null, "basis", "persoon", "%")) {
                while (rs.next()) {
                    types.put(rs.getString("COLUMN_NAME"), rs.getString("TYPE_NAME"));
                }
            }
            Map<String, String> expected = Map.of("persoon_id", "int8", "bu_code", "text", "geboortejaar", "int4",
                    "inkomen", "float8");
            for (Map.Entry<String, String> e : expected.entrySet()) {
                require(e.getValue().equals(types.get(e.getKey())),
                        e.getKey() + " should be " + e.getValue() + ", got " + types);
            }
            return types.toString();
        });

        // DBeaver, DataGrip and Tableau ask for keys and indexes when they open a table; the
        // warehouse has none, so the answer is empty, but it must not be an error.
        check("getPrimaryKeys", () -> count(meta.getPrimaryKeys(null, "basis", "persoon")) + " keys");
        check("getImportedKeys", () -> count(meta.getImportedKeys(null, "basis", "persoon")) + " foreign keys");
        check("getIndexInfo", () -> count(meta.getIndexInfo(null, "basis", "persoon", false, true)) + " indexes");

        check("protected-aggregate", () -> {
            int rows = 0;
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(AGGREGATE)) {
                while (rs.next()) {
                    long n = rs.getLong("n");
                    require(rs.wasNull() || n % 5 == 0, "count not a multiple of 5: " + n);
                    rows++;
                }
            }
            require(rows > 100, "rows: " + rows);
            return rows + " gemeenten";
        });

        check("row-level-refused", () -> {
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT * FROM basis.persoon");
                throw new AssertionError("SELECT * FROM basis.persoon returned rows");
            } catch (SQLException e) {
                require("42501".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState() + ": " + e.getMessage());
                return "42501";
            }
        });

        // pgjdbc switches to a named server-side statement on the 5th execution (prepareThreshold)
        // and from then on asks for binary results of int/float/date columns.
        check("prepared-8x", () -> {
            String sql = "SELECT g.gm_code, g.inwoners, CAST(g.inwoners AS double precision) / 1000 AS duizend, "
                    + "DATE '2024-01-01' AS peildatum, g.inwoners > ? AS groot FROM regio.gemeente g WHERE g.gm_code = ?";
            boolean serverPrepared = false;
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 1; i <= 8; i++) {
                    ps.setInt(1, 100000 + i);
                    ps.setString(2, i % 2 == 0 ? "GM0014" : "GM0034");
                    try (ResultSet rs = ps.executeQuery()) {
                        require(rs.next(), "no row in execution " + i);
                        String code = rs.getString(1);
                        long inwoners = rs.getLong(2);
                        require(code.equals(i % 2 == 0 ? "GM0014" : "GM0034"), "execution " + i + ": " + code);
                        require(inwoners > 100000, "execution " + i + ": inwoners " + inwoners);
                        require(Math.abs(rs.getDouble(3) - inwoners / 1000.0) < 1e-9, "execution " + i + ": double");
                        require(rs.getDate(4).toString().equals("2024-01-01"), "execution " + i + ": date " + rs.getDate(4));
                        require(rs.getBoolean(5), "execution " + i + ": boolean");
                        require(!rs.next(), "more than one row in execution " + i);
                    }
                    serverPrepared |= ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare();
                }
            }
            require(serverPrepared, "the driver never switched to a server-prepared statement");
            return "8 executions, server-prepared after the threshold";
        });

        // setDate sends the value untyped (OID 0) as '2024-01-31 +00', which PostgreSQL casts to date.
        check("setDate-param", () -> {
            try (PreparedStatement ps = conn.prepareStatement("SELECT CAST(? AS date) AS d")) {
                ps.setDate(1, java.sql.Date.valueOf("2024-01-31"));
                try (ResultSet rs = ps.executeQuery()) {
                    require(rs.next(), "no row");
                    require(rs.getDate(1).toString().equals("2024-01-31"), "got " + rs.getDate(1));
                    return "2024-01-31";
                }
            }
        });

        check("prepared-aggregate-param", () -> {
            try (PreparedStatement ps = conn.prepareStatement("SELECT b.gm_code, count(*) AS n FROM basis.persoon p "
                    + "JOIN regio.buurt b ON p.bu_code = b.bu_code WHERE b.gm_code = ? GROUP BY b.gm_code")) {
                long first = -1;
                for (int i = 1; i <= 6; i++) {
                    ps.setString(1, "GM0014");
                    try (ResultSet rs = ps.executeQuery()) {
                        require(rs.next(), "no row in execution " + i);
                        long n = rs.getLong(2);
                        require(n > 0 && n % 5 == 0, "count " + n);
                        require(first < 0 || n == first, "count changed between executions: " + first + " vs " + n);
                        first = n;
                    }
                }
                return "GM0014 n=" + first;
            }
        });

        // With autocommit off and a fetch size, pgjdbc uses a named portal and Execute with a row
        // limit of 10, then PortalSuspended, then more Executes.
        check("fetchsize-portal", () -> {
            conn.setAutoCommit(false);
            try (Statement st = conn.createStatement()) {
                st.setFetchSize(10);
                List<String> codes = new ArrayList<>();
                try (ResultSet rs = st.executeQuery("SELECT gm_code FROM regio.gemeente ORDER BY gm_code")) {
                    while (rs.next()) {
                        codes.add(rs.getString(1));
                    }
                }
                conn.commit();
                int total;
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM regio.gemeente")) {
                    rs.next();
                    total = rs.getInt(1);
                }
                conn.commit();
                require(codes.size() == total, "fetched " + codes.size() + " of " + total + " rows");
                require(total > 10, "need more than 10 rows, got " + total);
                List<String> sorted = new ArrayList<>(codes);
                sorted.sort(null);
                require(sorted.equals(codes), "rows out of order across fetches");
                require(codes.stream().distinct().count() == codes.size(), "duplicate rows across fetches");
                return codes.size() + " rows in batches of 10";
            } finally {
                conn.setAutoCommit(true);
            }
        });

        check("saved-query-view", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT gm_code, index, klasse FROM drugs.verdachten_inwoners WHERE gm_code = ?")) {
                ps.setString(1, "GM0014");
                try (ResultSet rs = ps.executeQuery()) {
                    require(rs.next(), "no row for GM0014");
                    return "GM0014 index=" + rs.getString(2) + " klasse=" + rs.getString(3);
                }
            }
        });

        conn.close();
        System.out.println("done"); // run.sh treats a log without it as a crashed client
        System.exit(failures == 0 ? 0 : 1);
    }
}
