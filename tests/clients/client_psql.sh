#!/usr/bin/env bash
# psql against `zicht serve`: the \d commands, queries, \copy, password and TLS. Run by run.sh,
# which sets ZICHT_HOST, ZICHT_PORT, ZICHT_TLS_PORT, ZICHT_USER, PGPASSWORD, ZICHT_TLS_CA and
# ZICHT_WORK. Prints "ok ID detail" / "FAIL ID detail" per check, like the other clients.
set -euo pipefail

export PGHOST=$ZICHT_HOST PGPORT=$ZICHT_PORT PGUSER=$ZICHT_USER PGDATABASE=zicht PGSSLMODE=disable
export PGCONNECT_TIMEOUT=10
THEMES="vastgoed drugs vakantieparken zorgfraude branches jongeren transacties logistiek digitaal schulden"
AGGREGATE="SELECT b.gm_code, count(*) AS n FROM basis.persoon p JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code ORDER BY b.gm_code"
failures=0

echo "version psql $(psql --version | sed 's/^psql (PostgreSQL) //')"

# q ARGS...: psql without ~/.psqlrc, stopping at the first error, unaligned, tuples only.
q() { psql -X -q -v ON_ERROR_STOP=1 -A -t "$@" 2>&1; }

# check ID FUNCTION: runs the function; its stdout's last line is the detail (or the failure).
check() {
    local id=$1 out code=0
    out=$("$2" 2>&1) || code=$?
    if [ $code -eq 0 ]; then
        echo "ok $id $(tail -n1 <<<"$out")"
    else
        failures=$((failures + 1))
        echo "FAIL $id $(tr '\n' ' ' <<<"${out:-psql printed nothing and exited with $code}" | cut -c1-600)"
    fi
}

t_connect() {
    local out
    out=$(q -c "SELECT current_database(), version()") || { echo "$out"; return 1; }
    [[ $out == zicht\|PostgreSQL* ]] || { echo "unexpected: $out"; return 1; }
    echo "${out#zicht|}" | cut -c1-60
}

t_list_databases() {
    local out
    out=$(q -c '\l') || { echo "$out"; return 1; }
    grep -q '^zicht|' <<<"$out" || { echo "zicht not in \\l: $out"; return 1; }
    echo "$(wc -l <<<"$out") databases"
}

t_list_schemas() {
    local out missing=""
    out=$(q -c '\dn') || { echo "$out"; return 1; }
    for schema in $THEMES basis regio; do
        grep -q "^$schema|" <<<"$out" || missing="$missing $schema"
    done
    [ -z "$missing" ] || { echo "missing schemas:$missing (got: $(cut -d'|' -f1 <<<"$out" | tr '\n' ' '))"; return 1; }
    echo "$(wc -l <<<"$out") schemas"
}

t_list_tables() {
    local out
    out=$(q -c '\dt drugs.*') || { echo "$out"; return 1; }
    grep -q '^drugs|verdachte|table|' <<<"$out" && grep -q '^drugs|hennepruiming|table|' <<<"$out" \
        || { echo "drugs tables missing: $out"; return 1; }
    echo "$(cut -d'|' -f2 <<<"$out" | tr '\n' ' ')"
}

t_describe_table() {
    # Column types must be PostgreSQL's names, which BI tools map to their own.
    local out
    out=$(q -c '\d basis.persoon') || { echo "$out"; return 1; }
    for expected in 'persoon_id|bigint||not null|' 'bu_code|text||not null|' 'geboortejaar|integer|||' \
        'inkomen|double precision|||'; do
        grep -qF "$expected" <<<"$out" || { echo "no line '$expected' in: $out"; return 1; }
    done
    echo "$(wc -l <<<"$out") columns"
}

