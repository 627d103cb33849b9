// End-to-end tests of `cargo run --example everything` (the everything fixture behind
// SessionLayer) driven by the official MCP TypeScript SDK client and by raw fetch.
//
// Run through tests/e2e/run.sh, or by hand against a running server:
//   MCP_URL=http://127.0.0.1:18080/mcp node --test tests/e2e/

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

import { deferred, jsonRpcReply, sseEvents, sseMessages, within } from './helpers.mjs';

const MCP_URL = process.env.MCP_URL;
if (!MCP_URL) {
  throw new Error('MCP_URL is required (e.g. MCP_URL=http://127.0.0.1:18080/mcp)');
}

const SIMPLE_TEXT = 'This is a simple text response for testing.';
const WATCHED = 'test://watched-resource';
const LEGACY_VERSION = '2025-11-25';
const STATELESS_VERSION = '2026-07-28';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

// ---------------------------------------------------------------------------------------------
// Legacy (2025-11-25) session era, driven by the official SDK client

describe('SDK client over a Streamable HTTP session', { timeout: 30_000 }, () => {
  /** Every JSON-RPC message the server sent on the SDK's standalone GET stream. */
  const getStreamMessages = [];
  const getStreamOpened = deferred();
  const getStreamErrors = [];
  const errors = [];
  const logs = [];
  const updates = [];
  let updateArrived = deferred();
  let client;
  let transport;
  let sessionId;

  // Passes every request through, and tees the body of the standalone GET stream so the
  // test can see which stream a notification was delivered on.
  async function observingFetch(url, init) {
    const response = await fetch(url, init);
    if ((init?.method ?? 'GET') !== 'GET' || !response.ok || !response.body) return response;
    const [forSdk, forTest] = response.body.tee();
    (async () => {
      for await (const message of sseMessages(forTest)) getStreamMessages.push(message);
    })().catch((error) => {
      // The stream is aborted when the session ends or the client closes; anything else is
      // reported by the assertion that looks for the update on this stream.
      if (error?.name !== 'AbortError') getStreamErrors.push(error);
    });
    getStreamOpened.resolve();
    return new Response(forSdk, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  before(async () => {
    transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
      fetch: observingFetch,
      // Do not keep reconnecting a GET stream whose session the test deleted.
      reconnectionOptions: {
        maxRetries: 0,
        initialReconnectionDelay: 1000,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1,
      },
    });
    client = new Client({ name: 'mcp-edge-session-e2e', version: '0.0.0' }, { capabilities: {} });
    client.onerror = (error) => errors.push(error);
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      logs.push(notification.params);
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      updates.push(notification.params);
      updateArrived.resolve(notification.params);
    });
  });

  after(async () => {
    await client?.close().catch(() => {});
  });

  it('initializes a session', async () => {
    await client.connect(transport);
    sessionId = transport.sessionId;
    assert.equal(typeof sessionId, 'string');
    assert.ok(sessionId.length > 0, 'the server minted an Mcp-Session-Id');
    assert.equal(transport.protocolVersion, LEGACY_VERSION);
    assert.deepEqual(client.getServerVersion(), {
      name: 'mcp-edge-session-everything',
      version: '0.1.0',
    });
    const capabilities = client.getServerCapabilities();
    assert.deepEqual(capabilities.resources, { subscribe: true, listChanged: true });
    assert.ok(capabilities.tools, 'tools capability');
    assert.ok(capabilities.logging, 'logging capability');
    assert.match(client.getInstructions() ?? '', /SessionLayer/);
  });

  it('lists tools', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of ['test_simple_text', 'touch_resource', 'whoami', 'test_tool_with_logging']) {
      assert.ok(names.includes(name), `tools/list includes ${name}: ${names.join(', ')}`);
    }
  });

  it('calls test_simple_text', async () => {
    const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
    assert.deepEqual(result.content, [{ type: 'text', text: SIMPLE_TEXT }]);
    assert.notEqual(result.isError, true);
  });

  it('remembers the client info in the session (whoami)', async () => {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const info = JSON.parse(result.content[0].text);
    assert.equal(info.name, 'mcp-edge-session-e2e');
    assert.equal(info.version, '0.0.0');
  });

  it('streams log messages after logging/setLevel', async () => {
    await client.setLoggingLevel('debug');
    logs.length = 0;
    const result = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    assert.deepEqual(result.content, [
      { type: 'text', text: 'Tool with logging executed successfully' },
    ]);
    assert.ok(logs.length >= 3, `expected >= 3 notifications/message, got ${logs.length}`);
    assert.deepEqual(
      logs.slice(0, 3).map((log) => log.data),
      ['Tool execution started', 'Tool processing data', 'Tool execution completed'],
    );
    for (const log of logs) assert.equal(log.level, 'info');
  });

  it('delivers resource updates on the standalone GET stream', async () => {
    await client.subscribeResource({ uri: WATCHED });
    await within(5_000, getStreamOpened.promise, "the SDK's standalone GET stream");
    // The GET response has arrived, but the server may still be registering the stream in
    // its hub: touch until the notification arrives (at most ~3 s).
    const deadline = Date.now() + 3_000;
    let arrived;
    while (!arrived && Date.now() < deadline) {
      const result = await client.callTool({ name: 'touch_resource', arguments: { uri: WATCHED } });
      assert.deepEqual(result.content, [
        { type: 'text', text: `Published notifications/resources/updated for ${WATCHED}` },
      ]);
      arrived = await Promise.race([updateArrived.promise, sleep(200, undefined)]);
    }
    assert.ok(arrived, 'notifications/resources/updated arrived within 3 s');
    assert.equal(arrived.uri, WATCHED);
    // The test's copy of the GET stream is parsed independently of the SDK's: give it a moment.
    const onGetStream = () =>
      getStreamMessages.some(
        (m) => m.method === 'notifications/resources/updated' && m.params?.uri === WATCHED,
      );
    for (let i = 0; i < 20 && !onGetStream(); i++) await sleep(50);
    assert.ok(
      onGetStream(),
      `the update was delivered on the GET stream; it carried ${JSON.stringify(getStreamMessages)}` +
        (getStreamErrors.length ? ` (reading it failed: ${getStreamErrors.join('; ')})` : ''),
    );
  });

  it('stops resource updates after unsubscribe', async () => {
    await client.unsubscribeResource({ uri: WATCHED });
    updates.length = 0;
    updateArrived = deferred();
    await client.callTool({ name: 'touch_resource', arguments: { uri: WATCHED } });
    const late = await Promise.race([updateArrived.promise, sleep(500, undefined)]);
    assert.equal(late, undefined, 'no update after resources/unsubscribe');
  });

  it('terminates the session with DELETE; the old id is then 404', async () => {
    assert.deepEqual(errors.map(String), [], 'no transport errors while the session was live');
    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);

    const post = await fetch(MCP_URL, {
      method: 'POST',
      headers: {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': LEGACY_VERSION,
        'mcp-session-id': sessionId,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} }),
    });
    assert.equal(post.status, 404);
    assert.match(post.headers.get('content-type') ?? '', /^application\/json/);
    const body = await post.json();
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(typeof body.error?.code, 'number', JSON.stringify(body));
    assert.equal(typeof body.error?.message, 'string', JSON.stringify(body));

    const again = await fetch(MCP_URL, {
      method: 'DELETE',
      headers: { 'mcp-protocol-version': LEGACY_VERSION, 'mcp-session-id': sessionId },
    });
    await again.body?.cancel();
    assert.equal(again.status, 404);
  });
});

