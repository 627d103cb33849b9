// A client's start sequence — initialize, notifications/initialized, logging/setLevel,
// resources/subscribe, tools/call, each sent as soon as the previous one is answered — timed
// on the Worker under workerd with Cloudflare KV's write limit simulated and without it:
//
//   node tests/worker/start-sequence.mjs [runs]
//
// (builds nothing: run scripts/worker-build.sh --release first). kv-limit.test.mjs checks
// the same sequence for correctness.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

export const WATCHED = 'test://start-sequence';

/** Runs the start sequence on `mcp`; returns the session and how long it took. */
export async function startSequence(mcp) {
  const started = performance.now();
  const session = await mcp.initialize('start-sequence');
  await jsonRpcReply(await mcp.post(session, mcp.request(1, 'logging/setLevel', { level: 'error' })), 1);
  await jsonRpcReply(await mcp.post(session, mcp.request(2, 'resources/subscribe', { uri: WATCHED })), 2);
  await jsonRpcReply(await mcp.post(session, mcp.toolCall(3, 'test_simple_text')), 3);
  return { session, ms: performance.now() - started };
}

async function serve(extraArgs) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ports = [28787, 28788, 28789].map((p) => p + (extraArgs.length ? 10 : 0));
  const child = spawn('node', [
    path.join(here, 'serve.mjs'),
    '--port-a', String(ports[0]), '--port-b', String(ports[1]), '--port-c', String(ports[2]),
    ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  while (!output.includes('ready')) {
    if (child.exitCode !== null) throw new Error('the test server did not start');
    await sleep(100);
  }
  return { child, mcp: new Mcp(`http://127.0.0.1:${ports[0]}/mcp`) };
}

async function measure(runs) {
  const rows = [];
  for (const [label, args] of [['KV write limit on', []], ['KV write limit off', ['--no-kv-write-limit']]]) {
    const { child, mcp } = await serve(args);
    try {
      await startSequence(mcp); // warm-up
      const times = [];
      for (let n = 0; n < runs; n++) times.push((await startSequence(mcp)).ms);
      times.sort((a, b) => a - b);
      const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
      rows.push(`| ${label} | ${at(0.5).toFixed(1)} ms | ${at(0.9).toFixed(1)} ms | ${times.at(-1).toFixed(1)} ms |`);
    } finally {
      child.kill();
      await once(child, 'exit');
    }
  }
  console.log(`start sequence, ${runs} runs each\n| KV | median | p90 | max |\n| --- | --- | --- | --- |`);
  console.log(rows.join('\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await measure(Number(process.argv[2] ?? 30));
}
