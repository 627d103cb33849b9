// The MCP endpoint as an OAuth 2.1 resource server: Protected Resource Metadata (RFC 9728), the
// 401/403 challenges, a matrix of tokens that must be refused, sessions bound to the token's
// subject, opaque tokens through introspection, and the official TypeScript SDK client finding
// its way from a 401 to a token. Key rotation and JWKS outages are in rotation.test.mjs and
// jwks-*.test.mjs.
//
// Run through tests/auth/run.sh, or by hand: tests/auth/authorization-server.mjs at AUTH_ISSUER,
// and the server started with MCP_AUTH_ISSUER=$AUTH_ISSUER MCP_RESOURCE=$MCP_URL
// MCP_AUTH_SCOPES=mcp:tools MCP_AUTH_CLIENT_ID=resource-server MCP_AUTH_CLIENT_SECRET=rs-secret:
//   MCP_URL=http://127.0.0.1:18090/mcp AUTH_ISSUER=http://127.0.0.1:18091 MCP_AUTH_SCOPES=mcp:tools \
//     node --test --test-timeout=120000 --test-concurrency=1 tests/auth/
// One file at a time: the key tests change which key the authorization server signs with.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { decodeJwt } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import {
  AUTH_ISSUER, LEEWAY, MCP_URL, ORIGIN, PRM_URL, REQUEST_TIMEOUT, SCOPE, SCOPES, SKEW,
  assertChallenge, assertJsonRpcError, checkServers, claims, clientToken, control, currentKeyToken,
  del, get, initialize, listTools, mint, now, openSession, outcome, post, printTable, rawOutcome,
  rawPost, record, request, stateless, stats, summary, untilAccepted,
} from './helpers.mjs';

before(async () => {
  await checkServers();
  // An interrupted run of the JWKS tests may have left the JWKS failing, or the default signing
  // key (what the token endpoint uses) one the server has not fetched yet.
  await control('jwks-mode', { mode: 'ok' });
  await untilAccepted(currentKeyToken);
});
after(() => printTable('auth matrix'));

describe('Protected Resource Metadata (RFC 9728)', () => {
  const urls = [...new Set([PRM_URL, `${ORIGIN}/.well-known/oauth-protected-resource`])];
  for (const url of urls) {
    it(`GET ${new URL(url).pathname}`, async () => {
      const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT) });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const document = JSON.parse(text);
      assert.equal(document.resource, MCP_URL);
      assert.deepEqual(document.authorization_servers, [AUTH_ISSUER]);
      for (const scope of SCOPES) {
        assert.ok(document.scopes_supported?.includes(scope), `scopes_supported has ${scope}: ${text}`);
      }
      assert.deepEqual(document.bearer_methods_supported, ['header']);
      record('metadata', new URL(url).pathname, { status: response.status });
    });
  }
});

describe('requests without a token', () => {
  let session;
  before(async () => {
    // A real session, so that nothing but the missing token can explain the refusal.
    session = await openSession(await mint());
  });

  const cases = [
    ['POST initialize', () => post(initialize())],
    ['POST on an existing session', () => post(request(1, 'tools/list'), { session })],
    ['POST on an unknown session', () => post(request(1, 'tools/list'), { session: randomUUID() })],
    ['POST stateless tools/list', () => stateless(1, 'tools/list', {})],
    ['GET the session stream', () => get(session)],
    ['DELETE the session', () => del(session)],
  ];
  for (const [name, send] of cases) {
    it(`${name} → 401 without error=`, async () => {
      const o = await outcome(await send());
      record('no token', name, o);
      assertChallenge(o, { error: null, scope: true });
      assertJsonRpcError(o);
    });
  }

  it('the session still works with its token', async () => {
    await listTools(session, await mint());
  });
});

