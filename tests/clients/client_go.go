// Go's two PostgreSQL drivers against `zicht serve`: pgx (v4, its native interface: binary results,
// every query prepared with a Describe, a pipelined batch) and lib/pq (through database/sql, as
// Grafana's and many services' code uses it: text results, unnamed prepared statements).
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/clients/client_go.go pgx|pq
//
// Reads ZICHT_HOST, ZICHT_PORT, ZICHT_USER and PGPASSWORD (set by run.sh). Prints one line per
// check, "ok ID detail" or "FAIL ID detail", and "version NAME VALUE" lines; run.sh tallies them.
// The drivers are Debian's (golang-github-jackc-pgx-v4-dev, golang-github-lib-pq-dev), built in
// GOPATH mode: no module proxy is needed.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
	"github.com/lib/pq"
)

var themes = []string{"vastgoed", "drugs", "vakantieparken", "zorgfraude", "branches",
	"jongeren", "transacties", "logistiek", "digitaal", "schulden"}

const aggregate = "SELECT b.gm_code, count(*) AS n FROM basis.persoon p " +
	"JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code ORDER BY b.gm_code"
const savedQuery = "SELECT gm_code, index, klasse FROM drugs.verdachten_inwoners WHERE gm_code = 'GM0014'"
const columnsQuery = "SELECT c.column_name, c.data_type, c.ordinal_position, " +
	"col_description('basis.persoon'::regclass, c.ordinal_position) " +
	"FROM information_schema.columns c WHERE c.table_schema = $1 AND c.table_name = $2 ORDER BY c.ordinal_position"

var failures = 0

// check runs one check; its returned detail is printed after "ok".
func check(id string, body func() (string, error)) {
	detail, err := func() (detail string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return body()
	}()
	if err != nil {
		failures++
		state := ""
		var pgErr *pgconn.PgError
		var pqErr *pq.Error
		if errors.As(err, &pgErr) {
			state = fmt.Sprintf(" [SQLSTATE %s]", pgErr.Code)
		} else if errors.As(err, &pqErr) {
			state = fmt.Sprintf(" [SQLSTATE %s]", pqErr.Code)
		}
		fmt.Printf("FAIL %s %T%s: %s\n", id, err, state, strings.Join(strings.Fields(err.Error()), " "))
		return
	}
	fmt.Println(strings.TrimRight("ok "+id+" "+detail, " "))
}

// sqlState is the SQLSTATE either driver attached to an error, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	var pqErr *pq.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code
	case errors.As(err, &pqErr):
		return string(pqErr.Code)
	}
	return ""
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func url() string {
	return fmt.Sprintf("postgres://%s:%s@%s:%s/zicht?sslmode=disable", env("ZICHT_USER", "analist"),
		os.Getenv("PGPASSWORD"), env("ZICHT_HOST", "127.0.0.1"), env("ZICHT_PORT", "5433"))
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "pgx" && os.Args[1] != "pq") {
		fmt.Fprintln(os.Stderr, "usage: client_go.go pgx|pq")
		os.Exit(2)
	}
	if os.Args[1] == "pgx" {
		runPgx()
	} else {
		runPq()
	}
	fmt.Println("done")
	if failures > 0 {
		os.Exit(1)
	}
}

