// Measures the Worker under local workerd (serve.mjs running): backend operations per request
// kind, and the time from publishing a resource update to its arrival on 1, 10 and 100 open
// GET streams (medians of several runs). Prints a report; asserts nothing.
//
//   MCP_URL_A=… MCP_URL_B=… node tests/worker/measure.mjs [--runs 7]

import { parseArgs } from 'node:util';

import { jsonRpcReply, sseMessages } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);
const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);

const stats = async (mcp) => (await fetch(mcp.testRoute('stats'))).json();
const diff = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function costs() {
  let before = await stats(A);
  const session = await A.initialize('measure');
  const init = diff(await stats(A), before);

  const steadyCalls = 10;
  before = await stats(A);
  for (let i = 1; i <= steadyCalls; i++) {
    await jsonRpcReply(await A.post(session, A.toolCall(i, 'test_simple_text')), i);
  }
  const steady = diff(await stats(A), before);

  before = await stats(A);
  await jsonRpcReply(await A.post(session, A.request(20, 'resources/subscribe', { uri: 'test://measure' })), 20);
  const subscribe = diff(await stats(A), before);

  before = await stats(A);
  const stream = await A.get(session);
  const messages = sseMessages(stream.body);
  const getOpen = diff(await stats(A), before);

  // A notification published by a tool call; the call's own cost is the steady cost above.
  before = await stats(A);
  await jsonRpcReply(await A.post(session, A.toolCall(21, 'touch_resource', { uri: 'test://measure' })), 21);
  await messages.next();
  const touch = diff(await stats(A), before);
  await messages.return();
  await stream.body.cancel();

  const per = (d, n) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v / n]));
  console.log('backend operations (this isolate, Workers KV and hub Durable Object requests):');
  console.log('  initialize + notifications/initialized:', init);
  console.log('  steady POST (tools/call):              ', per(steady, steadyCalls));
  console.log('  resources/subscribe:                   ', subscribe);
  console.log('  GET stream open:                       ', getOpen);
  console.log('  tools/call publishing one resource update (incl. the call):', touch);
}

async function latency(streams) {
  const uri = `test://latency/${streams}`;
  const open = [];
  for (let i = 0; i < streams; i++) {
    const session = await A.initialize(`latency-${i}`);
    await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri })), 1);
    const response = await A.get(session);
    open.push({ response, messages: sseMessages(response.body) });
  }
  const publisher = await B.initialize('latency-publisher');
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const arrivals = open.map(({ messages }) => messages.next().then(() => performance.now()));
    await jsonRpcReply(await B.post(publisher, B.toolCall(100 + run, 'touch_resource', { uri })), 100 + run);
    const last = Math.max(...(await Promise.all(arrivals)));
    times.push(last - started);
  }
  for (const { response, messages } of open) {
    await messages.return();
    await response.body.cancel();
  }
  console.log(`  ${String(streams).padStart(3)} streams: median ${median(times).toFixed(1)} ms  (runs: ${times.map((t) => t.toFixed(1)).join(', ')})`);
}

await costs();
console.log(`publish → arrival on every open GET stream (publisher on isolate B, streams on A; ${RUNS} runs):`);
for (const n of [1, 10, 100]) await latency(n);
