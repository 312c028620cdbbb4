// StreamClient: one WebSocket connection to ws-serve, its protocol state
// (epoch, last seq, the five events) and automatic reconnection.
//
// It knows nothing about the page; it reports through DOM-style events:
//   state      {state, attempt, retryAt, url}  state is one of State
//   snapshot   {reason, epoch, seq, prevEpoch, prevSeq, askedSince}
//              reason: "initial" | "epoch" (new server run) | "gap" (the
//              server could not replay what was missed after askedSince)
//              | "skipped" (a snapshot in a live stream, as after falling
//              behind: UPDATEs prevSeq+1..seq were not seen one by one)
//              | "resync" (nothing missed)
//   update     {event, prev, seq, ts}          an UPDATE that was applied
//   duplicate  {seq, lastSeq}                  an UPDATE at or below last seq
//   gap        {from, to}                      UPDATEs went missing in a live
//                                              stream; the client resyncs
//   pong       {rtt, serverTime, timestamp}    rtt in ms, null if unknown
//   traffic    {dir: "in"|"out", type, text, msg, bytes}
//   problem    {text}                          bad message from the server
//
// Resume rule (ws-serve protocol): after any unrequested close the client
// reconnects with ?since=<last seq>&epoch=<epoch>. The server then either
// replays the missed UPDATEs (no INITIAL) or, when it cannot, sends INITIAL;
// UPDATEs at or below the last seq are ignored so none is applied twice.

import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";

export const State = Object.freeze({
  CLOSED: "closed",
  CONNECTING: "connecting",
  OPEN: "open",
  RECONNECTING: "reconnecting",
});

// Close code the client uses when it drops a connection on purpose to resync.
const RESYNC_CLOSE = 4000;
// A connection that stays open this long resets the backoff.
const STABLE_MS = 5000;
const MAX_PENDING_PINGS = 64;

// buildUrl(location, {since, epoch, token}) is the WebSocket URL for the page
// at location: ws(s)://host/ws plus the resume and token query.
export function buildUrl(loc, { since = null, epoch = null, token = "" } = {}) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams();
  if (epoch !== null && since !== null) {
    q.set("since", String(since));
    q.set("epoch", epoch);
  }
  if (token) q.set("token", token);
  const s = q.toString();
  return `${scheme}//${loc.host}/ws${s ? "?" + s : ""}`;
}

// utf8Length(s) is the number of bytes s takes in UTF-8.
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

// closeQuietly(ws, code, reason) closes ws. A socket still connecting is
// closed once it opens: closing it earlier makes the browser log an error.
function closeQuietly(ws, code, reason) {
  if (!ws) return;
  if (ws.readyState === 0) {
    ws.onopen = () => ws.close(code, reason);
    ws.onerror = () => {};
  } else if (ws.readyState === 1) {
    ws.close(code, reason);
  }
}

// An event as ws-protocol(7) has it: an id, and a score that is an
// integer (a number past 2^53 could not be shown exactly).
function isEvent(e) {
  return e !== null && typeof e === "object" && typeof e.id === "string" && Number.isSafeInteger(e.score);
}

export class StreamClient extends EventTarget {
  constructor({
    location = globalThis.location,
    WebSocketImpl = globalThis.WebSocket,
    backoff = DEFAULT_BACKOFF,
    random = Math.random,
  } = {}) {
    super();
    this.location = location;
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = backoff;
    this.random = random;

    this.state = State.CLOSED;
    this.token = "";
    this.url = buildUrl(location);
    this.ws = null;
    this.wanted = false; // the user asked to be connected
    this.recovering = false; // the next open is an automatic reconnect
    this.attempt = 0; // failed attempts since the last stable connection
    this.retryAt = 0; // Date.now() of the next attempt while reconnecting
    this.retryTimer = 0;
    this.stableTimer = 0;
    this.openedAt = 0;
    this.askedSince = null; // the since= of the current connection, until it is served
    this.resyncedAt = 0; // Date.now() of the last resync at once
    this.reopened = false; // the current connection is an automatic reconnect

    this.epoch = null;
    this.seq = null;
    this.events = new Map(); // id -> event object, in INITIAL order

    this.sent = 0;
    this.received = 0;
    this.bytesIn = 0;
    this.reconnects = 0;
    this.pending = new Map(); // PING timestamp -> performance.now() at send
    this.lastPingTs = 0;
  }

