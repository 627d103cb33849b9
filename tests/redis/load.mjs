// A load benchmark of the native example on memory backends against two processes sharing one
// Redis (not a test: it asserts nothing). In one run it starts redis-server, one memory server
// and a Redis pair (release builds: `cargo build --release --example everything` first), then
// reports:
//   - steady `tools/call` at concurrency 16 (16 sessions): req/s and p50/p99 latency on memory,
//     and on the Redis pair with requests alternating between the processes; the ratio;
//   - Redis commands per steady POST, per GET stream opened, per notification (from INFO
//     commandstats, commands run inside scripts included);
//   - publish → arrival on 1, 100 and 1,000 GET streams spread over both processes (median of 3).
//
//   node tests/redis/load.mjs [--requests 4000]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { freePort, jsonRpcReply, median, percentile, sseMessages } from '../e2e/helpers.mjs';
import { Mcp } from '../worker/mcp.mjs';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '4000' },
    streams: { type: 'string', default: '1,100,1000' },
  },
});
const REQUESTS = Number(values.requests);
const STREAMS = values.streams.split(',').map(Number);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = path.join(root, 'target/release/examples/everything');

async function listening(port) {
  for (let i = 0; i < 300; i++) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

const children = [];
async function run(command, args, env, port) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  children.push(child);
  await listening(port);
  return child;
}

async function setup(mcp, name) {
  const response = await mcp.post(undefined, mcp.request(0, 'initialize', {
    protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' },
  }));
  const session = response.headers.get('mcp-session-id');
  await response.arrayBuffer();
  await (await mcp.post(session, { jsonrpc: '2.0', method: 'notifications/initialized' })).arrayBuffer();
  return session;
}

