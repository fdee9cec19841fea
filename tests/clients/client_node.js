// node-postgres (pg) with pg-cursor against `zicht serve`: what a Node.js API or dashboard backend
// relies on. node-postgres reads every value as text and turns int4, float8, bool and date into
// JavaScript values, but int8 into a string (a bigint may not fit a number): a column PostgreSQL
// types integer must arrive as int4, or the application gets "42" instead of 42.
//
//   NODE_PATH=target/client-node/node_modules node tests/clients/client_node.js
//
// Reads ZICHT_HOST, ZICHT_PORT, ZICHT_USER and PGPASSWORD (set by run.sh). Prints one line per
// check, "ok ID detail" or "FAIL ID detail", and "version NAME VALUE" lines; run.sh tallies them.
'use strict';

const pg = require('pg');
const Cursor = require('pg-cursor');

const THEMES = ['vastgoed', 'drugs', 'vakantieparken', 'zorgfraude', 'branches',
    'jongeren', 'transacties', 'logistiek', 'digitaal', 'schulden'];
const AGGREGATE = 'SELECT b.gm_code, count(*) AS n FROM basis.persoon p ' +
    'JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code ORDER BY b.gm_code';
const SAVED_QUERY = "SELECT gm_code, index, klasse FROM drugs.verdachten_inwoners WHERE gm_code = 'GM0014'";

const settings = {
    host: process.env.ZICHT_HOST || '127.0.0.1',
    port: Number(process.env.ZICHT_PORT || 5433),
    user: process.env.ZICHT_USER || 'analist',
    password: process.env.PGPASSWORD || '',
    database: 'zicht',
};

let failures = 0;

/** Runs one check; its resolved value is the detail printed after "ok". */
async function check(id, body) {
    try {
        const detail = await body();
        console.log(`ok ${id} ${detail === undefined ? '' : detail}`.trimEnd());
    } catch (error) {
        failures++;
        const state = error.code ? ` [SQLSTATE ${error.code}]` : '';
        const message = String(error.message).replace(/\s+/g, ' ').slice(0, 600);
        console.log(`FAIL ${id} ${error.constructor.name}${state}: ${message}`);
    }
}

function expect(condition, what) {
    if (!condition) throw new Error(what);
}

function readCursor(cursor, rows) {
    return new Promise((resolve, reject) => cursor.read(rows, (error, batch) => (error ? reject(error) : resolve(batch))));
}

