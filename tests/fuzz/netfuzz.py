#!/usr/bin/python3
"""Network fuzzer for ws-serve's receive path (lib/server.c has no entry
point without a socket, so it is fuzzed end to end).

usage: netfuzz.py [--time S] [--seed N] [--jobs N] [--out DIR] [--no-reset]
                  WS_SERVE
       netfuzz.py [--repeat N] --replay FILE... WS_SERVE

Starts two servers (the event server and an --echo one), best built with
ASan/UBSan (make asan: build/asan/bin/ws-serve), then for S seconds (default
60) sends cases over loopback, N connections at a time (default 8). A case
is a byte stream cut into writes: mostly a valid opening handshake followed
by frames (text, binary, fragments, pings, pongs, closes) that are then
mutated (bit flips, cut or repeated bytes, length fields, reserved bits,
masks, opcodes), and sometimes mutated plain HTTP requests. The socket ends
by reading until the server closes, by a reset (not with --no-reset), or by
a half close.

Every second a normal client must still get its 101 and INITIAL (and the
echo server its echo), and both servers must be alive. At the end both get
SIGTERM and must exit 0 with no sanitizer report in their logs. On a
failure the cases that were in flight and the last ones before are written
to DIR (default .) as case-N.json, which --replay sends again one by one,
each N times (default 20: what a server reads in one loop turn depends on
timing), checking the servers after each.

Last line on success: "N cases, N bytes sent, N health checks, 0 failures".
Exit status: 0 no failure; 1 a failure (a crash, a sanitizer report, a
server that stopped answering, a bad exit); 2 usage.
"""
import asyncio
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def handshake(path="/", extra=""):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n%s\r\n" % (path, KEY, extra)).encode()


