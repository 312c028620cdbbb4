#!/usr/bin/python3
"""Several WebSocket clients of one server at once (python3-websockets).

usage: fanout.py [--timeout S] URL N COUNT OUTDIR

Opens N connections, reads the INITIAL of each, takes M, the highest seq
among them, and keeps every connection reading until it has seen the UPDATE
with seq M+COUNT. Writes what connection i received, one message a line and
the INITIAL first, to OUTDIR/client-i.jsonl (i from 1), so every file holds
the updates M+1 .. M+COUNT if the server sends them all.
Exit status: 0 done; 3 cannot connect; 1 timeout or the server closed.
"""
import asyncio
import json
import os
import sys

import websockets

from common import timeout_arg


async def main(url, n, count, outdir):
    conns, logs, initial = [], [], []
    try:
        for _ in range(n):
            conns.append(await websockets.connect(url, ping_interval=None,
                                                  max_size=None))
    except (OSError, websockets.exceptions.InvalidHandshake) as e:
        print("fanout.py: cannot connect to %r: %s" % (url, e),
              file=sys.stderr)
        return 3
    for ws in conns:
        m = await ws.recv()
        logs.append([m])
        initial.append(json.loads(m).get("seq", 0))
    target = max(initial) + count

    async def drain(ws, log):
        while True:
            m = await ws.recv()
            log.append(m)
            j = json.loads(m)
            if j.get("type") == "UPDATE" and j.get("seq", 0) >= target:
                return

    try:
        await asyncio.gather(*(drain(ws, log) for ws, log in zip(conns, logs)))
    except websockets.exceptions.ConnectionClosed as e:
        print("fanout.py: the server closed a connection: %s" % e,
              file=sys.stderr)
        return 1
    finally:
        for i, log in enumerate(logs):
            with open(os.path.join(outdir, "client-%d.jsonl" % (i + 1)),
                      "w") as f:
                f.write("".join(m + "\n" for m in log))
    for ws in conns:
        await ws.close()
    return 0


def run():
    args = sys.argv[1:]
    timeout, args = timeout_arg(args, 10.0)
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 1
    url, n, count, outdir = args[0], int(args[1]), int(args[2]), args[3]
    try:
        return asyncio.run(asyncio.wait_for(main(url, n, count, outdir),
                                            timeout))
    except asyncio.TimeoutError:
        print("fanout.py: timed out after %g s" % timeout, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
