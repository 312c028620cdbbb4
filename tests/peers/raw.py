#!/usr/bin/python3
"""Raw TCP peer for the ws-serve tests: bytes the WebSocket library would
never send, and HTTP read exactly as it arrives.

usage: raw.py [--timeout S] http PORT [--head] [--count N] [--tell]
       raw.py [--timeout S] ws PORT [--path P] STEP...

http: sends standard input in one write, then reads responses until the
  server closes (or N responses have arrived) and prints each as a JSON
  line {"status":N,"reason":R,"version":V,"headers":{lowercase name:value},
  "body":B}; bytes after the last whole response as {"leftover":B}.
  --head: the responses have no body (answers to HEAD).
  --tell: print "connected" on standard error once the request is sent.

ws: does a valid opening handshake for PATH (default /), then runs the steps:
  FLAGS:OP:PAYLOAD  send a frame. FLAGS: F fin, M masked, 1 2 3 the RSV bits
                    (any order, may be empty); OP the opcode in decimal;
                    PAYLOAD hex bytes, or HEX*N for HEX repeated N times.
  head:FLAGS:OP:N   send only the header of such a frame, announcing N
                    payload bytes (and its mask key with M), and no payload.
  wait:KIND         read frames until one of KIND (text, binary, ping, pong,
                    close, cont) arrives; wait:close is also met by the end
                    of the connection.
  Every frame read is printed on a line: "text PAYLOAD", "binary HEX",
  "ping HEX", "pong HEX", "cont HEX" (the kind alone for an empty
  payload), "close CODE" (or "close" without a code), and the end of the
  connection as "eof".

Exit status: 0 done; 1 timeout or error; 2 the handshake was refused (its
status line is printed); 4 the connection ended before a wait was met.
"""
import base64
import json
import os
import socket
import struct
import sys

OPS = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class Closed(Exception):
    pass


class Peer:
    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.eof = False

    def fill(self):
        if self.eof:
            raise Closed()
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            raise Closed()
        self.buf += d

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep) + len(sep)
        d, self.buf = self.buf[:i], self.buf[i:]
        return d

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before reading it all


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return version, int(code), reason, headers


def http(peer, head_only, count, tell):
    peer.send(sys.stdin.buffer.read())
    if tell:
        print("connected", file=sys.stderr, flush=True)
    n = 0
    while count is None or n < count:
        try:
            head = peer.until(b"\r\n\r\n")
        except Closed:
            break
        version, code, reason, headers = parse_head(head)
        body = b""
        if not (head_only or code < 200 or code in (204, 304)):
            if "content-length" in headers:
                try:
                    body = peer.take(int(headers["content-length"]))
                except Closed:
                    body = peer.buf
                    peer.buf = b""
                    headers["x-raw-truncated"] = "yes"
            else:
                try:
                    while True:
                        peer.fill()
                except Closed:
                    body, peer.buf = peer.buf, b""
        print(json.dumps({"status": code, "reason": reason,
                          "version": version, "headers": headers,
                          "body": body.decode("utf-8", "replace")},
                         separators=(",", ":")), flush=True)
        n += 1
    if count is None:
        try:
            while True:
                peer.fill()
        except Closed:
            pass
    if peer.buf:
        print(json.dumps({"leftover": peer.buf.decode("utf-8", "replace")},
                         separators=(",", ":")), flush=True)
    return 0


def header(flags, op, n, key):
    b0 = int(op) & 15
    b0 |= 0x80 if "F" in flags else 0
    b0 |= 0x40 if "1" in flags else 0
    b0 |= 0x20 if "2" in flags else 0
    b0 |= 0x10 if "3" in flags else 0
    mask = 0x80 if "M" in flags else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mask | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mask | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mask | 127, n)
    return hdr + key if mask else hdr


def frame(spec):
    flags, op, payload = spec.split(":", 2)
    if "*" in payload:
        h, _, times = payload.partition("*")
        data = bytes.fromhex(h) * int(times)
    else:
        data = bytes.fromhex(payload)
    key = os.urandom(4)
    if "M" in flags:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return header(flags, op, len(data), key) + data


def read_frame(peer):
    b0, b1 = peer.take(2)
    n = b1 & 127
    if n == 126:
        n = struct.unpack("!H", peer.take(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", peer.take(8))[0]
    key = peer.take(4) if b1 & 0x80 else None
    data = peer.take(n)
    if key:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    kind = OPS.get(b0 & 15, "op%d" % (b0 & 15))
    if kind == "text":
        line = "text " + data.decode("utf-8", "replace")
    elif kind == "close":
        line = "close" + (" %d" % struct.unpack("!H", data[:2]) if n >= 2
                          else "")
    else:
        line = kind + (" " + data.hex() if data else "")
    print(line, flush=True)
    return kind


def ws(peer, path, steps):
    key = base64.b64encode(os.urandom(16)).decode()
    peer.send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
    head = peer.until(b"\r\n\r\n")
    if parse_head(head)[1] != 101:
        print(head.split(b"\r\n")[0].decode("latin-1"), flush=True)
        return 2
    for step in steps:
        if step.startswith("wait:"):
            want = step[5:]
            try:
                while read_frame(peer) != want:
                    pass
            except Closed:
                print("eof", flush=True)
                return 0 if want == "close" else 4
        elif step.startswith("head:"):
            flags, op, n = step[5:].split(":")
            peer.send(header(flags, op, int(n), os.urandom(4)))
        else:
            peer.send(frame(step))
    return 0


def main(argv):
    timeout = 10.0
    if len(argv) >= 2 and argv[0] == "--timeout":
        timeout = float(argv[1])
        argv = argv[2:]
    if len(argv) < 2 or argv[0] not in ("http", "ws"):
        print(__doc__, file=sys.stderr)
        return 1
    mode, port, rest = argv[0], int(argv[1]), argv[2:]
    try:
        peer = Peer(port, timeout)
        if mode == "http":
            head_only = "--head" in rest
            count = None
            if "--count" in rest:
                count = int(rest[rest.index("--count") + 1])
            return http(peer, head_only, count, "--tell" in rest)
        path = "/"
        if rest[:1] == ["--path"]:
            path, rest = rest[1], rest[2:]
        return ws(peer, path, rest)
    except socket.timeout:
        print("raw.py: timed out after %g s" % timeout, file=sys.stderr)
        return 1
    except Closed:
        print("raw.py: the server closed the connection", file=sys.stderr)
        return 4
    except OSError as e:
        print("raw.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
