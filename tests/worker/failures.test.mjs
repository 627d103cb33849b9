// Failure behaviour under workerd: with the hub unreachable (script "c" binds a hub object
// that always fails), plain POSTs keep working and only streams fail, with a 503 and a
// JSON-RPC error; a client that disconnects releases its WebSocket on the hub.
//
//   MCP_URL_A=… MCP_URL_C=… node --test tests/worker/failures.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import { LEGACY, Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const C = new Mcp(process.env.MCP_URL_C);

async function assertUnavailable(response) {
  assert.equal(response.status, 503);
  assert.equal(response.headers.get('content-type'), 'application/json');
  const body = await response.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.error.code, -32003);
}

describe('failure behaviour', () => {
  it('keeps plain POSTs working when the hub is down; streams get 503', async () => {
    const session = await C.initialize('broken-hub');
    const reply = await jsonRpcReply(await C.post(session, C.toolCall(1, 'test_simple_text')), 1);
    assert.equal(reply.result.content[0].type, 'text');

    const get = await fetch(C.url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': LEGACY },
    });
    await assertUnavailable(get);
    await assertUnavailable(await C.post(session, C.request(2, 'resources/subscribe', { uri: 'test://x' })));
    await assertUnavailable(
      await C.stateless(3, 'subscriptions/listen', { notifications: { toolsListChanged: true } }),
    );
    // The session itself is unharmed.
    const again = await jsonRpcReply(await C.post(session, C.request(4, 'tools/list')), 4);
    assert.ok(again.result.tools.length > 0);
  });

  it('releases the hub socket when a client disconnects', async () => {
    const session = await A.initialize('disconnect');
    const sockets = async () => {
      const response = await fetch(A.testRoute('shard', `?session=${session}`));
      return (await response.json()).status.websockets;
    };
    const before = await sockets();
    const stream = await A.get(session);
    const reader = stream.body.getReader();
    await reader.read(); // the priming event: the stream is live
    assert.equal(await sockets(), before + 1);
    await reader.cancel();
    let now = await sockets();
    for (let i = 0; i < 250 && now > before; i++) {
      await sleep(100);
      now = await sockets();
    }
    assert.equal(now, before, 'the WebSocket to the hub was closed');
  });
});
