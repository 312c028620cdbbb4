// Browser tests for the page ws-serve serves (web/), in Debian's chromium
// driven by playwright-core. Prints TAP. Each test starts its own
// bin/ws-serve on a free port; WSK_BIN=dir tests another build.
//   node tests/web/run.mjs
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import {
  abort,
  ARTIFACTS,
  attrs,
  check,
  equal,
  openPage,
  run,
  sleep,
  startProxy,
  startServer,
  stopAll,
  test,
  until,
  waitState,
} from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const QUIET = ["--interval", "60000-60000"]; // no UPDATE during a test

async function getEvents(srv) {
  const res = await fetch(`${srv.http}/events`);
  check(res.ok, `GET /events answered ${res.status}`);
  const list = await res.json();
  check(Array.isArray(list), "GET /events is not an array");
  const scores = Object.fromEntries(list.map((e) => [e.id, e.score]));
  Object.defineProperty(scores, "names", { value: list.map((e) => e.name) });
  return scores;
}

function noProblems(page, opts) {
  const p = page.problems(opts);
  check(p.length === 0, `the page reported problems:\n${p.join("\n")}`);
}

// waitCount(page, selector, n) waits until exactly n elements match.
function waitCount(page, selector, n, timeout = 5000) {
  return page
    .waitForFunction(([sel, k]) => document.querySelectorAll(sel).length === k, [selector, n], { timeout })
    .catch(async () => {
      const got = await page.locator(selector).count();
      throw new Error(`${got} elements match ${selector}, want ${n}`);
    });
}

// contiguous(list) is null when list goes up by exactly one each step,
// else a description of the first break.
function contiguous(list, from) {
  let want = from;
  for (const s of list) {
    if (s !== want) return `expected seq ${want}, got ${s}`;
    want++;
  }
  return null;
}

// observe(page) opens a second, bare WebSocket in the page that tracks the
// server's state from INITIAL and UPDATEs, independent of the app's code.
async function observe(page) {
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const o = { seq: null, scores: {} };
        window.__observer = o;
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onmessage = (ev) => {
          const m = JSON.parse(ev.data);
          if (m.type === "INITIAL") {
            o.seq = m.seq;
            for (const e of m.data) o.scores[e.id] = e.score;
            resolve();
          } else if (m.type === "UPDATE" && o.seq !== null && m.seq > o.seq) {
            o.seq = m.seq;
            o.scores[m.data.id] = m.data.score;
          }
        };
        ws.onerror = () => reject(new Error("observer socket failed"));
      }),
  );
}

// frozen(srv, fn): run fn while the server process is stopped (SIGSTOP), so
// no update is sent; retries a few times because the server may have been
// stopped between writing to one client and the next.
async function frozen(srv, fn, tries = 5) {
  let last;
  for (let i = 0; i < tries; i++) {
    srv.pause();
    try {
      last = await fn();
      if (last.ok) return last;
    } finally {
      srv.resume();
    }
    await sleep(150);
  }
  return last;
}

test("the page and its modules load with no console errors", async (t) => {
  const srv = await startServer(QUIET);
  for (const [file, type] of [
    ["/", /^text\/html/],
    ["/app.js", /javascript/],
    ["/client.js", /javascript/],
    ["/style.css", /^text\/css/],
  ]) {
    const res = await fetch(srv.http + file);
    check(res.status === 200, `GET ${file} answered ${res.status}`);
    check(type.test(res.headers.get("content-type") || ""), `GET ${file} has Content-Type ${res.headers.get("content-type")}`);
  }
  const page = await openPage(t, t.ctx.browser, `${srv.http}/?connect=0`);
  equal(await page.title(), "wskit · live events", "title");
  await waitState(page, "closed");
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await waitState(page, "open");
  await sleep(300);
  noProblems(page);
});

