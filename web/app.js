// The page: wires a StreamClient to the cards, indicator, stats, chart and log.
// Everything the server sends is shown with textContent, never parsed as HTML.
//
// For tests, #app carries data-state, data-seq, data-epoch, data-reconnects,
// data-url, data-notice, data-sent, data-received and data-pongs; each card
// carries data-id, data-score and data-seq; window.wskit keeps the seq of
// every UPDATE applied (applied) and every snapshot taken (snapshots).

import { StreamClient, State } from "./client.js";
import { LatencyChart, formatMs } from "./chart.js";

const LOG_MAX = 200;
const TRACE_MAX = 100000;
const AUTO_PING_MS = 2000;
const HIGHLIGHT_MS = 1200;

const $ = (id) => document.getElementById(id);
const root = $("app");
const ui = {
  indicator: $("indicator"),
  stateText: $("state-text"),
  countdown: $("countdown"),
  url: $("url"),
  connect: $("connect"),
  retry: $("retry"),
  ping: $("ping"),
  autoping: $("autoping"),
  token: $("token"),
  notice: $("notice"),
  empty: $("empty"),
  cards: $("cards"),
  log: $("log"),
  logCount: $("log-count"),
  clear: $("clear"),
  st: {
    sent: $("st-sent"),
    received: $("st-received"),
    bytes: $("st-bytes"),
    uptime: $("st-uptime"),
    events: $("st-events"),
    latency: $("st-latency"),
    avg: $("st-avg"),
    reconnects: $("st-reconnects"),
    seq: $("st-seq"),
    epoch: $("st-epoch"),
  },
};

const client = new StreamClient();
const chart = new LatencyChart($("chart"), 50);
const latency = { last: null, sum: 0, count: 0 };
const cardEls = new Map(); // event id -> <li>

// Test probe: plain data the browser tests read instead of scraping text.
const probe = { applied: [], snapshots: [], highlights: 0, duplicates: 0, client };
window.wskit = probe;

// ---- formatting -----------------------------------------------------------

const pad = (n, w = 2) => String(n).padStart(w, "0");

function clock(d, ms = false) {
  const s = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${s}.${pad(d.getMilliseconds(), 3)}` : s;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}

function formatCountdown(ms) {
  const s = Math.max(0, ms) / 1000;
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.ceil(s)} s`;
}

// displayUrl hides the token's value; the rest of the URL is shown as is.
function displayUrl(url) {
  return url.replace(/([?&]token=)[^&]*/, "$1•••");
}

function compact(text, max = 120) {
  const one = text.replace(/\s+/g, " ");
  return one.length > max ? one.slice(0, max - 1) + "…" : one;
}

// ---- log ------------------------------------------------------------------

let pendingLog = []; // entries not on the page yet, oldest first
let logQueued = false;

const DIR_LABEL = { out: "↑ sent", in: "↓ recv", info: "• info", warn: "! warn" };

// log(dir, type, body, note) adds an entry at the top and returns it.
function log(dir, type, body = "", note = "") {
  const li = document.createElement("li");
  li.className = `entry ${dir}`;
  li.dataset.dir = dir;
  li.dataset.type = type;
  const now = new Date();
  const time = document.createElement("time");
  time.dateTime = now.toISOString();
  time.textContent = clock(now, true);
  const d = document.createElement("span");
  d.className = "dir";
  d.textContent = DIR_LABEL[dir] || dir;
  const t = document.createElement("span");
  t.className = "type";
  t.textContent = type;
  const b = document.createElement("span");
  b.className = "body";
  const n = document.createElement("span");
  n.className = "note";
  n.textContent = note;
  const c = document.createElement("code");
  c.textContent = compact(body);
  if (body.length > 120) c.title = body.slice(0, 2000);
  b.append(n, c);
  li.append(time, d, t, b);
  // Entries are built at once (notes may be added to them) but put on the
  // page once a frame, so a fast stream costs one layout per frame.
  pendingLog.push(li);
  if (pendingLog.length > LOG_MAX) pendingLog.splice(0, pendingLog.length - LOG_MAX);
  if (!logQueued) {
    logQueued = true;
    requestAnimationFrame(flushLog);
  }
  return li;
}

