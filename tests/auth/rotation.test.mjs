// Key rotation: a token under a key the authorization server has just published is accepted
// once the server refetches the JWKS (it does so on an unknown kid, at most once per 30 s
// cool-down), and the previous key keeps working. Changes the authorization server's default
// signing key; see auth.test.mjs for how to run.

import { after, before, describe, it } from 'node:test';

import { checkServers, control, mint, openSession, printTable, record, untilAccepted } from './helpers.mjs';

before(checkServers);
after(() => printTable('key rotation'));

describe('key rotation', () => {
  it('a token signed with a newly published key is accepted within 60 s', async () => {
    const { kid } = await control('rotate', {});
    const { seconds, attempts } = await untilAccepted(() => mint({}, { key: 'rs256', kid }), 60_000);
    console.log(`key rotation: ${kid} accepted after ${seconds.toFixed(1)} s (${attempts} attempt(s))`);
    record('rotation', `new kid ${kid}`, { status: 200 }, `after ${seconds.toFixed(1)} s`);
    // The previous key is still published, so its tokens still work.
    await openSession(await mint({}, { key: 'rs256', kid: 'rs-1' }));
    record('rotation', 'previous kid rs-1', { status: 200 });
  });
});