test("backoff is full jitter from 0.5 s, doubling, capped at 30 s; resume URL", async (t) => {
  const srv = await startServer(QUIET);
  const page = await openPage(t, t.ctx.browser, `${srv.http}/?connect=0`);
  const r = await page.evaluate(async () => {
    const { backoffCeiling, backoffDelay } = await import("/backoff.js");
    const { buildUrl } = await import("/client.js");
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map((n) => backoffCeiling(n));
    const lows = [0, 3, 9].map((n) => backoffDelay(n, undefined, () => 0));
    const highs = [0, 3, 9].map((n) => backoffDelay(n, undefined, () => 0.999999));
    const urls = [
      buildUrl({ protocol: "http:", host: "h:3000" }),
      buildUrl({ protocol: "https:", host: "h" }, { since: 42, epoch: "e-1_x", token: "a b" }),
      buildUrl({ protocol: "http:", host: "h" }, { since: 0, epoch: "E" }),
    ];
    return { ceilings, lows, highs, urls };
  });
  equal(r.ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000], "ceilings");
  equal(r.lows, [0, 0, 0], "shortest delays");
  equal(r.highs, [499, 3999, 29999], "longest delays");
  equal(
    r.urls,
    ["ws://h:3000/ws", "wss://h/ws?since=42&epoch=e-1_x&token=a+b", "ws://h/ws?since=0&epoch=E"],
    "WebSocket URLs",
  );
  noProblems(page);
});

test("Connect shows the five events with the server's scores", async (t) => {
  const srv = await startServer(QUIET);
  const want = await getEvents(srv);
  equal(Object.keys(want).length, 5, "events from GET /events");
  const page = await openPage(t, t.ctx.browser, `${srv.http}/?connect=0`);
  equal((await attrs(page)).ncards, 0, "cards before Connect");
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await waitState(page, "open");
  await page.waitForFunction(() => document.querySelectorAll("#cards .card").length === 5);
  const a = await attrs(page);
  equal(a.cards, want, "card scores");
  check(a.epoch.length > 0, "data-epoch is empty");
  check(/^\d+$/.test(a.seq), `data-seq is ${a.seq}`);
  equal(a.url, `ws://127.0.0.1:${srv.port}/ws`, "URL shown");
  equal(await page.getByRole("button", { name: "Disconnect", exact: true }).count(), 1, "Disconnect button");
  const names = await page.locator("#cards .card .name").allTextContents();
  equal(names, want.names, "card names");
  // Chromium offers permessage-deflate and the server takes it: the scores
  // above arrived compressed.
  const metrics = await (await fetch(`${srv.http}/metrics`)).text();
  check(/^wskit_handshakes_deflate_total [1-9]/m.test(metrics),
        "the browser's handshake agreed on permessage-deflate");
  noProblems(page);
});

test("a filled token goes into the WebSocket URL query", async (t) => {
  const srv = await startServer(QUIET);
  const page = await openPage(t, t.ctx.browser, `${srv.http}/?connect=0`);
  await page.getByLabel("Token").fill("s3cret/+");
  await page.getByRole("button", { name: "Connect", exact: true }).click();
  await waitState(page, "open");
  const url = await page.evaluate(() => window.wskit.client.url);
  equal(url, `ws://127.0.0.1:${srv.port}/ws?token=s3cret%2F%2B`, "WebSocket URL");
  const shown = (await attrs(page)).url;
  check(shown.includes("token=") && !shown.includes("s3cret"), `URL shown as ${shown}`);
  noProblems(page);
});

test("an UPDATE changes a card, highlighted, matching the server", async (t) => {
  const srv = await startServer(["--interval", "100-200"]);
  const page = await openPage(t, t.ctx.browser, srv.http + "/");
  await waitState(page, "open");
  await observe(page);
  const first = Number((await attrs(page)).seq);
  await page.waitForFunction((s) => Number(document.getElementById("app").dataset.seq) >= s + 3, first, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector("#cards .card.changed") !== null, null, { timeout: 15000 });
  const r = await frozen(srv, async () => {
    const ok = await page
      .waitForFunction(
        () => String(window.__observer.seq) === document.getElementById("app").dataset.seq,
        null,
        { timeout: 2000 },
      )
      .then(() => true, () => false);
    const o = await page.evaluate(() => window.__observer);
    return { ok, o, a: await attrs(page) };
  });
  check(r.ok, `page at seq ${r.a.seq} never caught up with seq ${r.o.seq}`);
  equal(r.a.cards, r.o.scores, `cards at seq ${r.a.seq}`);
  const w = await page.evaluate(() => ({ applied: window.wskit.applied, snapshots: window.wskit.snapshots }));
  equal(w.snapshots.length, 1, "snapshots");
  equal(contiguous(w.applied, w.snapshots[0].seq + 1), null, "applied seqs");
  noProblems(page);
});

