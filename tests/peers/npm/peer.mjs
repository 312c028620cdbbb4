// RFC 6455 conformance peer on the npm ws library (pinned in
// package-lock.json), an implementation independent of wskit's and of
// python3-websockets, for tests/025-ws-serve-conformance.bats.
//
// usage: node peer.mjs client URL [--fragments N]
//        node peer.mjs server
//
// client: against an echo server (ws-serve --echo), the same checks as
//   conform.py client (text and binary of 0 B to 16 MiB, whole and in 4
//   fragments; a Ping between fragments; N fragments of 1 byte, default
//   65536), plus text whose UTF-8 characters are split across fragments.
//   One line per check: "ok text 125 frag4", "ok utf8 split 2+1", or
//   "FAIL ...".
// server: listens on 127.0.0.1, prints "listening PORT", runs the same
//   checks against the first client (ws-watch --echo), closes with 1000
//   and exits.
// Exit status: 0 every check passed; 1 otherwise. Each run is bounded by
// WSK_PEER_TIMEOUT seconds (default 60). With WSK_PEER_DEFLATE=1 the peer
// offers (client) or accepts (server, with context takeover) permessage-
// deflate, compressing every message, and prints the agreed extension on
// standard error ("peer.mjs: extensions permessage-deflate; ...").
import { WebSocket, WebSocketServer } from "ws";

const SIZES = [0, 125, 126, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024];
const MAX = 64 * 1024 * 1024;
const timeout = Number(process.env.WSK_PEER_TIMEOUT || 60) * 1000;
const deflate = process.env.WSK_PEER_DEFLATE === "1" ? { threshold: 0 } : false;
let bad = 0;

function out(line) {
	process.stdout.write(line + "\n");
}

function check(name, ok, why) {
	if (ok) {
		out("ok " + name);
	} else {
		bad++;
		out(`FAIL ${name}: ${why}`);
	}
}

function payload(kind, n) {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++)
		b[i] = kind === "text" ? "0123456789abcdef".charCodeAt(i % 16)
				       : (i * 7) & 255;
	return b;
}

// Messages arrive in order; recv() takes the next one.
function receiver(ws) {
	const queue = [], waiting = [];
	ws.on("message", (data, isBinary) => {
		const m = { data, isBinary };
		if (waiting.length) waiting.shift()(m);
		else queue.push(m);
	});
	ws.on("close", () => {
		while (waiting.length) waiting.shift()(null);
	});
	return () => queue.length ? Promise.resolve(queue.shift())
				  : new Promise((r) => waiting.push(r));
}

function sendAsync(ws, data, opts) {
	return new Promise((resolve, reject) =>
		ws.send(data, opts, (err) => err ? reject(err) : resolve()));
}

// Sends parts as one message in fragments (ws emits the continuation
// opcodes itself once the first fragment went out with fin false).
async function sendFragments(ws, parts, binary) {
	for (let i = 0; i < parts.length; i++)
		await sendAsync(ws, parts[i], { binary, fin: i === parts.length - 1 });
}

function same(m, want, binary) {
	if (!m) return "connection closed";
	if (m.isBinary !== binary) return `binary flag ${m.isBinary}`;
	if (!Buffer.from(m.data).equals(want))
		return `sent ${want.length} bytes, got ${m.data.length}`;
	return null;
}