async function main() {
    for (const name of ['pg', 'pg-cursor']) {
        // pg-cursor exports no package.json: read it beside the module's entry point.
        const manifest = require.resolve(name).replace(/(node_modules[\\/][^\\/]+)[\\/].*$/, '$1/package.json');
        const version = JSON.parse(require('fs').readFileSync(manifest, 'utf8')).version;
        console.log(`version ${name === 'pg' ? 'node-postgres' : name} ${version}`);
    }
    const client = new pg.Client(settings);

    await check('connect-scram', async () => {
        await client.connect();
        const { rows } = await client.query('SHOW server_version');
        return `server_version=${rows[0].server_version}`;
    });

    // node-postgres turns int4 into a number and int8 into a string: `SELECT 1` must be int4, as in
    // PostgreSQL, or every literal an application selects arrives as text.
    await check('integer-literals', async () => {
        const { rows, fields } = await client.query('SELECT 1 AS one, 2147483648 AS big, 1.5 AS half');
        const types = fields.map((f) => f.dataTypeID).join(',');
        expect(rows[0].one === 1, `SELECT 1 gave ${JSON.stringify(rows[0].one)} (type oids ${types})`);
        expect(rows[0].big === '2147483648', `2147483648 gave ${JSON.stringify(rows[0].big)} (int8 as a string)`);
        return `one=1 (oid ${fields[0].dataTypeID}), big='2147483648' (oid ${fields[1].dataTypeID})`;
    });

    await check('parameter-arithmetic', async () => {
        const { rows } = await client.query('SELECT $1::int + 1 AS n', [41]);
        expect(rows[0].n === 42, `$1::int + 1 gave ${JSON.stringify(rows[0].n)}`);
        return 'n=42';
    });

    await check('types-text', async () => {
        const { rows } = await client.query(
            "SELECT CAST(42 AS integer) AS i, CAST(9000000000 AS bigint) AS b, CAST(2.5 AS double precision) AS d, " +
            "true AS t, CAST('Groningen' AS text) AS s, DATE '2024-01-31' AS dt");
        const r = rows[0];
        expect(r.i === 42 && r.b === '9000000000' && r.d === 2.5 && r.t === true && r.s === 'Groningen',
            JSON.stringify(r));
        expect(r.dt instanceof Date && r.dt.getFullYear() === 2024 && r.dt.getMonth() === 0 && r.dt.getDate() === 31,
            `date ${r.dt}`);
        return JSON.stringify({ ...r, dt: '2024-01-31' });
    });

    await check('params', async () => {
        const { rows } = await client.query('SELECT count(*) AS n FROM regio.buurt WHERE gm_code = $1', ['GM0014']);
        expect(Number(rows[0].n) > 0, `${rows[0].n} buurten`);
        return `${rows[0].n} buurten`;
    });

    await check('named-prepared-statement', async () => {
        const names = [];
        for (const code of ['GM0014', 'GM0363', 'GM0014']) {
            const { rows } = await client.query({
                name: 'gemeente-naam', text: 'SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1', values: [code],
            });
            names.push(rows[0].gm_naam);
        }
        expect(names.join() === 'Groningen,Amsterdam,Groningen', names.join());
        return names.join(',');
    });

    await check('array-row-mode', async () => {
        const result = await client.query({ text: 'SELECT gm_code, gm_naam FROM regio.gemeente ORDER BY gm_code LIMIT 2', rowMode: 'array' });
        expect(Array.isArray(result.rows[0]) && result.rows[0][0] === 'GM0014', JSON.stringify(result.rows));
        return JSON.stringify(result.rows[0]);
    });

    await check('protected-aggregate', async () => {
        const { rows } = await client.query(AGGREGATE);
        expect(rows.length > 10 && rows.every((r) => r.n === null || Number(r.n) % 5 === 0), `${rows.length} rows`);
        return `${rows.length} gemeenten, counts in multiples of 5`;
    });

    await check('list-schemas', async () => {
        const { rows } = await client.query('SELECT schema_name FROM information_schema.schemata ORDER BY schema_name');
        const names = rows.map((r) => r.schema_name);
        const missing = ['basis', 'regio', ...THEMES].filter((s) => !names.includes(s));
        expect(missing.length === 0, `missing ${missing}`);
        return `${names.length} schemas`;
    });

    await check('columns-with-descriptions', async () => {
        const { rows } = await client.query(
            "SELECT c.column_name, c.data_type, c.ordinal_position, " +
            "col_description('basis.persoon'::regclass, c.ordinal_position) AS description " +
            "FROM information_schema.columns c WHERE c.table_schema = $1 AND c.table_name = $2 " +
            'ORDER BY c.ordinal_position', ['basis', 'persoon']);
        const id = rows.find((r) => r.column_name === 'persoon_id');
        expect(id && id.data_type === 'bigint' && id.ordinal_position === 1, JSON.stringify(rows[0]));
        const described = rows.filter((r) => r.description).length;
        expect(described === rows.length, `${described} of ${rows.length} columns described`);
        return `${rows.length} columns, all described; persoon_id bigint`;
    });

    await check('cursor', async () => {
        const cursor = client.query(new Cursor('SELECT gm_code FROM regio.gemeente ORDER BY gm_code'));
        const codes = [];
        for (let batch = await readCursor(cursor, 100); batch.length > 0; batch = await readCursor(cursor, 100)) {
            codes.push(...batch.map((r) => r.gm_code));
        }
        await new Promise((resolve) => cursor.close(resolve));
        expect(codes.length > 300 && codes.join() === [...codes].sort().join(), `${codes.length} rows`);
        return `${codes.length} rows in batches of 100`;
    });

    await check('pool', async () => {
        const pool = new pg.Pool({ ...settings, max: 2 });
        try {
            const results = await Promise.all([1, 2, 3].map(() => pool.query('SELECT gm_naam FROM regio.gemeente WHERE gm_code = $1', ['GM0363'])));
            expect(results.every((r) => r.rows[0].gm_naam === 'Amsterdam'), 'wrong rows');
            return '3 queries over 2 pooled connections';
        } finally {
            await pool.end();
        }
    });

    await check('error-row-level-refused', async () => {
        try {
            await client.query('SELECT * FROM basis.persoon');
        } catch (error) {
            expect(error.code === '42501', `SQLSTATE ${error.code}: ${error.message}`);
            return `42501 ${error.message.slice(0, 60)}`;
        }
        throw new Error('SELECT * FROM basis.persoon returned rows');
    });

    await check('error-then-usable', async () => {
        await client.query('SELECT nonexistent FROM regio.gemeente').then(
            () => { throw new Error('no error'); },
            (error) => expect(error.code === '42703', `SQLSTATE ${error.code}`));
        const { rows } = await client.query('SELECT 2 AS two');
        expect(Number(rows[0].two) === 2, JSON.stringify(rows));
        return '42703, then the connection answers';
    });

    await check('saved-query', async () => {
        const { rows } = await client.query(SAVED_QUERY);
        expect(rows.length === 1 && rows[0].gm_code === 'GM0014', JSON.stringify(rows));
        return `klasse=${rows[0].klasse}`;
    });

    await client.end().catch(() => {});
    console.log('done');
    process.exit(failures ? 1 : 0);
}

main().catch((error) => {
    console.log(`FAIL crashed ${error.stack}`);
    process.exit(1);
});
