// Hibernation: a GET stream stays open while its hub Durable Object is idle long enough to be
// evicted; a later notification still arrives, and the object that delivers it was constructed
// afresh (its instance id changed), rebuilding its routing from WebSocket tags and attachments.
//
//   MCP_URL_A=… MCP_URL_B=… node --test tests/worker/hibernation.test.mjs
// HIBERNATION_IDLE_MS sets how long the object is left idle (default 20000; workerd evicts
// after roughly 10–15 s).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { jsonRpcReply, sseMessages, within } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);
const IDLE_MS = Number(process.env.HIBERNATION_IDLE_MS ?? 20000);
const WATCHED = 'test://watched-resource';

async function shardStatus(session) {
  const response = await fetch(A.testRoute('shard', `?session=${session}`));
  assert.equal(response.status, 200);
  return (await response.json()).status;
}

it('keeps a GET stream across the hub object being evicted', { timeout: IDLE_MS + 30000 }, async () => {
  const session = await A.initialize('hibernation-test');
  await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
  const stream = await A.get(session);
  const messages = sseMessages(stream.body);
  const before = await shardStatus(session);
  assert.ok(before.websockets >= 1, 'the GET stream is a WebSocket on the shard');

  await sleep(IDLE_MS);

  await jsonRpcReply(await B.post(session, B.toolCall(2, 'touch_resource', { uri: WATCHED })), 2);
  const { value } = await within(5000, messages.next(), 'the update after hibernation');
  assert.equal(value.method, 'notifications/resources/updated');
  const after = await shardStatus(session);
  assert.notEqual(after.instance, before.instance, 'the object was evicted and constructed afresh');
  assert.ok(after.constructed_at_ms > before.constructed_at_ms);
  assert.ok(after.websockets >= 1, 'the stream survived the eviction');
  await messages.return();
  await stream.body.cancel();
});
