// The example Worker under workerd for benchmarks and profiles (load.mjs, profile.mjs): started
// through serve.mjs without the simulated KV write limit (its wrapper's own KV operations are
// not the layer's), with KV in a workerd process of its own or not, and the CPU time of the
// Worker's workerd process.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// /proc reports CPU time in clock ticks of 10 ms (USER_HZ = 100 on Linux).
const MS_PER_TICK = 10;

/** The workerd processes below `pid`. */
export function workerdPids(pid) {
  const children = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8').trim();
      const [, comm, rest] = stat.match(/^\d+ \((.*)\) (.*)$/);
      const ppid = Number(rest.split(' ')[1]);
      if (ppid === pid) {
        if (comm.startsWith('workerd')) children.push(Number(entry));
        children.push(...workerdPids(Number(entry)));
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return children;
}

/** utime + stime of the processes (all their threads), in milliseconds. */
export function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks * MS_PER_TICK;
}

/** Spawns a script that prints `ready …` once it serves; resolves with the process. */
async function spawnReady(script, args) {
  const child = spawn(process.execPath, [path.join(here, script), ...args.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('ready') && resolve());
    child.on('exit', () => reject(new Error(`${script} exited`)));
  });
  return child;
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
}

/**
 * Starts the Worker built in `build`. `kv`: 'separate' (KV in its own workerd process,
 * kv-server.mjs, so its CPU is not counted) or 'in-process' (Miniflare's KV simulation in the
 * Worker's process). `inspector`: a port for workerd's V8 inspector. Resolves with `a` (an
 * Mcp client of isolate A), `pids` (the Worker's workerd processes), `stop()`. `vars`: text
 * bindings of the Worker (its `[vars]`).
 */
export async function startWorker({ build, kv = 'separate', inspector, vars = {} }) {
  if (!['separate', 'in-process'].includes(kv)) throw new Error('kv is separate or in-process');
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  const args = ['--port-a', a, '--port-b', b, '--port-c', c, '--build', path.resolve(build), '--no-kv-write-limit'];
  if (inspector) args.push('--inspector', inspector);
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}=${value}`);
  let kvServer;
  if (kv === 'separate') {
    const port = await freePort();
    kvServer = await spawnReady('kv-server.mjs', ['--port', port]);
    args.push('--kv-url', `http://127.0.0.1:${port}/`);
  }
  let worker;
  try {
    worker = await spawnReady('serve.mjs', args);
  } catch (error) {
    if (kvServer) await stop(kvServer);
    throw error;
  }
  const stopAll = async () => {
    await stop(worker);
    if (kvServer) await stop(kvServer);
  };
  const pids = workerdPids(worker.pid);
  if (pids.length === 0) {
    await stopAll();
    throw new Error('no workerd process found');
  }
  return { a: new Mcp(`http://127.0.0.1:${a}/mcp`), pids, stop: stopAll };
}

/** initialize + notifications/initialized; the session id, or undefined without a layer. */
export async function setup(mcp, name) {
  const response = await mcp.post(undefined, mcp.request(0, 'initialize', {
    protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' },
  }));
  const session = response.headers.get('mcp-session-id') ?? undefined;
  await response.arrayBuffer();
  const initialized = await mcp.post(session, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await initialized.arrayBuffer();
  return session;
}
