// A load benchmark of Worker builds under local workerd (not a test: it asserts nothing). For
// each build it starts workerd (serve.mjs), then measures with one driver, in one run:
//   - steady `tools/call` at concurrency 1 (one session) and 16 (16 sessions): req/s,
//     p50/p99 latency, workerd CPU per request (utime+stime of the workerd process, from
//     /proc/<pid>/stat);
//   - session setup (`initialize` + `notifications/initialized`): the same figures;
//   - publish → arrival on 1, 100 and 1,000 open GET streams, and workerd's CPU meanwhile
//     (median of 3), for builds with the layer; and the same publish to 1,000 subscribers
//     none of which has a stream open (what the hub's bookkeeping alone costs).
// The first three run in rounds (`--rounds`, default 3), the builds taking turns; each
// figure is the median over the rounds.
//
// KV runs in a workerd process of its own (kv-server.mjs) unless `--kv in-process`: on
// Cloudflare KV is a service outside the Worker and its work is not the Worker's CPU, while
// under one Miniflare its simulation would share (and be counted with) the Worker's process.
//
//   node tests/worker/load.mjs label=BUILD_DIR [label=BUILD_DIR …] [--requests 2000]
//     [--setups 300] [--rounds 3] [--kv separate|in-process]
import { parseArgs } from 'node:util';

import { jsonRpcReply, median, percentile } from '../e2e/helpers.mjs';
import { cpuMs, setup, startWorker } from './bench-server.mjs';
import { listen } from './sse-listener.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: 'string', default: '2000' },
    setups: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string', default: '1,100,1000' },
    kv: { type: 'string', default: 'separate' },
  },
});
const REQUESTS = Number(values.requests);
const SETUPS = Number(values.setups);
const ROUNDS = Number(values.rounds);
const STREAMS = values.streams.split(',').map(Number);
/** Runs `count` operations over `concurrency` loops; returns req/s, latencies, CPU per op. */
async function measure(server, concurrency, count, operation) {
  const latencies = [];
  const perLoop = Math.ceil(count / concurrency);
  const cpuBefore = cpuMs(server.pids);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let i = 0; i < perLoop; i++) {
      const t = performance.now();
      await operation(loop, i);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - started;
  const cpu = cpuMs(server.pids) - cpuBefore;
  return {
    rps: latencies.length / (elapsed / 1000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpu: cpu / latencies.length,
  };
}

async function steady(server, concurrency) {
  const sessions = [];
  for (let i = 0; i < concurrency; i++) sessions.push(await setup(server.a, `load-${i}`));
  // Warm up the isolate and its caches.
  for (let i = 0; i < 50; i++) await jsonRpcReply(await server.a.post(sessions[0], server.a.toolCall(i, 'test_simple_text')), i);
  return measure(server, concurrency, REQUESTS, async (loop, i) => {
    const id = 1000 + i;
    await jsonRpcReply(await server.a.post(sessions[loop], server.a.toolCall(id, 'test_simple_text')), id);
  });
}

/** `count` sessions subscribed to `uri`, each with its standalone GET stream open if `listening`. */
async function subscribers(server, uri, count, listening) {
  const open = [];
  for (let i = 0; i < count; i++) {
    const session = await setup(server.a, `subscriber-${i}`);
    await jsonRpcReply(await server.a.post(session, server.a.request(1, 'resources/subscribe', { uri })), 1);
    if (listening) open.push(await listen(server.a.url, session));
  }
  return open;
}

/**
 * One resource update to `count` subscribers, 3 times: the median time until the last open
 * stream got it (or, with no streams open, until the publishing request was answered: the
 * hub's logging alone), and workerd's CPU meanwhile (10 ms ticks).
 */
async function publish(server, count, listening) {
  const uri = `test://load/${count}/${listening}`;
  const open = await subscribers(server, uri, count, listening);
  const publisher = await setup(server.a, 'publisher');
  const runs = [];
  try {
    for (let run = 0; run < 3; run++) {
      const cpuBefore = cpuMs(server.pids);
      const started = performance.now();
      // A stream that ends instead of delivering fails the run.
      const arrivals = open.map((stream) => stream.next());
      await jsonRpcReply(await server.a.post(publisher, server.a.toolCall(100 + run, 'touch_resource', { uri })), 100 + run);
      const last = listening ? Math.max(...(await Promise.all(arrivals))) : performance.now();
      runs.push({ ms: last - started, cpu: cpuMs(server.pids) - cpuBefore });
    }
  } finally {
    for (const stream of open) stream.close();
  }
  return medianOf(runs);
}

const fmt = (m) => `${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(2).padStart(6)} ms  p99 ${m.p99.toFixed(2).padStart(7)} ms  CPU ${m.cpu.toFixed(3)} ms/req`;
const results = [];

/** Each figure's median over rounds. */
function medianOf(measurements) {
  const figures = Object.keys(measurements[0]);
  return Object.fromEntries(figures.map((figure) => [figure, median(measurements.map((m) => m[figure]))]));
}

const servers = [];
try {
  for (const spec of positionals) {
    const [label, build] = spec.split('=');
    const server = await startWorker({ build, kv: values.kv });
    servers.push({ label, server, layered: !!(await setup(server.a, 'probe')), rounds: { c1: [], c16: [], setup: [] } });
  }
  // Builds take turns, round after round, so drift on a shared machine spreads over all.
  for (let round = 0; round < ROUNDS; round++) {
    for (const { server, rounds } of servers) {
      rounds.c1.push(await steady(server, 1));
      rounds.c16.push(await steady(server, 16));
      rounds.setup.push(await measure(server, 1, SETUPS, (_, i) => setup(server.a, `setup-${round}-${i}`)));
    }
  }
  for (const { label, server, layered, rounds } of servers) {
    const row = { label, c1: medianOf(rounds.c1), c16: medianOf(rounds.c16), setup: medianOf(rounds.setup) };
    if (layered) {
      row.arrival = {};
      for (const n of STREAMS) row.arrival[n] = await publish(server, n, true);
      row.unheard = await publish(server, Math.max(...STREAMS), false);
    }
    results.push(row);
  }
} finally {
  for (const { server } of servers) await server.stop();
}

console.log(`KV ${values.kv === 'separate' ? 'in a process of its own (its CPU not counted)' : 'simulated inside the Worker\'s workerd process (counted)'}`);
for (const row of results) {
  console.log(`== ${row.label}`);
  console.log(`  tools/call c=1   ${fmt(row.c1)}`);
  console.log(`  tools/call c=16  ${fmt(row.c16)}`);
  console.log(`  session setup    ${fmt(row.setup)}`);
  if (row.arrival) {
    console.log(`  publish → arrival (workerd CPU): ${Object.entries(row.arrival).map(([n, { ms, cpu }]) => `${n} streams ${ms.toFixed(1)} ms (${cpu} ms)`).join(', ')}`);
    console.log(`  publish to ${Math.max(...STREAMS)} subscribers with no stream open → answered: ${row.unheard.ms.toFixed(1)} ms (${row.unheard.cpu} ms)`);
  }
}
if (results.length > 1) {
  const [base, ...others] = results;
  for (const other of others) {
    const ratio = (key) => (other[key].cpu / base[key].cpu).toFixed(2);
    console.log(`CPU ${other.label} / ${base.label}: tools/call c=1 ×${ratio('c1')}, c=16 ×${ratio('c16')}, setup ×${ratio('setup')}; p99 c=16 ×${(other.c16.p99 / base.c16.p99).toFixed(2)}`);
  }
}
