#!/usr/bin/env bash
# Checks the pg= codes of statements.txt against a real PostgreSQL (15), and the file's format.
#
#   PGHOST=/tmp PGPORT=54329 PGUSER=pgtest ./check-pg.sh --setup   # once, as a superuser: creates
#       the database (PGDATABASE, default zicht), Zicht's schemas and tables as look-alikes (same
#       names and types, a few rows in the public tables and some protected ones), and the login
#       role zicht_analyst (no password: give it one, or use trust, if your pg_hba.conf needs it)
#   PGHOST=/tmp PGPORT=54329 PGUSER=zicht_analyst ./check-pg.sh    # runs every case, prints each
#       case whose pg= does not match what PostgreSQL answered
#
# The pg= codes of statements.txt were measured as zicht_analyst: an ordinary role that may read
# the look-alike tables and nothing more, as a Zicht analyst may (no superuser, no CREATE).
# Options: --all prints every case with PostgreSQL's answer; --only NAME runs one case;
# --file PATH checks another statements file. Cases with pg=n/a are not run (some never end).
#
# No dependencies beyond python3: the script speaks the simple query protocol itself, so each case
# is sent byte for byte as one Query message, as the Rust test sends it (psql would interpret
# backslash commands and split statements).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 - "$here/statements.txt" "$@" <<'PY'
import hashlib, hmac, base64, os, re, socket, struct, sys, time

args = sys.argv[1:]
path = args.pop(0)
setup = show_all = False
only = None
while args:
    a = args.pop(0)
    if a == "--setup": setup = True
    elif a == "--all": show_all = True
    elif a == "--only": only = args.pop(0)
    elif a == "--file": path = args.pop(0)
    else: sys.exit(f"unknown option {a}")

HOST = os.environ.get("PGHOST", "/tmp")
PORT = int(os.environ.get("PGPORT", "5432"))
USER = os.environ.get("PGUSER", os.environ.get("USER", "postgres"))
PASSWORD = os.environ.get("PGPASSWORD")
DATABASE = os.environ.get("PGDATABASE", "zicht")
CASE_TIMEOUT = float(os.environ.get("CASE_TIMEOUT", "10"))
SLOW = 1.0

# ---- the file format -------------------------------------------------------------------------

HEADER = re.compile(r"^# (\S+) \| pg=(\S+) \| zicht=(\S+)\s*$")
CODE = re.compile(r"^[0-9A-Z]{5}$")

def parse(text):
    cases, problems, current = [], [], None
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.startswith("## "):
            continue
        if line.startswith("# "):
            m = HEADER.match(line)
            if not m:
                problems.append(f"line {lineno}: bad case header: {line!r}")
                current = None
                continue
            current = {"name": m[1], "pg": m[2], "zicht": m[3], "sql": [], "line": lineno}
            cases.append(current)
        elif current is not None:
            current["sql"].append(line)
        elif line.strip() and not line.startswith("##"):
            problems.append(f"line {lineno}: text outside a case")
    seen = set()
    for c in cases:
        c["sql"] = "\n".join(c["sql"]).strip()
        n = c["name"]
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n): problems.append(f"{n}: name is not kebab-case")
        if n in seen: problems.append(f"{n}: duplicate name")
        seen.add(n)
        if not (c["pg"] in ("ok", "n/a") or CODE.match(c["pg"])): problems.append(f"{n}: bad pg= {c['pg']}")
        if not (c["zicht"] in ("ok", "error") or CODE.match(c["zicht"])): problems.append(f"{n}: bad zicht= {c['zicht']}")
        if c["zicht"] == "XX000": problems.append(f"{n}: zicht=XX000 is never a target")
        if not c["sql"]: problems.append(f"{n}: no SQL")
        if len(c["sql"].encode()) >= 10_000: problems.append(f"{n}: SQL is {len(c['sql'].encode())} bytes (limit 10 kB)")
        if "\x00" in c["sql"]: problems.append(f"{n}: SQL holds a NUL byte")
    return cases, problems

# ---- a minimal PostgreSQL client: startup, authentication, simple query ------------------------