func runPgx() {
	fmt.Println("version pgx v4 (Debian golang-github-jackc-pgx-v4-dev)")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url())
	check("connect-scram", func() (string, error) {
		if err != nil {
			return "", err
		}
		return "server_version=" + conn.PgConn().ParameterStatus("server_version"), nil
	})
	if err != nil {
		return
	}
	defer conn.Close(ctx)

	check("types-binary", func() (string, error) { return typesRow(conn.QueryRow(ctx, typesQuery)) })

	// pgx scans an int4 into an int32, and refuses an int8 there: `SELECT 1` must be int4.
	check("integer-literal", func() (string, error) {
		var one int32
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return "", err
		}
		var n int32
		if err := conn.QueryRow(ctx, "SELECT $1::int + 1", 41).Scan(&n); err != nil {
			return "", err
		}
		if one != 1 || n != 42 {
			return "", fmt.Errorf("SELECT 1 gave %d, $1::int + 1 gave %d", one, n)
		}
		return "1 and 42 as int32", nil
	})

	check("params", func() (string, error) {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM regio.buurt WHERE gm_code = $1", "GM0014").Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return "", fmt.Errorf("no buurten")
		}
		return fmt.Sprintf("%d buurten", n), nil
	})

	check("batch-pipelined", func() (string, error) {
		batch := &pgx.Batch{}
		for _, code := range []string{"GM0014", "GM0363", "GM0518"} {
			batch.Queue("SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1", code)
		}
		results := conn.SendBatch(ctx, batch)
		var names []string
		for range []int{1, 2, 3} {
			var name string
			if err := results.QueryRow().Scan(&name); err != nil {
				results.Close()
				return "", err
			}
			names = append(names, name)
		}
		if err := results.Close(); err != nil {
			return "", err
		}
		if strings.Join(names, ",") != "Groningen,Amsterdam,'s-Gravenhage" {
			return "", fmt.Errorf("names %v", names)
		}
		return strings.Join(names, ","), nil
	})

	check("protected-aggregate", func() (string, error) {
		rows, err := conn.Query(ctx, aggregate)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		count := 0
		for rows.Next() {
			var code string
			var n *int64
			if err := rows.Scan(&code, &n); err != nil {
				return "", err
			}
			if n != nil && *n%5 != 0 {
				return "", fmt.Errorf("%s: %d is no multiple of 5", code, *n)
			}
			count++
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		if count <= 10 {
			return "", fmt.Errorf("%d rows", count)
		}
		return fmt.Sprintf("%d gemeenten, counts in multiples of 5", count), nil
	})

	check("columns-with-descriptions", func() (string, error) {
		rows, err := conn.Query(ctx, columnsQuery, "basis", "persoon")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		return describeColumns(func() (bool, column, error) {
			var c column
			if !rows.Next() {
				return false, c, rows.Err()
			}
			return true, c, rows.Scan(&c.name, &c.dataType, &c.position, &c.description)
		})
	})

	check("tx-read-only", func() (string, error) {
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return "", err
		}
		var name string
		if err := tx.QueryRow(ctx, "SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1", "GM0363").Scan(&name); err != nil {
			tx.Rollback(ctx)
			return "", err
		}
		return name + " in a read-only transaction", tx.Commit(ctx)
	})

	check("error-row-level-refused", func() (string, error) { return refused(conn.Exec(ctx, "SELECT * FROM basis.persoon")) })

	check("saved-query", func() (string, error) {
		var code string
		var index *float64
		var class *string
		if err := conn.QueryRow(ctx, savedQuery).Scan(&code, &index, &class); err != nil {
			return "", err
		}
		return savedQueryDetail(code, class)
	})
}

func runPq() {
	fmt.Println("version lib/pq 1.10 (Debian golang-github-lib-pq-dev)")
	db, err := sql.Open("postgres", url())
	if err != nil {
		check("connect-scram", func() (string, error) { return "", err })
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	check("connect-scram", func() (string, error) {
		var version string
		if err := db.QueryRow("SHOW server_version").Scan(&version); err != nil {
			return "", err
		}
		return "server_version=" + version, nil
	})

	check("types-text", func() (string, error) { return typesRow(db.QueryRow(typesQuery)) })

	check("params", func() (string, error) {
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM regio.buurt WHERE gm_code = $1", "GM0014").Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return "", fmt.Errorf("no buurten")
		}
		return fmt.Sprintf("%d buurten", n), nil
	})

	check("prepared-statement", func() (string, error) {
		statement, err := db.Prepare("SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1")
		if err != nil {
			return "", err
		}
		defer statement.Close()
		var names []string
		for _, code := range []string{"GM0014", "GM0363", "GM0014"} {
			var name string
			if err := statement.QueryRow(code).Scan(&name); err != nil {
				return "", err
			}
			names = append(names, name)
		}
		if strings.Join(names, ",") != "Groningen,Amsterdam,Groningen" {
			return "", fmt.Errorf("names %v", names)
		}
		return strings.Join(names, ","), nil
	})

	check("protected-aggregate", func() (string, error) {
		rows, err := db.Query(aggregate)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		count := 0
		for rows.Next() {
			var code string
			var n sql.NullInt64
			if err := rows.Scan(&code, &n); err != nil {
				return "", err
			}
			if n.Valid && n.Int64%5 != 0 {
				return "", fmt.Errorf("%s: %d is no multiple of 5", code, n.Int64)
			}
			count++
		}
		if count <= 10 {
			return "", fmt.Errorf("%d rows", count)
		}
		return fmt.Sprintf("%d gemeenten, counts in multiples of 5", count), rows.Err()
	})

	check("list-schemas", func() (string, error) {
		rows, err := db.Query("SELECT schema_name FROM information_schema.schemata")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		present := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return "", err
			}
			present[name] = true
		}
		var missing []string
		for _, schema := range append([]string{"basis", "regio"}, themes...) {
			if !present[schema] {
				missing = append(missing, schema)
			}
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("missing %v", missing)
		}
		return fmt.Sprintf("%d schemas", len(present)), rows.Err()
	})

	check("columns-with-descriptions", func() (string, error) {
		rows, err := db.Query(columnsQuery, "basis", "persoon")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		return describeColumns(func() (bool, column, error) {
			var c column
			var description sql.NullString
			if !rows.Next() {
				return false, c, rows.Err()
			}
			err := rows.Scan(&c.name, &c.dataType, &c.position, &description)
			if description.Valid {
				c.description = &description.String
			}
			return true, c, err
		})
	})

	check("statement-timeout", func() (string, error) {
		conn, err := db.Conn(context.Background())
		if err != nil {
			return "", err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "SET statement_timeout = '200ms'"); err != nil {
			return "", err
		}
		_, err = conn.ExecContext(context.Background(), "SELECT count(*) FROM generate_series(1, 1000000000000) t(x) WHERE x % 7 = 3")
		if sqlState(err) != "57014" {
			return "", fmt.Errorf("expected 57014, got %v", err)
		}
		_, err = conn.ExecContext(context.Background(), "RESET statement_timeout")
		return "57014 after 200ms", err
	})

	check("error-row-level-refused", func() (string, error) {
		_, err := db.Exec("SELECT * FROM basis.persoon")
		return refused(nil, err)
	})

	check("saved-query", func() (string, error) {
		var code string
		var index sql.NullFloat64
		var class sql.NullString
		if err := db.QueryRow(savedQuery).Scan(&code, &index, &class); err != nil {
			return "", err
		}
		var classPtr *string
		if class.Valid {
			classPtr = &class.String
		}
		return savedQueryDetail(code, classPtr)
	})
}