def frame(op, payload=b"", fin=True, masked=True, rsv=0, key=None,
          length=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | (op & 15)
    n = len(payload) if length is None else length
    m = 0x80 if masked else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if masked:
        key = key if key is not None else os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        h += key
    return h + payload


def deflated(data):
    """A permessage-deflate payload: data compressed on its own, less the
    final 00 00 ff ff."""
    c = zlib.compressobj(wbits=-15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


OFFERS = ["permessage-deflate", "permessage-deflate; client_max_window_bits",
          "permessage-deflate; server_max_window_bits=8",
          "permessage-deflate; server_max_window_bits=10, permessage-deflate",
          "permessage-deflate; bogus"]


class Gen:
    """Makes one case: a list of writes (bytes) and how it ends."""

    TEXTS = [b'{"type":"PING","timestamp":1}', b'{"type":"PING"}', b"{}",
             b"x", b"", "\u00e9\u20ac\U0001f600".encode(), b"\xc0\xaf",
             b"\xed\xa0\x80", b"\xe2\x82", b'{"type":"PING","timestamp":"'
             + b"a" * 300 + b'"}']

    def __init__(self, rng, ends):
        self.r = rng
        self.ends = ends

    def payload(self):
        r = self.r
        c = r.random()
        if c < 0.5:
            return r.choice(self.TEXTS)
        if c < 0.8:
            return bytes(r.getrandbits(8) for _ in range(r.randint(0, 40)))
        return b"a" * r.choice([125, 126, 127, 65535, 65536, 70000])

    def one_frame(self):
        r = self.r
        c = r.random()
        if c < 0.15:
            # Compressed (RSV1): data that inflates, or bytes that may not;
            # sometimes zeros that inflate far past --max-message.
            z = r.random()
            if z < 0.6:
                data = deflated(self.payload())
            elif z < 0.8:
                data = deflated(b"\0" * r.choice([1000, 70000, 2000000]))
            else:
                data = bytes(r.getrandbits(8) for _ in range(r.randint(0, 40)))
            return frame(r.choice([1, 1, 2, 0, 9]), data, rsv=4,
                         fin=r.random() < 0.8)
        if c < 0.35:
            return frame(1, self.payload())
        if c < 0.45:
            return frame(2, self.payload())
        if c < 0.55:
            return frame(9, self.payload()[:125])
        if c < 0.6:
            return frame(10, self.payload()[:125])
        if c < 0.7:
            code = r.choice([1000, 1001, 1002, 1005, 1006, 999, 1015, 3000,
                             4999, 5000, 0, 65535])
            return frame(8, struct.pack("!H", code) + r.choice(
                [b"", b"bye", b"\xff"]))
        if c < 0.75:
            return frame(8, r.choice([b"", b"x"]))
        if c < 0.9:
            # A fragmented message, maybe with control frames inside.
            out = b""
            n = r.randint(2, 6)
            for i in range(n):
                out += frame(1 if i == 0 else 0, self.payload()[:50],
                             fin=i == n - 1)
                if r.random() < 0.3:
                    out += frame(9, b"p")
            return out
        # Something odd from the start.
        return frame(r.choice([0, 3, 7, 11, 15]), self.payload(),
                     fin=r.random() < 0.5, masked=r.random() < 0.7,
                     rsv=r.randint(0, 7))

    def mutate(self, b):
        r = self.r
        b = bytearray(b)
        for _ in range(r.randint(1, 4)):
            if not b:
                break
            c = r.random()
            i = r.randrange(len(b))
            if c < 0.3:
                b[i] ^= 1 << r.randrange(8)
            elif c < 0.45:
                b[i] = r.choice([0, 0x7e, 0x7f, 0x80, 0xff])
            elif c < 0.6:
                del b[i:i + r.randint(1, 8)]
            elif c < 0.75:
                b[i:i] = bytes(r.getrandbits(8) for _ in range(r.randint(1, 8)))
            elif c < 0.85:
                j = r.randrange(len(b))
                b[i:i] = b[j:j + r.randint(1, 64)]
            else:
                del b[i:]
        return bytes(b)

    def http(self):
        r = self.r
        reqs = [b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n",
                b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /events/EVENT%2301 HTTP/1.1\r\nHost: x\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
                b"GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n",
                b"GET /health HTTP/1.1\r\n\r\n",
                handshake().replace(b"13", b"8")]
        data = b"".join(r.choice(reqs) for _ in range(r.randint(1, 4)))
        if r.random() < 0.7:
            data = self.mutate(data)
        if r.random() < 0.2:
            data += b"X-Long: " + b"a" * r.choice([100, 9000]) + b"\r\n\r\n"
        return data

    def case(self):
        r = self.r
        server = r.choice(["events", "echo"])
        if r.random() < 0.15:
            data = self.http()
        else:
            offer = ""
            if r.random() < 0.5:
                offer = "Sec-WebSocket-Extensions: %s\r\n" % r.choice(OFFERS)
            hs = handshake(r.choice(["/", "/ws", "/?since=1", "/ws?since=0"]),
                           offer)
            if r.random() < 0.1:
                hs = self.mutate(hs)
            body = b"".join(self.one_frame()
                            for _ in range(r.randint(1, 6)))
            if r.random() < 0.8:
                body = self.mutate(body)
            data = hs + body
        writes = []
        i = 0
        while i < len(data):
            n = r.choice([1, 2, 7, 64, 1000, len(data)])
            writes.append(data[i:i + n])
            i += n
        end = r.choice(self.ends)
        return {"server": server, "writes": [w.hex() for w in writes],
                "end": end}


async def run_case(port, case, timeout=3.0):
    """Sends one case; returns the bytes sent."""
    sent = 0
    try:
        rd, wr = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, asyncio.TimeoutError):
        return 0
    try:
        for w in case["writes"]:
            b = bytes.fromhex(w)
            wr.write(b)
            sent += len(b)
            await asyncio.wait_for(wr.drain(), timeout)
        if case["end"] == "reset":
            sock = wr.get_extra_info("socket")
            # SO_LINGER 0: close sends a reset instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        elif case["end"] == "half":
            wr.write_eof()
        if case["end"] != "reset":
            # Until the server closes, or is quiet for half a second (a
            # valid stream leaves the connection open).
            t0 = time.monotonic()
            while time.monotonic() - t0 < timeout:
                d = await asyncio.wait_for(rd.read(65536), 0.5)
                if not d:
                    break
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        wr.close()
        try:
            await wr.wait_closed()
        except OSError:
            pass
    return sent


async def health(port, echo):
    """A normal client: 101, then INITIAL (or an echo) within 5 s."""
    try:
        rd, wr = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), 5)
    except (OSError, asyncio.TimeoutError) as e:
        return "cannot connect: %s" % e
    try:
        wr.write(handshake())
        head = await asyncio.wait_for(rd.readuntil(b"\r\n\r\n"), 5)
        if not head.startswith(b"HTTP/1.1 101"):
            return "handshake answered %r" % head.split(b"\r\n")[0]
        if echo:
            wr.write(frame(1, b"hello"))
        b0, b1 = await asyncio.wait_for(rd.readexactly(2), 5)
        n = b1 & 127
        if n == 126:
            n = struct.unpack("!H", await rd.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await rd.readexactly(8))[0]
        msg = await asyncio.wait_for(rd.readexactly(n), 5)
        if echo and msg != b"hello":
            return "echo answered %r" % msg[:80]
        if not echo and not msg.startswith(b'{"type":"INITIAL"'):
            return "first message %r" % msg[:80]
        wr.write(frame(8, struct.pack("!H", 1000)))
        return None
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        return "no answer: %r" % e
    finally:
        wr.close()


