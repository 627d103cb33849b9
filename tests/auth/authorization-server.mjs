// A real OAuth 2.1 authorization server for the auth tests: RFC 8414 and OpenID Connect
// discovery, a JWKS with real generated keys (one RS256, one ES256), a client_credentials token
// endpoint (RFC 8707 `resource` becomes `aud`), opaque tokens and RFC 7662 introspection.
//
//   node tests/auth/authorization-server.mjs --port P [--host 127.0.0.1] [--metadata both|oidc-only]
//
// Prints one line `ready <issuer>` (issuer `http://HOST:P`, no trailing slash) once it listens,
// then runs until killed. `--metadata oidc-only` answers 404 at
// /.well-known/oauth-authorization-server, so clients must fall back to OpenID discovery.
//
// Pre-registered clients (client_secret_basic or client_secret_post):
//   test-client/test-secret (sub test-client), alice-client/alice-secret (sub alice),
//   bob-client/bob-secret (sub bob), es-client/es-secret (ES256-signed tokens),
//   opaque-client/opaque-secret (opaque tokens, known only to introspection).
// The resource server authenticates to introspection as resource-server/rs-secret.
//
// Everything under /__control/ exists for the tests only (no real authorization server has it):
//   POST /__control/mint         { claims, key, kid?, header?, defaults?, rawPayload?, variant? } -> { token }
//                                with `count: N`: N tokens, each with its own jti -> { tokens }
//   POST /__control/rotate       { retire? }                                    -> { kid }
//   POST /__control/jwks-mode    { mode: "ok" | "down" | "junk" | "slow" }      -> { mode }
//   GET  /__control/stats        -> { jwksFetches, metadataFetches, introspections, tokens }
//   GET  /__control/token-requests -> { requests: [{ client_id, auth_method, grant_type, resource, scope, status }] }
//
// Mint keys:
//   rs256        the current default RS256 key (`kid` picks another published RS256 key)
//   es256        the published ES256 key
//   unpublished  a real RS256 key the JWKS never contains; `kid` is the kid the header claims
//                (default "rs-unpublished"; "rs-1" forges a signature under a published kid)
//   none         `alg: none`, unsigned, empty signature
//   hs256-public HS256 keyed with a published RS256 public key (`kid` picks which, default the
//                current one): `variant` "pem" (default, the SPKI PEM text) or "jwk" (its JWK JSON)
//   opaque       a random non-JWT token that introspection answers with `claims`
// `claims` are signed as given unless `defaults: true` (then iss, sub, iat, nbf, exp now+300, jti,
// client_id and scope are filled in where missing). `rawPayload` (a string) is signed verbatim
// instead, for payloads that are not JSON. `header` adds to or overrides the protected header,
// except `alg`, which follows the key.
import http from 'node:http';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  CompactSign,
  base64url,
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  jwtVerify,
} from 'jose';

const DEFAULT_SCOPE = 'mcp:tools';
const TOKEN_TTL = 300;
const SLOW_JWKS_MS = 30_000;

const CLIENTS = new Map([
  ['test-client', { secret: 'test-secret', sub: 'test-client' }],
  ['alice-client', { secret: 'alice-secret', sub: 'alice' }],
  ['bob-client', { secret: 'bob-secret', sub: 'bob' }],
  ['es-client', { secret: 'es-secret', sub: 'es-client', key: 'es256' }],
  ['opaque-client', { secret: 'opaque-secret', sub: 'opaque-client', opaque: true }],
]);
const RESOURCE_SERVER = { id: 'resource-server', secret: 'rs-secret' };

const encoder = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);

async function generateKey(alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk, pem: await exportSPKI(publicKey) };
}

/** Signs `payload` (bytes) as a compact JWS. */
function sign(payload, key, header = {}) {
  return new CompactSign(payload)
    .setProtectedHeader({ typ: 'JWT', kid: key.kid, ...header, alg: key.alg })
    .sign(key.privateKey);
}

class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(body.error_description ?? body.error);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const oauthError = (status, error, description, headers) =>
  new HttpError(status, { error, error_description: description }, headers);

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw oauthError(413, 'invalid_request', 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw oauthError(400, 'invalid_request', 'body is not JSON');
  }
}

