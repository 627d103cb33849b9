// CPU profiles of the example Worker under local workerd (not a test: it asserts nothing).
// Starts workerd (serve.mjs) with its V8 inspector open, drives one workload, and prints, for
// the Worker's isolate and the KV simulation's, where the sampled time went: by kind (wasm,
// JavaScript, runtime built-ins, garbage collection), by share (KV store, hub stub, hub
// object, inner MCP service, the rest of the layer, the Worker's glue; see SHARES) and by
// function. Sampling inflates calls across the wasm/JavaScript boundary, so read shares as
// proportions, not as the CPU a request costs (load.mjs measures that).
//
//   node tests/worker/profile.mjs [--build DIR] [--workload setup|steady|arrival]
//     [--count N] [--runs 1] [--kv in-process|separate] [--top 25] [--save DIR]
//
// `--save DIR` also writes each isolate's profile there (`.cpuprofile`, for DevTools).
//
// Workloads: `setup` (initialize + notifications/initialized, N times), `steady` (N
// `tools/call` on one session), `arrival` (N open GET streams, one resource update to all).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { freePort, jsonRpcReply } from '../e2e/helpers.mjs';
import { setup as setupSession, startWorker } from './bench-server.mjs';
import { listen } from './sse-listener.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    build: { type: 'string', default: path.join(here, '../../examples/worker/build') },
    workload: { type: 'string', default: 'setup' },
    count: { type: 'string' },
    top: { type: 'string', default: '25' },
    save: { type: 'string' },
    runs: { type: 'string', default: '1' },
    kv: { type: 'string', default: 'in-process' },
  },
});
const WebSocket = createRequire(path.join(here, '../../examples/worker/package.json'))('ws');

/** A Chrome DevTools Protocol session on one inspector target. */
async function devtools(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  let next = 0;
  const pending = new Map();
  socket.on('message', (raw) => {
    const message = JSON.parse(raw);
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    message.error ? waiter.reject(new Error(message.error.message)) : waiter.resolve(message.result);
  });
  return {
    send: (method, params = {}) => new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    }),
    close: () => socket.close(),
  };
}

/** What kind of code a profile node is. */
function kindOf({ functionName, url }) {
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') return functionName;
  if (url.startsWith('wasm://')) return 'wasm';
  if (url === '') return 'runtime built-ins';
  return 'JavaScript';
}

/**
 * Where a sample's time goes, by what is on its stack, most specific first: the session store,
 * the hub (the Worker's stub, or the Durable Object itself), the inner MCP service, the rest of
 * the layer, the Worker's own glue (request and body conversions, the async runtime); what is
 * left ran outside any of them (the runtime's own work, garbage collection).
 */
const SHARES = [
  ['KV store', /KvSessionStore|cloudflare::kv::|cloudflare::recent::/],
  ['hub stub', /DurableObjectHub|cloudflare::hub::|cloudflare::socket::/],
  ['hub object', /McpSessionHub|cloudflare::object::/],
  ['inner service', /rmcp::|everything_fixture|mcp_edge_session::rmcp::/],
  ['layer', /mcp_edge_session::/],
  ['Worker glue', /mcp_edge_session_worker::|worker::|wasm_bindgen|js_sys|^__wbg|\[index\.js\]/],
];

function shareOf(stack) {
  for (const [name, pattern] of SHARES) {
    if (stack.some((frame) => pattern.test(frame))) return name;
  }
  return 'runtime, GC, other';
}

