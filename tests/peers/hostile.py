#!/usr/bin/python3
"""Hostile peers for tests/020-ws-serve-hostile.bats: the bytes, pacing and
numbers of connections a well-behaved client never produces.

usage: hostile.py [--timeout S] COMMAND PORT ARGS...

send PORT [--upgrade] [--shut] HEX
    Sends the bytes HEX in one write, after a valid opening handshake with
    --upgrade, and half-closes with --shut. Then reads until the server
    closes and prints, one a line: the status line of each HTTP response
    ("HTTP/1.1 400 Bad Request"); after an upgrade each frame as "text
    TYPE" (the JSON type member), "binary", "ping", "pong", "close CODE" or
    "close"; and "eof" at the end of the connection ("reset" for a reset).
churn PORT COUNT SECONDS
    Opens COUNT connections, 50 at a time, and drops each before its
    handshake ends: a random part of a request then FIN or reset, a whole
    request then reset, or nothing at all. Stops after SECONDS at most and
    prints "COUNT connections in S s".
slowloris PORT
    Sends half a request and waits; prints "closed after S s" when the
    server ends the connection.
maxclients PORT N
    Makes N WebSocket handshakes one after the other, keeping each open, and
    prints the status code of each.
flood PORT N
    After the handshake and the INITIAL, sends N PING messages in one write
    and prints each message ("text TYPE") until the server closes.
pongflood PORT PID SECONDS
    Never reads, and for SECONDS sends PINGs whose 60 KB timestamps come
    back in PONGs, as fast as the server takes them, sampling the VmRSS of
    process PID. Prints {"sent", "rss_start_kb", "rss_max_kb", "closed"
    (the server ended the connection)}.
zpings PORT PID N
    Negotiates permessage-deflate with server_max_window_bits=8 (so the
    server's answers of more than 256 bytes go uncompressed), sends N
    compressed PINGs of about 120 bytes each whose 64 KB timestamps come
    back in PONGs, all in one write, and reads nothing for 2 s while it
    samples the VmRSS of process PID. Then it reads every answer. Prints
    {"pongs" (PONGs that came back), "rss_start_kb", "rss_max_kb"}.
fragments PORT PID CONNS N
    On each of CONNS connections, sends a PING whose timestamp comes in N
    fragments of 1 byte, all but the frame that ends it, and then, once the
    VmRSS of process PID has been sampled for 1 s, the last frames. Prints
    {"pongs" (PONGs with the whole timestamp), "rss_start_kb",
    "rss_max_kb"}.
slowreader PORT LOG PID CLIENTS MODE
    One client that stops reading (a 4 KiB receive buffer; it asks for 2.4
    MB of PONGs first, to fill the kernel's buffers) and CLIENTS normal
    clients that check the seq of every UPDATE. Once LOG (the server's
    stderr) says the slow client is over --max-queue, it reads again at
    once with MODE "resume": it should get a fresh INITIAL, then 20 UPDATEs
    that follow it in order. With MODE "never" it reads nothing until LOG
    says it was closed as too slow, then reads what it was sent, which
    should end in a close 1008. Afterwards every normal client reads on to
    20 UPDATEs past the newest any of them had then. Samples the VmRSS of
    process PID throughout. Each wait is bounded by --timeout. Prints one
    JSON object: {"lagging" (LOG named the slow client over --max-queue),
    "verdict_logged" (LOG named it closed, MODE "never"), "slow" ("initial"
    after the fresh INITIAL and its 20 UPDATEs, "close CODE", "eof",
    "gap after the fresh INITIAL" or "nothing within S s"), "initials"
    (INITIALs the slow client got, the greeting included), "clients",
    "updates" (fewest UPDATEs a normal client got), "gaps" (normal clients
    that missed a seq or got a second INITIAL), "closed" (normal clients
    closed early), "rss_start_kb", "rss_max_kb", and for the log, in
    seconds: "lagging_s" (until LOG said lagging), "verdict_s" (from then
    until the slow client's verdict) and "slow_kb" (what the slow client
    read)}.

Exit status: 0 done; 1 timeout or error.
"""
import asyncio
import json
import os
import random
import socket
import struct
import sys
import time
import zlib