describe('refused tokens → 401 invalid_token', () => {
  /** Swaps the signed payload of a valid token for another one, keeping the signature. */
  async function tampered() {
    const [header, , signature] = (await mint()).split('.');
    const payload = Buffer.from(JSON.stringify(claims({ sub: 'admin', scope: `${SCOPE} admin` }))).toString('base64url');
    return `${header}.${payload}.${signature}`;
  }

  const cases = [
    [`expired (exp = now - ${SKEW})`, () => mint({ exp: now() - SKEW, iat: now() - SKEW - 300, nbf: now() - SKEW - 300 })],
    [`not yet valid (nbf = now + ${SKEW})`, () => mint({ nbf: now() + SKEW })],
    ['wrong audience', () => mint({ aud: 'https://other.example/mcp' })],
    ['audience of another path on this origin', () => mint({ aud: `${ORIGIN}/not-this-resource` })],
    ['no audience', () => mint({ aud: undefined })],
    ['wrong issuer', () => mint({ iss: 'https://issuer.invalid' })],
    ['unpublished key (unknown kid)', () => mint({}, { key: 'unpublished' })],
    ['forged signature under the published kid rs-1', () => mint({}, { key: 'unpublished', kid: 'rs-1' })],
    ['RS256 signature claiming the EC kid es-1', () => mint({}, { key: 'unpublished', kid: 'es-1' })],
    ['alg none', () => mint({}, { key: 'none' })],
    ['alg none naming kid rs-1', () => mint({}, { key: 'none', kid: 'rs-1' })],
    ['HS256 keyed with the RS256 public key (PEM)', () => mint({}, { key: 'hs256-public', kid: 'rs-1' })],
    ['HS256 keyed with the RS256 public key (JWK JSON)', () => mint({}, { key: 'hs256-public', kid: 'rs-1', variant: 'jwk' })],
    ['signature stripped', async () => (await mint()).replace(/[^.]+$/, '')],
    ['payload changed after signing', tampered],
    ['garbage token "abc"', async () => 'abc'],
    ['validly signed payload that is not JSON', async () => (await control('mint', { key: 'rs256', kid: 'rs-1', rawPayload: 'not json' })).token],
  ];
  for (const [name, makeToken] of cases) {
    it(name, async () => {
      const o = await outcome(await post(initialize(), { token: await makeToken() }));
      record('refused', name, o);
      assert.equal(o.status, 401, summary(o));
      assert.equal(o.body?.result, undefined, 'nothing was served');
      assertChallenge(o, { error: 'invalid_token' });
      assertJsonRpcError(o);
    });
  }
});

describe('refused credentials in the wrong place or shape → 401', () => {
  it('a valid token in the query string (?access_token=), no header', async () => {
    const token = await mint();
    const url = `${MCP_URL}?access_token=${encodeURIComponent(token)}`;
    const response = await post(initialize(), { url });
    assert.equal(response.headers.get('mcp-session-id'), null, 'no session was opened');
    const o = await outcome(response);
    record('wrong place', 'query string access_token', o);
    assertChallenge(o, { error: undefined });
    assert.equal(o.body?.result, undefined, 'nothing was served');
  });

  it('Authorization: Basic', async () => {
    const basic = Buffer.from('alice-client:alice-secret').toString('base64');
    const o = await outcome(await post(initialize(), { headers: { authorization: `Basic ${basic}` } }));
    record('wrong place', 'Authorization: Basic', o);
    assertChallenge(o, { error: undefined });
  });

  const malformed = [
    ['"Bearer" alone', 'Bearer'],
    ['"Bearer a b"', 'Bearer a b'],
    ['"Bearer" and spaces', 'Bearer    '],
    ['"Bearer,abc"', 'Bearer,abc'],
  ];
  for (const [name, value] of malformed) {
    it(`Authorization: ${name}`, async () => {
      const o = rawOutcome(await rawPost({ authorization: value }));
      record('malformed', name, o);
      assertChallenge(o, { error: undefined });
    });
  }

  it('a 20,000-character Authorization header is answered, quickly', async () => {
    const started = Date.now();
    const o = rawOutcome(await rawPost({ authorization: `Bearer ${'a'.repeat(20_000 - 'Bearer '.length)}` }, initialize(), 10_000));
    const took = Date.now() - started;
    record('malformed', 'oversized (20,000 chars)', o, `${took} ms`);
    assert.ok([401, 431].includes(o.status), summary(o));
    assert.ok(took < 5_000, `answered in ${took} ms`);
  });
});

