// Runs the example Worker on local workerd through Miniflare: two Worker scripts ("a" and
// "b") built from the same bundle, sharing one KV namespace and one Durable Object namespace
// (the hub class lives in "a"; "b" binds it by script name), so tests can put two isolates in
// front of one hub.
//
//   node tests/worker/serve.mjs --port-a 8787 --port-b 8788 [--persist DIR]
//
// Prints one line `ready A_URL B_URL` when both listen, then runs until killed.
import path from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";

const { values } = parseArgs({
  options: {
    "port-a": { type: "string", default: "8787" },
    "port-b": { type: "string", default: "8788" },
    persist: { type: "string" },
    build: { type: "string" },
  },
});

const here = path.dirname(fileURLToPath(import.meta.url));
// Miniflare is installed with the Worker's own npm tooling (examples/worker/package.json).
const workerPackage = path.join(here, "../../examples/worker/package.json");
const { Miniflare } = await import(pathToFileURL(createRequire(workerPackage).resolve("miniflare")));
const build = path.resolve(values.build ?? path.join(here, "../../examples/worker/build"));
const host = "127.0.0.1";

function worker(name, port, hubScript) {
  return {
    name,
    modules: true,
    scriptPath: path.join(build, "index.js"),
    modulesRoot: build,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    kvNamespaces: { TMCP_SESSION_INFO: "mcp-edge-session-sessions" },
    durableObjects: {
      TMCP_DURABLE_OBJECT: hubScript
        ? { className: "McpSessionHub", scriptName: hubScript }
        : { className: "McpSessionHub", useSQLite: true },
    },
    unsafeDirectSockets: [{ host, port: Number(port) }],
    bindings: { MCP_TEST_ROUTES: "1" },
  };
}

const persist = values.persist ? path.resolve(values.persist) : undefined;
const mf = new Miniflare({
  host,
  port: 0,
  cf: false,
  kvPersist: persist && path.join(persist, "kv"),
  durableObjectsPersist: persist && path.join(persist, "do"),
  workers: [worker("a", values["port-a"]), worker("b", values["port-b"], "a")],
});
await mf.ready;
console.log(`ready http://${host}:${values["port-a"]}/mcp http://${host}:${values["port-b"]}/mcp`);

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
