// Shared by the auth tests: the environment, the authorization server's test-only controls,
// raw MCP requests with and without tokens, and assertions on the server's challenges.
//
// Environment: MCP_URL (the endpoint, also the resource the server was configured with),
// AUTH_ISSUER (tests/auth/authorization-server.mjs), MCP_AUTH_SCOPES (space-separated scopes the
// server requires; default mcp:tools).

import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import { LEGACY, STATELESS } from '../worker/mcp.mjs';

export const { MCP_URL, AUTH_ISSUER } = process.env;
if (!MCP_URL || !AUTH_ISSUER) {
  throw new Error('MCP_URL and AUTH_ISSUER are required (e.g. MCP_URL=http://127.0.0.1:18090/mcp AUTH_ISSUER=http://127.0.0.1:18091)');
}
export const SCOPES = (process.env.MCP_AUTH_SCOPES ?? 'mcp:tools').split(/\s+/).filter(Boolean);
export const SCOPE = SCOPES.join(' ');
export const ORIGIN = new URL(MCP_URL).origin;
const RESOURCE_PATH = new URL(MCP_URL).pathname.replace(/\/$/, '');
// RFC 9728 §3.1: the well-known segment goes between the origin and the resource's path.
export const PRM_URL = `${ORIGIN}/.well-known/oauth-protected-resource${RESOURCE_PATH}`;
// The server may allow up to 10 s of clock skew; these are well outside it.
export const SKEW = 120;
export const LEEWAY = 10;
export const REQUEST_TIMEOUT = 30_000;

export const now = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// The authorization server (tests/auth/authorization-server.mjs) and its test-only controls

export async function control(name, body) {
  const response = await fetch(`${AUTH_ISSUER}/__control/${name}`, body === undefined ? {} : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `control ${name}: ${text}`);
  return JSON.parse(text);
}

export const stats = () => control('stats');

/** Claims of a token the server should accept, for alice; `undefined` removes a claim. */
export function claims(overrides = {}) {
  const t = now();
  return {
    iss: AUTH_ISSUER, sub: 'alice', aud: MCP_URL, iat: t, nbf: t, exp: t + 300,
    scope: SCOPE, client_id: 'alice-client', jti: randomUUID(), ...overrides,
  };
}

/**
 * A token minted by the authorization server. RS256 tokens name the first key (rs-1) unless
 * `kid` says otherwise, so they do not depend on the rotations the key tests make.
 */
export async function mint(overrides = {}, { key = 'rs256', kid = key === 'rs256' ? 'rs-1' : undefined, ...options } = {}) {
  const { token } = await control('mint', { claims: claims(overrides), key, kid, ...options });
  return token;
}

/** A token signed with the authorization server's current default RS256 key. */
export async function currentKeyToken(overrides = {}) {
  const { token } = await control('mint', { claims: claims(overrides), key: 'rs256' });
  return token;
}