test("Send PING puts the round trip in the log, the stats and the chart", async (t) => {
  const srv = await startServer(QUIET);
  const page = await openPage(t, t.ctx.browser, srv.http + "/");
  await waitState(page, "open");
  const ping = page.getByRole("button", { name: "Send PING" });
  for (let i = 1; i <= 3; i++) {
    await ping.click();
    await page.waitForFunction((n) => document.getElementById("app").dataset.pongs === String(n), i, { timeout: 5000 });
  }
  const rtt = await page.locator('#log .entry[data-type="PONG"]').first().getAttribute("data-rtt");
  check(Number(rtt) >= 0 && Number(rtt) < 5000, `round trip in the log is ${rtt}`);
  await waitCount(page, '#log .entry[data-type="PING"][data-dir="out"]', 3);
  const note = await page.locator('#log .entry[data-type="PONG"] .note').first().textContent();
  check(/round trip \d/.test(note), `PONG log note is ${JSON.stringify(note)}`);
  check(/ms$/.test(await page.locator("#st-latency").textContent()), "last latency not shown");
  check(/ms$/.test(await page.locator("#st-avg").textContent()), "average latency not shown");
  equal(await page.locator("#chart").getAttribute("data-count"), "3", "chart samples");
  equal(await page.locator("#chart rect.bar").count(), 3, "chart bars");
  await page.getByRole("button", { name: "Clear" }).click();
  equal(await page.locator("#log .entry").count(), 0, "log entries after Clear");
  noProblems(page);
});

test("server restart: reconnecting, then the new epoch's snapshot", async (t) => {
  const a = await startServer(QUIET);
  const page = await openPage(t, t.ctx.browser, a.http + "/");
  await waitState(page, "open");
  const before = await attrs(page);
  await a.stop();
  // The indicator reads "Reconnecting in N s" while it counts down.
  await page.waitForFunction(
    () =>
      document.getElementById("app").dataset.state === "reconnecting" &&
      /^Reconnecting in \d+(\.\d)? s$/.test(document.getElementById("indicator").textContent.replace(/\s+/g, " ").trim()),
    null,
    { timeout: 10000, polling: 10 },
  );
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "web-reconnecting.png") });
  // Retry now from the keyboard: the button hides as the attempt starts,
  // and the focus goes to the button beside it, not to the page. (The
  // countdown may run out first: then wait for the next one.)
  let focused = "";
  for (let i = 0; i < 10 && focused !== "retry"; i++) {
    await page.waitForFunction(() => document.getElementById("app").dataset.state === "reconnecting", null, {
      timeout: 40000,
      polling: 10,
    });
    focused = await page.evaluate(() => {
      document.getElementById("retry").focus();
      return document.activeElement.id;
    });
  }
  equal(focused, "retry", "focus on Retry now");
  await page.keyboard.press("Enter");
  // With the server still down the button comes back after the attempt;
  // the focus stays where it went.
  await page
    .waitForFunction(() => document.activeElement.id === "connect", null, { timeout: 5000, polling: 10 })
    .catch(async () => {
      const id = await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
      throw new Error(`focus after Retry now is on ${id}, not on connect`);
    });
  const b = await startServer(QUIET, { port: a.port });
  const want = await getEvents(b);
  await page.waitForFunction(
    (e) => {
      const d = document.getElementById("app").dataset;
      return d.state === "open" && d.epoch !== e && d.epoch !== "";
    },
    before.epoch,
    { timeout: 40000, polling: 50 },
  );
  const after = await attrs(page);
  check(Number(after.reconnects) >= 1, `data-reconnects is ${after.reconnects}`);
  equal(after.cards, want, "cards after the restart");
  equal(after.notice, "epoch", "data-notice");
  await waitCount(page, '#log .entry[data-type="NEW EPOCH"]', 1);
  check(after.url.includes(`since=${before.seq}`) && after.url.includes(`epoch=${before.epoch}`), `reconnect URL ${after.url}`);
  noProblems(page, { outage: true });
}, { timeout: 60000 });

