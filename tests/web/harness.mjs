// Helpers for the browser tests: a tiny TAP runner with deadlines, ws-serve
// processes, a TCP proxy the tests can cut, and page helpers.
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// WSK_BIN selects the build under test, as in tests/helper.bash.
const BIN = path.resolve(TOP, process.env.WSK_BIN || "bin");
export const SERVE = path.join(BIN, "ws-serve");
export const WEB = path.join(TOP, "web");
export const ARTIFACTS = path.join(TOP, "tests", "artifacts");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- processes --------------------------------------------------------------

const live = new Set(); // everything that must be stopped before exit

// startServer(args, {port}) runs ws-serve on 127.0.0.1 (port 0 = a free one)
// serving web/, and resolves once it printed its "listening on" line.
export function startServer(args = [], { port = 0, timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(SERVE, ["--port", String(port), "--web", WEB, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const srv = {
      proc,
      port: 0,
      stderr: "",
      exited: null,
      http: "",
      paused: false,
      pause() {
        if (this.exited === null) proc.kill("SIGSTOP");
        this.paused = true;
      },
      resume() {
        if (this.exited === null) proc.kill("SIGCONT");
        this.paused = false;
      },
      // stop(): SIGTERM, then SIGKILL if it is still there after 5 s.
      async stop(signal = "SIGTERM") {
        if (this.exited === null) {
          proc.kill("SIGCONT");
          proc.kill(signal);
          const done = new Promise((r) => proc.once("exit", r));
          const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
          await done;
          clearTimeout(t);
        }
        live.delete(this);
      },
    };
    live.add(srv);
    const timer = setTimeout(() => {
      srv.stop("SIGKILL");
      reject(new Error(`ws-serve did not say "listening on" within ${timeout} ms: ${srv.stderr}`));
    }, timeout);
    proc.on("error", (err) => {
      clearTimeout(timer);
      live.delete(srv);
      reject(new Error(`cannot run ${SERVE}: ${err.message}`));
    });
    proc.on("exit", (code, sig) => {
      srv.exited = code ?? sig;
      live.delete(srv);
      clearTimeout(timer);
      if (!srv.port) reject(new Error(`ws-serve exited (${code ?? sig}) before listening: ${srv.stderr}`));
    });
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      if (srv.stderr.length < 64 * 1024) srv.stderr += chunk;
      const m = !srv.port && srv.stderr.match(/listening on http:\/\/[^\s]*:(\d+)\//);
      if (m) {
        srv.port = Number(m[1]);
        srv.http = `http://127.0.0.1:${srv.port}`;
        clearTimeout(timer);
        resolve(srv);
      }
    });
  });
}

// startProxy(targetPort, {port}) forwards 127.0.0.1:port to targetPort.
// close() stops listening and cuts every connection; open() listens again
// on the same port.
export async function startProxy(targetPort, { port = 0 } = {}) {
  const sockets = new Set();
  const proxy = {
    port,
    server: null,
    connections: 0,
    async open() {
      const server = net.createServer((down) => {
        proxy.connections++;
        const up = net.connect(targetPort, "127.0.0.1");
        sockets.add(down);
        sockets.add(up);
        const cut = () => {
          down.destroy();
          up.destroy();
          sockets.delete(down);
          sockets.delete(up);
        };
        down.on("error", cut).on("close", cut);
        up.on("error", cut).on("close", cut);
        down.pipe(up);
        up.pipe(down);
      });
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(proxy.port, "127.0.0.1", () => resolve());
      });
      proxy.port = server.address().port;
      proxy.server = server;
    },
    async close() {
      const server = proxy.server;
      proxy.server = null;
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (server) await new Promise((r) => server.close(() => r()));
    },
    async stop() {
      await proxy.close();
      live.delete(proxy);
    },
  };
  live.add(proxy);
  await proxy.open();
  return proxy;
}

export async function stopAll() {
  await Promise.allSettled([...live].map((p) => p.stop()));
}

// However the runner ends (an exception, a closed stdout, a signal), no
// ws-serve it started may outlive it. "exit" handlers must be synchronous.
process.on("exit", () => {
  for (const p of live) {
    if (p.proc && p.exited === null) {
      p.proc.kill("SIGCONT");
      p.proc.kill("SIGKILL");
    }
  }
});

// ---- TAP runner -------------------------------------------------------------

const tests = [];
let aborted = false;

// abort() makes run() start no further test (the runner is shutting down).
export function abort() {
  aborted = true;
}

