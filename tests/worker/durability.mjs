// Durability across a restart of workerd on the same persisted storage. Run in two phases
// around the restart (tests/worker/run.sh does):
//   node --test tests/worker/durability.mjs   with DURABILITY_PHASE=before, then =after
// The first phase leaves a session with two notifications the client has not seen; the second
// checks that the session still works and that Last-Event-ID replays exactly those two.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { it } from 'node:test';

import { jsonRpcReply, sseEvents, within } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const STATE = process.env.DURABILITY_STATE;
const WATCHED = 'test://watched-resource';
assert.ok(STATE, 'DURABILITY_STATE names the file that carries state between the phases');

async function touch(session, id) {
  const reply = await jsonRpcReply(await A.post(session, A.toolCall(id, 'touch_resource', { uri: WATCHED })), id);
  assert.notEqual(reply.result.isError, true, JSON.stringify(reply));
}

if (process.env.DURABILITY_PHASE === 'before') {
  it('leaves a session with missed notifications', async () => {
    const session = await A.initialize('durability-test');
    await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
    const stream = await A.get(session);
    const events = sseEvents(stream.body);
    await touch(session, 2);
    const { value: seen } = await within(5000, events.next(), 'the first update');
    assert.ok(seen.id, 'events carry ids');
    await events.return();
    await stream.body.cancel();
    await touch(session, 3);
    await touch(session, 4);
    await writeFile(STATE, JSON.stringify({ session, lastEventId: seen.id }));
  });
} else {
  it('keeps the session and replays what was missed after a restart', async () => {
    const { session, lastEventId } = JSON.parse(await readFile(STATE, 'utf8'));
    const reply = await jsonRpcReply(await A.post(session, A.toolCall(5, 'whoami')), 5);
    assert.match(reply.result.content[0].text, /durability-test/);
    const stream = await A.get(session, lastEventId);
    const events = sseEvents(stream.body);
    const replayed = [];
    for (let i = 0; i < 2; i++) {
      const { value } = await within(5000, events.next(), `replayed event ${i + 1}`);
      replayed.push(JSON.parse(value.data));
    }
    assert.deepEqual(replayed.map((m) => m.method), [
      'notifications/resources/updated',
      'notifications/resources/updated',
    ]);
    await events.return();
    await stream.body.cancel();
  });
}
