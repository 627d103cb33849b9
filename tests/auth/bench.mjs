// What verifying bearer tokens costs the Worker (a benchmark, not a test: it asserts nothing).
// One run, builds taking turns over rounds: the example Worker without auth, and the same
// build with auth on (its [vars] pointing at authorization-server.mjs), driven with RS256 and
// with ES256 tokens: the same token on every request (its verdict reused), and a token never
// seen before on every request (a signature check each). Keys are warm (the JWKS was fetched
// before measuring). Reports req/s, p50/p99 and workerd CPU per `tools/call` at
// concurrency 1 and 16, each the median over the rounds.
//
//   bash scripts/worker-build.sh --release && node tests/auth/bench.mjs [--requests 2000] [--rounds 3]
import { parseArgs } from 'node:util';

import { jsonRpcReply, median, percentile } from '../e2e/helpers.mjs';
import { startAuthorizationServer } from './authorization-server.mjs';
import { cpuMs, setup, startWorker } from '../worker/bench-server.mjs';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    build: { type: 'string', default: 'examples/worker/build' },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
// Only an identifier here (the tokens' audience); requests go to the local port.
const RESOURCE = 'https://bench.example/mcp';

const as = await startAuthorizationServer();
const { issuer } = as;

/** `count` tokens of subject bench-<key>, each with its own jti. */
async function mint(key, count = 1) {
  const t = Math.floor(Date.now() / 1000);
  const response = await fetch(`${issuer}/__control/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      key,
      count,
      kid: key === 'rs256' ? 'rs-1' : 'es-1',
      claims: { iss: issuer, sub: `bench-${key}`, aud: RESOURCE, iat: t, exp: t + 3600, scope: 'mcp:tools' },
    }),
  });
  return (await response.json()).tokens;
}

const builds = {
  'no auth': await startWorker({ build: values.build }),
  auth: await startWorker({
    build: values.build,
    vars: { MCP_AUTH_ISSUER: issuer, MCP_RESOURCE: RESOURCE, MCP_AUTH_SCOPES: 'mcp:tools' },
  }),
};
// Tokens for the rows where every request brings a token not seen before, so each is a
// signature check (the layer reuses a verified token's verdict for a minute).
// Enough for every request of the measured rounds (both concurrencies, sessions included).
const FRESH = ROUNDS * 2 * (REQUESTS + 32);
const bearer = (token) => ({ authorization: `Bearer ${token}` });
const fixed = (headers) => () => headers;
function fresh(tokens) {
  let next = 0;
  return () => {
    if (next === tokens.length) throw new Error('token pool used up');
    return bearer(tokens[next++]);
  };
}
const rows = [
  { label: 'no auth', server: builds['no auth'], headers: fixed({}) },
  { label: 'RS256', server: builds.auth, headers: fixed(bearer((await mint('rs256'))[0])) },
  { label: 'ES256', server: builds.auth, headers: fixed(bearer((await mint('es256'))[0])) },
  { label: 'RS256 new', server: builds.auth, headers: fresh(await mint('rs256', FRESH)), fresh: true },
  { label: 'ES256 new', server: builds.auth, headers: fresh(await mint('es256', FRESH)), fresh: true },
];

async function measure(row, concurrency) {
  const { a } = row.server;
  const sessions = [];
  for (let i = 0; i < concurrency; i++) sessions.push(await setupWith(a, row.headers()));
  const latencies = [];
  const perLoop = Math.ceil(REQUESTS / concurrency);
  const cpuBefore = cpuMs(row.server.pids);
  const started = performance.now();
  await Promise.all(sessions.map(async (session, loop) => {
    for (let i = 0; i < perLoop; i++) {
      const t = performance.now();
      const id = loop * perLoop + i + 1;
      const response = await a.post(session, a.toolCall(id, 'test_simple_text'), row.headers());
      if (response.status !== 200) throw new Error(`${row.label}: HTTP ${response.status}`);
      await jsonRpcReply(response, id);
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - started;
  return {
    rps: latencies.length / (elapsed / 1000),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    cpu: (cpuMs(row.server.pids) - cpuBefore) / latencies.length,
  };
}

async function setupWith(mcp, headers) {
  const response = await mcp.post(undefined, mcp.request(0, 'initialize', {
    protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' },
  }), headers);
  if (response.status !== 200) throw new Error(`initialize: HTTP ${response.status}`);
  const session = response.headers.get('mcp-session-id');
  await response.arrayBuffer();
  const initialized = await mcp.post(session, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  await initialized.arrayBuffer();
  return session;
}

try {
  // Warm-up: JIT, and the auth build's metadata and key set fetched.
  for (const row of rows.filter((r) => !r.fresh)) await measure(row, 4);
  const results = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    for (const concurrency of [1, 16]) {
      for (const row of rows) {
        const key = `${row.label} c=${concurrency}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(await measure(row, concurrency));
      }
    }
  }
  console.log(`tools/call, ${REQUESTS} per row and round, median of ${ROUNDS} rounds (local workerd):`);
  console.log('row              req/s     p50 ms   p99 ms   CPU ms/req   CPU added');
  for (const concurrency of [1, 16]) {
    const base = median(results.get(`no auth c=${concurrency}`).map((r) => r.cpu));
    for (const row of rows) {
      const runs = results.get(`${row.label} c=${concurrency}`);
      const m = (f) => median(runs.map(f));
      const cpu = m((r) => r.cpu);
      console.log(
        `${`${row.label} c=${concurrency}`.padEnd(15)} ${m((r) => r.rps).toFixed(0).padStart(6)}  ${m((r) => r.p50).toFixed(2).padStart(8)} ${m((r) => r.p99).toFixed(2).padStart(8)}  ${cpu.toFixed(3).padStart(10)}  ${row.label === 'no auth' ? '' : `${(cpu - base >= 0 ? '+' : '')}${(cpu - base).toFixed(3)} ms`}`,
      );
    }
  }
} finally {
  for (const server of Object.values(builds)) await server.stop();
  await as.close();
}
