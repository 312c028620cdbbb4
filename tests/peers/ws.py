#!/usr/bin/python3
"""A scripted WebSocket client (python3-websockets) for the ws-serve tests.

usage: ws.py [--timeout S] URL OP...

Each text message received is printed on its own line, as the server sent
it. The operations run in order:
  send:TEXT   send TEXT as a text message
  bin:HEX     send the bytes HEX as a binary message
  recv        receive one message
  reply       receive until a message that is not an UPDATE; print only it
  updates:N   receive until N UPDATE messages have arrived
  seq:N       receive until an UPDATE with seq >= N has arrived
  ping:TEXT   send a WebSocket Ping frame, wait for the matching Pong and
              print {"peer":"pong"}
  close       wait for the server to close the connection
  bye         close the connection with 1000 and wait for the answer
When the server closes, {"peer":"close","code":N,"reason":"..."} is printed.

Exit status: 0 every operation done; 4 the server closed the connection
before the operations were done; 3 cannot connect; 1 timeout or other error.
"""
import asyncio
import json
import sys

import websockets

from common import timeout_arg


def out(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def print_close(ws):
    out(json.dumps({"peer": "close", "code": ws.close_code,
                    "reason": ws.close_reason}, separators=(",", ":")))


async def main(url, ops):
    try:
        ws = await websockets.connect(url, ping_interval=None,
                                      open_timeout=None, close_timeout=5,
                                      max_size=None)
    except (OSError, websockets.exceptions.InvalidHandshake) as e:
        print("ws.py: cannot connect to %r: %s" % (url, e), file=sys.stderr)
        return 3
    updates = 0

    async def recv(show=True):
        m = await ws.recv()
        if isinstance(m, bytes):
            out("binary " + m.hex())
            return None
        try:
            j = json.loads(m)
        except ValueError:
            j = None
        if show or not (isinstance(j, dict) and j.get("type") == "UPDATE"):
            out(m)
        return j

    for op in ops:
        name, _, arg = op.partition(":")
        try:
            if name == "send":
                await ws.send(arg)
            elif name == "bin":
                await ws.send(bytes.fromhex(arg))
            elif name == "recv":
                await recv()
            elif name == "reply":
                while True:
                    m = await recv(show=False)
                    if not (isinstance(m, dict) and m.get("type") == "UPDATE"):
                        break
            elif name in ("updates", "seq"):
                n = int(arg)
                while True:
                    m = await recv()
                    if isinstance(m, dict) and m.get("type") == "UPDATE":
                        updates += 1
                        if name == "updates" and updates >= n:
                            break
                        if name == "seq" and m.get("seq", -1) >= n:
                            break
            elif name == "ping":
                waiter = await ws.ping(arg.encode())
                await waiter
                out(json.dumps({"peer": "pong"}, separators=(",", ":")))
            elif name == "close":
                try:
                    while True:
                        await recv()
                except websockets.exceptions.ConnectionClosed:
                    print_close(ws)
            elif name == "bye":
                await ws.close()
                print_close(ws)
            else:
                print("ws.py: unknown operation %r" % op, file=sys.stderr)
                return 1
        except websockets.exceptions.ConnectionClosed:
            print_close(ws)
            return 4
    await ws.close()
    return 0


def run():
    args = sys.argv[1:]
    timeout, args = timeout_arg(args, 10.0)
    if not args:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        return asyncio.run(asyncio.wait_for(main(args[0], args[1:]), timeout))
    except asyncio.TimeoutError:
        print("ws.py: timed out after %g s" % timeout, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
