// The Worker with MCP_AUTH_KV: tokens of Cloudflare's workers-oauth-provider, checked against
// the records the provider keeps in its KV namespace (OAUTH_KV). The records are written the
// way the provider writes them — key `token:{userId}:{grantId}:{hex SHA-256 of the token}` —
// through the Worker's test route. Run by `bash tests/auth/run.sh worker-kv` only.

import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';

import {
  MCP_URL, SCOPES, assertChallenge, assertJsonRpcError, del, get, listTools, now, openSession,
  outcome, post, printTable, record, request,
} from './helpers.mjs';

after(() => printTable('workers-oauth-provider tokens'));

/** A token as the provider issues it, and its record stored where the provider stores it. */
async function provision({ user = 'alice', scope = SCOPES, expiresIn = 300, audience = MCP_URL, extra = {} } = {}) {
  const grantId = randomUUID().replace(/-/g, '');
  const token = `${user}:${grantId}:${randomBytes(24).toString('base64url')}`;
  const id = createHash('sha256').update(token).digest('hex');
  const stored = {
    id, grantId, userId: user, createdAt: now(), expiresAt: now() + expiresIn, scope,
    wrappedEncryptionKey: 'unused-here',
    ...(audience === undefined ? {} : { audience }),
    grant: { clientId: 'provider-client', scope, encryptedProps: 'unused-here' },
    ...extra,
  };
  const query = new URLSearchParams({
    binding: 'OAUTH_KV', key: `token:${user}:${grantId}:${id}`, value: JSON.stringify(stored), ttl: '300',
  });
  const response = await fetch(new URL(`/__test/kv-put?${query}`, MCP_URL));
  assert.equal(response.status, 200, await response.text());
  return token;
}

describe('workers-oauth-provider tokens from KV', () => {
  it('a stored token opens a session and calls tools', async () => {
    const token = await provision();
    const session = await openSession(token);
    await listTools(session, token);
    record('accepted', 'stored token, this resource', { status: 200 });
  });

  it('a token stored without an audience is the provider\'s own and accepted', async () => {
    const token = await provision({ audience: undefined });
    await listTools(await openSession(token), token);
    record('accepted', 'stored token, no audience', { status: 200 });
  });

  const refused = [
    ['unknown token', async () => `alice:${randomUUID()}:${randomBytes(8).toString('hex')}`],
    ['expired record', () => provision({ expiresIn: -5 })],
    ['record for another resource', () => provision({ audience: 'https://other.example/mcp' })],
    ['not the provider\'s shape', async () => 'just-a-token'],
    ['record under another token\'s key', async () => {
      const token = await provision();
      // Same user and grant, another secret: its hash names no record.
      return token.replace(/:[^:]+$/, ':forged');
    }],
  ];
  for (const [name, makeToken] of refused) {
    it(`${name} → 401 invalid_token`, async () => {
      const o = await outcome(await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: {
        protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'kv-test', version: '1' },
      } }, { token: await makeToken() }));
      record('refused', name, o);
      assertChallenge(o, { error: 'invalid_token', scope: true });
      assertJsonRpcError(o);
    });
  }

  it('a token lacking the required scope → 403', async () => {
    const o = await outcome(await post(request(1, 'tools/list'), { token: await provision({ scope: ['other'] }) }));
    record('refused', 'stored token without the scope', o);
    assertChallenge(o, { status: 403, error: 'insufficient_scope', scope: true });
  });

  it('sessions are bound to the token\'s user', async () => {
    const alice = await provision({ user: 'alice' });
    const bob = await provision({ user: 'bob' });
    const session = await openSession(alice);
    for (const [what, send] of [
      ['POST', () => post(request(2, 'tools/list'), { token: bob, session })],
      ['GET', () => get(session, { token: bob })],
      ['DELETE', () => del(session, { token: bob })],
    ]) {
      const o = await outcome(await send());
      record('binding', `bob ${what} on alice's session`, o);
      assert.equal(o.status, 404, `${what}: ${o.status} ${o.text}`);
    }
    await listTools(session, alice);
  });
});