test("a cut connection resumes with no missing and no repeated seq", async (t) => {
  const srv = await startServer(["--interval", "20-40", "--history", "100000"]);
  const proxy = await startProxy(srv.port);
  const page = await openPage(t, t.ctx.browser, `http://127.0.0.1:${proxy.port}/`);
  await waitState(page, "open");
  await page.waitForFunction(() => Number(document.getElementById("app").dataset.seq) >= 10, null, { timeout: 10000 });
  for (let round = 1; round <= 2; round++) {
    const r0 = Number((await attrs(page)).reconnects);
    t.note(`round ${round}: cut`);
    await proxy.close();
    await page.waitForFunction(() => document.getElementById("app").dataset.state !== "open", null, { timeout: 5000, polling: 20 });
    const cutAt = Number((await attrs(page)).seq);
    await sleep(1200); // the server goes on; the page misses these updates
    await proxy.open();
    t.note(`round ${round}: proxy open`);
    await page.waitForFunction(
      (n) => {
        const d = document.getElementById("app").dataset;
        return Number(d.reconnects) > n && d.state === "open";
      },
      r0,
      { timeout: 40000, polling: 20 },
    );
    const a = await attrs(page);
    t.note(`round ${round}: reconnected`);
    check(a.url.includes(`since=`), `round ${round}: reconnect URL ${a.url} has no since=`);
    // The updates sent during the cut must arrive, then live ones.
    await page.waitForFunction((s) => Number(document.getElementById("app").dataset.seq) >= s + 40, cutAt, { timeout: 15000 });
    t.note(`round ${round}: cut at seq ${cutAt}, now ${(await attrs(page)).seq}`);
    // Let the backoff start from 0.5 s again (after 5 s open) before the next cut.
    if (round === 1) await page.waitForFunction(() => window.wskit.client.attempt === 0, null, { timeout: 10000 });
  }
  const p = await page.evaluate(() => ({
    applied: window.wskit.applied,
    snapshots: window.wskit.snapshots,
    seq: document.getElementById("app").dataset.seq,
    log: document.querySelectorAll("#log .entry").length,
    logCount: document.getElementById("log").dataset.count,
  }));
  equal(p.snapshots.length, 1, "snapshots taken (a resume must not send INITIAL)");
  equal(contiguous(p.applied, p.snapshots[0].seq + 1), null, "applied seqs");
  equal(String(p.applied.at(-1)), p.seq, "last applied seq vs data-seq");
  check(p.log === 200 && p.logCount === "200", `log holds ${p.log} entries, data-count ${p.logCount}; want the bound, 200`);
  noProblems(page, { outage: true });
}, { timeout: 60000 });

test("a gap the server cannot fill: notice, then the server's snapshot", async (t) => {
  const srv = await startServer(["--interval", "20-40", "--history", "5"]);
  const proxy = await startProxy(srv.port);
  const page = await openPage(t, t.ctx.browser, `http://127.0.0.1:${proxy.port}/`);
  await waitState(page, "open");
  await page.waitForFunction(() => Number(document.getElementById("app").dataset.seq) >= 5, null, { timeout: 10000 });
  await proxy.close();
  await page.waitForFunction(() => document.getElementById("app").dataset.state !== "open", null, { timeout: 5000, polling: 20 });
  const cutAt = Number((await attrs(page)).seq);
  // Wait until more than --history updates happened while the page was away.
  await sleep(1000);
  await proxy.open();
  await page.waitForFunction(
    () => document.getElementById("app").dataset.notice === "gap" && document.getElementById("app").dataset.state === "open",
    null,
    { timeout: 40000, polling: 20 },
  );
  await observe(page);
  const r = await frozen(srv, async () => {
    const ok = await page
      .waitForFunction(() => String(window.__observer.seq) === document.getElementById("app").dataset.seq, null, { timeout: 2000 })
      .then(() => true, () => false);
    return { ok, o: await page.evaluate(() => window.__observer), a: await attrs(page) };
  });
  check(r.ok, `page at seq ${r.a.seq} never caught up with seq ${r.o.seq}`);
  equal(r.a.cards, r.o.scores, `cards at seq ${r.a.seq}`);
  const snaps = await page.evaluate(() => window.wskit.snapshots);
  equal(snaps.map((x) => x.reason), ["initial", "gap"], "snapshot reasons");
  check(snaps[1].seq > cutAt + 5, `gap snapshot at seq ${snaps[1].seq}, cut at ${cutAt}`);
  await waitCount(page, '#log .entry[data-type="GAP"]', 1);
  check(/Could not resume after seq \d+/.test(await page.locator("#notice").textContent()), "no gap notice");
  noProblems(page, { outage: true });
}, { timeout: 60000 });