from common import timeout_arg

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
HANDSHAKE = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n" % KEY).encode()


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def masked(op, payload, fin=True, rsv1=False):
    key = os.urandom(4)
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    if n < 126:
        h = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        h = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, port, timeout, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.end = None

    def fill(self):
        if self.end:
            return False
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            self.end = "reset"
            return False
        if not d:
            self.end = "eof"
            return False
        self.buf += d
        return True

    def until(self, sep):
        while sep not in self.buf:
            if not self.fill():
                return None
        i = self.buf.index(sep) + len(sep)
        d, self.buf = self.buf[:i], self.buf[i:]
        return d

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def send(self, data):
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def upgrade(self):
        """Returns the status of the handshake."""
        self.send(HANDSHAKE)
        head = self.until(b"\r\n\r\n")
        if head is None:
            return None
        return int(head.split(b" ", 2)[1])

    def frame(self):
        """Returns (opcode, payload), or None at the end."""
        h = self.take(2)
        if h is None:
            return None
        n = h[1] & 127
        if n == 126:
            n = struct.unpack("!H", self.take(2) or b"\0\0")[0]
        elif n == 127:
            n = struct.unpack("!Q", self.take(8) or b"\0" * 8)[0]
        data = self.take(n)
        if data is None:
            return None
        return h[0] & 15, data


def describe(op, data):
    if op == 1:
        try:
            return "text " + str(json.loads(data).get("type"))
        except ValueError:
            return "text ?"
    if op == 8:
        return "close %d" % struct.unpack("!H", data[:2]) if len(data) >= 2 \
            else "close"
    return {2: "binary", 9: "ping", 10: "pong"}.get(op, "op%d" % op)


def cmd_send(port, timeout, args):
    upgrade = "--upgrade" in args
    shut = "--shut" in args
    data = bytes.fromhex([a for a in args if not a.startswith("--")][0])
    c = Conn(port, timeout)
    if upgrade:
        st = c.upgrade()
        if st != 101:
            out("handshake %s" % st)
            return 1
    c.send(data)
    if shut:
        c.s.shutdown(socket.SHUT_WR)
    if upgrade:
        while True:
            f = c.frame()
            if f is None:
                break
            out(describe(*f))
    else:
        while True:
            head = c.until(b"\r\n\r\n")
            if head is None:
                break
            out(head.split(b"\r\n")[0].decode("latin-1"))
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    c.take(int(line.split(b":")[1]))
    out(c.end or "eof")
    return 0


async def drop_one(port, rng):
    kind = rng.choice(["part-fin", "part-reset", "whole-reset", "nothing",
                       "part-wait"])
    try:
        rd, wr = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    cut = rng.randrange(1, len(HANDSHAKE))
    if kind in ("part-fin", "part-reset", "part-wait"):
        wr.write(HANDSHAKE[:cut])
    elif kind == "whole-reset":
        wr.write(HANDSHAKE)
    try:
        await wr.drain()
        if kind == "part-wait":
            await asyncio.sleep(rng.random() * 0.05)
        if kind.endswith("reset"):
            wr.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == "part-fin":
            wr.write_eof()
    except OSError:
        pass
    wr.close()


async def churn(port, count, secs):
    rng = random.Random(count)
    t_end = time.monotonic() + secs
    done = 0
    while done < count and time.monotonic() < t_end:
        n = min(50, count - done)
        await asyncio.gather(*(drop_one(port, rng) for _ in range(n)))
        done += n
    return done


def cmd_churn(port, timeout, args):
    count, secs = int(args[0]), float(args[1])
    t0 = time.monotonic()
    done = asyncio.run(churn(port, count, secs))
    out("%d connections in %d s" % (done, int(time.monotonic() - t0 + 0.5)))
    return 0


def cmd_slowloris(port, timeout, args):
    c = Conn(port, timeout)
    c.send(HANDSHAKE[:40])
    t0 = time.monotonic()
    try:
        while c.fill():
            pass
    except socket.timeout:
        out("still open after %g s" % timeout)
        return 1
    out("closed after %.1f s" % (time.monotonic() - t0))
    return 0


def cmd_maxclients(port, timeout, args):
    conns = []
    for _ in range(int(args[0])):
        c = Conn(port, timeout)
        out(str(c.upgrade()))
        conns.append(c)
    return 0


def cmd_flood(port, timeout, args):
    c = Conn(port, timeout)
    st = c.upgrade()
    if st != 101:
        out("handshake %s" % st)
        return 1
    f = c.frame()
    out(describe(*f) if f else "eof")
    c.send(b"".join(masked(1, b'{"type":"PING","timestamp":%d}' % i)
                    for i in range(int(args[0]))))
    while True:
        f = c.frame()
        if f is None:
            break
        out(describe(*f))
    out(c.end or "eof")
    return 0


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