function flushLog() {
  logQueued = false;
  if (pendingLog.length === 0) return;
  const batch = pendingLog.reverse();
  pendingLog = [];
  ui.log.prepend(...batch);
  while (ui.log.childElementCount > LOG_MAX) ui.log.lastElementChild.remove();
  countLog();
}

function addNote(li, text) {
  if (!li) return;
  const n = li.querySelector(".note");
  n.textContent = n.textContent ? `${n.textContent} · ${text}` : text;
  if (text) li.dataset.note = n.textContent;
}

function countLog() {
  const n = ui.log.childElementCount;
  ui.log.dataset.count = String(n);
  ui.logCount.textContent = `${n} ${n === 1 ? "entry" : "entries"}`;
}

// ---- cards ----------------------------------------------------------------

function makeCard(id) {
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.id = id;
  li.innerHTML =
    '<h3 class="name"></h3><p class="id"></p>' +
    '<p class="score"><span class="value"></span> <span class="delta"></span></p>' +
    '<p class="updated">Updated <time></time></p>';
  return li;
}

function fillCard(li, e) {
  li.querySelector(".name").textContent = typeof e.name === "string" ? e.name : e.id;
  li.querySelector(".id").textContent = e.id;
  li.querySelector(".value").textContent = String(e.score);
  li.dataset.score = String(e.score);
  const t = li.querySelector("time");
  const d = new Date(e.updatedAt);
  if (Number.isNaN(d.getTime())) {
    t.textContent = String(e.updatedAt ?? "–");
    t.removeAttribute("datetime");
  } else {
    t.textContent = clock(d);
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
  }
}

// highlight flashes a card whose score changed and shows the change.
function highlight(li, before, after) {
  const delta = li.querySelector(".delta");
  const diff = Number(after) - Number(before);
  if (Number.isFinite(diff) && diff !== 0) {
    delta.textContent = diff > 0 ? `▲ +${diff}` : `▼ ${diff}`;
    li.dataset.trend = diff > 0 ? "up" : "down";
  } else {
    delta.textContent = "changed";
    li.dataset.trend = "";
  }
  li.classList.add("changed");
  clearTimeout(li._fade);
  li._fade = setTimeout(() => li.classList.remove("changed"), HIGHLIGHT_MS);
  probe.highlights++;
}

function renderSnapshot() {
  const before = new Map([...cardEls].map(([id, li]) => [id, li.dataset.score]));
  cardEls.clear();
  const items = [];
  for (const e of client.events.values()) {
    const li = makeCard(e.id);
    fillCard(li, e);
    li.dataset.seq = String(client.seq);
    const old = before.get(e.id);
    if (old !== undefined && old !== String(e.score)) highlight(li, old, e.score);
    cardEls.set(e.id, li);
    items.push(li);
  }
  ui.cards.replaceChildren(...items);
  ui.empty.hidden = items.length > 0;
}

function renderUpdate(e, prev, seq) {
  let li = cardEls.get(e.id);
  if (!li) {
    li = makeCard(e.id);
    cardEls.set(e.id, li);
    ui.cards.append(li);
    ui.empty.hidden = true;
  }
  fillCard(li, e);
  li.dataset.seq = String(seq);
  if (prev && prev.score !== e.score) highlight(li, prev.score, e.score);
}

// ---- indicator, stats -----------------------------------------------------

function setNotice(kind, text) {
  const at = clock(new Date());
  ui.notice.textContent = `${at} — ${text}`;
  ui.notice.dataset.kind = kind;
  ui.notice.hidden = false;
  root.dataset.notice = kind;
}

