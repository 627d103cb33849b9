// Runs the example Worker on local workerd through Miniflare: two Worker scripts ("a" and
// "b") built from the same bundle, sharing one KV namespace and one Durable Object namespace
// (the hub class lives in "a"; "b" binds it by script name), so tests can put two isolates in
// front of one hub.
//
// A third script ("c") runs the same Worker against a hub that always fails, to show that
// plain POSTs keep working when streams cannot.
//
// Local KV takes any number of writes; Cloudflare's takes one write per second per key and
// refuses the next with 429. The Workers see the namespace through a wrapper that does the
// same (shared by all isolates: it keeps the time of each key's last write in KV itself), unless
// `--no-kv-write-limit` is given.
//
//   node tests/worker/serve.mjs --port-a 8787 --port-b 8788 --port-c 8789 [--persist DIR]
//     [--build DIR] [--no-kv-write-limit] [--kv-url URL] [--inspector PORT] [--var NAME=VALUE]...
//
// `--var NAME=VALUE` (repeatable) adds a plain text binding to each of the Workers a, b and c
// (as a `[vars]` entry of wrangler.toml would), e.g. the auth settings of tests/auth/run.sh.
//
// `--kv-url URL` keeps KV in another process (kv-server.mjs there; no write limit), so load
// benchmarks count only the Worker's own CPU.
//
// `--inspector PORT` opens workerd's V8 inspector there (for CPU profiles, see
// tests/worker/profile.mjs).
//
// Prints one line `ready A_URL B_URL C_URL` when all listen, then runs until killed.
import path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";

const { values } = parseArgs({
  options: {
    "port-a": { type: "string", default: "8787" },
    "port-b": { type: "string", default: "8788" },
    "port-c": { type: "string", default: "8789" },
    persist: { type: "string" },
    build: { type: "string" },
    "no-kv-write-limit": { type: "boolean", default: false },
    inspector: { type: "string" },
    "kv-url": { type: "string" },
    var: { type: "string", multiple: true, default: [] },
  },
});

const vars = Object.fromEntries(
  values.var.map((entry) => {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new Error(`--var takes NAME=VALUE, not ${JSON.stringify(entry)}`);
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  }),
);

const here = path.dirname(fileURLToPath(import.meta.url));
// Miniflare is installed with the Worker's own npm tooling (examples/worker/package.json).
const workerPackage = path.join(here, "../../examples/worker/package.json");
const { Miniflare } = await import(pathToFileURL(createRequire(workerPackage).resolve("miniflare")));
const build = path.resolve(values.build ?? path.join(here, "../../examples/worker/build"));
const host = "127.0.0.1";

const KV_NAMESPACE = "mcp-edge-session-sessions";

// Cloudflare KV's per-key write limit, as a wrapped binding around the real namespace.
const rateLimitedKv = {
  name: "rate-limited-kv",
  modules: true,
  kvNamespaces: { KV: KV_NAMESPACE },
  script: `
    const WINDOW_MS = 1000;
    export default function ({ KV }) {
      async function oneWritePerSecond(key) {
        const marker = "__last-write:" + key;
        const last = Number(await KV.get(marker));
        const now = Date.now();
        if (last && now - last < WINDOW_MS) {
          throw new Error("KV PUT failed: 429 Too Many Requests");
        }
        await KV.put(marker, String(now), { expirationTtl: 60 });
      }
      return {
        get: (key, options) => KV.get(key, options),
        getWithMetadata: (key, options) => KV.getWithMetadata(key, options),
        list: (options) => KV.list(options),
        async put(key, value, options) {
          await oneWritePerSecond(key);
          return KV.put(key, value, options);
        },
        async delete(key) {
          await oneWritePerSecond(key);
          return KV.delete(key);
        },
      };
    }`,
};

// KV in another process (kv-server.mjs): each operation a POST there, as on Cloudflare a KV
// operation is a subrequest to a service outside the Worker.
const remoteKv = {
  name: "remote-kv",
  modules: true,
  script: `
    export default function ({ url }) {
      async function call(body) {
        const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
        if (!response.ok) throw new Error("KV " + body.op + " failed: " + response.status + " " + await response.text());
        return response.json();
      }
      const typed = (options) => (typeof options === "string" ? { type: options } : options);
      return {
        async get(key, options) {
          const many = Array.isArray(key);
          const found = await call({ op: "get", ...(many ? { keys: key } : { key }), options: typed(options) });
          return many ? new Map(found.entries) : found.value;
        },
        getWithMetadata: (key, options) => call({ op: "getWithMetadata", key, options: typed(options) }),
        list: (options) => call({ op: "list", options }),
        put: async (key, value, options) => { await call({ op: "put", key, value, options }); },
        delete: async (key) => { await call({ op: "delete", key }); },
      };
    }`,
};

function sessionKv() {
  if (values["kv-url"]) {
    // For benchmarks only: the contract's test route has no namespace of its own here.
    return { wrappedBindings: { TMCP_SESSION_INFO: { scriptName: "remote-kv", bindings: { url: values["kv-url"] } } } };
  }
  // The backend contract (a test route) checks what the store guarantees with back-to-back
  // writes, so it gets the namespace without the write limit.
  return values["no-kv-write-limit"]
    ? { kvNamespaces: { TMCP_SESSION_INFO: KV_NAMESPACE, MCP_CONTRACT_KV: KV_NAMESPACE } }
    : {
        kvNamespaces: { MCP_CONTRACT_KV: KV_NAMESPACE },
        wrappedBindings: { TMCP_SESSION_INFO: { scriptName: "rate-limited-kv" } },
      };
}

// The namespace where Cloudflare's workers-oauth-provider keeps its tokens, for the Worker's
// MCP_AUTH_KV mode (tests/auth/kv-tokens.test.mjs writes records there).
const OAUTH_KV_NAMESPACE = "oauth-provider-tokens";

function worker(name, port, hub) {
  const kv = sessionKv();
  return {
    name,
    modules: true,
    scriptPath: path.join(build, "index.js"),
    modulesRoot: build,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    compatibilityFlags: ["enable_request_signal"],
    ...kv,
    kvNamespaces: { ...kv.kvNamespaces, OAUTH_KV: OAUTH_KV_NAMESPACE },
    durableObjects: {
      TMCP_DURABLE_OBJECT: hub ?? { className: "McpSessionHub", useSQLite: true },
    },
    unsafeDirectSockets: [{ host, port: Number(port) }],
    bindings: { MCP_TEST_ROUTES: "1", ...vars },
  };
}

const persist = values.persist ? path.resolve(values.persist) : undefined;
const mf = new Miniflare({
  host,
  port: 0,
  cf: false,
  ...(values.inspector ? { inspectorPort: Number(values.inspector) } : {}),
  kvPersist: persist && path.join(persist, "kv"),
  durableObjectsPersist: persist && path.join(persist, "do"),
  workers: [
    worker("a", values["port-a"]),
    rateLimitedKv,
    remoteKv,
    worker("b", values["port-b"], { className: "McpSessionHub", scriptName: "a" }),
    worker("c", values["port-c"], { className: "BrokenHub", scriptName: "broken" }),
    {
      name: "broken",
      modules: true,
      script: `export class BrokenHub {
        fetch() { return new Response("hub down", { status: 500 }); }
      }
      export default { fetch() { return new Response("", { status: 404 }); } };`,
      durableObjects: { BROKEN: "BrokenHub" },
    },
  ],
});
await mf.ready;
const url = (port) => `http://${host}:${port}/mcp`;
console.log(`ready ${url(values["port-a"])} ${url(values["port-b"])} ${url(values["port-c"])}`);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