/** An access token from the token endpoint (client_credentials, RFC 8707 resource). */
export async function clientToken(id, secret, { resource = MCP_URL, scope } = {}) {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (resource) form.set('resource', resource);
  if (scope) form.set('scope', scope);
  const response = await fetch(`${AUTH_ISSUER}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    },
    body: form,
  });
  const body = await response.json();
  assert.equal(response.status, 200, `token for ${id}: ${JSON.stringify(body)}`);
  return body.access_token;
}

// ---------------------------------------------------------------------------------------------
// Raw MCP requests

export const authorization = (token, scheme = 'Bearer') => (token === undefined ? {} : { authorization: `${scheme} ${token}` });

export const initialize = (id = 0) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'auth-test', version: '1.0.0' } },
});

export const request = (id, method, params = {}) => ({ jsonrpc: '2.0', id, method, params });

export function post(body, { token, scheme, session, headers = {}, url = MCP_URL, timeout = REQUEST_TIMEOUT } = {}) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': LEGACY,
      ...(session ? { 'mcp-session-id': session } : {}),
      ...authorization(token, scheme),
      ...headers,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeout),
  });
}

export function get(session, { token } = {}) {
  return fetch(MCP_URL, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': LEGACY, ...authorization(token) },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT),
  });
}

export function del(session, { token } = {}) {
  return fetch(MCP_URL, {
    method: 'DELETE',
    headers: { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY, ...authorization(token) },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT),
  });
}

/** A request of the stateless (2026-07-28) era: no session, everything in headers and `_meta`. */
export function stateless(id, method, params, { token } = {}) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': STATELESS,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'auth-test', version: '1.0.0' },
  };
  return fetch(MCP_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': STATELESS,
      'mcp-method': method,
      ...(method === 'tools/call' ? { 'mcp-name': params.name } : {}),
      ...authorization(token),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT),
  });
}

/**
 * A POST with exactly these header bytes (fetch would trim or refuse some of them), answered
 * as `{ status, headers, text }`.
 */
export function rawPost(headers, body = initialize(), timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(MCP_URL, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': LEGACY,
        'content-length': Buffer.byteLength(payload),
        ...headers,
      },
      timeout,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// What the server answered

/** Reads a (refused) response whole: `{ status, challenge, text, body }`. */
export async function outcome(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, challenge: response.headers.get('www-authenticate') ?? undefined, text, body };
}

export const rawOutcome = ({ status, headers, text }) => {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, challenge: headers['www-authenticate'], text, body };
};

/** The auth-params of a `WWW-Authenticate` challenge (RFC 9110 §11.6.1), names lower-cased. */
export function challengeParams(header) {
  const params = {};
  const rest = header.replace(/^\S+\s*/, '');
  const pattern = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const [, name, quoted, token] of rest.matchAll(pattern)) {
    params[name.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token;
  }
  return params;
}

export const summary = (o) => `${o.status} www-authenticate=${o.challenge ?? '(none)'} body=${o.text.slice(0, 300)}`;

/**
 * Asserts the status and a Bearer challenge pointing at the resource metadata. `error`: the
 * expected `error=` value, `null` for none at all, `undefined` for any; `scope`: that the
 * challenge names the required scopes.
 */
export function assertChallenge(o, { status = 401, error, scope = false } = {}) {
  assert.equal(o.status, status, summary(o));
  assert.ok(o.challenge, `a WWW-Authenticate header: ${summary(o)}`);
  assert.ok(o.challenge.startsWith('Bearer '), `a Bearer challenge: ${o.challenge}`);
  assert.ok(o.challenge.includes(`resource_metadata="${PRM_URL}"`), `resource_metadata="${PRM_URL}" in ${o.challenge}`);
  const params = challengeParams(o.challenge);
  if (error === null) {
    // RFC 6750 §3.1: a request without credentials gets no error code.
    assert.ok(!o.challenge.includes('error='), `no error= without a token: ${o.challenge}`);
  } else if (error !== undefined) {
    assert.equal(params.error, error, o.challenge);
    assert.ok(o.challenge.includes(`error="${error}"`), o.challenge);
  }
  if (scope) assert.ok(o.challenge.includes(`scope="${SCOPE}"`), `scope="${SCOPE}" in ${o.challenge}`);
  return params;
}

export function assertJsonRpcError(o) {
  assert.ok(o.body, `a JSON body: ${summary(o)}`);
  assert.equal(o.body.jsonrpc, '2.0', summary(o));
  assert.equal(typeof o.body.error?.code, 'number', summary(o));
  assert.equal(typeof o.body.error?.message, 'string', summary(o));
}

/** Opens a legacy session with `token` (initialize, then notifications/initialized). */
export async function openSession(token, scheme) {
  const response = await post(initialize(), { token, scheme });
  if (response.status !== 200) assert.fail(`initialize: ${summary(await outcome(response))}`);
  const session = response.headers.get('mcp-session-id');
  assert.ok(session, 'initialize answers with a session id');
  const reply = await jsonRpcReply(response, 0);
  assert.ok(reply.result, JSON.stringify(reply));
  const initialized = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { token, scheme, session });
  await initialized.body?.cancel();
  assert.equal(initialized.status, 202);
  return session;
}

/** tools/list on a session; the reply. */
export async function listTools(session, token) {
  const response = await post(request(7, 'tools/list'), { token, session });
  if (response.status !== 200) assert.fail(`tools/list: ${summary(await outcome(response))}`);
  const reply = await jsonRpcReply(response, 7);
  assert.ok(Array.isArray(reply.result?.tools), JSON.stringify(reply));
  return reply;
}

// A table for the human at the end of each file: which case got which answer.
const table = [];
export function record(group, name, o, note = '') {
  const error = o.challenge ? (challengeParams(o.challenge).error ?? '') : '';
  table.push({ case: `${group}: ${name}`, status: String(o.status), error, note });
}

export function printTable(title) {
  if (table.length === 0) return;
  const width = Math.max(...table.map((row) => row.case.length));
  const lines = table.map((row) => `  ${row.case.padEnd(width)}  ${row.status.padEnd(4)} ${row.error}${row.note ? `  (${row.note})` : ''}`);
  console.log([`${title} (case, status, WWW-Authenticate error):`, ...lines].join('\n'));
}

/** Fails early and clearly when one of the two servers is not there. */
export async function checkServers() {
  await stats().catch((error) => assert.fail(`authorization server ${AUTH_ISSUER}: ${error.message}`));
  await fetch(PRM_URL).catch((error) => assert.fail(`MCP server ${MCP_URL}: ${error.message}`));
}

/**
 * Retries initialize with fresh tokens from `makeToken` until the server serves it, for at most
 * `ms`: the server fetches a key it has not seen only once its JWKS refetch cool-down (30 s) has
 * passed, and refuses the token (401, or 503 if its last fetch failed) until then. Resolves to `{ seconds, attempts }`.
 */
export async function untilAccepted(makeToken, ms = 60_000) {
  const started = Date.now();
  for (let attempts = 1; ; attempts += 1) {
    const response = await post(initialize(), { token: await makeToken() });
    if (response.status === 200) {
      await response.body?.cancel();
      return { seconds: (Date.now() - started) / 1000, attempts };
    }
    const o = await outcome(response);
    // 401 while the key is unknown; 503 right after a failed JWKS fetch (an outage test
    // before this one), whose cool-down the server also waits out before fetching again.
    assert.ok([401, 503].includes(o.status), summary(o));
    assert.ok(Date.now() - started < ms, `still refused after ${attempts} attempts in ${ms} ms: ${summary(o)}`);
    await sleep(1000);
  }
}

/** The response, or a failure saying the server did not answer within `ms`. */
async function answeredWithin(ms, responding) {
  try {
    return await responding;
  } catch (error) {
    if (error?.name === 'TimeoutError') assert.fail(`no answer within ${ms} ms`);
    throw error;
  }
}

/**
 * With the JWKS in `mode`, a token under a key the server has never seen must be answered 503
 * (the server cannot tell whether the token is good) within 15 s, while tokens under keys it
 * already holds keep working.
 */
export function describeJwksOutage(mode, what) {
  describe(`JWKS ${what}`, () => {
    after(() => control('jwks-mode', { mode: 'ok' }));

    it('a new kid → 503 within 15 s, with a JSON-RPC error; cached kids still work', async () => {
      await control('jwks-mode', { mode });
      const { kid } = await control('rotate', {});
      const started = Date.now();
      let o;
      for (;;) {
        const token = await mint({}, { key: 'rs256', kid });
        o = await outcome(await answeredWithin(15_000, post(initialize(), { token, timeout: 15_000 })));
        if (o.status === 503) break;
        // Within the cool-down since the last refetch the server does not try again, so the
        // kid is merely unknown (401); once it does try, the failure must show as 503.
        assert.equal(o.status, 401, summary(o));
        assert.ok(Date.now() - started < 75_000, `no 503 within 75 s: ${summary(o)}`);
        await sleep(2000);
      }
      record('jwks', `${mode}: unknown kid ${kid}`, o, `after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      assertJsonRpcError(o);

      for (const [name, options] of [['rs-1', { key: 'rs256', kid: 'rs-1' }], ['es-1', { key: 'es256' }]]) {
        const response = await post(initialize(), { token: await mint({}, options), timeout: 15_000 });
        if (response.status !== 200) assert.fail(`${mode}, cached kid ${name}: ${summary(await outcome(response))}`);
        await response.body?.cancel();
        record('jwks', `${mode}: cached kid ${name}`, { status: 200 });
      }
    });
  });
}
