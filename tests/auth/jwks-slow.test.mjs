// JWKS outage: the JWKS answers only after 30 s, see describeJwksOutage in helpers.mjs.
// The server waits a bounded time for it (about 5 s), then answers 503.
// One outage per file: the server refetches at most once per 30 s cool-down, and a file has
// 120 s in all. Rotates the authorization server's signing key; see auth.test.mjs for how
// to run.

import { after, before } from 'node:test';

import { checkServers, describeJwksOutage, printTable } from './helpers.mjs';

before(checkServers);
after(() => printTable('JWKS slow'));

describeJwksOutage('slow', 'answers only after 30 s');
