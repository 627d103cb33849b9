// The Worker under local workerd, two isolates in front of one hub: Worker scripts "a" and "b"
// share the KV namespace and the hub Durable Object (see serve.mjs). What one isolate starts,
// the other continues.
//
//   MCP_URL_A=http://127.0.0.1:18787/mcp MCP_URL_B=http://127.0.0.1:18788/mcp \
//     node --test tests/worker/cross-isolate.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { jsonRpcReply, sseEvents, sseMessages, within } from '../e2e/helpers.mjs';
import { Mcp, STATELESS } from './mcp.mjs';

// Also run against two native processes sharing one Redis (tests/redis/run.sh), where the
// Worker's test routes (the backend contract on KV, the object's sweep) do not exist.
const workerOnly = process.env.MCP_BACKEND === 'redis' ? it.skip : it;

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);
const WATCHED = 'test://watched-resource';

describe('two isolates, one hub', () => {
  workerOnly('runs the backend contract against Workers KV and the hub Durable Object', async () => {
    const response = await fetch(A.testRoute('contract'));
    const outcome = await response.json();
    assert.deepEqual(outcome, { store: 'ok', hub: 'ok' });
    assert.equal(response.status, 200);
  });

  it('continues on B a session initialized on A', async () => {
    const session = await A.initialize();
    const reply = await jsonRpcReply(await B.post(session, A.toolCall(1, 'whoami')), 1);
    assert.match(reply.result.content[0].text, /cross-isolate-test/);
  });

  it('delivers to a GET stream on A what a request on B publishes', async () => {
    const session = await A.initialize();
    await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
    const stream = await A.get(session);
    const messages = sseMessages(stream.body);
    const touched = await jsonRpcReply(
      await B.post(session, B.toolCall(2, 'touch_resource', { uri: WATCHED })),
      2,
    );
    assert.notEqual(touched.result.isError, true, JSON.stringify(touched));
    const { value } = await within(5000, messages.next(), 'the update on A');
    assert.equal(value.method, 'notifications/resources/updated');
    assert.equal(value.params.uri, WATCHED);
    await messages.return();
    await stream.body.cancel();
  });

  it('answers on B an elicitation started on A', async () => {
    const session = await A.initialize();
    const call = await A.post(session, A.toolCall(3, 'test_elicitation', { message: 'Who?' }));
    const messages = sseMessages(call.body);
    const { value: request } = await within(5000, messages.next(), 'the elicitation request');
    assert.equal(request.method, 'elicitation/create');
    const answer = { jsonrpc: '2.0', id: request.id, result: { action: 'accept', content: { username: 'b' } } };
    const routed = await B.post(session, answer);
    assert.equal(routed.status, 202);
    const { value: result } = await within(5000, messages.next(), 'the tool result on A');
    assert.equal(result.id, 3);
    assert.match(result.result.content[0].text, /action=accept/);
  });

  it('lets a stateless listener on A hear an update published on B', async () => {
    const listen = await A.stateless(7, 'subscriptions/listen', {
      notifications: { resourceSubscriptions: [WATCHED] },
    });
    const messages = sseMessages(listen.body);
    const { value: ack } = await within(5000, messages.next(), 'the acknowledgement');
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    await jsonRpcReply(await B.stateless(8, 'tools/call', { name: 'touch_resource', arguments: { uri: WATCHED } }), 8);
    const { value } = await within(5000, messages.next(), 'the update on the listener');
    assert.equal(value.method, 'notifications/resources/updated');
    assert.equal(value.params._meta['io.modelcontextprotocol/subscriptionId'], 7);
    await messages.return();
    await listen.body.cancel();
  });

  it('answers 404 on B for a session deleted on A', async () => {
    const session = await A.initialize();
    const deleted = await fetch(A.url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    assert.equal(deleted.status, 204);
    const after = await B.post(session, B.request(1, 'tools/list'));
    assert.equal(after.status, 404);
    assert.equal((await after.json()).error.code, -32001);
  });

  it('shows B a DELETE or a log level set on A within a second, even right after B used the session', async () => {
    const session = await A.initialize();
    // B has just read the session: it may serve it from its own memory for up to a second.
    assert.equal((await B.post(session, B.request(1, 'tools/list'))).status, 200);
    await jsonRpcReply(await A.post(session, A.request(2, 'logging/setLevel', { level: 'emergency' })), 2);
    const levelSet = performance.now();
    for (;;) {
      const logged = await B.post(session, B.toolCall(3, 'test_tool_with_logging'));
      const text = await logged.text();
      if (!text.includes('notifications/message')) break;
      assert.ok(performance.now() - levelSet < 1300, 'B still logs at the old level after a second');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await B.post(session, B.request(4, 'tools/list'))).status, 200);
    const deleted = await fetch(A.url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    assert.equal(deleted.status, 204);
    const deletedAt = performance.now();
    for (;;) {
      const status = (await B.post(session, B.request(5, 'tools/list'))).status;
      if (status === 404) break;
      assert.equal(status, 200);
      assert.ok(performance.now() - deletedAt < 1300, 'B still serves a deleted session after a second');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  workerOnly('reads KV once a second, not once a request, for a busy session', async () => {
    const session = await A.initialize();
    const reads = async () => (await (await fetch(B.testRoute('stats'))).json()).kv_reads;
    const before = await reads();
    const started = performance.now();
    let calls = 0;
    while (performance.now() - started < 500) {
      await jsonRpcReply(await B.post(session, B.toolCall(10 + calls, 'test_simple_text')), 10 + calls);
      calls += 1;
    }
    assert.ok(calls >= 5, `only ${calls} calls in half a second`);
    assert.ok((await reads()) - before <= 2, `${calls} calls read KV ${(await reads()) - before} times`);
  });

  workerOnly('keeps live logs and subscriptions through a storage sweep', async () => {
    const session = await A.initialize('sweep');
    await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
    const stream = await A.get(session);
    const events = sseEvents(stream.body);
    await jsonRpcReply(await B.post(session, B.toolCall(2, 'touch_resource', { uri: WATCHED })), 2);
    const { value: seen } = await within(5000, events.next(), 'the first update');
    await events.return();
    await stream.body.cancel();
    await jsonRpcReply(await B.post(session, B.toolCall(3, 'touch_resource', { uri: WATCHED })), 3);

    const sweep = await fetch(A.testRoute('sweep', `?session=${session}`));
    assert.equal(sweep.status, 200);
    assert.match((await sweep.json()).status, /^swept \d+ events and \d+ subscriptions$/);

    const resumed = await A.get(session, seen.id);
    const replay = sseMessages(resumed.body);
    const { value: missed } = await within(5000, replay.next(), 'the update missed before the sweep');
    assert.equal(missed.method, 'notifications/resources/updated');
    await jsonRpcReply(await B.post(session, B.toolCall(4, 'touch_resource', { uri: WATCHED })), 4);
    const { value: live } = await within(5000, replay.next(), 'an update after the sweep');
    assert.equal(live.params.uri, WATCHED, 'the subscription survived');
    await replay.return();
    await resumed.body.cancel();
  });

  it('speaks the stateless era through the Worker', async () => {
    const reply = await jsonRpcReply(await B.stateless(1, 'server/discover', {}), 1);
    assert.ok(reply.result.supportedVersions.includes(STATELESS));
  });
});
