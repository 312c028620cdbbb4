#!/usr/bin/python3
"""RFC 6455 conformance peer on python3-websockets, an implementation
independent of wskit's, for tests/025-ws-serve-conformance.bats.

usage: conform.py [--timeout S] client URL [--fragments N]
       conform.py [--timeout S] caseless PORT
       conform.py [--timeout S] server

client: against an echo server (ws-serve --echo), sends text and binary
  messages of 0 B, 125 B, 126 B, 64 KiB, 1 MiB and 16 MiB, each whole and
  in 4 fragments, and checks that each comes back unchanged; then a text
  message in 4 fragments with a Ping between the second and the third
  (the Pong must arrive before the rest is sent), and one text message in N
  fragments of 1 byte (default 65536). One line per check:
  "ok text 125 whole", "ok binary 16777216 frag4", "ok ping between
  fragments", "ok text in 65536 fragments", or "FAIL ...: why".
caseless: an opening handshake whose header names and tokens are in odd
  cases ("upgrade: WebSocket", "CONNECTION: keep-alive, UPGRADE"), then
  an echo; prints "101", "accept ok" and "echo ok".
server: listens on 127.0.0.1, prints "listening PORT" on stdout, and runs
  the client's checks the other way round against the first client that
  connects (ws-watch --echo): it sends every message and waits for its
  echo; the Ping goes from the server in the middle of a fragmented message.
  Then it closes with 1000 and exits.

Both client and server print the permessage-deflate terms agreed on
standard error: "conform.py: extensions VALUE" (None when there are none).

Exit status: 0 every check passed; 1 a check failed or timed out.
"""
import asyncio
import base64
import hashlib
import os
import socket
import sys
import time

import websockets

from common import timeout_arg