/** Steady tools/call over 16 sessions; `pick(loop, i)` chooses the process of each request. */
async function steady(label, pick, servers) {
  const sessions = [];
  for (let i = 0; i < 16; i++) sessions.push(await setup(servers[i % servers.length], `${label}-${i}`));
  for (let i = 0; i < 100; i++) {
    await jsonRpcReply(await pick(0, i).post(sessions[0], pick(0, i).toolCall(i, 'test_simple_text')), i);
  }
  const latencies = [];
  const started = performance.now();
  await Promise.all(sessions.map(async (session, loop) => {
    for (let i = 0; i < REQUESTS / 16; i++) {
      const mcp = pick(loop, i);
      const t = performance.now();
      await jsonRpcReply(await mcp.post(session, mcp.toolCall(1000 + i, 'test_simple_text')), 1000 + i);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - started;
  return { rps: latencies.length / (elapsed / 1000), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

function commandStats(port) {
  const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  const calls = {};
  for (const [, name, count] of text.matchAll(/cmdstat_(\S+?):calls=(\d+)/g)) calls[name] = Number(count);
  return calls;
}

/** What `operation` (run `times` times) costs in Redis commands, per time. */
async function commandsPer(port, times, operation) {
  const before = commandStats(port);
  for (let i = 0; i < times; i++) await operation(i);
  const after = commandStats(port);
  const per = Object.entries(after)
    .map(([name, count]) => [name, (count - (before[name] ?? 0)) / times])
    .filter(([name, count]) => count > 0.01 && name !== 'info')
    .sort((a, b) => b[1] - a[1]);
  const total = per.reduce((sum, [, count]) => sum + count, 0);
  return `${total.toFixed(1)} (${per.map(([name, count]) => `${name} ${count.toFixed(1)}`).join(', ')})`;
}

async function arrival(servers, streams) {
  const uri = `test://load/${streams}`;
  const open = [];
  for (let i = 0; i < streams; i++) {
    const mcp = servers[i % 2];
    const session = await setup(mcp, `stream-${i}`);
    await jsonRpcReply(await mcp.post(session, mcp.request(1, 'resources/subscribe', { uri })), 1);
    const response = await mcp.get(session);
    const messages = sseMessages(response.body);
    open.push({ response, messages });
  }
  const publisher = await setup(servers[0], 'publisher');
  const times = [];
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const arrivals = open.map(({ messages }) => messages.next().then(() => performance.now()));
    await jsonRpcReply(await servers[0].post(publisher, servers[0].toolCall(100 + round, 'touch_resource', { uri })), 100 + round);
    times.push(Math.max(...(await Promise.all(arrivals))) - started);
  }
  await Promise.all(open.map(async ({ response, messages }) => {
    await messages.return();
    await response.body.cancel().catch(() => {});
  }));
  return median(times);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'mcp-redis-load-'));
try {
  const [redisPort, memoryPort, portA, portB] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await run('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', work, '--save', '', '--appendonly', 'no'], {}, redisPort);
  const redisUrl = `redis://127.0.0.1:${redisPort}/0`;
  await run(binary, [], { MCP_LISTEN: `127.0.0.1:${memoryPort}`, RUST_LOG: 'warn' }, memoryPort);
  await run(binary, [], { MCP_LISTEN: `127.0.0.1:${portA}`, RUST_LOG: 'warn', REDIS_URL: redisUrl }, portA);
  await run(binary, [], { MCP_LISTEN: `127.0.0.1:${portB}`, RUST_LOG: 'warn', REDIS_URL: redisUrl }, portB);
  const memory = new Mcp(`http://127.0.0.1:${memoryPort}/mcp`);
  const pair = [new Mcp(`http://127.0.0.1:${portA}/mcp`), new Mcp(`http://127.0.0.1:${portB}/mcp`)];

  const onMemory = await steady('memory', () => memory, [memory]);
  const onRedis = await steady('redis', (loop, i) => pair[(loop + i) % 2], pair);
  const fmt = (m) => `${m.rps.toFixed(0)} req/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms`;
  console.log(`steady tools/call, 16 sessions, ${REQUESTS} calls`);
  console.log(`  memory backends, one process:          ${fmt(onMemory)}`);
  console.log(`  Redis, two processes, alternating:      ${fmt(onRedis)}`);
  console.log(`  Redis / memory: req/s ×${(onRedis.rps / onMemory.rps).toFixed(2)}, p50 ×${(onRedis.p50 / onMemory.p50).toFixed(2)}, p99 ×${(onRedis.p99 / onMemory.p99).toFixed(2)}`);

  const session = await setup(pair[0], 'commands');
  await jsonRpcReply(await pair[0].post(session, pair[0].request(1, 'resources/subscribe', { uri: 'test://commands' })), 1);
  console.log('Redis commands');
  console.log(`  per steady POST:   ${await commandsPer(redisPort, 200, async (i) => {
    await jsonRpcReply(await pair[1].post(session, pair[1].toolCall(10 + i, 'test_simple_text')), 10 + i);
  })}`);
  const stream = await pair[0].get(session);
  const messages = sseMessages(stream.body);
  const publisher = await setup(pair[1], 'commands-publisher');
  console.log(`  per notification (one subscriber, its stream on the other process, touch_resource request included): ${await commandsPer(redisPort, 200, async (i) => {
    const arrived = messages.next();
    await jsonRpcReply(await pair[1].post(publisher, pair[1].toolCall(1000 + i, 'touch_resource', { uri: 'test://commands' })), 1000 + i);
    await arrived;
  })}`);
  await messages.return();
  await stream.body.cancel().catch(() => {});
  console.log(`  per GET stream opened and closed: ${await commandsPer(redisPort, 100, async () => {
    const response = await pair[1].get(session);
    const reader = response.body.getReader();
    await reader.read();
    await reader.cancel();
    await new Promise((resolve) => setTimeout(resolve, 5));
  })}`);

  const arrivals = [];
  for (const n of STREAMS) arrivals.push(`${n} streams ${(await arrival(pair, n)).toFixed(1)} ms`);
  console.log(`publish → arrival, streams spread over both processes: ${arrivals.join(', ')}`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