describe('accepted tokens', () => {
  it('RS256 (minted, kid rs-1)', async () => {
    const token = await mint();
    const session = await openSession(token);
    await listTools(session, token);
    record('accepted', 'RS256 rs-1', { status: 200 });
  });

  it('ES256 (minted, kid es-1)', async () => {
    const token = await mint({}, { key: 'es256' });
    const session = await openSession(token);
    await listTools(session, token);
    record('accepted', 'ES256 es-1', { status: 200 });
  });

  it('from the token endpoint (client_credentials, resource = MCP_URL)', async () => {
    const token = await clientToken('test-client', 'test-secret');
    assert.equal(decodeJwt(token).aud, MCP_URL);
    const session = await openSession(token);
    await listTools(session, token);
    record('accepted', 'client_credentials test-client', { status: 200 });
  });

  it('ES256 from the token endpoint (es-client)', async () => {
    const token = await clientToken('es-client', 'es-secret');
    await openSession(token);
    record('accepted', 'client_credentials es-client', { status: 200 });
  });

  for (const scheme of ['bearer', 'BEARER']) {
    it(`the scheme is case-insensitive ("${scheme}")`, async () => {
      const token = await mint();
      const session = await openSession(token, scheme);
      const response = await post(request(2, 'tools/list'), { token, scheme, session });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      record('accepted', `scheme "${scheme}"`, { status: 200 });
    });
  }

  it('a token with more scopes than required', async () => {
    await openSession(await mint({ scope: `${SCOPE} something:else` }));
    record('accepted', 'extra scopes', { status: 200 });
  });
});

describe('scopes', () => {
  const cases = [
    ['scope "other"', { scope: 'other' }],
    ['no scope claim', { scope: undefined }],
  ];
  for (const [name, overrides] of cases) {
    it(`${name} → 403 insufficient_scope`, async () => {
      const o = await outcome(await post(initialize(), { token: await mint(overrides) }));
      record('scope', name, o);
      assertChallenge(o, { status: 403, error: 'insufficient_scope', scope: true });
    });
  }
});

describe('sessions are bound to the subject', () => {
  it("bob's valid token cannot use alice's session (404), alice's still can", async () => {
    const alice = await clientToken('alice-client', 'alice-secret');
    const bob = await clientToken('bob-client', 'bob-secret');
    const session = await openSession(alice);

    const asBob = [
      ['POST', () => post(request(3, 'tools/list'), { token: bob, session })],
      ['GET', () => get(session, { token: bob })],
      ['DELETE', () => del(session, { token: bob })],
    ];
    for (const [method, send] of asBob) {
      const o = await outcome(await send());
      record('binding', `bob ${method} on alice's session`, o);
      assert.equal(o.status, 404, `${method}: ${summary(o)}`);
    }

    await listTools(session, alice);
    // Another token of the same subject is the same owner.
    await listTools(session, await mint({ sub: 'alice' }));
    record('binding', "alice after bob's attempts", { status: 200 });
  });

  it('a token expiring mid-session is refused; a fresh one of the same subject continues', async () => {
    const exp = now() + 3;
    const token = await mint({ exp });
    const session = await openSession(token);
    // Past the expiry plus the most leeway the server may allow.
    await sleep(Math.max(0, (exp + LEEWAY + 2) * 1000 - Date.now()));
    const o = await outcome(await post(request(4, 'tools/list'), { token, session }));
    record('binding', 'expired mid-session', o);
    assertChallenge(o, { error: 'invalid_token' });
    await listTools(session, await mint());
    record('binding', 'fresh token on that session', { status: 200 });
  });
});

describe('stateless requests (2026-07-28)', () => {
  it('tools/list with a valid token', async () => {
    const response = await stateless(5, 'tools/list', {}, { token: await mint() });
    if (response.status !== 200) assert.fail(summary(await outcome(response)));
    const reply = await jsonRpcReply(response, 5);
    assert.ok(reply.result?.tools?.length > 0, JSON.stringify(reply));
    record('stateless', 'tools/list with a token', { status: 200 });
  });

  it('tools/call test_simple_text with a valid token', async () => {
    const response = await stateless(6, 'tools/call', { name: 'test_simple_text', arguments: {} }, { token: await mint() });
    if (response.status !== 200) assert.fail(summary(await outcome(response)));
    const reply = await jsonRpcReply(response, 6);
    assert.equal(reply.result?.content?.[0]?.type, 'text', JSON.stringify(reply));
  });

  it('tools/list with an expired token → 401 invalid_token', async () => {
    const o = await outcome(await stateless(7, 'tools/list', {}, { token: await mint({ exp: now() - SKEW }) }));
    record('stateless', 'tools/list, expired token', o);
    assertChallenge(o, { error: 'invalid_token' });
  });
});