async function readForm(req) {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw oauthError(400, 'invalid_request', 'expected application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await readBody(req));
}

// RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined for Basic.
const formDecode = (s) => decodeURIComponent(s.replace(/\+/g, ' '));

/** The client credentials of a request: `{ id, secret, method }`, or undefined. */
function clientCredentials(req, form) {
  const header = req.headers.authorization;
  const basic = header && /^basic\s+(\S+)\s*$/i.exec(header);
  const posted = form.has('client_id');
  if (header && !basic) throw oauthError(401, 'invalid_client', 'unsupported client authentication', { 'www-authenticate': 'Basic realm="token"' });
  // RFC 6749 §2.3: a client uses only one authentication method per request.
  if (basic && posted) throw oauthError(400, 'invalid_request', 'more than one client authentication method');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw oauthError(401, 'invalid_client', 'malformed Basic credentials', { 'www-authenticate': 'Basic realm="token"' });
    try {
      return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)), method: 'client_secret_basic' };
    } catch {
      throw oauthError(401, 'invalid_client', 'malformed Basic credentials', { 'www-authenticate': 'Basic realm="token"' });
    }
  }
  if (posted) return { id: form.get('client_id'), secret: form.get('client_secret') ?? undefined, method: 'client_secret_post' };
  return undefined;
}

