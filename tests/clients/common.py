"""What the Python client scripts share: where the servers are, the statements users run, and the
check harness.

Every check prints one line, `ok ID detail` or `FAIL ID detail`; run.sh tallies them and marks the
failures listed in known-failures.txt as KNOWN-FAIL. A failing check never stops the others.
"""

import os
import socket
import struct
import sys
import traceback

HOST = os.environ.get("ZICHT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ZICHT_PORT", "5433"))
TLS_PORT = int(os.environ.get("ZICHT_TLS_PORT", "0"))
MAXCONN_PORT = int(os.environ.get("ZICHT_MAXCONN_PORT", "0"))
USER = os.environ.get("ZICHT_USER", "analist")
PASSWORD = os.environ.get("PGPASSWORD", "")

THEMES = ["vastgoed", "drugs", "vakantieparken", "zorgfraude", "branches",
          "jongeren", "transacties", "logistiek", "digitaal", "schulden"]

# A protected aggregate: microdata leaves the engine only as released counts (multiples of 5, or NULL).
AGGREGATE = ("SELECT b.gm_code, count(*) AS n FROM basis.persoon p "
             "JOIN regio.buurt b ON p.bu_code = b.bu_code GROUP BY b.gm_code ORDER BY b.gm_code")
# A saved query, served as a view in its theme schema.
SAVED_QUERY = "SELECT gm_code, index, klasse FROM drugs.verdachten_inwoners WHERE gm_code = 'GM0014'"
# Runs for hours unless cancelled: for cancel and statement_timeout.
ENDLESS = "SELECT count(*) FROM generate_series(1, 1000000000000) t(x) WHERE x % 7 = 3"

failures = 0


def check(check_id):
    """Decorator that runs the function at once as one check; its return value is the detail."""

    def run(fn):
        global failures
        try:
            detail = fn()
            print(f"ok {check_id} {detail if detail is not None else ''}".rstrip(), flush=True)
        except Exception as error:  # every failure becomes one FAIL line
            failures += 1
            state = sqlstate(error)
            frames = traceback.extract_tb(error.__traceback__)
            where = next((f for f in reversed(frames) if f.filename == fn.__code__.co_filename), frames[-1])
            message = " ".join(str(error).split())[:600]
            print(f"FAIL {check_id} {type(error).__name__}{f' [SQLSTATE {state}]' if state else ''}: "
                  f"{message} (line {where.lineno})", flush=True)
        return fn

    return run


def sqlstate(error):
    """The SQLSTATE a driver attached to an exception, if any (psycopg, SQLAlchemy, pyodbc)."""
    for candidate in (error, getattr(error, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return state
    args = getattr(error, "args", ())
    if type(error).__module__ == "pyodbc" and args and isinstance(args[0], str) and len(args[0]) == 5:
        return args[0]
    return None


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def version(name, value):
    print(f"version {name} {value}", flush=True)


def finish():
    """The last line of every client: run.sh treats a log without it as a crashed client."""
    print("done", flush=True)
    sys.exit(1 if failures else 0)


def startup_error(port, user=USER):
    """Sends a bare StartupMessage and returns the fields of the server's first ErrorResponse
    ({'C': sqlstate, 'M': message, ...}), or None if it answered otherwise.

    libpq reports a refused connection only as text, without its SQLSTATE; this reads the
    SQLSTATE the server really sent (53300 too many connections, 28000 TLS required)."""
    params = b"user\0" + user.encode() + b"\0database\0zicht\0\0"
    body = struct.pack("!i", 196608) + params
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        header = _read(sock, 5)
        if header[:1] != b"E":
            return None
        (length,) = struct.unpack("!i", header[1:])
        payload = _read(sock, length - 4)
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def _read(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data