async def frames(rd):
    """Yields (opcode, payload) of the server's frames (unmasked)."""
    while True:
        h = await rd.readexactly(2)
        n = h[1] & 127
        if n == 126:
            n = struct.unpack("!H", await rd.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await rd.readexactly(8))[0]
        yield h[0] & 15, await rd.readexactly(n)


def seq_of(data):
    i = data.find(b'"seq":')
    j = i + 6
    while j < len(data) and data[j:j + 1].isdigit():
        j += 1
    return int(data[i + 6:j])


async def normal_client(port, st, shared):
    """Checks that the UPDATEs come in order after one INITIAL, until one
    reaches shared["target"]."""
    rd, wr = await asyncio.open_connection("127.0.0.1", port)
    wr.write(HANDSHAKE)
    await rd.readuntil(b"\r\n\r\n")
    try:
        async for op, data in frames(rd):
            if op == 8:
                st["closed"] += 1
                break
            if op != 1:
                continue
            seq = seq_of(data)
            if data.startswith(b'{"type":"INITIAL"'):
                # A second one means it was taken for a slow client.
                if st["last"] is not None:
                    st["gaps"] += 1
                    break
            elif data.startswith(b'{"type":"UPDATE"'):
                if st["last"] is None or seq != st["last"] + 1:
                    st["gaps"] += 1
                    break
                st["updates"] += 1
            st["last"] = seq
            if shared["target"] is not None and seq >= shared["target"]:
                break
    except (asyncio.IncompleteReadError, OSError):
        st["closed"] += 1
    wr.close()


async def wait_log(log, text, pid, res, timeout):
    """Waits for a line of LOG holding text; samples the RSS meanwhile."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
        with open(log, errors="replace") as f:
            if text in f.read():
                return True
        await asyncio.sleep(0.05)
    return False


async def slow_verdict(rd, mode, pid, res):
    """Reads the slow client's frames to its verdict."""
    last, after = None, 0
    async for op, data in frames(rd):
        res["slow_kb"] += len(data) / 1024
        res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
        if op == 8:
            return "close %d" % struct.unpack("!H", data[:2]) \
                if len(data) >= 2 else "close"
        if op != 1:
            continue
        if data.startswith(b'{"type":"INITIAL"'):
            res["initials"] += 1
            last, after = seq_of(data), 0
        elif mode == "resume" and res["initials"] >= 2 and \
                data.startswith(b'{"type":"UPDATE"'):
            # Any later INITIAL starts the count again: the PONGs still
            # to come can put the client over --max-queue once more.
            if seq_of(data) != last + 1:
                return "gap after the fresh INITIAL"
            last, after = last + 1, after + 1
            if after == 20:
                return "initial"
    return "eof"


async def slowreader(port, log, pid, nclients, mode, timeout):
    res = {"lagging": False, "verdict_logged": None, "slow": None,
           "initials": 0, "clients": nclients, "updates": 0, "gaps": 0,
           "closed": 0, "rss_start_kb": rss_kb(pid), "rss_max_kb": 0,
           "slow_kb": 0}
    # The slow client: a small receive buffer so the server's queue, not
    # the kernel, holds what it does not read.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(timeout)
    slow.connect(("127.0.0.1", port))
    addr = "%s:%d" % slow.getsockname()[:2]
    slow.sendall(HANDSHAKE)
    # Loopback socket buffers hold megabytes, which UPDATEs alone take a
    # minute to fill: ask for 2.4 MB of PONGs (60 KB each) to fill them now.
    pad = b"a" * 60000
    slow.sendall(b"".join(masked(1, b'{"type":"PING","timestamp":"%s"}' % pad)
                          for _ in range(40)))
    shared = {"target": None}
    states = [{"updates": 0, "gaps": 0, "closed": 0, "last": None}
              for _ in range(nclients)]
    tasks = [asyncio.ensure_future(normal_client(port, st, shared))
             for st in states]
    t0 = time.monotonic()
    res["lagging"] = await wait_log(
        log, addr + ": over --max-queue, skipping updates", pid, res, timeout)
    res["lagging_s"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    if mode == "never":
        res["verdict_logged"] = await wait_log(
            log, addr + " 1008: client too slow", pid, res, timeout)
    slow.setblocking(False)
    rd, wr = await asyncio.open_connection(sock=slow)
    try:
        await asyncio.wait_for(rd.readuntil(b"\r\n\r\n"), timeout)
        res["slow"] = await asyncio.wait_for(
            slow_verdict(rd, mode, pid, res), timeout)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        res["slow"] = "eof"
    except asyncio.TimeoutError:
        res["slow"] = "nothing within %g s" % timeout
    res["verdict_s"] = round(time.monotonic() - t0, 1)
    res["slow_kb"] = round(res["slow_kb"])
    wr.close()
    # The normal clients go on past the verdict: they were served all along.
    shared["target"] = max((st["last"] or 0) for st in states) + 20
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True),
                           timeout)
    res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
    res["updates"] = min(st["updates"] for st in states)
    res["gaps"] = sum(st["gaps"] for st in states)
    res["closed"] = sum(st["closed"] for st in states)
    return res


