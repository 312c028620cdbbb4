'use strict';
/*
 * The reference server of scripts/bench: the original stack, Node.js with
 * Express and the ws package, written the way the original was, so that
 * the benchmark compares ws-serve with what it replaces. It keeps the
 * original's habits on purpose: every update is serialized again for each
 * client (JSON.stringify inside the loop over wss.clients, skipping those
 * whose readyState is not OPEN), and ws does the framing.
 *
 * Same protocol as ws-serve (man/ws-protocol.7), without resume:
 *   on open  {"type":"INITIAL","epoch":E,"seq":S,"data":[5 events]}
 *   update   {"type":"UPDATE","seq":N,"ts":<ms since epoch>,"data":{event}}
 *   client   {"type":"PING","timestamp":X} -> {"type":"PONG","timestamp":X,
 *            "serverTime":<ms>}; anything else -> {"type":"ERROR",...}
 * Five events, each updated every MIN-MAX ms, picked at random.
 *
 * Usage: node server.js [--port PORT] [--host ADDR] [--interval MIN-MAX]
 * PORT and INTERVAL may also come from the environment; --port 0 picks a
 * free port. Prints "reference: listening on http://HOST:PORT/" on stderr
 * once listening; SIGINT or SIGTERM closes every client with 1001 and exits.
 */
const http = require('http');
const crypto = require('crypto');
const express = require('express');
const WebSocket = require('ws');

function fail(msg) {
  process.stderr.write(`reference: ${msg}\n`);
  process.exit(2);
}

function option(name) {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  if (i + 1 >= process.argv.length) fail(`option '${name}' needs a value`);
  return process.argv[i + 1];
}

const portText = option('--port') ?? process.env.PORT ?? '3000';
const host = option('--host') ?? process.env.HOST ?? '127.0.0.1';
const intervalText = option('--interval') ?? process.env.INTERVAL ?? '2000-7000';

if (!/^\d+$/.test(portText) || Number(portText) > 65535) fail(`bad port '${portText}'`);
const m = /^(\d+)-(\d+)$/.exec(intervalText);
if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) {
  fail(`bad interval '${intervalText}' (MIN-MAX in ms)`);
}
const minMs = Number(m[1]);
const maxMs = Number(m[2]);

const names = ['Harbour Sprint', 'Ridge Relay', 'Canal Cup', 'Summit Dash', 'Lakeside Open'];
const events = names.map((name, i) => ({
  id: `EVENT#0${i}`,
  name,
  score: 0,
  updatedAt: new Date().toISOString(),
}));
const epoch = crypto.randomBytes(8).toString('base64url');
let seq = 0;

const app = express();
app.get('/events', (req, res) => res.json(events));
app.get('/events/:id', (req, res) => {
  const ev = events.find((e) => e.id === req.params.id);
  if (ev) res.json(ev);
  else res.status(404).json({ error: 'not found', id: req.params.id });
});
app.get('/health', (req, res) => res.json({ status: 'ok', clients: wss.clients.size, seq }));

const server = http.createServer(app);
const wss = new WebSocket.Server({ server });

wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ type: 'INITIAL', epoch, seq, data: events }));
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = JSON.parse(isBinary ? '' : data.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'ERROR', error: 'message is not valid JSON' }));
      return;
    }
    if (msg && msg.type === 'PING') {
      const pong = { type: 'PONG' };
      if (msg.timestamp !== undefined) pong.timestamp = msg.timestamp;
      pong.serverTime = Date.now();
      ws.send(JSON.stringify(pong));
    } else {
      ws.send(JSON.stringify({ type: 'ERROR', error: 'unknown message type' }));
    }
  });
  ws.on('error', () => {});
});

function broadcast(message) {
  wss.clients.forEach((client) => {
    if (client.readyState === WebSocket.OPEN) {
      client.send(JSON.stringify(message));
    }
  });
}

function schedule(ev) {
  const delay = minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
  setTimeout(() => {
    ev.score += 1 + Math.floor(Math.random() * 3);
    ev.updatedAt = new Date().toISOString();
    seq += 1;
    broadcast({ type: 'UPDATE', seq, ts: Date.now(), data: ev });
    schedule(ev);
  }, delay);
}

server.on('error', (err) => fail(`cannot listen on ${host}:${portText}: ${err.message}`));
server.listen(Number(portText), host, () => {
  const { port } = server.address();
  process.stderr.write(`reference: listening on http://${host}:${port}/\n`);
  events.forEach(schedule);
});

function shutdown() {
  wss.clients.forEach((client) => client.close(1001, 'server shutting down'));
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