SIZES = [0, 125, 126, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def payload(kind, n):
    """A message of n bytes; text is ASCII so that its length in bytes is n
    and any 4-way cut falls between characters."""
    if kind == "text":
        return ("0123456789abcdef" * (n // 16 + 1))[:n]
    return bytes(i * 7 & 255 for i in range(256)) * (n // 256) + \
        bytes(range(n % 256))


def fragments(msg, k):
    """k fragments (empty ones for an empty message)."""
    step = -(-len(msg) // k)
    return [msg[i * step:(i + 1) * step] for i in range(k)]


async def round_trips(send, recv, ping):
    """Runs every check through send(message or list of fragments), recv()
    and ping(); returns the number of failures."""
    bad = 0

    def check(name, want, got):
        nonlocal bad
        if got == want:
            out("ok " + name)
        else:
            bad += 1
            out("FAIL %s: sent %s of %d, got %s of %s" % (
                name, type(want).__name__, len(want), type(got).__name__,
                len(got) if got is not None else "nothing"))

    for kind in ("text", "binary"):
        for n in SIZES:
            msg = payload(kind, n)
            await send(msg)
            check("%s %d whole" % (kind, n), msg, await recv())
            parts = fragments(msg, 4)
            await send(parts)
            check("%s %d frag%d" % (kind, n, len(parts)), msg, await recv())
    return bad


def tell_extensions(ws):
    """The permessage-deflate terms agreed, on standard error (websockets
    offers and accepts the extension by default)."""
    ext = ws.response_headers.get("Sec-WebSocket-Extensions")
    print("conform.py: extensions %s" % ext, file=sys.stderr, flush=True)


async def client(url, nfrag, timeout):
    ws = await websockets.connect(url, max_size=None, ping_interval=None,
                                  open_timeout=timeout, close_timeout=5)
    bad = 0
    tell_extensions(ws)

    async def send(m):
        if isinstance(m, list):
            await ws.send(iter(m))
        else:
            await ws.send(m)

    bad += await round_trips(send, ws.recv, None)

    # A Ping between fragments: answered at once, and the message is whole.
    msg = "before the ping|after the ping|and the end|!"
    pong = {}

    async def with_ping():
        yield msg[:16]
        yield msg[16:31]
        waiter = await ws.ping(b"mid")
        await asyncio.wait_for(waiter, timeout)
        pong["ok"] = True
        yield msg[31:43]
        yield msg[43:]

    await ws.send(with_ping())
    got = await ws.recv()
    if pong.get("ok") and got == msg:
        out("ok ping between fragments")
    else:
        bad += 1
        out("FAIL ping between fragments: pong %s, got %r" % (
            pong.get("ok", False), got))

    # Many tiny fragments.
    msg = ("x" * nfrag)
    t0 = time.monotonic()
    await ws.send(iter(msg))
    got = await ws.recv()
    if got == msg:
        out("ok text in %d fragments" % nfrag)
        print("conform.py: %d fragments in %.1f s" %
              (nfrag, time.monotonic() - t0), file=sys.stderr)
    else:
        bad += 1
        out("FAIL text in %d fragments: got %d bytes" % (nfrag, len(got)))
    await ws.close()
    return 1 if bad else 0


def caseless(port, timeout):
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: WebSocket\r\n"
               "CONNECTION: keep-alive, UPGRADE\r\nsec-websocket-key: %s\r\n"
               "SEC-WEBSOCKET-VERSION: 13\r\n\r\n" % key).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            out("FAIL no answer")
            return 1
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    out(lines[0].split(" ")[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in
            (line.partition(":") for line in lines[1:])}
    want = base64.b64encode(hashlib.sha1((key + GUID).encode())
                            .digest()).decode()
    out("accept ok" if hdrs.get("sec-websocket-accept") == want
        else "FAIL accept %r" % hdrs.get("sec-websocket-accept"))
    mask = os.urandom(4)
    data = b"caseless"
    s.sendall(bytes([0x81, 0x80 | len(data)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    buf = rest
    while len(buf) < 2 + len(data):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    out("echo ok" if buf[:2 + len(data)] == b"\x81\x08" + data
        else "FAIL echo %r" % buf)
    s.close()
    return 0


async def server(timeout):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws, path=None):
        bad = 0
        tell_extensions(ws)

        async def send(m):
            await ws.send(iter(m) if isinstance(m, list) else m)

        try:
            bad += await round_trips(send, ws.recv, None)
            msg = "before the ping|after the ping|and the end|!"
            pong = {}

            async def with_ping():
                yield msg[:16]
                yield msg[16:31]
                waiter = await ws.ping(b"mid")
                await asyncio.wait_for(waiter, timeout)
                pong["ok"] = True
                yield msg[31:]

            await ws.send(with_ping())
            got = await ws.recv()
            if pong.get("ok") and got == msg:
                out("ok ping between fragments")
            else:
                bad += 1
                out("FAIL ping between fragments")
            await ws.close(1000)
        except Exception as e:  # report, never hang the test
            bad += 1
            out("FAIL %s: %s" % (type(e).__name__, e))
        if not done.done():
            done.set_result(bad)

    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None,
                                ping_interval=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        out("listening %d" % port)
        bad = await done
    return 1 if bad else 0


def main(argv):
    timeout, argv = timeout_arg(argv, 30.0)
    try:
        if argv[:1] == ["client"] and len(argv) >= 2:
            nfrag = 65536
            if argv[2:3] == ["--fragments"]:
                nfrag = int(argv[3])
            return asyncio.run(asyncio.wait_for(
                client(argv[1], nfrag, timeout), timeout))
        if argv[:1] == ["caseless"] and len(argv) == 2:
            return caseless(int(argv[1]), timeout)
        if argv == ["server"]:
            return asyncio.run(asyncio.wait_for(server(timeout), timeout))
    except (asyncio.TimeoutError, socket.timeout):
        out("FAIL timed out after %g s" % timeout)
        return 1
    except (OSError, websockets.exceptions.WebSocketException) as e:
        out("FAIL %s: %s" % (type(e).__name__, e))
        return 1
    print(__doc__, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
