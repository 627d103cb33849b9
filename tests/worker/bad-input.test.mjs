// The bad-input table of tests/bad_input.rs (tests/bad_input.json) against the Worker under
// workerd, over raw HTTP/1.1 so every byte of the request is the table's: each case gets its
// status and JSON-RPC error body, and a session opened before keeps working.
//
//   MCP_URL_A=… node --test tests/worker/bad-input.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { it } from 'node:test';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import { LEGACY, Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const url = new URL(A.url);
const cases = JSON.parse(readFileSync(new URL('../bad_input.json', import.meta.url), 'utf8'));

const bytes = (text) => (text.startsWith('hex:') ? Buffer.from(text.slice(4), 'hex') : Buffer.from(text, 'latin1'));

function body(c, session) {
  if (c.nested) {
    const nested = '['.repeat(c.nested) + ']'.repeat(c.nested);
    return Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"a":${nested}}}`);
  }
  if (c.raw !== undefined) return Buffer.from(c.raw.repeat(c.repeat ?? 1), 'latin1');
  if (c.raw_hex !== undefined) return Buffer.from(c.raw_hex, 'hex');
  if (c.body !== undefined) return Buffer.from(JSON.stringify(c.body).replaceAll('$session', session));
  return Buffer.alloc(0);
}

/** One request over its own connection; resolves to { status, type, body }. */
function send(c, session) {
  const headers = {
    host: url.host,
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-protocol-version': LEGACY,
    ...(c.session ? { 'mcp-session-id': session } : {}),
    ...(c.headers ?? {}),
  };
  const payload = body(c, session);
  // A large body is declared but not sent: the answer (413) must come from the declared
  // length alone, and a server that answers early and closes would race a client still writing.
  const sent = payload.length > 4 * 1024 * 1024 ? Buffer.alloc(0) : payload;
  const lines = [Buffer.from(`${c.method ?? 'POST'} ${url.pathname} HTTP/1.1\r\n`)];
  for (const [name, value] of Object.entries(headers)) {
    if (value === null || name === 'content-length') continue;
    lines.push(Buffer.concat([Buffer.from(`${name}: `), bytes(value.replaceAll('$session', session)), Buffer.from('\r\n')]));
  }
  lines.push(Buffer.from(`content-length: ${payload.length}\r\nconnection: close\r\n\r\n`));
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    const done = () => (chunks.length ? resolve(parse(Buffer.concat(chunks))) : reject(new Error(`${c.name}: no answer`)));
    socket.on('data', () => {
      if (complete(Buffer.concat(chunks))) socket.destroy();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.setTimeout(10000, () => socket.destroy(new Error(`${c.name}: no answer`)));
    socket.write(Buffer.concat([...lines, sent]));
  });
}

/** Whether `raw` holds a whole response (by its length or its last chunk). */
function complete(raw) {
  const split = raw.indexOf('\r\n\r\n');
  if (split === -1) return false;
  const head = raw.subarray(0, split).toString('latin1').toLowerCase();
  const length = head.match(/\r\ncontent-length: *(\d+)/);
  if (length) return raw.length >= split + 4 + Number(length[1]);
  if (head.includes('transfer-encoding: chunked')) return raw.subarray(split).includes('\r\n0\r\n\r\n');
  return false;
}

function parse(raw) {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let rest = raw.subarray(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts = [];
    for (;;) {
      const end = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, end).toString(), 16);
      if (!size) break;
      parts.push(rest.subarray(end + 2, end + 2 + size));
      rest = rest.subarray(end + 4 + size);
    }
    rest = Buffer.concat(parts);
  }
  return { status, type: headers['content-type'], body: rest.toString('utf8') };
}

it('answers every bad request clearly and harms no session (the Worker)', async () => {
  const session = await A.initialize('bad-input');
  const failures = [];
  let n = 0;
  for (const c of cases) {
    if (c.native_only) continue;
    n += 1;
    const { status, type, body: text } = await send(c, session);
    let code;
    try {
      code = JSON.parse(text)?.error?.code;
    } catch {
      code = undefined;
    }
    if (status !== c.status || code !== c.code || (c.code !== undefined && type !== 'application/json')) {
      failures.push(`${c.name}: expected ${c.status} ${c.code}, got ${status} ${code} (${type}): ${text.slice(0, 200)}`);
    }
    const call = await jsonRpcReply(await A.post(session, A.toolCall(1000 + n, 'test_simple_text')), 1000 + n);
    assert.ok(call.result, `the session works after ${c.name}: ${JSON.stringify(call)}`);
  }
  assert.ok(n >= 60, `${n} cases`);
  assert.deepEqual(failures, []);
});
