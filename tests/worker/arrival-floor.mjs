// What local workerd itself needs to bring one message to N open SSE streams the way the hub
// does (not a test: it asserts nothing): a plain JavaScript Worker, no layer, no Rust. Each
// stream is a Worker request holding a WebSocket to one of 8 Durable Object shards
// (hibernation API, tagged per session); a publish asks every shard to send the message to
// each of its sockets, and with `--log` to first write two storage keys per session, as the
// hub's event log does. Compare its times with load.mjs's publish → arrival.
//
//   node tests/worker/arrival-floor.mjs [--streams 1000] [--log]
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { freePort, median } from '../e2e/helpers.mjs';
import { cpuMs, workerdPids } from './bench-server.mjs';
import { listen } from './sse-listener.mjs';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1000' },
    log: { type: 'boolean', default: false },
  },
});
const STREAMS = Number(values.streams);
const here = path.dirname(fileURLToPath(import.meta.url));
const workerPackage = path.join(here, '../../examples/worker/package.json');
const { Miniflare } = await import(pathToFileURL(createRequire(workerPackage).resolve('miniflare')));

const SHARDS = 8;
const script = `
const SHARDS = ${SHARDS};
const shardOf = (session) => [...session].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % SHARDS;
const encoder = new TextEncoder();

export class Shard {
  constructor(state) { this.state = state; this.seq = 0; }
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/stream') {
      const { 0: client, 1: server } = new WebSocketPair();
      this.state.acceptWebSocket(server, ['s:' + url.searchParams.get('session')]);
      return new Response(null, { status: 101, webSocket: client });
    }
    const { data, log } = await request.json();
    const sockets = this.state.getWebSockets();
    const seq = ++this.seq;
    if (log) {
      const writes = {};
      for (const ws of sockets) {
        const session = this.state.getTags(ws)[0];
        writes['e:' + session + ':' + seq] = JSON.stringify({ id: 'g.' + seq, data, at: Date.now() });
        writes['m:' + session] = JSON.stringify({ last: seq });
      }
      const entries = Object.entries(writes);
      for (let i = 0; i < entries.length; i += 128) {
        await this.state.storage.put(Object.fromEntries(entries.slice(i, i + 128)));
      }
    }
    for (const ws of sockets) ws.send(JSON.stringify({ id: 'g.' + seq, data }));
    return new Response('ok');
  }
  webSocketClose(ws) { ws.close(1000, 'closed'); }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/publish') {
      const body = await request.text();
      await Promise.all(Array.from({ length: SHARDS }, (_, shard) =>
        env.SHARD.get(env.SHARD.idFromName('shard-' + shard)).fetch('https://shard/publish', { method: 'POST', body })));
      return new Response('published');
    }
    const session = request.headers.get('mcp-session-id');
    const upstream = await env.SHARD.get(env.SHARD.idFromName('shard-' + shardOf(session)))
      .fetch('https://shard/stream?session=' + session, { headers: { upgrade: 'websocket' } });
    const socket = upstream.webSocket;
    socket.accept();
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    writer.write(encoder.encode('id: g.0\\nretry: 1000\\ndata: \\n\\n'));
    socket.addEventListener('message', (event) => {
      const frame = JSON.parse(event.data);
      writer.write(encoder.encode('id: ' + frame.id + '\\ndata: ' + frame.data + '\\n\\n'));
    });
    socket.addEventListener('close', () => writer.close().catch(() => {}));
    request.signal?.addEventListener('abort', () => socket.close(1000, 'gone'));
    return new Response(readable, { headers: { 'content-type': 'text/event-stream' } });
  },
};`;

const port = await freePort();
const mf = new Miniflare({
  host: '127.0.0.1',
  port,
  cf: false,
  modules: true,
  script,
  compatibilityDate: '2026-04-01',
  compatibilityFlags: ['enable_request_signal'],
  durableObjects: { SHARD: { className: 'Shard', useSQLite: true } },
});
const url = String(await mf.ready);
try {
  const pids = workerdPids(process.pid);
  const open = [];
  for (let i = 0; i < STREAMS; i++) open.push(await listen(url, `session-${i}`));
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'test://floor' } });
    const cpuBefore = cpuMs(pids);
    const started = performance.now();
    const arrivals = open.map((stream) => stream.next());
    await (await fetch(new URL('/publish', url), { method: 'POST', body: JSON.stringify({ data, log: values.log }) })).text();
    const last = Math.max(...(await Promise.all(arrivals)));
    runs.push({ ms: last - started, cpu: cpuMs(pids) - cpuBefore });
  }
  for (const stream of open) stream.close();
  console.log(`${STREAMS} streams${values.log ? ', two storage keys written per session' : ''}: publish → last arrival median ${median(runs.map((r) => r.ms)).toFixed(1)} ms, workerd CPU median ${median(runs.map((r) => r.cpu))} ms (runs: ${runs.map((r) => r.ms.toFixed(0)).join(', ')} ms)`);
} finally {
  await mf.dispose();
}