class Servers:
    def __init__(self, binary):
        self.binary = binary
        self.procs = {}
        self.logs = {}
        self.ports = {}
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS",
                       "detect_leaks=1:abort_on_error=1:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        args = {"events": ["--interval", "20-50", "--heartbeat", "1",
                           "--handshake-timeout", "2", "--max-message",
                           "65536"],
                "echo": ["--echo", "--heartbeat", "1",
                         "--handshake-timeout", "2", "--max-message",
                         "65536"]}
        for name, extra in args.items():
            log = tempfile.NamedTemporaryFile(
                prefix="netfuzz-%s-" % name, suffix=".log", delete=False)
            self.logs[name] = log.name
            self.procs[name] = subprocess.Popen(
                [binary, "--port", "0", "-q"] + extra, stderr=log,
                stdout=subprocess.DEVNULL, env=env)
        for name in args:
            self.ports[name] = self.wait_port(name)

    def wait_port(self, name):
        for _ in range(200):
            with open(self.logs[name], errors="replace") as f:
                m = re.search(r"listening on \S*:(\d+)", f.read())
            if m:
                return int(m.group(1))
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("ws-serve (%s) did not start: %s" %
                           (name, self.log_text(name)[-2000:]))

    def log_text(self, name):
        with open(self.logs[name], errors="replace") as f:
            return f.read()

    def dead(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                return "%s server exited with %s" % (name, p.returncode)
        for name in self.procs:
            t = self.log_text(name)
            if "Sanitizer" in t or "runtime error" in t:
                return "%s server: sanitizer report" % name
        return None

    def stop(self):
        """SIGTERM both; returns a failure or None."""
        bad = None
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in self.procs.items():
            try:
                rc = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed after 15 s"
            t = self.log_text(name)
            if rc != 0:
                bad = bad or "%s server ended with %s" % (name, rc)
            if "Sanitizer" in t or "runtime error" in t:
                bad = bad or "%s server: sanitizer report" % name
        return bad

    def report(self):
        for name in self.procs:
            t = self.log_text(name)
            i = max(t.find("==ERROR"), t.find("runtime error"))
            print("--- %s server log (%s) ---" % (name, self.logs[name]),
                  file=sys.stderr)
            print(t[i - 200 if i > 200 else 0:][:6000], file=sys.stderr)

    def cleanup(self):
        for path in self.logs.values():
            try:
                os.unlink(path)
            except OSError:
                pass


def save(outdir, cases):
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for i, c in enumerate(cases):
        p = os.path.join(outdir, "case-%d.json" % (i + 1))
        with open(p, "w") as f:
            json.dump(c, f)
        paths.append(p)
    return paths


async def check(srv):
    why = srv.dead()
    if why:
        return why
    for name, echo in (("events", False), ("echo", True)):
        why = await health(srv.ports[name], echo)
        if why:
            return "%s server: %s" % (name, why)
    return None


async def fuzz(srv, secs, seed, jobs, outdir, ends):
    rng = random.Random(seed)
    gen = Gen(rng, ends)
    recent = []
    ncases = nbytes = nchecks = 0
    t_end = time.monotonic() + secs
    next_check = time.monotonic() + 1
    while time.monotonic() < t_end:
        batch = [gen.case() for _ in range(jobs)]
        sent = await asyncio.gather(*(run_case(srv.ports[c["server"]], c)
                                      for c in batch))
        ncases += len(batch)
        nbytes += sum(sent)
        recent = (recent + batch)[-64:]
        if time.monotonic() >= next_check:
            why = await check(srv)
            nchecks += 1
            next_check = time.monotonic() + 1
            if why:
                paths = save(outdir, recent)
                print("netfuzz: %s after %d cases (seed %d); the last %d "
                      "cases are in %s .. %s" % (why, ncases, seed,
                                                 len(paths), paths[0],
                                                 paths[-1]), file=sys.stderr)
                srv.report()
                return 1, ncases, nbytes, nchecks
    why = await check(srv)
    nchecks += 1
    if why:
        paths = save(outdir, recent)
        print("netfuzz: %s at the end; cases in %s" % (why, outdir),
              file=sys.stderr)
        srv.report()
        return 1, ncases, nbytes, nchecks
    return 0, ncases, nbytes, nchecks


async def replay(srv, files, repeat):
    for path in files:
        with open(path) as f:
            case = json.load(f)
        # What the server reads in one loop turn depends on timing: send
        # the case several times before calling it harmless.
        for _ in range(repeat):
            await run_case(srv.ports[case["server"]], case)
            await asyncio.sleep(0.05)
            why = srv.dead()
            if why:
                break
        await asyncio.sleep(0.2)
        why = await check(srv)
        print("%s: %s" % (path, why or "ok"), flush=True)
        if why:
            srv.report()
            return 1
    return 0


def main(argv):
    secs, seed, jobs, outdir, files, repeat = 60.0, None, 8, ".", None, 20
    ends = ["read", "read", "reset", "half"]
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--no-reset":
            ends = ["read", "read", "half"]
            continue
        if opt == "--replay":
            files = []
            while len(argv) > 1:
                files.append(argv.pop(0))
            continue
        if not argv:
            print(__doc__, file=sys.stderr)
            return 2
        val = argv.pop(0)
        if opt == "--time":
            secs = float(val)
        elif opt == "--seed":
            seed = int(val)
        elif opt == "--jobs":
            jobs = int(val)
        elif opt == "--out":
            outdir = val
        elif opt == "--repeat":
            repeat = int(val)
        else:
            print("netfuzz.py: unknown option %r" % opt, file=sys.stderr)
            return 2
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    if seed is None:
        seed = random.randrange(1 << 30)
    rc = 1
    srv = Servers(argv[0])
    try:
        if files is not None:
            rc = asyncio.run(replay(srv, files, repeat))
            bad = srv.stop()
            if bad:
                print("netfuzz: %s" % bad, file=sys.stderr)
                srv.report()
                rc = 1
            return rc
        rc, ncases, nbytes, nchecks = asyncio.run(
            fuzz(srv, secs, seed, jobs, outdir, ends))
        bad = srv.stop()
        if bad and rc == 0:
            print("netfuzz: %s" % bad, file=sys.stderr)
            srv.report()
            rc = 1
        print("%d cases, %d bytes sent, %d health checks, %d failures "
              "(seed %d)" % (ncases, nbytes, nchecks, rc, seed))
        return rc
    finally:
        for p in srv.procs.values():
            if p.poll() is None:
                p.kill()
        if rc == 0:
            srv.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