/** Self time (ms) per function, per kind and per share in a V8 CPU profile. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map();
  const kinds = new Map();
  const shares = new Map();
  for (const [id, micros] of self) {
    const { callFrame } = byId.get(id);
    const kind = kindOf(callFrame);
    const name = `${callFrame.functionName || '(anonymous)'} [${kind === 'JavaScript' ? path.basename(callFrame.url) : kind}]`;
    functions.set(name, (functions.get(name) ?? 0) + micros / 1000);
    kinds.set(kind, (kinds.get(kind) ?? 0) + micros / 1000);
    if (kind === '(idle)' || kind === '(root)') continue;
    const stack = [];
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at).callFrame;
      stack.push(frame.url && !frame.url.startsWith('wasm://') ? `${frame.functionName} [${path.basename(frame.url)}]` : frame.functionName);
    }
    const share = shareOf(stack);
    shares.set(share, (shares.get(share) ?? 0) + micros / 1000);
  }
  return { functions, kinds, shares };
}

const inspector = await freePort();
const server = await startWorker({ build: values.build, kv: values.kv, inspector });
const { a: mcp } = server;
const setup = (name) => setupSession(mcp, name);

/** The workload: something to prepare (not profiled) and something to run (profiled). */
const workloads = {
  setup: (count = 300) => ({
    prepare: async () => { for (let i = 0; i < 20; i++) await setup(`warm-${i}`); },
    run: async () => { for (let i = 0; i < count; i++) await setup(`setup-${i}`); },
  }),
  steady: (count = 1000) => {
    let session;
    return {
      prepare: async () => {
        session = await setup('steady');
        for (let i = 0; i < 20; i++) await jsonRpcReply(await mcp.post(session, mcp.toolCall(i, 'test_simple_text')), i);
      },
      run: async () => {
        for (let i = 0; i < count; i++) await jsonRpcReply(await mcp.post(session, mcp.toolCall(100 + i, 'test_simple_text')), 100 + i);
      },
    };
  },
  arrival: (count = 1000) => {
    const uri = 'test://profile';
    const open = [];
    let publisher;
    return {
      prepare: async () => {
        for (let i = 0; i < count; i++) {
          const session = await setup(`stream-${i}`);
          await jsonRpcReply(await mcp.post(session, mcp.request(1, 'resources/subscribe', { uri })), 1);
          open.push(await listen(mcp.url, session));
        }
        publisher = await setup('publisher');
      },
      run: async (run) => {
        const arrivals = open.map((stream) => stream.next());
        await jsonRpcReply(await mcp.post(publisher, mcp.toolCall(7 + run, 'touch_resource', { uri })), 7 + run);
        await Promise.all(arrivals);
      },
    };
  },
};
try {
  const workload = workloads[values.workload](values.count && Number(values.count));
  await workload.prepare();

  const targets = await (await fetch(`http://127.0.0.1:${inspector}/json/list`)).json();
  const sessions = [];
  // The Worker's isolate (it also runs the hub object) and the KV simulation; Miniflare's own
  // proxies and caches are the same for every build.
  for (const target of targets.filter(({ id }) => id === 'core:user:a' || id === 'core:user:remote-kv' || id.startsWith('kv:'))) {
    const session = await devtools(target.webSocketDebuggerUrl);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 100 });
    await session.send('Profiler.start');
    sessions.push({ id: target.id, session });
  }
  const started = performance.now();
  for (let run = 0; run < Number(values.runs); run++) await workload.run(run);
  const elapsed = performance.now() - started;
  console.log(`${values.workload}: ${elapsed.toFixed(0)} ms wall`);
  for (const { id, session } of sessions) {
    const { profile } = await session.send('Profiler.stop');
    session.close();
    if (values.save) writeFileSync(path.join(values.save, `${id.replaceAll(':', '_')}.cpuprofile`), JSON.stringify(profile));
    const { functions, kinds, shares } = summarize(profile);
    const busy = [...kinds].filter(([kind]) => kind !== '(idle)' && kind !== '(root)').reduce((sum, [, ms]) => sum + ms, 0);
    if (busy < 1) continue;
    const percent = (ms) => `${((100 * ms) / busy).toFixed(1)} %`;
    console.log(`\n== ${id}: ${busy.toFixed(1)} ms sampled busy`);
    console.log(`  by kind:  ${[...kinds].filter(([k]) => k !== '(idle)' && k !== '(root)').sort((x, y) => y[1] - x[1]).map(([k, ms]) => `${k} ${percent(ms)}`).join(', ')}`);
    console.log(`  by share: ${[...shares].sort((x, y) => y[1] - x[1]).map(([k, ms]) => `${k} ${percent(ms)}`).join(', ')}`);
    for (const [name, ms] of [...functions].filter(([name]) => !name.startsWith('(idle)')).sort((x, y) => y[1] - x[1]).slice(0, Number(values.top))) {
      console.log(`  ${ms.toFixed(2).padStart(9)} ms  ${name}`);
    }
  }
} finally {
  await server.stop();
}