export async function startAuthorizationServer({ port = 0, host = '127.0.0.1', metadata = 'both' } = {}) {
  if (!['both', 'oidc-only'].includes(metadata)) throw new Error(`--metadata must be both or oidc-only, not ${metadata}`);

  /** Published signing keys by kid, in publication order. */
  const keys = new Map();
  const retired = new Set();
  for (const key of [await generateKey('RS256', 'rs-1'), await generateKey('ES256', 'es-1')]) keys.set(key.kid, key);
  let currentRs = keys.get('rs-1');
  let rotations = 1;
  const unpublished = await generateKey('RS256', 'rs-unpublished');

  /** Opaque access tokens → their claims (what introspection answers). */
  const opaque = new Map();
  const stats = { jwksFetches: 0, metadataFetches: 0, introspections: 0, tokens: 0 };
  const tokenRequests = [];
  let jwksMode = 'ok';
  const slowTimers = new Set();

  const server = http.createServer();
  // Longer than the usual client pool's idle time, so a pooled connection is rarely closed by
  // this side at the moment the resource server reuses it.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${server.address().port}`;

  const jwks = () => ({ keys: [...keys.values()].filter((k) => !retired.has(k.kid)).map((k) => k.jwk) });

  function metadataDocument(oidc) {
    const document = {
      issuer,
      // Only client_credentials is served; the endpoint exists because clients (the TypeScript
      // SDK among them) require it in the metadata.
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      introspection_endpoint: `${issuer}/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: [DEFAULT_SCOPE],
    };
    if (oidc) {
      Object.assign(document, {
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      });
    }
    return document;
  }

  function baseClaims(client, clientId) {
    const iat = now();
    return { iss: issuer, sub: client.sub, iat, nbf: iat, exp: iat + TOKEN_TTL, client_id: clientId, jti: randomUUID() };
  }

  async function issue(claims, { keyName = 'rs256', opaqueToken = false } = {}) {
    if (opaqueToken) {
      const token = randomBytes(32).toString('base64url');
      opaque.set(token, claims);
      return token;
    }
    const key = keyName === 'es256' ? keys.get('es-1') : currentRs;
    return sign(encoder.encode(JSON.stringify(claims)), key);
  }

  async function tokenEndpoint(req, res) {
    const form = await readForm(req);
    const record = {
      at: new Date().toISOString(),
      client_id: undefined,
      auth_method: undefined,
      grant_type: form.get('grant_type'),
      resource: form.getAll('resource'),
      scope: form.get('scope') ?? undefined,
      status: 0,
    };
    tokenRequests.push(record);
    if (tokenRequests.length > 100) tokenRequests.shift();
    try {
      const credentials = clientCredentials(req, form);
      const basic = credentials?.method === 'client_secret_basic' ? { 'www-authenticate': 'Basic realm="token"' } : {};
      if (!credentials) throw oauthError(401, 'invalid_client', 'client authentication required', { 'www-authenticate': 'Basic realm="token"' });
      Object.assign(record, { client_id: credentials.id, auth_method: credentials.method });
      const client = CLIENTS.get(credentials.id);
      if (!client || client.secret !== credentials.secret) throw oauthError(401, 'invalid_client', 'unknown client or wrong secret', basic);
      if (record.grant_type !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', 'only client_credentials is served');
      // RFC 8707: each `resource` is an absolute URI without a fragment; it becomes the audience.
      for (const resource of record.resource) {
        let url;
        try {
          url = new URL(resource);
        } catch {
          throw oauthError(400, 'invalid_target', `resource ${resource} is not an absolute URI`);
        }
        if (url.hash || resource.includes('#')) throw oauthError(400, 'invalid_target', 'resource must not have a fragment');
      }
      const scope = record.scope?.trim() ? record.scope.trim().split(/\s+/).join(' ') : DEFAULT_SCOPE;
      const claims = { ...baseClaims(client, credentials.id), scope };
      if (record.resource.length === 1) claims.aud = record.resource[0];
      else if (record.resource.length > 1) claims.aud = record.resource;
      const token = await issue(claims, { keyName: client.key, opaqueToken: client.opaque });
      stats.tokens += 1;
      record.status = 200;
      send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: TOKEN_TTL, scope }, { pragma: 'no-cache' });
    } catch (error) {
      record.status = error.status ?? 500;
      throw error;
    }
  }

  async function introspect(token) {
    const known = opaque.get(token);
    if (known) {
      if (known.exp !== undefined && known.exp <= now()) opaque.delete(token);
      else if (known.nbf === undefined || known.nbf <= now()) return known;
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks()), { issuer, algorithms: ['RS256', 'ES256'] });
      return payload;
    } catch {
      return undefined;
    }
  }

  async function introspectionEndpoint(req, res) {
    stats.introspections += 1;
    const form = await readForm(req);
    let credentials;
    try {
      credentials = clientCredentials(req, form);
    } catch {
      credentials = undefined;
    }
    if (!credentials || credentials.id !== RESOURCE_SERVER.id || credentials.secret !== RESOURCE_SERVER.secret) {
      throw oauthError(401, 'invalid_client', 'the resource server must authenticate', { 'www-authenticate': 'Basic realm="introspection"' });
    }
    const token = form.get('token');
    if (!token) throw oauthError(400, 'invalid_request', 'token is required');
    const claims = await introspect(token);
    if (!claims) return send(res, 200, { active: false });
    const { iss, sub, aud, exp, iat, nbf, client_id, scope, jti } = claims;
    send(res, 200, { active: true, iss, sub, aud, exp, iat, nbf, client_id, scope, jti, token_type: 'Bearer' });
  }

  function jwksEndpoint(req, res) {
    stats.jwksFetches += 1;
    switch (jwksMode) {
      case 'down':
        return send(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
      case 'junk':
        return send(res, 200, 'not json');
      case 'slow': {
        // Answers correctly, but only after the resource server should have given up.
        const timer = setTimeout(() => {
          slowTimers.delete(timer);
          if (!res.destroyed) send(res, 200, jwks());
        }, SLOW_JWKS_MS);
        slowTimers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          slowTimers.delete(timer);
        });
        return undefined;
      }
      default:
        return send(res, 200, jwks());
    }
  }

  async function mint(body) {
    const { claims = {}, key: keyName = 'rs256', kid, header = {}, defaults = false, rawPayload, variant = 'pem' } = body;
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw oauthError(400, 'invalid_request', 'claims must be an object');
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw oauthError(400, 'invalid_request', 'header must be an object');
    let payload = claims;
    if (defaults) {
      const iat = now();
      payload = {
        iss: issuer, sub: 'test-client', iat, nbf: iat, exp: iat + TOKEN_TTL, jti: randomUUID(),
        client_id: 'test-client', scope: DEFAULT_SCOPE, ...claims,
      };
    }
    const bytes = encoder.encode(rawPayload !== undefined ? String(rawPayload) : JSON.stringify(payload));
    const { alg: _ignored, ...extra } = header;
    switch (keyName) {
      case 'rs256':
      case 'es256': {
        const key = kid !== undefined ? keys.get(kid) : keyName === 'es256' ? keys.get('es-1') : currentRs;
        if (!key || key.alg !== keyName.toUpperCase()) throw oauthError(400, 'invalid_request', `no published ${keyName} key ${kid}`);
        return sign(bytes, key, extra);
      }
      case 'unpublished':
        return sign(bytes, unpublished, { kid: kid ?? unpublished.kid, ...extra });
      case 'none': {
        const protectedHeader = { alg: 'none', typ: 'JWT', ...(kid !== undefined ? { kid } : {}), ...extra, alg: 'none' };
        return `${base64url.encode(JSON.stringify(protectedHeader))}.${base64url.encode(bytes)}.`;
      }
      case 'hs256-public': {
        const key = keys.get(kid ?? currentRs.kid);
        if (!key || key.alg !== 'RS256') throw oauthError(400, 'invalid_request', `no published RS256 key ${kid}`);
        if (!['pem', 'jwk'].includes(variant)) throw oauthError(400, 'invalid_request', 'variant must be pem or jwk');
        // The algorithm-confusion forgery: the verifier's own public key used as an HMAC secret.
        const secret = encoder.encode(variant === 'jwk' ? JSON.stringify(key.jwk) : key.pem);
        return new CompactSign(bytes).setProtectedHeader({ typ: 'JWT', kid: key.kid, ...extra, alg: 'HS256' }).sign(secret);
      }
      case 'opaque': {
        const token = randomBytes(32).toString('base64url');
        opaque.set(token, payload);
        return token;
      }
      default:
        throw oauthError(400, 'invalid_request', `unknown key ${keyName}`);
    }
  }

  async function control(req, res, name) {
    if (req.method === 'GET' && name === 'stats') return send(res, 200, stats);
    if (req.method === 'GET' && name === 'token-requests') return send(res, 200, { requests: tokenRequests });
    if (req.method !== 'POST') throw oauthError(405, 'invalid_request', 'method not allowed');
    const body = await readJson(req);
    switch (name) {
      case 'mint':
        // `count`: that many tokens at once, each with a `jti` of its own (for benchmarks).
        if (body.count !== undefined) {
          const tokens = [];
          for (let i = 0; i < Number(body.count); i++) {
            tokens.push(await mint({ ...body, claims: { ...body.claims, jti: randomUUID() } }));
          }
          return send(res, 200, { tokens });
        }
        return send(res, 200, { token: await mint(body) });
      case 'rotate': {
        rotations += 1;
        const key = await generateKey('RS256', `rs-${rotations}`);
        if (body.retire) for (const old of keys.values()) if (old.alg === 'RS256') retired.add(old.kid);
        keys.set(key.kid, key);
        currentRs = key;
        return send(res, 200, { kid: key.kid });
      }
      case 'jwks-mode': {
        if (!['ok', 'down', 'junk', 'slow'].includes(body.mode)) throw oauthError(400, 'invalid_request', 'mode must be ok, down, junk or slow');
        jwksMode = body.mode;
        return send(res, 200, { mode: jwksMode });
      }
      default:
        throw oauthError(404, 'invalid_request', `no control endpoint ${name}`);
    }
  }

  async function route(req, res) {
    const { pathname } = new URL(req.url, issuer);
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (pathname.startsWith('/__control/')) return control(req, res, pathname.slice('/__control/'.length));
    if (get && pathname === '/.well-known/oauth-authorization-server' && metadata === 'both') {
      stats.metadataFetches += 1;
      return send(res, 200, metadataDocument(false), { 'cache-control': 'no-cache' });
    }
    if (get && pathname === '/.well-known/openid-configuration') {
      stats.metadataFetches += 1;
      return send(res, 200, metadataDocument(true), { 'cache-control': 'no-cache' });
    }
    if (get && pathname === '/jwks') return jwksEndpoint(req, res);
    if (req.method === 'POST' && pathname === '/token') return tokenEndpoint(req, res);
    if (req.method === 'POST' && pathname === '/introspect') return introspectionEndpoint(req, res);
    if (get && pathname === '/authorize') return send(res, 400, { error: 'unsupported_response_type', error_description: 'only client_credentials is served' });
    return send(res, 404, { error: 'not_found' });
  }

  server.on('request', (req, res) => {
    res.on('finish', () => console.error(`${req.method} ${req.url} -> ${res.statusCode}`));
    route(req, res).catch((error) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof HttpError) return send(res, error.status, error.body, error.headers);
      console.error(error);
      return send(res, 500, { error: 'server_error', error_description: String(error?.message ?? error) });
    });
  });

  return {
    issuer,
    server,
    async close() {
      for (const timer of slowTimers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      metadata: { type: 'string', default: 'both' },
    },
  });
  const as = await startAuthorizationServer({ port: Number(values.port), host: values.host, metadata: values.metadata });
  console.log(`ready ${as.issuer}`);
  const stop = async () => {
    await as.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