t_describe_table_plus() {
    # \d+ and \dt+ show the catalog's descriptions; sizes are 0 (a size would count rows).
    local out
    out=$(q -c '\d+ basis.persoon') || { echo "$out"; return 1; }
    grep -qF 'bu_code|text||not null||extended|||Buurt of residence on 1 January 2024' <<<"$out" \
        || { echo "no described bu_code in: $out"; return 1; }
    out=$(q -c '\dt+ basis.*') || { echo "$out"; return 1; }
    grep -q '^basis|persoon|table|.*|0 bytes|Persons registered in the BRP' <<<"$out" \
        || { echo "no described persoon of 0 bytes in: $out"; return 1; }
    out=$(q -c '\l+' -c '\dn+' -c '\dv+ drugs.*') || { echo "$out"; return 1; }
    grep -q '^drugs|verdachten_inwoners|view|.*|Opiumwet-verdachten per 1.000 inwoners' <<<"$out" \
        || { echo "no described view in: $out"; return 1; }
    # A size named by a string, as an analyst asks it: 0 bytes; an unknown relation is 42P01.
    out=$(q -c "SELECT pg_total_relation_size('basis.persoon')") || { echo "$out"; return 1; }
    [ "$out" = 0 ] || { echo "pg_total_relation_size('basis.persoon') = $out"; return 1; }
    out=$(q -c "SELECT pg_total_relation_size('basis.nosuch')") && { echo "size of an unknown relation: $out"; return 1; }
    grep -qF 'relation "basis.nosuch" does not exist' <<<"$out" || { echo "not 42P01's message: $out"; return 1; }
    echo "described"
}

t_list_views() {
    local out
    out=$(q -c '\dv') || { echo "$out"; return 1; }
    echo "$(grep -c '|view|' <<<"$out" || true) views"
}

t_saved_query_views() {
    local out
    out=$(q -c '\dv drugs.*') || { echo "$out"; return 1; }
    grep -q '^drugs|verdachten_inwoners|view|' <<<"$out" || { echo "drugs.verdachten_inwoners not in \\dv drugs.*: $out"; return 1; }
    echo "$(wc -l <<<"$out") views in drugs"
}

t_describe_view() {
    local out
    out=$(q -c '\d drugs.verdachten_inwoners') || { echo "\\d drugs.verdachten_inwoners failed: $out"; return 1; }
    grep -qF 'index|double precision|' <<<"$out" && grep -qF 'klasse|text|' <<<"$out" \
        || { echo "columns index/klasse missing: $out"; return 1; }
    echo "$(wc -l <<<"$out") columns"
}

t_privileges_and_object_descriptions() {
    # \dp (\z) lists every table and view with its privileges and row-level policies (none here:
    # default privileges show empty, as in PostgreSQL); \dd lists descriptions of constraints,
    # rules and triggers, of which the warehouse has none.
    local out
    out=$(q -c '\dp basis.*') || { echo "$out"; return 1; }
    grep -qx 'basis|persoon|table|||' <<<"$out" || { echo "no basis.persoon in: $out"; return 1; }
    out=$(q -c '\z drugs.*') || { echo "$out"; return 1; }
    grep -qx 'drugs|verdachten_inwoners|view|||' <<<"$out" || { echo "no drugs.verdachten_inwoners in: $out"; return 1; }
    out=$(q -c '\dd') || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "object descriptions where there are no such objects: $out"; return 1; }
    echo "$(q -c '\dp' | wc -l) relations, no policies, no object descriptions"
}

t_other_describe_commands() {
    # \du lists the user's own role (never another user's); the remaining \d commands an analyst
    # tries run without an error.
    local command out
    out=$(q -c '\du') || { echo "$out"; return 1; }
    [ "$out" = "$ZICHT_USER||" ] || { echo "\du lists other than the user's own role: $out"; return 1; }
    for command in '\dT' '\dconfig' '\dv+' '\l+'; do
        out=$(q -c "$command") || { echo "$command: $out"; return 1; }
    done
    echo "\du (the own role) \dT \dconfig \dv+ \l+"
}