class Conn:
    def __init__(self, user=USER, database=DATABASE):
        if HOST.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(f"{HOST}/.s.PGSQL.{PORT}")
        else:
            self.sock = socket.create_connection((HOST, PORT))
        self.sock.settimeout(CASE_TIMEOUT)
        self.buf = b""
        self.user = user
        body = struct.pack("!i", 196608)
        for k, v in (("user", user), ("database", database), ("application_name", "check-pg"), ("client_encoding", "UTF8")):
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.key = None
        self.authenticate()

    def send(self, kind, payload=b""):
        self.sock.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def recv(self):
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!i", self.buf[1:5])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        n = struct.unpack("!i", self.buf[1:5])[0]
        kind, payload, self.buf = self.buf[:1], self.buf[5:1 + n], self.buf[1 + n:]
        return kind, payload

    def authenticate(self):
        scram = None
        while True:
            kind, p = self.recv()
            if kind == b"R":
                code = struct.unpack("!i", p[:4])[0]
                if code == 0: continue
                if code == 3: self.send(b"p", (PASSWORD or "").encode() + b"\0")
                elif code == 5:
                    inner = hashlib.md5((PASSWORD or "").encode() + self.user.encode()).hexdigest()
                    self.send(b"p", b"md5" + hashlib.md5(inner.encode() + p[4:8]).hexdigest().encode() + b"\0")
                elif code == 10:
                    nonce = base64.b64encode(os.urandom(18)).decode()
                    scram = {"nonce": nonce, "bare": f"n=,r={nonce}"}
                    first = ("n,," + scram["bare"]).encode()
                    self.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
                elif code == 11:
                    server_first = p[4:].decode()
                    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
                    salted = hashlib.pbkdf2_hmac("sha256", (PASSWORD or "").encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
                    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
                    without_proof = f"c=biws,r={attrs['r']}"
                    message = f"{scram['bare']},{server_first},{without_proof}".encode()
                    signature = hmac.new(hashlib.sha256(client_key).digest(), message, "sha256").digest()
                    proof = bytes(a ^ b for a, b in zip(client_key, signature))
                    self.send(b"p", f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
                elif code == 12: continue
                else: raise ConnectionError(f"unsupported authentication request {code}")
            elif kind == b"E":
                raise ConnectionError(fields(p).get("M", "authentication failed"))
            elif kind == b"K":
                self.key = p
            elif kind == b"Z":
                return

    def query(self, sql):
        """Runs one query string; returns (sqlstate or 'ok', message, seconds)."""
        start = time.monotonic()
        self.send(b"Q", sql.encode() + b"\0")
        result, message, cancelled = "ok", "", False
        while True:
            try:
                kind, p = self.recv()
            except socket.timeout:
                if cancelled: raise
                self.cancel()
                cancelled = True
                result, message = "timeout", f"no answer within {CASE_TIMEOUT:.0f} s (cancelled)"
                continue
            if kind == b"E" and result == "ok":
                f = fields(p)
                result, message = f.get("C", "?????"), f.get("M", "")
            elif kind == b"G":  # CopyInResponse: send nothing, fail the copy
                self.send(b"f", b"check-pg sends no COPY data\0")
                if result == "ok": result, message = "copy-in", "server asked for COPY data"
            elif kind == b"Z":
                return result, message, time.monotonic() - start

    def scalar(self, sql):
        """The first column of the first row of a query, as text (None if no row or an error)."""
        self.send(b"Q", sql.encode() + b"\0")
        value = None
        while True:
            kind, p = self.recv()
            if kind == b"D" and value is None and struct.unpack("!h", p[:2])[0] > 0:
                n = struct.unpack("!i", p[2:6])[0]
                value = p[6:6 + n].decode() if n >= 0 else None
            elif kind == b"Z":
                return value

    def cancel(self):
        if self.key is None: return
        if HOST.startswith("/"):
            s = socket.socket(socket.AF_UNIX); s.connect(f"{HOST}/.s.PGSQL.{PORT}")
        else:
            s = socket.create_connection((HOST, PORT))
        s.sendall(struct.pack("!ii", 16, 80877102) + self.key)
        s.close()

    def close(self):
        try:
            self.send(b"X")
        finally:
            self.sock.close()

def fields(p):
    out = {}
    for part in p.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return out

# ---- the look-alike warehouse ------------------------------------------------------------------

TABLES = {
    "regio.gemeente": "gm_code text NOT NULL, gm_naam text NOT NULL, provincie text, vr_code text, vr_naam text, politie_eenheid text, riec_regio text, inwoners bigint, woningen bigint",
    "regio.wijk": "wk_code text NOT NULL, wk_naam text, gm_code text NOT NULL, inwoners bigint, woningen bigint",
    "regio.buurt": "bu_code text NOT NULL, bu_naam text, wk_code text NOT NULL, gm_code text NOT NULL, inwoners bigint, woningen bigint",
    "ref.drugsfeit": "feit_code text, omschrijving text, handeling text, lijst text",
    "ref.misdrijf_nl": "soort text, jaar integer, aantal bigint",
    "ref.sbi": "sbi_code text, omschrijving text, kwetsbaar boolean",
    "basis.persoon": "persoon_id bigint NOT NULL, huishouden_id bigint NOT NULL, bu_code text NOT NULL, geboortejaar integer, geslacht text, herkomst text, inkomen double precision, vermogen double precision",
    "basis.vestiging": "vestiging_id bigint NOT NULL, onderneming_id bigint NOT NULL, sbi_code text NOT NULL, bu_code text NOT NULL, oprichtingsjaar integer, omzet double precision, werkzame_personen integer",
    "basis.woning": "woning_id bigint NOT NULL, bu_code text NOT NULL, bouwjaar integer, woz_waarde double precision, eigendom text, eigenaar_id bigint, eigenaar_type text",
    "digitaal.aangifte": "aangifte_id bigint NOT NULL, slachtoffer_id bigint NOT NULL, bu_code text NOT NULL, jaar integer NOT NULL, delict text, schade double precision",
    "drugs.hennepruiming": "ruiming_id bigint NOT NULL, woning_id bigint NOT NULL, jaar integer NOT NULL",
    "drugs.verdachte": "registratie_id bigint NOT NULL, persoon_id bigint NOT NULL, feit_code text NOT NULL, jaar integer NOT NULL, pleeg_gm_code text",
    "jongeren.kenmerk": "persoon_id bigint NOT NULL, jaar integer NOT NULL, jeugdreclassering boolean, eerdere_detentie boolean, problematische_schulden boolean, geen_inkomen boolean, zvw_wanbetaler boolean, netwerk_verdachte boolean",
    "logistiek.knooppunt_werknemer": "persoon_id bigint NOT NULL, vestiging_id bigint NOT NULL, knooppunt text NOT NULL, jaar integer NOT NULL",
    "schulden.registratie": "persoon_id bigint NOT NULL, jaar integer NOT NULL, problematische_schuld boolean, betalingsachterstand_zvw boolean, schuldhulp boolean",
    "transacties.melding": "melding_id bigint NOT NULL, persoon_id bigint NOT NULL, vestiging_id bigint, bu_code text NOT NULL, jaar integer NOT NULL, bedrag double precision, meldergroep text, verdacht_verklaard boolean",
    "vakantieparken.inschrijving": "persoon_id bigint NOT NULL, park_id bigint NOT NULL, peildatum date NOT NULL",
    "vakantieparken.park": "park_id bigint NOT NULL, gm_code text NOT NULL, bu_code text NOT NULL, soort text, aantal_objecten integer, vitaal boolean",
    "vastgoed.transactie": "transactie_id bigint NOT NULL, woning_id bigint NOT NULL, koper_id bigint NOT NULL, verkoper_id bigint, jaar integer NOT NULL, koopsom double precision, max_financiering double precision",
    "zorgfraude.pgb_declaratie": "declaratie_id bigint NOT NULL, budgethouder_id bigint NOT NULL, aanbieder_id bigint NOT NULL, jaar integer NOT NULL, bedrag double precision",
    "zorgfraude.zorgaanbieder": "aanbieder_id bigint NOT NULL, vestiging_id bigint NOT NULL, bu_code text NOT NULL, veroordeeld boolean, zorg_activiteit_geregistreerd boolean",
}

ROWS = """
INSERT INTO regio.gemeente VALUES
  ('GM0363', 'Amsterdam', 'Noord-Holland', 'VR13', 'Amsterdam-Amstelland', 'Amsterdam', 'RIEC Amsterdam-Amstelland', 931298, 466000),
  ('GM0917', 'Heerlen', 'Limburg', 'VR24', 'Zuid-Limburg', 'Limburg', 'RIEC Limburg', 86762, 45000),
  ('GM0034', 'Almere', 'Flevoland', 'VR25', 'Flevoland', 'Midden-Nederland', 'RIEC Midden-Nederland', 222825, 88000);
INSERT INTO regio.wijk VALUES
  ('WK036300', 'Burgwallen-Oude Zijde', 'GM0363', 4400, 3000), ('WK036301', 'Burgwallen-Nieuwe Zijde', 'GM0363', 4500, 3100),
  ('WK091700', 'Heerlen-Centrum', 'GM0917', 9000, 5000), ('WK003400', 'Almere-Stad', 'GM0034', 100000, 40000);
INSERT INTO regio.buurt VALUES
  ('BU03630000', 'Kop Zeedijk', 'WK036300', 'GM0363', 1000, 700), ('BU03630001', 'Oudezijds Voorburgwal', 'WK036300', 'GM0363', 3400, 2300),
  ('BU03630100', 'Nieuwendijk', 'WK036301', 'GM0363', 4500, 3100), ('BU09170000', 'Centrum', 'WK091700', 'GM0917', 9000, 5000),
  ('BU00340000', 'Stedenwijk', 'WK003400', 'GM0034', 100000, 40000);
INSERT INTO ref.drugsfeit VALUES ('F40', 'bezit lijst I', 'bezit', 'I'), ('F41', 'bezit lijst II', 'bezit', 'II'), ('F42', 'handel lijst I', 'handel', 'I');
INSERT INTO ref.misdrijf_nl VALUES ('diefstal', 2023, 300000), ('fraude', 2023, 90000);
INSERT INTO ref.sbi VALUES ('4711', 'Supermarkten', false), ('5520', 'Vakantieparken', true);
INSERT INTO vakantieparken.park VALUES (1, 'GM0917', 'BU09170000', 'bungalowpark', 120, true), (2, 'GM0034', 'BU00340000', 'camping', 40, false);
INSERT INTO basis.persoon SELECT i, i / 2, 'BU03630000', 1950 + i % 50, CASE WHEN i % 2 = 0 THEN 'man' ELSE 'vrouw' END, 'Nederland', 20000 + i * 1000, 1000 * i FROM generate_series(1, 40) i;
INSERT INTO drugs.verdachte SELECT i, i, 'F40', 2020 + i % 4, 'GM0363' FROM generate_series(1, 20) i;
INSERT INTO vastgoed.transactie SELECT i, i, i, i + 1, 2020 + i % 4, 250000 + i * 1000, 300000 FROM generate_series(1, 20) i;
"""

def setup_warehouse():
    admin = Conn(database="postgres")
    exists = admin.scalar(f"SELECT count(*) FROM pg_database WHERE datname = '{DATABASE}'") != "0"
    if not exists:
        code, msg, _ = admin.query(f"CREATE DATABASE {DATABASE} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        if code != "ok": sys.exit(f"CREATE DATABASE: {code} {msg}")
    code, msg, _ = admin.query("DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zicht_analyst') THEN CREATE ROLE zicht_analyst LOGIN; END IF; END$$")
    if code != "ok": sys.exit(f"CREATE ROLE: {code} {msg}")
    admin.close()
    db = Conn()
    schemas = sorted({t.split(".")[0] for t in TABLES})
    sql = ["DROP SCHEMA IF EXISTS " + ", ".join(schemas) + " CASCADE"]
    sql += [f"CREATE SCHEMA {s}" for s in schemas]
    sql += [f"CREATE TABLE {t} ({cols})" for t, cols in TABLES.items()]
    sql.append(ROWS)
    sql += [f"GRANT USAGE ON SCHEMA {s} TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO PUBLIC" for s in schemas]
    sql.append(f"REVOKE CREATE ON DATABASE {DATABASE} FROM PUBLIC")
    for statement in sql:
        code, msg, _ = db.query(statement)
        if code != "ok": sys.exit(f"setup failed: {code} {msg}\n{statement}")
    db.close()
    print(f"set up database {DATABASE}: {len(TABLES)} look-alike tables in {len(schemas)} schemas, role zicht_analyst")

# ---- the run -----------------------------------------------------------------------------------

with open(path, encoding="utf-8") as f:
    cases, problems = parse(f.read())
for p in problems:
    print("FORMAT", p)
if setup:
    setup_warehouse()
    sys.exit(1 if problems else 0)

# The cases include DROP, DELETE and ALTER of the look-alike tables: they must fail for lack of
# privileges, as the pg= codes say, so never run them as a superuser.
try:
    probe = Conn()
except (ConnectionError, OSError) as e:
    sys.exit(f"cannot connect to PostgreSQL at {HOST}:{PORT} as {USER}: {e}")
if probe.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") != "f":
    sys.exit(f"refusing to run the cases as {USER}, a superuser: run them as zicht_analyst (see the top of this script)")
probe.close()

checked = skipped = 0
mismatches, slow = [], []
conn = None
for case in cases:
    if only and case["name"] != only:
        continue
    if case["pg"] == "n/a":
        skipped += 1
        if show_all: print(f"{case['name']:45} pg=n/a (not run)")
        continue
    try:
        conn = Conn()
        got, message, seconds = conn.query(case["sql"])
        conn.close()
    except (ConnectionError, OSError) as e:
        got, message, seconds = "connection-lost", str(e), 0.0
    checked += 1
    message = message.replace("\n", " ")[:150]
    if seconds > SLOW: slow.append(f"{case['name']}: {seconds:.2f} s")
    if show_all:
        print(f"{case['name']:45} pg={case['pg']:6} got={got:6} {seconds:6.3f}s  {message}")
    if got != case["pg"]:
        mismatches.append(f"MISMATCH {case['name']} (line {case['line']}): pg={case['pg']} but PostgreSQL gave {got}: {message}")

for m in mismatches: print(m)
for s in slow: print("SLOW", s)
counts = {}
for c in cases: counts[c["zicht"]] = counts.get(c["zicht"], 0) + 1
print(f"{len(cases)} cases; {checked} run against PostgreSQL, {skipped} with pg=n/a not run; "
      f"{len(mismatches)} mismatches, {len(slow)} slower than {SLOW:.0f} s, {len(problems)} format problems")
print("zicht= targets: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
sys.exit(1 if mismatches or problems or slow else 0)
PY
