#!/usr/bin/python3
"""Raw TCP peer for the ws-serve tests: bytes the WebSocket library would
never send, and HTTP read exactly as it arrives.

usage: raw.py [--timeout S] http PORT [--head] [--count N] [--tell]
       raw.py [--timeout S] ws PORT [--path P] [--ext OFFER] STEP...
       raw.py [--timeout S] serve [--ext ANSWER] [--tls CERT KEY] STEP...

http: sends standard input in one write, then reads responses until the
  server closes (or N responses have arrived) and prints each as a JSON
  line {"status":N,"reason":R,"version":V,"headers":{lowercase name:value},
  "body":B}; bytes after the last whole response as {"leftover":B}.
  --head: the responses have no body (answers to HEAD).
  --tell: print "connected" on standard error once the request is sent.

ws: does a valid opening handshake for PATH (default /), with OFFER as its
  Sec-WebSocket-Extensions header if given (the answer's is printed as
  "extensions VALUE", or "extensions" alone when there is none), then runs
  the steps:
  FLAGS:OP:PAYLOAD  send a frame. FLAGS: F fin, M masked, 1 2 3 the RSV bits
                    (any order, may be empty); OP the opcode in decimal;
                    PAYLOAD hex bytes, or HEX*N for HEX repeated N times,
                    or t=TEXT for TEXT as UTF-8, z=TEXT for TEXT deflated
                    the way permessage-deflate sends it, zx=HEX for those
                    bytes deflated, zx=HEX*N for them repeated N times.
  head:FLAGS:OP:N   send only the header of such a frame, announcing N
                    payload bytes (and its mask key with M), and no payload.
  wait:KIND         read frames until one of KIND (text, binary, ping, pong,
                    close, cont) arrives; wait:close is also met by the end
                    of the connection. wait:eof reads frames until the
                    end, and tells a reset from a FIN.
  hold:S            wait S seconds, the connection left open.
  Every frame read is printed on a line (prefixed "deflate-" with the
  payload inflated when RSV1 is set): "text PAYLOAD", "binary HEX",
  "ping HEX", "pong HEX", "cont HEX" (the kind alone for an empty
  payload), "close CODE" (or "close" without a code), and the end of the
  connection as "eof" ("reset" after wait:eof when it was a reset).

serve: a WebSocket server for one client, to test clients with what a
  real server would not send. Listens on 127.0.0.1, prints "listening
  PORT", answers the first handshake with 101 (with ANSWER as its
  Sec-WebSocket-Extensions header if given), prints the client's
  extension offer as "offer VALUE" ("offer" alone for none), then runs
  the steps as ws does (frames from a server are unmasked: leave out M).
  --tls CERT KEY: over TLS with that certificate and key; after the
  steps it reads to the end and prints "close_notify" when the client
  ended TLS with the alert, "no close_notify" when it only closed TCP.

Exit status: 0 done; 1 timeout or error; 2 the handshake was refused (its
status line is printed); 4 the connection ended before a wait was met.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time
import zlib

from common import timeout_arg

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPS = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class Closed(Exception):
    pass


class Peer:
    def __init__(self, port, timeout, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port),
                                                     timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.reset = False

    def fill(self):
        if self.eof:
            raise Closed()
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
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


def deflate(data):
    """One message compressed on its own, less the final 00 00 ff ff."""
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def hexes(spec):
    if "*" in spec:
        h, _, times = spec.partition("*")
        return bytes.fromhex(h) * int(times)
    return bytes.fromhex(spec)


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
    if payload.startswith("t="):
        data = payload[2:].encode()
    elif payload.startswith("z="):
        data = deflate(payload[2:].encode())
    elif payload.startswith("zx="):
        data = deflate(hexes(payload[3:]))
    else:
        data = hexes(payload)
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
    prefix = ""
    if b0 & 0x40:
        prefix = "deflate-"
        data = zlib.decompressobj(wbits=-15).decompress(
            data + b"\x00\x00\xff\xff")
    if kind == "text":
        line = prefix + "text " + data.decode("utf-8", "replace")
    elif kind == "close":
        line = "close" + (" %d" % struct.unpack("!H", data[:2]) if n >= 2
                          else "")
    else:
        line = prefix + kind + (" " + data.hex() if data else "")
    print(line, flush=True)
    return kind


def ws(peer, path, ext, steps):
    key = base64.b64encode(os.urandom(16)).decode()
    offer = "Sec-WebSocket-Extensions: %s\r\n" % ext if ext is not None else ""
    peer.send(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n%s"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key, offer)).encode())
    head = peer.until(b"\r\n\r\n")
    _, status, _, headers = parse_head(head)
    if status != 101:
        print(head.split(b"\r\n")[0].decode("latin-1"), flush=True)
        return 2
    if ext is not None:
        answer = headers.get("sec-websocket-extensions")
        print("extensions" + (" " + answer if answer else ""), flush=True)
    return run_steps(peer, steps)


def run_steps(peer, steps):
    for step in steps:
        if step.startswith("wait:"):
            want = step[5:]
            try:
                while read_frame(peer) != want:
                    pass
            except Closed:
                if want == "eof":
                    print("reset" if peer.reset else "eof", flush=True)
                    continue
                print("eof", flush=True)
                return 0 if want == "close" else 4
        elif step.startswith("hold:"):
            time.sleep(float(step[5:]))
        elif step.startswith("head:"):
            flags, op, n = step[5:].split(":")
            peer.send(header(flags, op, int(n), os.urandom(4)))
        else:
            peer.send(frame(step))
    return 0


def tls_end(peer):
    """How a TLS client ended: its close_notify, or a bare TCP close."""
    try:
        while peer.sock.recv(65536):
            pass
        return "close_notify"
    except ssl.SSLError as e:
        if isinstance(e, ssl.SSLEOFError) or \
                getattr(e, "reason", "") == "UNEXPECTED_EOF_WHILE_READING":
            return "no close_notify"
        return "tls error %s" % e
    except OSError as e:
        return "tls error %s" % e


def serve(timeout, ext, tls, steps):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(timeout)
    print("listening %d" % lsock.getsockname()[1], flush=True)
    sock, _ = lsock.accept()
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        # Python sets this by default: a TCP close without close_notify
        # would read as a clean end. Without it, reading raises.
        ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        sock.settimeout(timeout)
        sock = ctx.wrap_socket(sock, server_side=True,
                               suppress_ragged_eofs=False)
    peer = Peer(0, timeout, sock)
    head = peer.until(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    accept = base64.b64encode(hashlib.sha1(
        (headers.get("sec-websocket-key", "") + GUID).encode()).digest())
    answer = "Sec-WebSocket-Extensions: %s\r\n" % ext if ext is not None else ""
    peer.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
              b"\r\n" + answer.encode() + b"\r\n")
    offer = headers.get("sec-websocket-extensions")
    print("offer" + (" " + offer if offer else ""), flush=True)
    r = run_steps(peer, steps)
    if tls:
        print(tls_end(peer), flush=True)
    return r


def main(argv):
    timeout, argv = timeout_arg(argv, 10.0)
    if argv[:1] == ["serve"]:
        argv = ["serve", "0"] + argv[1:]
    if len(argv) < 2 or argv[0] not in ("http", "ws", "serve"):
        print(__doc__, file=sys.stderr)
        return 1
    mode, port, rest = argv[0], int(argv[1]), argv[2:]
    other = "client" if mode == "serve" else "server"
    try:
        if mode == "serve":
            ext, tls = None, None
            while rest[:1] in (["--ext"], ["--tls"]):
                if rest[0] == "--ext":
                    ext, rest = rest[1], rest[2:]
                else:
                    tls, rest = rest[1:3], rest[3:]
            return serve(timeout, ext, tls, rest)
        peer = Peer(port, timeout)
        if mode == "http":
            head_only = "--head" in rest
            count = None
            if "--count" in rest:
                count = int(rest[rest.index("--count") + 1])
            return http(peer, head_only, count, "--tell" in rest)
        path, ext = "/", None
        while rest[:1] in (["--path"], ["--ext"]):
            if rest[0] == "--path":
                path = rest[1]
            else:
                ext = rest[1]
            rest = rest[2:]
        return ws(peer, path, ext, rest)
    except socket.timeout:
        print("raw.py: timed out after %g s" % timeout, file=sys.stderr)
        return 1
    except Closed:
        print("raw.py: the %s closed the connection" % other, file=sys.stderr)
        return 4
    except OSError as e:
        print("raw.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