t_information_schema_views() {
    # Tools list views from here; base tables must not be among them.
    local out
    out=$(q -c "SELECT table_name FROM information_schema.views WHERE table_schema = 'drugs' ORDER BY 1") \
        || { echo "$out"; return 1; }
    grep -qx verdachten_inwoners <<<"$out" || { echo "verdachten_inwoners missing: $out"; return 1; }
    ! grep -qx verdachte <<<"$out" || { echo "base table drugs.verdachte listed as a view: $(tr '\n' ' ' <<<"$out")"; return 1; }
    echo "$(wc -l <<<"$out") views in drugs"
}

t_information_schema_columns() {
    # Grafana's query builder and Metabase's sync read types from here: PostgreSQL's type names
    # and udt names, positions from 1 (what PostgreSQL 15 answers for a table of this shape).
    local out
    out=$(q -c "SELECT ordinal_position, column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = 'basis' AND table_name = 'woning' AND column_name IN ('woning_id', 'bu_code', 'woz_waarde') ORDER BY 1") \
        || { echo "$out"; return 1; }
    local expected=$'1|woning_id|bigint|int8\n2|bu_code|text|text\n4|woz_waarde|double precision|float8'
    [ "$out" = "$expected" ] || { echo "expected $(tr '\n' ' ' <<<"$expected"), got $(tr '\n' ' ' <<<"$out")"; return 1; }
    echo "types and positions as PostgreSQL's"
}

t_list_functions() {
    local out
    out=$(q -c '\df') || { echo "$out"; return 1; }
    # The deviation scores are functions of public, with their argument names and types.
    out=$(q -c '\df deviation_index') || { echo "$out"; return 1; }
    grep -q '^public|deviation_index|double precision|num double precision, den double precision' <<<"$out" \
        || { echo "unexpected \\df deviation_index: $out"; return 1; }
    # \df+ adds volatility, owner, language and the description.
    out=$(q -c '\df+ deviation_index') || { echo "$out"; return 1; }
    grep -q "How a region's rate compares" <<<"$out" || { echo "no description in \\df+: $out"; return 1; }
    echo "\\df lists deviation_index in public with its arguments, \\df+ its description"
}

t_aggregate() {
    local out bad
    out=$(q -F, -c "$AGGREGATE") || { echo "$out"; return 1; }
    [ "$(wc -l <<<"$out")" -gt 100 ] || { echo "too few rows: $out"; return 1; }
    bad=$(awk -F, '$2 != "" && $2 % 5 != 0' <<<"$out")
    [ -z "$bad" ] || { echo "counts not rounded to 5: $bad"; return 1; }
    echo "$(wc -l <<<"$out") gemeenten"
}

t_row_level_refused() {
    local out
    if out=$(q -v VERBOSITY=verbose -c "SELECT * FROM basis.persoon"); then
        echo "rows of basis.persoon were returned"
        return 1
    fi
    grep -q 'ERROR:  42501:' <<<"$out" || { echo "expected SQLSTATE 42501: $out"; return 1; }
    echo "42501"
}

t_unknown_table() {
    local out
    if out=$(q -v VERBOSITY=verbose -c "SELECT * FROM regio.bestaat_niet"); then
        echo "no error"
        return 1
    fi
    grep -q 'ERROR:  42P01:' <<<"$out" || { echo "expected SQLSTATE 42P01: $out"; return 1; }
    echo "42P01"
}

t_saved_query() {
    local out
    out=$(q -c "SELECT gm_code, index, klasse FROM drugs.verdachten_inwoners WHERE gm_code = 'GM0014'") \
        || { echo "$out"; return 1; }
    [[ $out == GM0014\|* ]] || { echo "unexpected: $out"; return 1; }
    echo "$out"
}

COPY_QUERY="SELECT gm_code, gm_naam FROM regio.gemeente WHERE gm_code IN ('GM0014', 'GM0034') ORDER BY gm_code"
COPY_EXPECTED=$'gm_code,gm_naam\nGM0014,Groningen\nGM0034,Almere'

