// Cloudflare KV takes one write per second per key; the test server simulates that (see
// serve.mjs). A client's start sequence must not wait for it, and what it set must be seen by
// the next request on any isolate.
//
//   MCP_URL_A=... MCP_URL_B=... node --test tests/worker/kv-limit.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { jsonRpcReply, sseMessages, within } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';
import { startSequence, WATCHED } from './start-sequence.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);

describe('start sequence under KV write limits', () => {
  it('does not wait for KV, and another isolate sees the level and the subscription', async () => {
    const { session, ms } = await startSequence(A);
    assert.ok(ms < 1000, `the start sequence took ${ms.toFixed(0)} ms: it waited for KV`);

    // The level: `error` filters out the tool's info logs, on B too.
    const logged = await B.post(session, B.toolCall(4, 'test_tool_with_logging'));
    const messages = [];
    if (logged.headers.get('content-type').startsWith('application/json')) {
      messages.push(await logged.json());
    } else {
      for await (const message of sseMessages(logged.body)) {
        messages.push(message);
        if (message.id === 4) break;
      }
    }
    assert.ok(messages.at(-1).result, JSON.stringify(messages));
    assert.deepEqual(messages.filter((m) => m.method === 'notifications/message'), []);

    // The subscription: an update published on B reaches the session's stream on B.
    const stream = await B.get(session);
    const updates = sseMessages(stream.body);
    const publisher = await B.initialize('start-sequence-publisher');
    await jsonRpcReply(await B.post(publisher, B.toolCall(5, 'touch_resource', { uri: WATCHED })), 5);
    const update = await within(2000, updates.next(), 'the resource update');
    assert.equal(update.value.method, 'notifications/resources/updated');
    await updates.return();
    await stream.body.cancel();
  });

  it('really limits KV writes: a second level change within a second waits for it', async () => {
    const session = await A.initialize('write-limit');
    await jsonRpcReply(await A.post(session, A.request(1, 'logging/setLevel', { level: 'info' })), 1);
    const started = performance.now();
    const reply = await jsonRpcReply(
      await B.post(session, B.request(2, 'logging/setLevel', { level: 'debug' })),
      2,
    );
    assert.deepEqual(reply.result, {});
    const ms = performance.now() - started;
    assert.ok(ms >= 900, `the second write within a second went through at once (${ms.toFixed(0)} ms)`);
  });
});