describe('opaque tokens (introspection, RFC 7662)', () => {
  it('are accepted through introspection, which is cached', async () => {
    const token = await clientToken('opaque-client', 'opaque-secret');
    assert.ok(!token.includes('.'), 'an opaque token, not a JWT');
    const before = await stats();
    const session = await openSession(token); // two requests with the token
    await listTools(session, token); // and a third
    const after = await stats();
    const introspections = after.introspections - before.introspections;
    record('opaque', 'issued to opaque-client, 3 requests', { status: 200 }, `${introspections} introspection(s)`);
    assert.ok(introspections >= 1, 'an opaque token can only be checked by introspection');
    assert.ok(introspections <= 1, `the answer is cached: ${introspections} introspections for one token`);
  });

  it('an opaque token the authorization server does not know → 401 invalid_token', async () => {
    const o = await outcome(await post(initialize(), { token: randomBytes(32).toString('base64url') }));
    record('opaque', 'unknown to the AS', o);
    assertChallenge(o, { error: 'invalid_token' });
  });

  it('an opaque token that has expired → 401 invalid_token', async () => {
    const { token } = await control('mint', { key: 'opaque', claims: claims({ exp: now() - SKEW }) });
    const o = await outcome(await post(initialize(), { token }));
    record('opaque', 'expired', o);
    assertChallenge(o, { error: 'invalid_token' });
  });

  it('an opaque token issued for another resource → 401 invalid_token', async () => {
    const token = await clientToken('opaque-client', 'opaque-secret', { resource: 'https://other.example/mcp' });
    const o = await outcome(await post(initialize(), { token }));
    record('opaque', 'for another resource', o);
    assertChallenge(o, { error: 'invalid_token' });
  });
});

describe('the official TypeScript SDK client', () => {
  it('goes from the 401 to a token (ClientCredentialsProvider) and calls a tool', async () => {
    const before = await stats();
    const requests = [];
    const loggingFetch = (url, init) => {
      requests.push(`${init?.method ?? 'GET'} ${url}`);
      return fetch(url, init);
    };
    const provider = new ClientCredentialsProvider({
      clientId: 'test-client',
      clientSecret: 'test-secret',
      // The credentials go only to this authorization server, whatever the resource says.
      expectedIssuer: AUTH_ISSUER,
    });
    const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
      authProvider: provider,
      fetch: loggingFetch,
      reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
    });
    const client = new Client({ name: 'auth-test-sdk', version: '1.0.0' });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.ok(tools.length > 0, 'tools/list is not empty');
      const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
      assert.equal(result.content?.[0]?.type, 'text', JSON.stringify(result));
      assert.ok(result.content[0].text.length > 0);
      assert.notEqual(result.isError, true);
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close();
    }

    const after = await stats();
    assert.ok(after.tokens > before.tokens, 'the authorization server issued a token');
    const { requests: tokenRequests } = await control('token-requests');
    const asked = tokenRequests.filter((r) => r.client_id === 'test-client').at(-1);
    assert.equal(asked?.status, 200, JSON.stringify(asked));
    assert.deepEqual(asked.resource, [MCP_URL], 'the SDK asked for this resource (RFC 8707)');
    assert.equal(decodeJwt(provider.tokens().access_token).aud, MCP_URL);
    assert.ok(requests.includes(`GET ${PRM_URL}`), `the SDK read the resource metadata: ${requests.join(', ')}`);
    console.log(`SDK client requests:\n  ${requests.join('\n  ')}\n  token request: ${JSON.stringify(asked)}`);
    record('sdk', 'connect, listTools, callTool', { status: 200 }, `${asked.auth_method}, resource ${asked.resource}`);
  });
});