// test(name, fn, {timeout}): fn(t) gets t.defer(cleanup) and t.note(text).
export function test(name, fn, { timeout = 30000 } = {}) {
  tests.push({ name, fn, timeout });
}

export async function run({ setup, teardown, budget = 170000 } = {}) {
  const started = Date.now();
  console.log(`1..${tests.length}`);
  let failed = 0;
  let ctx = null;
  let setupError = null;
  try {
    ctx = setup ? await setup() : null;
  } catch (err) {
    setupError = err;
  }
  for (const [i, tc] of tests.entries()) {
    if (aborted) break;
    const n = i + 1;
    if (setupError) {
      console.log(`not ok ${n} - ${tc.name}`);
      console.log(`# setup failed: ${String(setupError.message || setupError).split("\n")[0]}`);
      failed++;
      continue;
    }
    const left = budget - (Date.now() - started);
    if (left < 2000) {
      console.log(`not ok ${n} - ${tc.name}`);
      console.log("# the suite ran out of time before this test");
      failed++;
      continue;
    }
    const cleanups = [];
    const notes = [];
    const t0 = Date.now();
    const t = {
      defer: (f) => cleanups.push(f),
      note: (s) => {
        notes.push(s);
        if (process.env.WSK_WEB_DEBUG) console.log(`# ${((Date.now() - t0) / 1000).toFixed(2)} ${s}`);
      },
      ctx,
    };
    const limit = Math.min(tc.timeout, left);
    let timer;
    let error = null;
    try {
      await Promise.race([
        tc.fn(t),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`deadline of ${limit} ms passed`)), limit);
        }),
      ]);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timer);
    }
    t.note("cleanup");
    for (const f of cleanups.reverse()) {
      try {
        await Promise.race([f(), sleep(8000)]);
      } catch (err) {
        notes.push(`cleanup: ${err.message}`);
      }
    }
    t.note("stop servers");
    await stopAll();
    t.note("stopped");
    if (error) {
      failed++;
      console.log(`not ok ${n} - ${tc.name}`);
      for (const line of String(error.stack || error).split("\n").slice(0, 8)) console.log(`# ${line}`);
      for (const s of notes) for (const line of String(s).split("\n")) console.log(`# ${line}`);
    } else {
      console.log(`ok ${n} - ${tc.name}`);
    }
    console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  try {
    if (teardown) await teardown(ctx);
  } catch (err) {
    console.log(`# teardown: ${err.message}`);
  }
  await stopAll();
  console.log(`# browser tests done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${tests.length - failed} ok, ${failed} not ok`);
  return failed;
}

// ---- checks -----------------------------------------------------------------

export class Failure extends Error {}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

export function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}: got ${a}, want ${e}`);
}

// until(fn, what, ms) polls fn (sync or async) until it returns a truthy
// value and resolves to it; fails after ms.
export async function until(fn, what, ms = 10000, every = 50) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > end) throw new Failure(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

// ---- pages ------------------------------------------------------------------

// Console messages a page may log while its server is down on purpose.
const OUTAGE = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE/;

// openPage(t, browser, url, opts) opens url in a fresh context (or the one
// given) and records console errors, page errors and failed requests.
export async function openPage(t, browser, url, { viewport = { width: 1280, height: 900 }, context = null } = {}) {
  let ctx = context;
  if (!ctx) {
    ctx = await browser.newContext({ viewport });
    t.defer(() => ctx.close());
  }
  const page = await ctx.newPage();
  const problems = [];
  const host = new URL(url).host;
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    const u = new URL(r.url());
    if ((u.protocol === "http:" || u.protocol === "ws:") && u.host !== host) problems.push(`request to another host: ${r.url()}`);
    if (u.protocol === "https:" || u.protocol === "wss:") problems.push(`request to another host: ${r.url()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  await page.goto(url, { waitUntil: "load", timeout: 10000 });
  // outage: console errors the page may log while the server is down.
  page.problems = ({ outage = false } = {}) => problems.filter((p) => !(outage && OUTAGE.test(p)));
  t.note(`page ${url}`);
  return page;
}

// attrs(page) reads the root element's data-* state and the cards.
export function attrs(page) {
  return page.evaluate(() => {
    const app = document.getElementById("app");
    const cards = {};
    for (const li of document.querySelectorAll("#cards .card")) cards[li.dataset.id] = Number(li.dataset.score);
    return { ...app.dataset, cards, ncards: Object.keys(cards).length };
  });
}

export function waitState(page, state, ms = 10000) {
  return page.waitForFunction((s) => document.getElementById("app").dataset.state === s, state, { timeout: ms, polling: 20 });
}