t_copy_csv_header() {
    # psql sends this as: COPY ( SELECT ... ) TO STDOUT CSV HEADER (the pre-9.0 option syntax).
    local file=$ZICHT_WORK/psql-copy-legacy.csv out
    rm -f "$file"
    out=$(q -c "\\copy ($COPY_QUERY) TO '$file' CSV HEADER") || { echo "$out"; return 1; }
    [ "$(cat "$file")" = "$COPY_EXPECTED" ] || { echo "file content: $(cat "$file" | tr '\n' ' ')"; return 1; }
    echo "header and 2 rows"
}

t_copy_with_options() {
    local file=$ZICHT_WORK/psql-copy-options.csv out
    rm -f "$file"
    out=$(q -c "\\copy ($COPY_QUERY) TO '$file' WITH (FORMAT csv, HEADER)") || { echo "$out"; return 1; }
    [ "$(cat "$file")" = "$COPY_EXPECTED" ] || { echo "file content: $(cat "$file" | tr '\n' ' ')"; return 1; }
    echo "header and 2 rows"
}

t_script_single_transaction() {
    # psql -1 -f: a script in one transaction (BEGIN ... COMMIT around it).
    local file=$ZICHT_WORK/psql-script.sql out
    printf '%s\n' "SET statement_timeout = '30s';" "SELECT count(*) FROM regio.gemeente;" \
        "SELECT count(*) > 0 FROM regio.buurt;" >"$file"
    out=$(q -1 -f "$file") || { echo "$out"; return 1; }
    [ "$(tr '\n' ' ' <<<"$out")" = "342 t " ] || { echo "unexpected: $out"; return 1; }
    echo "342, t"
}

t_wrong_password() {
    local out
    if out=$(PGPASSWORD=wrong q -c "SELECT 1"); then
        echo "connected with a wrong password"
        return 1
    fi
    grep -q 'password authentication failed' <<<"$out" || { echo "unexpected message: $out"; return 1; }
    echo "refused"
}

t_tls_require() {
    local out
    out=$(PGPORT=$ZICHT_TLS_PORT PGSSLMODE=require q -c '\conninfo' -c "SELECT 1") || { echo "$out"; return 1; }
    grep -q 'SSL connection' <<<"$out" || { echo "not encrypted: $out"; return 1; }
    echo "$(grep -o 'protocol: [^,]*' <<<"$out")"
}

t_tls_verify_full() {
    # The fixture certificate is for localhost: verify-full checks the chain and the host name.
    local out
    out=$(PGHOST=localhost PGPORT=$ZICHT_TLS_PORT PGSSLMODE=verify-full PGSSLROOTCERT=$ZICHT_TLS_CA \
        q -c "SELECT 1") || { echo "$out"; return 1; }
    [ "$out" = 1 ] || { echo "unexpected: $out"; return 1; }
    echo "certificate verified"
}

t_tls_plaintext_refused() {
    local out
    if out=$(PGPORT=$ZICHT_TLS_PORT PGSSLMODE=disable q -c "SELECT 1"); then
        echo "plaintext connection accepted by the TLS server"
        return 1
    fi
    grep -qi 'TLS' <<<"$out" || { echo "unexpected message: $out"; return 1; }
    echo "refused"
}

check connect t_connect
check list-databases t_list_databases
check list-schemas t_list_schemas
check list-tables t_list_tables
check describe-table t_describe_table
check describe-table-plus t_describe_table_plus
check list-views t_list_views
check saved-query-views t_saved_query_views
check describe-view t_describe_view
check privileges-and-object-descriptions t_privileges_and_object_descriptions
check other-describe-commands t_other_describe_commands
check information-schema-views t_information_schema_views
check information-schema-columns t_information_schema_columns
check list-functions t_list_functions
check aggregate t_aggregate
check row-level-refused t_row_level_refused
check unknown-table t_unknown_table
check saved-query t_saved_query
check copy-csv-header t_copy_csv_header
check copy-with-options t_copy_with_options
check script-single-transaction t_script_single_transaction
check wrong-password t_wrong_password
check tls-require t_tls_require
check tls-verify-full t_tls_verify_full
check tls-plaintext-refused t_tls_plaintext_refused

echo done # run.sh treats a log without it as a crashed client
[ "$failures" -eq 0 ]
