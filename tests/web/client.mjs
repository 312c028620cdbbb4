// Tests of web/client.js (StreamClient) in Node, without a browser: the
// WebSocket is a fake the test drives frame by frame, so that what a real
// ws-serve rarely does (a snapshot in a live stream, a gap, again and
// again) happens on cue. Prints TAP.
//   node tests/web/client.mjs
import { StreamClient, State } from "../../web/client.js";

// FakeSocket: what StreamClient uses of a WebSocket. Every socket made is
// in FakeSocket.made; the test plays the server with open(), recv() and
// closeFromServer().
class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = null;
    FakeSocket.made.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code, reason) {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen && this.onopen();
  }
  recv(msg) {
    this.onmessage && this.onmessage({ data: JSON.stringify(msg) });
  }
  closeFromServer(code = 1006) {
    this.readyState = 3;
    this.onclose && this.onclose({ code, reason: "" });
  }
}

const location = { protocol: "http:", host: "127.0.0.1:3000" };
const events = (score) =>
  ["EVENT#00", "EVENT#01"].map((id) => ({ id, name: id, score, updatedAt: "2026-01-01T00:00:00.000Z" }));
const update = (seq, score) => ({ type: "UPDATE", seq, ts: 1, data: { ...events(score)[0] } });

// client(): a StreamClient on FakeSocket whose reports are recorded.
function client() {
  FakeSocket.made = [];
  const c = new StreamClient({ location, WebSocketImpl: FakeSocket, random: () => 0.5 });
  c.seen = [];
  for (const type of ["snapshot", "gap", "problem", "update"])
    c.addEventListener(type, (ev) => c.seen.push({ type, ...ev.detail }));
  return c;
}

// resumed(c): c connected, took an INITIAL at seq 7 of epoch e1, lost the
// connection and reconnected at once; returns the new socket, open, whose
// URL asked to resume after 7.
function resumed(c) {
  c.connect();
  FakeSocket.made[0].open();
  FakeSocket.made[0].recv({ type: "INITIAL", epoch: "e1", seq: 7, data: events(1) });
  FakeSocket.made[0].closeFromServer();
  c.retryNow();
  const ws = FakeSocket.made[1];
  check(ws.url.includes("since=7") && ws.url.includes("epoch=e1"), `resume URL ${ws.url}`);
  ws.open();
  return ws;
}

let n = 0;
let failed = 0;
function test(name, fn) {
  n++;
  try {
    fn();
    console.log(`ok ${n} - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(err.stack || err).split("\n")) console.log(`# ${line}`);
  }
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}

test("a gap in a live stream resyncs at once; a second one soon after waits for the backoff", () => {
  const c = client();
  c.connect();
  const ws = FakeSocket.made[0];
  ws.open();
  ws.recv({ type: "INITIAL", epoch: "e1", seq: 10, data: events(1) });
  ws.recv(update(12, 2)); // 11 is missing
  check(ws.closed && ws.closed.code === 4000, "the connection with the hole was not closed");
  check(FakeSocket.made.length === 2, "no reconnect at once after the first gap");
  const ws2 = FakeSocket.made[1];
  check(ws2.url.includes("since=10") && ws2.url.includes("epoch=e1"), `resume URL ${ws2.url}`);
  ws2.open();
  ws2.recv(update(13, 3)); // 11 and 12 missing again
  check(FakeSocket.made.length === 2, "a second gap reconnected at once: a loop");
  check(c.state === State.RECONNECTING && c.retryAt > Date.now(), `state ${c.state}, not waiting`);
  c.disconnect();
});

test("after a served resume, a snapshot later in the stream is reported as skipped updates, not a refused resume", () => {
  const c = client();
  const ws = resumed(c);
  ws.recv(update(8, 2)); // the resume is served
  ws.recv({ type: "INITIAL", epoch: "e1", seq: 20, data: events(5) }); // fell behind
  const snaps = c.seen.filter((s) => s.type === "snapshot");
  check(snaps.length === 2, `${snaps.length} snapshots`);
  const s = snaps[1];
  check(s.reason === "skipped" && s.prevSeq === 8 && s.seq === 20, `second snapshot ${JSON.stringify(s)}`);
  check(c.seq === 20 && c.events.get("EVENT#00").score === 5, "the snapshot was not applied");
  c.disconnect();
});

test("a resume the server cannot serve is still a gap after the seq asked for", () => {
  const c = client();
  resumed(c).recv({ type: "INITIAL", epoch: "e1", seq: 30, data: events(9) });
  const s = c.seen.filter((x) => x.type === "snapshot")[1];
  check(s.reason === "gap" && s.askedSince === 7 && s.seq === 30, JSON.stringify(s));
  c.disconnect();
});

test("an event whose score is not an exact integer is refused, in an UPDATE and in an INITIAL", () => {
  const c = client();
  c.connect();
  const ws = FakeSocket.made[0];
  ws.open();
  const bad = [null, "7", 1.5, 2 ** 60, { n: 1 }];
  ws.recv({ type: "INITIAL", epoch: "e1", seq: 1, data: [...events(1), { id: "X", name: "x", score: null }] });
  check(c.events.size === 2 && !c.events.has("X"), "the malformed event was kept");
  for (const score of bad) ws.recv({ type: "UPDATE", seq: 2, ts: 1, data: { id: "EVENT#00", name: "a", score } });
  check(c.seq === 1 && c.events.get("EVENT#00").score === 1, "a malformed UPDATE was applied");
  const problems = c.seen.filter((x) => x.type === "problem").map((x) => x.text);
  check(problems.length === 1 + bad.length, `problems: ${JSON.stringify(problems)}`);
  ws.recv(update(2, 2 ** 53 - 1));
  check(c.seq === 2 && c.events.get("EVENT#00").score === 2 ** 53 - 1, "the largest exact integer was refused");
  c.disconnect();
});

console.log(`1..${n}`);
process.exitCode = failed ? 1 : 0;