const typesQuery = "SELECT CAST(42 AS integer), CAST(9000000000 AS bigint), CAST(2.5 AS double precision), " +
	"true, CAST('Groningen' AS text), DATE '2024-01-31'"

// typesRow checks the values of typesQuery as a driver scans them into Go's types.
func typesRow(row interface{ Scan(...interface{}) error }) (string, error) {
	var i int32
	var b int64
	var d float64
	var t bool
	var s string
	var dt time.Time
	if err := row.Scan(&i, &b, &d, &t, &s, &dt); err != nil {
		return "", err
	}
	got := fmt.Sprintf("%d %d %g %t %s %s", i, b, d, t, s, dt.Format("2006-01-02"))
	if got != "42 9000000000 2.5 true Groningen 2024-01-31" {
		return "", fmt.Errorf("row %s", got)
	}
	return got, nil
}

type column struct {
	name, dataType string
	position       int32
	description    *string
}

// describeColumns checks basis.persoon's columns as information_schema and col_description give them.
func describeColumns(next func() (bool, column, error)) (string, error) {
	var columns []column
	for {
		more, c, err := next()
		if err != nil {
			return "", err
		}
		if !more {
			break
		}
		columns = append(columns, c)
	}
	if len(columns) == 0 || columns[0].name != "persoon_id" || columns[0].dataType != "bigint" || columns[0].position != 1 {
		return "", fmt.Errorf("first column %+v", columns)
	}
	var undescribed []string
	for _, c := range columns {
		if c.description == nil || *c.description == "" {
			undescribed = append(undescribed, c.name)
		}
	}
	sort.Strings(undescribed)
	if len(undescribed) > 0 {
		return "", fmt.Errorf("no description for %v", undescribed)
	}
	return fmt.Sprintf("%d columns, all described; persoon_id bigint", len(columns)), nil
}

// refused checks that a statement was refused with 42501 (insufficient privilege).
func refused(_ interface{}, err error) (string, error) {
	if err == nil {
		return "", fmt.Errorf("SELECT * FROM basis.persoon returned rows")
	}
	if sqlState(err) != "42501" {
		return "", fmt.Errorf("expected 42501, got %v", err)
	}
	return "42501", nil
}

func savedQueryDetail(code string, class *string) (string, error) {
	if code != "GM0014" {
		return "", fmt.Errorf("gm_code %s", code)
	}
	if class == nil {
		return "klasse=NULL", nil
	}
	return "klasse=" + *class, nil
}
