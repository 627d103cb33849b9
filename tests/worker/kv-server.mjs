// Workers KV in a workerd process of its own, for load benchmarks: Miniflare's KV simulation
// behind a small HTTP API, so the CPU it spends is not counted as the Worker's. (On Cloudflare
// KV runs outside the Worker; under one Miniflare its simulation shares the Worker's process.)
// serve.mjs `--kv-url URL` gives the Workers a binding that forwards every operation here.
//
//   node tests/worker/kv-server.mjs --port 8790
//
// Prints `ready URL` when it listens, then runs until killed.
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8790' } } });
const here = path.dirname(fileURLToPath(import.meta.url));
const workerPackage = path.join(here, '../../examples/worker/package.json');
const { Miniflare } = await import(pathToFileURL(createRequire(workerPackage).resolve('miniflare')));

const host = '127.0.0.1';
const mf = new Miniflare({
  host,
  port: Number(values.port),
  cf: false,
  modules: true,
  kvNamespaces: { KV: 'mcp-edge-session-sessions' },
  // One POST per operation: {op, key | keys, value, options}; Maps come back as entry lists.
  script: `
    export default {
      async fetch(request, { KV }) {
        const { op, key, keys, value, options } = await request.json();
        switch (op) {
          case 'get': {
            const found = await KV.get(keys ?? key, options);
            return Response.json(found instanceof Map ? { entries: [...found] } : { value: found });
          }
          case 'getWithMetadata':
            return Response.json(await KV.getWithMetadata(key, options));
          case 'put':
            await KV.put(key, value, options);
            return Response.json({});
          case 'delete':
            await KV.delete(key);
            return Response.json({});
          case 'list':
            return Response.json(await KV.list(options));
          default:
            return new Response('unknown operation', { status: 400 });
        }
      },
    };`,
});
await mf.ready;
console.log(`ready http://${host}:${values.port}/`);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