test("two tabs show the same scores at an equal last seq", async (t) => {
  const srv = await startServer(["--interval", "100-200"]);
  const ctx = await t.ctx.browser.newContext({ viewport: { width: 1000, height: 800 } });
  t.defer(() => ctx.close());
  const one = await openPage(t, t.ctx.browser, srv.http + "/", { context: ctx });
  const two = await openPage(t, t.ctx.browser, srv.http + "/", { context: ctx });
  await waitState(one, "open");
  await waitState(two, "open");
  const s0 = Number((await attrs(two)).seq);
  for (const p of [one, two]) {
    await p.waitForFunction((s) => Number(document.getElementById("app").dataset.seq) >= s + 3, s0, { timeout: 15000 });
  }
  const r = await frozen(srv, async () => {
    let a, b;
    const end = Date.now() + 2000;
    do {
      await sleep(50);
      [a, b] = await Promise.all([attrs(one), attrs(two)]);
    } while (a.seq !== b.seq && Date.now() < end);
    return { ok: a.seq === b.seq, a, b };
  });
  check(r.ok, `the tabs stayed at seq ${r.a.seq} and ${r.b.seq}`);
  equal(r.b.cards, r.a.cards, `second tab's cards at seq ${r.a.seq}`);
  equal(r.a.ncards, 5, "cards");
  noProblems(one);
  noProblems(two);
});

test("375 px wide, keyboard only: Tab to Connect, Enter connects", async (t) => {
  const srv = await startServer(["--interval", "500-1000"]);
  const page = await openPage(t, t.ctx.browser, `${srv.http}/?connect=0`, { viewport: { width: 375, height: 760 } });
  let focused = "";
  for (let i = 0; i < 10 && focused !== "connect"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  }
  equal(focused, "connect", "focused element after Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== "none", "the focused button has no visible outline");
  // The token field's border is its boundary: 3:1 against the panel at
  // least (WCAG 1.4.11).
  const ratio = await page.evaluate(() => {
    const lum = (css) => {
      const [r, g, b] = css.match(/\d+/g).slice(0, 3).map((v) => {
        const c = Number(v) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const input = document.querySelector(".token input");
    const a = lum(getComputedStyle(input).borderTopColor);
    const b = lum(getComputedStyle(input).backgroundColor);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
  check(ratio >= 3, `the token field's border has ${ratio.toFixed(2)}:1 contrast`);
  await page.keyboard.press("Enter");
  await waitState(page, "open");
  await page.waitForFunction(() => document.querySelectorAll("#cards .card").length === 5);
  equal(await page.locator("#state-text").getAttribute("aria-live"), "polite", "aria-live on the state");
  // Pings so the chart has something to show.
  await page.locator("#ping").focus();
  for (let i = 1; i <= 4; i++) {
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => document.getElementById("app").dataset.pongs === String(n), i, { timeout: 5000 });
  }
  await page.waitForFunction(() => Number(document.getElementById("app").dataset.seq) >= 2, null, { timeout: 10000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `the page is ${overflow} px wider than the 375 px viewport`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "web-375.png"), fullPage: true });
  noProblems(page);
});

test("connected desktop page: screenshot", async (t) => {
  const srv = await startServer(["--interval", "200-400"]);
  const page = await openPage(t, t.ctx.browser, srv.http + "/", { viewport: { width: 1280, height: 900 } });
  await waitState(page, "open");
  for (let i = 1; i <= 12; i++) {
    await page.locator("#ping").click();
    await page.waitForFunction((n) => document.getElementById("app").dataset.pongs === String(n), i, { timeout: 5000 });
  }
  await page.waitForFunction(() => Number(document.getElementById("app").dataset.seq) >= 8, null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector("#cards .card.changed") !== null, null, { timeout: 5000 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "web-desktop.png") });
  noProblems(page);
});

let browser = null;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  abort();
  await stopAll();
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => shutdown(130));
process.on("SIGTERM", () => shutdown(143));
process.on("SIGHUP", () => shutdown(129));
// The reader of the TAP stream went away: stop quietly, cleaning up.
process.stdout.on("error", () => shutdown(1));
process.on("uncaughtException", (err) => {
  console.error(`run.mjs: ${err.stack || err}`);
  shutdown(1);
});

// A last resort: whatever hangs, the suite ends within 3 minutes.
setTimeout(() => {
  console.log("# the browser suite took longer than 180 s; stopping");
  shutdown(1);
}, 180000).unref();

const failed = await run({
  budget: 170000,
  async setup() {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    return { browser };
  },
  async teardown() {
    if (browser) await browser.close();
    browser = null;
  },
});
await shutdown(failed ? 1 : 0);