async function roundTrips(ws, recv, { utf8 }) {
	for (const kind of ["text", "binary"]) {
		const binary = kind === "binary";
		for (const n of SIZES) {
			const msg = payload(kind, n);
			await sendAsync(ws, msg, { binary });
			let why = same(await recv(), msg, binary);
			check(`${kind} ${n} whole`, !why, why);
			const step = Math.ceil(n / 4);
			const parts = [0, 1, 2, 3].map((i) =>
				msg.subarray(i * step, Math.min(n, (i + 1) * step)));
			await sendFragments(ws, parts, binary);
			why = same(await recv(), msg, binary);
			check(`${kind} ${n} frag4`, !why, why);
		}
	}
	// A Ping between fragments: its Pong comes back before the rest goes.
	const msg = Buffer.from("before the ping|after the ping|and the end");
	await sendAsync(ws, msg.subarray(0, 16), { binary: false, fin: false });
	const pong = new Promise((r) => ws.once("pong", (d) => r(d.toString())));
	ws.ping("mid");
	const got = await Promise.race([pong, new Promise((r) =>
		setTimeout(() => r(null), 10000))]);
	await sendAsync(ws, msg.subarray(16, 31), { binary: false, fin: false });
	await sendAsync(ws, msg.subarray(31), { binary: false, fin: true });
	const why = same(await recv(), msg, false);
	check("ping between fragments", got === "mid" && !why,
	      got === "mid" ? why : "no pong before the rest was sent");
	if (!utf8) return;
	// UTF-8 characters cut across fragments: é (2 bytes), € (3), 😀 (4).
	const cuts = [["é", [1]], ["€", [2]], ["€", [1, 2]], ["😀", [1]],
		      ["😀", [2]], ["😀", [1, 2, 3]], ["a€b😀c", [2, 6]]];
	for (const [text, at] of cuts) {
		const b = Buffer.from(text);
		const edges = [0, ...at, b.length];
		const parts = edges.slice(1).map((e, i) => b.subarray(edges[i], e));
		await sendFragments(ws, parts, false);
		const m = await recv();
		const w = same(m, b, false);
		check(`utf8 split ${parts.map((p) => p.length).join("+")} ` +
		      `${b.toString("hex")}`, !w && m.data.toString() === text, w);
	}
}

async function client(url, nfrag) {
	const ws = new WebSocket(url, { maxPayload: MAX, perMessageDeflate: deflate });
	const recv = receiver(ws);
	await new Promise((resolve, reject) => {
		ws.once("open", resolve);
		ws.once("error", reject);
	});
	process.stderr.write(`peer.mjs: extensions ${ws.extensions}\n`);
	await roundTrips(ws, recv, { utf8: true });
	const msg = Buffer.alloc(nfrag, "x");
	const t0 = Date.now();
	for (let i = 0; i < nfrag; i++)
		ws.send(msg.subarray(i, i + 1), { binary: false, fin: i === nfrag - 1 });
	const why = same(await recv(), msg, false);
	check(`text in ${nfrag} fragments`, !why, why);
	process.stderr.write(`peer.mjs: ${nfrag} fragments in ${(Date.now() - t0) / 1000} s\n`);
	await new Promise((r) => {
		ws.once("close", r);
		ws.close(1000);
	});
}

async function server() {
	const wss = new WebSocketServer({ host: "127.0.0.1", port: 0,
					  maxPayload: MAX, perMessageDeflate: deflate });
	await new Promise((r) => wss.once("listening", r));
	out(`listening ${wss.address().port}`);
	const ws = await new Promise((r) => wss.once("connection", r));
	process.stderr.write(`peer.mjs: extensions ${ws.extensions}\n`);
	const recv = receiver(ws);
	await roundTrips(ws, recv, { utf8: true });
	await new Promise((r) => {
		ws.once("close", r);
		ws.close(1000);
	});
	wss.close();
}

const [cmd, arg, opt, n] = process.argv.slice(2);
const timer = setTimeout(() => {
	out(`FAIL timed out after ${timeout / 1000} s`);
	process.exit(1);
}, timeout);
try {
	if (cmd === "client" && arg)
		await client(arg, opt === "--fragments" ? Number(n) : 65536);
	else if (cmd === "server")
		await server();
	else {
		process.stderr.write("usage: node peer.mjs client URL [--fragments N] | server\n");
		process.exit(1);
	}
} catch (e) {
	out(`FAIL ${e.message}`);
	bad++;
}
clearTimeout(timer);
process.exit(bad ? 1 : 0);