function renderState() {
  const s = client.state;
  root.dataset.state = s;
  ui.indicator.dataset.state = s;
  const label = {
    [State.OPEN]: "Open",
    [State.CONNECTING]: client.recovering ? "Reconnecting…" : "Connecting…",
    [State.RECONNECTING]: "Reconnecting",
    [State.CLOSED]: "Closed",
  }[s];
  if (ui.stateText.textContent !== label) ui.stateText.textContent = label;
  renderCountdown();
  ui.connect.textContent = s === State.CLOSED ? "Connect" : "Disconnect";
  // Hiding the focused Retry now button would drop the keyboard user's
  // focus to the page: it moves to the button beside it first.
  if (s !== State.RECONNECTING && document.activeElement === ui.retry) ui.connect.focus();
  ui.retry.hidden = s !== State.RECONNECTING;
  ui.ping.disabled = s !== State.OPEN;
  const url = displayUrl(client.url);
  ui.url.textContent = url;
  root.dataset.url = url;
  renderStats();
}

function renderCountdown() {
  let text = "";
  if (client.state === State.RECONNECTING) {
    text = `in ${formatCountdown(client.retryAt - Date.now())}`;
  } else if (client.state === State.CONNECTING && client.recovering) {
    text = `attempt ${client.attempt + 1}`;
  }
  if (ui.countdown.textContent !== text) ui.countdown.textContent = text;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function renderStats() {
  const st = ui.st;
  setText(st.sent, String(client.sent));
  setText(st.received, String(client.received));
  setText(st.bytes, formatBytes(client.bytesIn));
  setText(st.uptime, client.state === State.OPEN ? formatDuration(client.uptime()) : "–");
  setText(st.events, String(client.events.size));
  setText(st.latency, formatMs(latency.last));
  setText(st.avg, latency.count ? formatMs(latency.sum / latency.count) : "–");
  setText(st.reconnects, String(client.reconnects));
  setText(st.seq, client.seq === null ? "–" : String(client.seq));
  setText(st.epoch, client.epoch ?? "–");
  root.dataset.seq = client.seq === null ? "" : String(client.seq);
  root.dataset.epoch = client.epoch ?? "";
  root.dataset.reconnects = String(client.reconnects);
  root.dataset.sent = String(client.sent);
  root.dataset.received = String(client.received);
  root.dataset.pongs = String(latency.count);
}

// Stats drawn at most once a frame; the data-* attributes above are also
// set there, so they are refreshed right away for every message instead.
let statsQueued = false;
function queueStats() {
  root.dataset.seq = client.seq === null ? "" : String(client.seq);
  root.dataset.received = String(client.received);
  if (statsQueued) return;
  statsQueued = true;
  requestAnimationFrame(() => {
    statsQueued = false;
    renderStats();
  });
}

// ---- client events --------------------------------------------------------

let lastIn = null; // the log entry of the message being handled

let shownState = client.state;
client.addEventListener("state", () => {
  renderState();
  syncAutoPing();
  const s = client.state;
  if (s === shownState) return; // only the URL changed (a token was typed)
  shownState = s;
  if (s === State.OPEN) {
    const resume = client.askedSince !== null ? `, resuming after seq ${client.askedSince}` : "";
    log("info", client.reopened ? "RECONNECTED" : "OPEN", displayUrl(client.url), `connected${resume}`);
  } else if (s === State.CLOSED) {
    log("info", "CLOSED", "", "disconnected");
  }
});

client.addEventListener("closed", (ev) => {
  const { code, reason, wasOpen } = ev.detail;
  const why = `code ${code}${reason ? ` “${reason}”` : ""}`;
  if (wasOpen) log("warn", "CLOSED", why, "connection lost, reconnecting");
  else log("warn", "FAILED", why, "could not connect");
});

client.addEventListener("traffic", (ev) => {
  const { dir, type, text } = ev.detail;
  const li = log(dir, type, text);
  if (dir === "in") lastIn = li;
  queueStats();
});

client.addEventListener("snapshot", (ev) => {
  const { reason, epoch, seq, prevEpoch, prevSeq, askedSince } = ev.detail;
  if (probe.snapshots.length >= TRACE_MAX) probe.snapshots.splice(0, TRACE_MAX / 2);
  probe.snapshots.push({ reason, epoch, seq, at: probe.applied.length });
  renderSnapshot();
  addNote(lastIn, `snapshot of ${client.events.size} events at seq ${seq}`);
  if (reason === "epoch") {
    const text = `Server restarted: new epoch ${epoch} (was ${prevEpoch}); showing its snapshot at seq ${seq}`;
    log("warn", "NEW EPOCH", "", text);
    setNotice("epoch", text);
  } else if (reason === "gap") {
    const text =
      `Could not resume after seq ${askedSince}: the server no longer had updates ` +
      `${askedSince + 1}–${seq}; showing its snapshot at seq ${seq}`;
    log("warn", "GAP", "", text);
    setNotice("gap", text);
  } else if (reason === "skipped") {
    const text =
      `Fell behind: updates ${prevSeq + 1}–${seq} were not seen one by one; ` +
      `showing the server's snapshot at seq ${seq}`;
    log("warn", "GAP", "", text);
    setNotice("gap", text);
  }
  renderStats();
});

client.addEventListener("update", (ev) => {
  const { event, prev, seq } = ev.detail;
  if (probe.applied.length >= TRACE_MAX) probe.applied.splice(0, TRACE_MAX / 2);
  probe.applied.push(seq);
  renderUpdate(event, prev, seq);
  if (prev && prev.score !== event.score) {
    const d = Number(event.score) - Number(prev.score);
    addNote(lastIn, `${event.id} ${prev.score} → ${event.score}${Number.isFinite(d) ? ` (${d > 0 ? "+" : ""}${d})` : ""}`);
  }
  queueStats();
});

client.addEventListener("duplicate", (ev) => {
  probe.duplicates++;
  addNote(lastIn, `ignored: seq ${ev.detail.seq} ≤ last seq ${ev.detail.lastSeq}`);
});

client.addEventListener("gap", (ev) => {
  const { from, to } = ev.detail;
  const text = `Updates ${from}–${to} never arrived; reconnecting to fetch them`;
  log("warn", "GAP", "", text);
  setNotice("gap", text);
});

client.addEventListener("pong", (ev) => {
  const { rtt } = ev.detail;
  if (rtt === null) {
    addNote(lastIn, "no matching PING");
    return;
  }
  latency.last = rtt;
  latency.sum += rtt;
  latency.count++;
  chart.add(rtt);
  addNote(lastIn, `round trip ${formatMs(rtt)}`);
  if (lastIn) lastIn.dataset.rtt = rtt.toFixed(3);
  renderStats();
});

client.addEventListener("problem", (ev) => {
  log("warn", "PROBLEM", "", ev.detail.text);
});

// ---- controls -------------------------------------------------------------

ui.connect.addEventListener("click", () => {
  if (client.state === State.CLOSED) client.connect();
  else client.disconnect();
});

ui.retry.addEventListener("click", () => client.retryNow());

ui.ping.addEventListener("click", () => client.ping());

let autoTimer = 0;
function syncAutoPing() {
  const on = ui.autoping.checked && client.state === State.OPEN;
  if (on && !autoTimer) {
    client.ping();
    autoTimer = setInterval(() => client.ping(), AUTO_PING_MS);
  } else if (!on && autoTimer) {
    clearInterval(autoTimer);
    autoTimer = 0;
  }
}
ui.autoping.addEventListener("change", syncAutoPing);

ui.clear.addEventListener("click", () => {
  pendingLog = [];
  ui.log.replaceChildren();
  lastIn = null;
  countLog();
});

try {
  ui.token.value = sessionStorage.getItem("wskit.token") || "";
} catch {
  // Storage can be disabled; the token then lasts as long as the page.
}
function applyToken() {
  client.setToken(ui.token.value);
  try {
    if (ui.token.value) sessionStorage.setItem("wskit.token", ui.token.value);
    else sessionStorage.removeItem("wskit.token");
  } catch {
    // See above.
  }
}
ui.token.addEventListener("input", applyToken);

// Back on the network, or back to a tab whose timers the browser slowed
// down: do not wait out the rest of a long backoff.
window.addEventListener("online", () => client.retryNow());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") client.retryNow();
});

setInterval(() => {
  renderCountdown();
  if (client.state === State.OPEN) setText(ui.st.uptime, formatDuration(client.uptime()));
}, 200);

applyToken();
renderState();
countLog();
// ?connect=0 opens the page disconnected; otherwise it connects at once.
if (new URLSearchParams(location.search).get("connect") !== "0") client.connect();