def cmd_pongflood(port, timeout, args):
    pid, secs = int(args[0]), float(args[1])
    res = {"sent": 0, "rss_start_kb": rss_kb(pid), "rss_max_kb": 0,
           "closed": False}
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    s.connect(("127.0.0.1", port))
    s.sendall(HANDSHAKE)
    ping = masked(1, b'{"type":"PING","timestamp":"%s"}' % (b"a" * 60000))
    t_end = time.monotonic() + secs
    while time.monotonic() < t_end:
        res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
        try:
            s.sendall(ping)
            res["sent"] += 1
        except socket.timeout:
            pass  # the server stopped reading: fine, keep trying
        except OSError:
            res["closed"] = True
            break
    res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
    out(json.dumps(res, separators=(",", ":")))
    return 0


def cmd_zpings(port, timeout, args):
    pid, n = int(args[0]), int(args[1])
    c = Conn(port, timeout)
    c.send(HANDSHAKE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: "
                             b"permessage-deflate; server_max_window_bits=8"
                             b"\r\n\r\n"))
    c.until(b"\r\n\r\n")
    c.frame()  # the INITIAL
    res = {"pongs": 0, "rss_start_kb": rss_kb(pid), "rss_max_kb": 0}
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    ping = z.compress(b'{"type":"PING","timestamp":"%s"}' % (b"a" * 65000))
    ping = (ping + z.flush(zlib.Z_SYNC_FLUSH))[:-4]
    c.send(b"".join(masked(1, ping, rsv1=True) for _ in range(n)))
    t_end = time.monotonic() + 2
    while time.monotonic() < t_end:
        res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
        time.sleep(0.01)
    while res["pongs"] < n:
        f = c.frame()
        if f is None:
            break
        if f[0] == 1 and f[1].startswith(b'{"type":"PONG",'):
            res["pongs"] += 1
    out(json.dumps(res, separators=(",", ":")))
    return 0


def cmd_fragments(port, timeout, args):
    pid, nconn, n = int(args[0]), int(args[1]), int(args[2])
    res = {"pongs": 0, "rss_start_kb": rss_kb(pid), "rss_max_kb": 0}
    conns = []
    for _ in range(nconn):
        c = Conn(port, timeout)
        c.upgrade()
        c.frame()  # the INITIAL
        c.send(masked(1, b'{"type":"PING","timestamp":"', fin=False) +
               masked(0, b"a", fin=False) * n)
        conns.append(c)
    t_end = time.monotonic() + 1
    while time.monotonic() < t_end:
        res["rss_max_kb"] = max(res["rss_max_kb"], rss_kb(pid))
        time.sleep(0.01)
    want = b'{"type":"PONG","timestamp":"%s"' % (b"a" * n)
    for c in conns:
        c.send(masked(0, b'"}'))
        f = c.frame()
        if f and f[0] == 1 and f[1].startswith(want):
            res["pongs"] += 1
    out(json.dumps(res, separators=(",", ":")))
    return 0


def cmd_slowreader(port, timeout, args):
    log, pid, n, mode = args[0], int(args[1]), int(args[2]), args[3]
    if mode not in ("resume", "never"):
        print(__doc__, file=sys.stderr)
        return 1
    res = asyncio.run(slowreader(port, log, pid, n, mode, timeout))
    out(json.dumps(res, separators=(",", ":")))
    return 0


def main(argv):
    timeout, argv = timeout_arg(argv, 10.0)
    cmds = {"send": cmd_send, "churn": cmd_churn, "slowloris": cmd_slowloris,
            "maxclients": cmd_maxclients, "flood": cmd_flood,
            "slowreader": cmd_slowreader, "pongflood": cmd_pongflood,
            "zpings": cmd_zpings, "fragments": cmd_fragments}
    if len(argv) < 2 or argv[0] not in cmds:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        return cmds[argv[0]](int(argv[1]), timeout, argv[2:])
    except (socket.timeout, asyncio.TimeoutError):
        print("hostile.py: timed out after %g s" % timeout, file=sys.stderr)
        return 1
    except OSError as e:
        print("hostile.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