  // connect() opens a connection (resuming if a stream was seen before) and
  // keeps it open until disconnect().
  connect() {
    this.wanted = true;
    this.recovering = false;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    if (this.ws) return;
    this._open();
  }

  // disconnect() closes the connection and stops reconnecting.
  disconnect() {
    this.wanted = false;
    this.recovering = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    closeQuietly(this._drop(), 1000, "closed by user");
    this._setState(State.CLOSED);
  }

  // retryNow() skips the rest of the reconnect countdown.
  retryNow() {
    if (this.state !== State.RECONNECTING) return;
    clearTimeout(this.retryTimer);
    this._open();
  }

  setToken(token) {
    this.token = token.trim();
    if (this.state === State.CLOSED || this.state === State.RECONNECTING) this.url = this._url();
    this._emit("state", this._stateDetail());
  }

  // ping() sends a PING; false when not connected. The timestamp is
  // Date.now(), kept unique so each PONG matches one PING; the round trip
  // itself is measured with performance.now().
  ping() {
    if (this.state !== State.OPEN) return false;
    const ts = Math.max(Date.now(), this.lastPingTs + 1);
    this.lastPingTs = ts;
    this.pending.set(ts, performance.now());
    if (this.pending.size > MAX_PENDING_PINGS) {
      this.pending.delete(this.pending.keys().next().value);
    }
    this._send({ type: "PING", timestamp: ts });
    return true;
  }

  uptime(now = Date.now()) {
    return this.state === State.OPEN ? now - this.openedAt : 0;
  }

  _url() {
    return buildUrl(this.location, { since: this.seq, epoch: this.epoch, token: this.token });
  }

