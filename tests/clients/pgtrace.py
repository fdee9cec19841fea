"""A logging TCP proxy for the PostgreSQL wire protocol: what each client really sends.

    pgtrace.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT LOGFILE

Forwards bytes unchanged and writes one line per interesting message: from the client Query,
Parse (with parameter type OIDs), Bind (formats, parameter values), Describe, Execute (row limit),
Close; from the server RowDescription (column type OIDs and formats), ParameterDescription,
CommandComplete, PortalSuspended and ErrorResponse (SQLSTATE and message). Passwords are not
logged. After an accepted SSLRequest the stream is encrypted and only forwarded.

run.sh puts it in front of the main server when ZICHT_CLIENTS_TRACE=1, so that a failing client
test comes with the exact statements the client sent.
"""

import asyncio
import itertools
import struct
import sys

LOG = None
IDS = itertools.count(1)


def log(conn, direction, text):
    LOG.write(f"[{conn}] {direction} {text}\n")
    LOG.flush()


def cstrings(body, count):
    out, pos = [], 0
    for _ in range(count):
        end = body.index(b"\0", pos)
        out.append(body[pos:end].decode("utf-8", "replace"))
        pos = end + 1
    return out, pos


def short(value, limit=2000):
    return value if len(value) <= limit else value[:limit] + f"...({len(value)} chars)"


def frontend(conn, kind, body):
    if kind == b"Q":
        log(conn, ">", f"Query {short(body[:-1].decode('utf-8', 'replace'))!r}")
    elif kind == b"P":
        (name, query), pos = cstrings(body, 2)
        (n,) = struct.unpack_from("!h", body, pos)
        oids = struct.unpack_from(f"!{n}i", body, pos + 2)
        log(conn, ">", f"Parse stmt={name!r} param_oids={list(oids)} {short(query)!r}")
    elif kind == b"B":
        (portal, stmt), pos = cstrings(body, 2)
        (nf,) = struct.unpack_from("!h", body, pos)
        formats = struct.unpack_from(f"!{nf}h", body, pos + 2)
        pos += 2 + 2 * nf
        (np,) = struct.unpack_from("!h", body, pos)
        pos += 2
        values = []
        for i in range(np):
            (length,) = struct.unpack_from("!i", body, pos)
            pos += 4
            if length < 0:
                values.append(None)
                continue
            raw = body[pos : pos + length]
            pos += length
            binary = formats and (formats[i] if len(formats) > 1 else formats[0]) == 1
            values.append("0x" + raw.hex() if binary else raw.decode("utf-8", "replace"))
        (nr,) = struct.unpack_from("!h", body, pos)
        rformats = struct.unpack_from(f"!{nr}h", body, pos + 2)
        log(conn, ">", f"Bind portal={portal!r} stmt={stmt!r} param_formats={list(formats)} "
            f"params={values} result_formats={list(rformats)}")
    elif kind == b"E":
        (portal,), pos = cstrings(body, 1)
        (limit,) = struct.unpack_from("!i", body, pos)
        log(conn, ">", f"Execute portal={portal!r} max_rows={limit}")
    elif kind in (b"D", b"C"):
        what = "Describe" if kind == b"D" else "Close"
        log(conn, ">", f"{what} {chr(body[0])} {body[1:-1].decode('utf-8', 'replace')!r}")
    elif kind == b"S":
        log(conn, ">", "Sync")
    elif kind == b"d":
        pass  # CopyData from the client never happens on this read-only server


def backend(conn, kind, body):
    if kind == b"E" or kind == b"N":
        fields, pos = {}, 0
        while body[pos] != 0:
            end = body.index(b"\0", pos + 1)
            fields[chr(body[pos])] = body[pos + 1 : end].decode("utf-8", "replace")
            pos = end + 1
        what = "ErrorResponse" if kind == b"E" else "Notice"
        log(conn, "<", f"{what} {fields.get('C')} {fields.get('M')!r}")
    elif kind == b"T":
        (n,) = struct.unpack_from("!h", body, 0)
        pos, cols = 2, []
        for _ in range(n):
            end = body.index(b"\0", pos)
            name = body[pos:end].decode("utf-8", "replace")
            _table, _attr, oid, _size, _mod, fmt = struct.unpack_from("!ihihih", body, end + 1)
            pos = end + 1 + 18
            cols.append(f"{name}:{oid}{'b' if fmt else ''}")
        log(conn, "<", f"RowDescription {cols}")
    elif kind == b"t":
        (n,) = struct.unpack_from("!h", body, 0)
        log(conn, "<", f"ParameterDescription {list(struct.unpack_from(f'!{n}i', body, 2))}")
    elif kind == b"C":
        log(conn, "<", f"CommandComplete {body[:-1].decode()!r}")
    elif kind == b"s":
        log(conn, "<", "PortalSuspended")


async def pump(reader, writer, conn, decode, state, first_untyped):
    """Copies one direction; decodes whole messages from a buffer as they complete."""
    buffer = b""
    untyped = first_untyped
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
            if state["tls"]:
                continue
            buffer += chunk
            while True:
                if decode is backend and state["ssl_pending"]:
                    # The one-byte answer to SSLRequest: 'S' means TLS follows.
                    state["ssl_pending"] = False
                    state["tls"] = buffer[:1] == b"S"
                    log(conn, "<", "SSL accepted" if state["tls"] else "SSL refused ('N')")
                    buffer = buffer[1:]
                    if state["tls"]:
                        break
                    continue
                if untyped:
                    if len(buffer) < 8:
                        break
                    (length, code) = struct.unpack_from("!ii", buffer)
                    if len(buffer) < length:
                        break
                    body, buffer = buffer[8:length], buffer[length:]
                    if code == 80877103:
                        state["ssl_pending"] = True
                        log(conn, ">", "SSLRequest")
                    elif code == 80877102:
                        log(conn, ">", "CancelRequest")
                        untyped = False
                    else:
                        params = body.split(b"\0")
                        pairs = dict(zip(params[0::2], params[1::2]))
                        user = pairs.get(b"user", b"").decode()
                        log(conn, ">", f"StartupMessage user={user!r} database={pairs.get(b'database', b'').decode()!r}")
                        untyped = False
                    continue
                if len(buffer) < 5:
                    break
                kind = buffer[:1]
                (length,) = struct.unpack_from("!i", buffer, 1)
                if len(buffer) < 1 + length:
                    break
                body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                try:
                    decode(conn, kind, body)
                except Exception as error:  # a trace must never break the connection
                    log(conn, "?", f"undecodable {kind!r}: {error}")
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer, host, port):
    conn = next(IDS)
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError as error:
        log(conn, "!", f"upstream unreachable: {error}")
        client_writer.close()
        return
    state = {"tls": False, "ssl_pending": False}
    await asyncio.gather(
        pump(client_reader, server_writer, conn, frontend, state, True),
        pump(server_reader, client_writer, conn, backend, state, False),
    )
    log(conn, "-", "closed")


async def main():
    global LOG
    listen_port, host, port, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    LOG = open(path, "a", encoding="utf-8")
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, port), "127.0.0.1", listen_port)
    print(f"pgtrace: listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
