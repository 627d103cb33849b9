// A small raw-fetch MCP client for the Worker tests: just enough to drive sessions, streams
// and stateless requests against one endpoint.
import assert from 'node:assert/strict';

export const LEGACY = '2025-11-25';
export const STATELESS = '2026-07-28';

export class Mcp {
  constructor(url) {
    assert.ok(url, 'an MCP endpoint URL is required');
    this.url = url;
  }

  /** A route of the Worker's test-only surface (served when MCP_TEST_ROUTES=1). */
  testRoute(name, query = '') {
    return new URL(`/__test/${name}${query}`, this.url).href;
  }

  request(id, method, params = {}) {
    return { jsonrpc: '2.0', id, method, params };
  }

  toolCall(id, name, args = {}) {
    return this.request(id, 'tools/call', { name, arguments: args });
  }

  post(session, body, headers = {}) {
    return fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': LEGACY,
        ...(session ? { 'mcp-session-id': session } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
    });
  }

  async initialize(name = 'cross-isolate-test') {
    const response = await this.post(undefined, this.request(0, 'initialize', {
      protocolVersion: LEGACY,
      capabilities: { sampling: {}, elicitation: {} },
      clientInfo: { name, version: '1.0.0' },
    }));
    assert.equal(response.status, 200);
    const session = response.headers.get('mcp-session-id');
    assert.ok(session, 'initialize answers with a session id');
    await response.body?.cancel();
    const initialized = await this.post(session, { jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(initialized.status, 202);
    return session;
  }

  async get(session, lastEventId) {
    const response = await fetch(this.url, {
      headers: {
        accept: 'text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': LEGACY,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
    });
    assert.equal(response.status, 200);
    return response;
  }

  stateless(id, method, params) {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': STATELESS,
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'worker-test', version: '1.0.0' },
    };
    const name = method === 'tools/call' || method === 'prompts/get' ? params.name
      : method === 'resources/read' ? params.uri : undefined;
    return fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': STATELESS,
        'mcp-method': method,
        ...(name ? { 'mcp-name': name } : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } }),
    });
  }
}