  _open() {
    clearTimeout(this.retryTimer);
    this.askedSince = this.epoch !== null ? this.seq : null;
    this.url = this._url();
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      // Only a malformed URL throws here; retrying cannot help.
      this.wanted = false;
      this._emit("problem", { text: `cannot open ${this.url}: ${err.message}` });
      this._setState(State.CLOSED);
      return;
    }
    this.ws = ws;
    // Handlers check ws === this.ws so a late event from an old socket
    // never touches the current connection.
    ws.onopen = () => ws === this.ws && this._onOpen();
    ws.onmessage = (ev) => ws === this.ws && this._onMessage(ev.data);
    ws.onclose = (ev) => ws === this.ws && this._onClose(ev);
    ws.onerror = () => {}; // a close event always follows
    this._setState(State.CONNECTING);
  }

  // _drop() forgets the current socket, detaches its handlers and returns it.
  _drop() {
    const ws = this.ws;
    this.ws = null;
    this.openedAt = 0;
    this.pending.clear();
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    return ws;
  }

  _onOpen() {
    this.openedAt = Date.now();
    this.reopened = this.recovering;
    if (this.recovering) {
      this.reconnects++;
      this.recovering = false;
    }
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
    }, STABLE_MS);
    this._setState(State.OPEN);
  }

  _onClose(ev) {
    clearTimeout(this.stableTimer);
    const wasOpen = this.state === State.OPEN;
    this._drop();
    if (!this.wanted) {
      this._setState(State.CLOSED);
      return;
    }
    this._emit("closed", { code: ev.code, reason: ev.reason, wasOpen });
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.recovering = true;
    this.retryAt = Date.now() + delay;
    this.url = this._url();
    this.retryTimer = setTimeout(() => this._open(), delay);
    this._setState(State.RECONNECTING);
  }

  // _resync() drops a connection whose stream has a hole and reconnects
  // from the last seq that was applied: at once the first time, through
  // the backoff if the last resync was less than STABLE_MS ago, so that a
  // server that keeps skipping cannot make the page reconnect in a loop.
  _resync() {
    closeQuietly(this._drop(), RESYNC_CLOSE, "resync");
    const now = Date.now();
    if (this.resyncedAt && now - this.resyncedAt < STABLE_MS) {
      this._scheduleReconnect();
      return;
    }
    this.resyncedAt = now;
    this.recovering = true;
    this._open();
  }

  _send(msg) {
    const text = JSON.stringify(msg);
    this.ws.send(text);
    this.sent++;
    this._emit("traffic", { dir: "out", type: msg.type, text, msg, bytes: utf8Length(text) });
  }

  _onMessage(data) {
    if (typeof data !== "string") {
      this._emit("problem", { text: "binary message from the server ignored" });
      return;
    }
    const bytes = utf8Length(data);
    this.received++;
    this.bytesIn += bytes;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this._emit("traffic", { dir: "in", type: "?", text: data, msg: null, bytes });
      this._emit("problem", { text: "message is not JSON" });
      return;
    }
    const type = msg && typeof msg.type === "string" ? msg.type : "?";
    this._emit("traffic", { dir: "in", type, text: data, msg, bytes });
    switch (type) {
      case "INITIAL":
        this._onInitial(msg);
        break;
      case "UPDATE":
        this._onUpdate(msg);
        break;
      case "PONG":
        this._onPong(msg);
        break;
      case "ERROR":
        break; // shown by the traffic event
      default:
        this._emit("problem", { text: `unknown message type ${JSON.stringify(type)}` });
    }
  }

  _onInitial(msg) {
    if (typeof msg.epoch !== "string" || !Number.isInteger(msg.seq) || !Array.isArray(msg.data)) {
      this._emit("problem", { text: "malformed INITIAL ignored" });
      return;
    }
    const prevEpoch = this.epoch;
    const prevSeq = this.seq;
    const askedSince = this.askedSince;
    let reason = "initial";
    if (prevEpoch !== null && msg.epoch !== prevEpoch) reason = "epoch";
    else if (askedSince !== null && msg.seq > askedSince) reason = "gap";
    else if (prevEpoch !== null && msg.seq > prevSeq) reason = "skipped";
    else if (prevEpoch !== null) reason = "resync";
    this.epoch = msg.epoch;
    this.seq = msg.seq;
    this.events = new Map();
    for (const e of msg.data) {
      if (isEvent(e)) this.events.set(e.id, { ...e });
      else this._emit("problem", { text: "malformed event in INITIAL ignored" });
    }
    // A later reconnect on this connection's behalf resumes from here.
    this.askedSince = null;
    this._emit("snapshot", { reason, epoch: msg.epoch, seq: msg.seq, prevEpoch, prevSeq, askedSince });
  }

  _onUpdate(msg) {
    if (!Number.isInteger(msg.seq) || !isEvent(msg.data)) {
      this._emit("problem", { text: "malformed UPDATE ignored" });
      return;
    }
    if (this.seq !== null && msg.seq <= this.seq) {
      this._emit("duplicate", { seq: msg.seq, lastSeq: this.seq });
      return;
    }
    if (this.seq !== null && msg.seq > this.seq + 1) {
      this._emit("gap", { from: this.seq + 1, to: msg.seq - 1 });
      this._resync();
      return;
    }
    const prev = this.events.get(msg.data.id) || null;
    const event = { ...msg.data };
    this.events.set(event.id, event);
    this.seq = msg.seq;
    // The resume was served: an INITIAL later on this connection is not
    // its answer.
    this.askedSince = null;
    this._emit("update", { event, prev, seq: msg.seq, ts: msg.ts });
  }

  _onPong(msg) {
    let rtt = null;
    const t0 = this.pending.get(msg.timestamp);
    if (t0 !== undefined) {
      this.pending.delete(msg.timestamp);
      rtt = performance.now() - t0;
    }
    this._emit("pong", { rtt, serverTime: msg.serverTime, timestamp: msg.timestamp });
  }

  _stateDetail() {
    return { state: this.state, attempt: this.attempt, retryAt: this.retryAt, url: this.url };
  }

  _setState(state) {
    this.state = state;
    this._emit("state", this._stateDetail());
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