// ---------------------------------------------------------------------------------------------
// Stateless (2026-07-28) era, raw fetch

describe('stateless 2026-07-28 requests over raw fetch', { timeout: 30_000 }, () => {
  const meta = { [META_VERSION]: STATELESS_VERSION, [META_CAPABILITIES]: {} };

  function post(method, params, { id, name, signal } = {}) {
    const headers = {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'MCP-Protocol-Version': STATELESS_VERSION,
      'Mcp-Method': method,
    };
    if (name !== undefined) headers['Mcp-Name'] = name;
    return fetch(MCP_URL, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: meta, ...params } }),
      signal,
    });
  }

  it('answers server/discover without a session', async () => {
    const response = await post('server/discover', {}, { id: 1 });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('mcp-session-id'), null);
    const reply = await jsonRpcReply(response, 1);
    assert.equal(reply.id, 1);
    assert.ok(reply.result, JSON.stringify(reply));
    assert.ok(reply.result.supportedVersions.includes(STATELESS_VERSION));
  });

  it('calls a tool named in Mcp-Name', async () => {
    const response = await post(
      'tools/call',
      { name: 'test_simple_text', arguments: {} },
      { id: 2, name: 'test_simple_text' },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('mcp-session-id'), null);
    const reply = await jsonRpcReply(response, 2);
    assert.deepEqual(reply.result?.content, [{ type: 'text', text: SIMPLE_TEXT }], JSON.stringify(reply));
  });

  it('rejects a mismatched Mcp-Name with 400 / -32020', async () => {
    const response = await post(
      'tools/call',
      { name: 'test_simple_text', arguments: {} },
      { id: 3, name: 'whoami' },
    );
    assert.equal(response.status, 400);
    const reply = await response.json();
    assert.equal(reply.error?.code, -32020, JSON.stringify(reply));
    assert.equal(reply.id, 3);
  });

  it('answers GET with 405', async () => {
    const response = await fetch(MCP_URL, {
      method: 'GET',
      headers: { accept: 'text/event-stream', 'MCP-Protocol-Version': STATELESS_VERSION },
    });
    await response.body?.cancel();
    assert.equal(response.status, 405);
  });

  it('delivers resource updates on a subscriptions/listen stream', async () => {
    const abort = new AbortController();
    try {
      const response = await post(
        'subscriptions/listen',
        { notifications: { resourceSubscriptions: [WATCHED] } },
        { id: 7, signal: abort.signal },
      );
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(response.headers.get('mcp-session-id'), null);
      const messages = sseMessages(response.body);

      const first = await within(5_000, messages.next(), 'the acknowledgement');
      assert.equal(first.done, false);
      const ack = first.value;
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged', JSON.stringify(ack));
      assert.equal(ack.params?._meta?.[META_SUBSCRIPTION_ID], 7);
      assert.deepEqual(ack.params?.notifications?.resourceSubscriptions, [WATCHED]);

      const touch = await post(
        'tools/call',
        { name: 'touch_resource', arguments: { uri: WATCHED } },
        { id: 8, name: 'touch_resource' },
      );
      assert.equal(touch.status, 200);
      const touched = await jsonRpcReply(touch, 8);
      assert.deepEqual(
        touched.result?.content,
        [{ type: 'text', text: `Published notifications/resources/updated for ${WATCHED}` }],
        JSON.stringify(touched),
      );

      const next = await within(5_000, messages.next(), 'notifications/resources/updated');
      assert.equal(next.done, false);
      const update = next.value;
      assert.equal(update.method, 'notifications/resources/updated', JSON.stringify(update));
      assert.equal(update.params?.uri, WATCHED);
      assert.equal(update.params?._meta?.[META_SUBSCRIPTION_ID], 7);
    } finally {
      abort.abort();
    }
  });
});
