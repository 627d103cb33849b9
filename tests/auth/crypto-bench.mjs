// One JWT signature check in a Worker, two ways (a benchmark, not a test): jsonwebtoken with
// its RustCrypto backend in the example Worker's wasm (what the crate uses; the test route
// `/__test/verify`), and the runtime's WebCrypto (`crypto.subtle.verify`) in a plain
// JavaScript Worker. Both under local workerd, each in a workerd process of its own; the figure
// is workerd CPU per check: (CPU of requests doing `n` checks − CPU of requests doing none) / n.
//
//   bash scripts/worker-build.sh --release && node tests/auth/crypto-bench.mjs [--n 200] [--requests 20]
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { freePort } from '../e2e/helpers.mjs';
import { startAuthorizationServer } from './authorization-server.mjs';
import { cpuMs, startWorker, workerdPids } from '../worker/bench-server.mjs';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    requests: { type: 'string', default: '20' },
    build: { type: 'string', default: 'examples/worker/build' },
  },
});
const N = Number(values.n);
const REQUESTS = Number(values.requests);
const here = path.dirname(fileURLToPath(import.meta.url));
const workerPackage = path.join(here, '../../examples/worker/package.json');
const { Miniflare } = await import(pathToFileURL(createRequire(workerPackage).resolve('miniflare')));

const WEBCRYPTO_WORKER = `
const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const keys = new Map();
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('n'));
    const token = url.searchParams.get('token');
    const jwk = JSON.parse(url.searchParams.get('jwk'));
    const rsa = jwk.kty === 'RSA';
    const importParams = rsa ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256' };
    const verifyParams = rsa ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
    let key = keys.get(jwk.kid);
    if (!key) {
      key = await crypto.subtle.importKey('jwk', jwk, importParams, false, ['verify']);
      keys.set(jwk.kid, key);
    }
    const [h, p, s] = token.split('.');
    let verified = 0;
    for (let i = 0; i < n; i++) {
      // As a verifier would per token: the signing input, the signature, the claims.
      const data = new TextEncoder().encode(h + '.' + p);
      if (await crypto.subtle.verify(verifyParams, key, b64(s), data)) {
        JSON.parse(new TextDecoder().decode(b64(p)));
        verified++;
      }
    }
    return Response.json({ verified });
  },
};`;

const as = await startAuthorizationServer();
const { issuer } = as;

async function mint(key, kid) {
  const t = Math.floor(Date.now() / 1000);
  const response = await fetch(`${issuer}/__control/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, kid, claims: { iss: issuer, sub: 'bench', aud: 'https://bench.example/mcp', iat: t, exp: t + 3600, scope: 'mcp:tools' } }),
  });
  return (await response.json()).token;
}
const jwks = await (await fetch(`${issuer}/jwks`)).json();
const cases = [
  { alg: 'RS256', token: await mint('rs256', 'rs-1'), jwk: jwks.keys.find((k) => k.kid === 'rs-1') },
  { alg: 'ES256', token: await mint('es256', 'es-1'), jwk: jwks.keys.find((k) => k.kid === 'es-1') },
];

const before = new Set(workerdPids(process.pid));
const jsPort = await freePort();
const mf = new Miniflare({ modules: true, script: WEBCRYPTO_WORKER, port: jsPort, host: '127.0.0.1' });
await mf.ready;
const jsPids = workerdPids(process.pid).filter((pid) => !before.has(pid));
const rust = await startWorker({ build: values.build });

const targets = [
  { label: 'jsonwebtoken (RustCrypto, wasm)', url: new URL('/__test/verify', rust.a.url).href, pids: rust.pids },
  { label: 'WebCrypto (crypto.subtle)', url: `http://127.0.0.1:${jsPort}/`, pids: jsPids },
];

async function cpuPerRequest(target, { token, jwk }, n) {
  const query = new URLSearchParams({ n: String(n), token, jwk: JSON.stringify(jwk) });
  const url = `${target.url}?${query}`;
  const check = await (await fetch(url)).json();
  if (check.verified !== n) throw new Error(`${target.label}: ${JSON.stringify(check)}`);
  const start = cpuMs(target.pids);
  for (let i = 0; i < REQUESTS; i++) await (await fetch(url)).arrayBuffer();
  return (cpuMs(target.pids) - start) / REQUESTS;
}

try {
  console.log(`CPU per signature check (workerd, ${REQUESTS} requests of ${N} checks, minus requests of none):`);
  for (const c of cases) {
    for (const target of targets) {
      const idle = await cpuPerRequest(target, c, 0);
      const busy = await cpuPerRequest(target, c, N);
      console.log(`  ${c.alg}  ${target.label.padEnd(32)} ${((busy - idle) / N * 1000).toFixed(1).padStart(7)} µs`);
    }
  }
} finally {
  await rust.stop();
  await mf.dispose();
  await as.close();
}
