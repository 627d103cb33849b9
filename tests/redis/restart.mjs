// Restarts on a Redis pair. A process restart: process A holds a client's stream and is killed;
// what B publishes meanwhile is replayed on B after A comes back. A Redis outage: both
// processes answer 503 with a JSON-RPC error while Redis is away, and serve the same session
// again once it is back. tests/redis/run.sh runs the phases around the kills and restarts:
//   RESTART_PHASE=before | down | after | outage | recovered  node --test tests/redis/restart.mjs
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { it } from 'node:test';

import { jsonRpcReply, sseEvents, within } from '../e2e/helpers.mjs';
import { Mcp } from '../worker/mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);
const STATE = process.env.RESTART_STATE;
const WATCHED = 'test://restart';
assert.ok(STATE, 'RESTART_STATE names the file that carries state between the phases');

async function touch(mcp, session, id) {
  const reply = await jsonRpcReply(await mcp.post(session, mcp.toolCall(id, 'touch_resource', { uri: WATCHED })), id);
  assert.notEqual(reply.result.isError, true, JSON.stringify(reply));
}

const phase = process.env.RESTART_PHASE;
if (phase === 'before') {
  it('opens a stream on A that hears B', async () => {
    const session = await A.initialize('restart-test');
    await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
    const stream = await A.get(session);
    const events = sseEvents(stream.body);
    await touch(B, session, 2);
    const { value: seen } = await within(5000, events.next(), 'the first update');
    await events.return();
    await writeFile(STATE, JSON.stringify({ session, lastEventId: seen.id }));
    // The stream stays open until A is killed.
  });
} else if (phase === 'down') {
  it('publishes on B while A is down', async () => {
    const { session } = JSON.parse(await readFile(STATE, 'utf8'));
    await touch(B, session, 3);
    await touch(B, session, 4);
  });
} else if (phase === 'outage') {
  it('answers 503 with a JSON-RPC error on both processes while Redis is away', async () => {
    const { session } = JSON.parse(await readFile(STATE, 'utf8'));
    for (const mcp of [A, B]) {
      const response = await mcp.post(session, mcp.toolCall(6, 'whoami'));
      assert.equal(response.status, 503);
      const body = await response.json();
      assert.equal(body.error.code, -32003, JSON.stringify(body));
    }
  });
} else if (phase === 'recovered') {
  it('serves the same session on both processes once Redis is back', async () => {
    const { session } = JSON.parse(await readFile(STATE, 'utf8'));
    for (const mcp of [A, B]) {
      let reply;
      for (let attempt = 0; attempt < 50 && !reply; attempt++) {
        const response = await mcp.post(session, mcp.toolCall(7, 'whoami'));
        if (response.status === 200) reply = await jsonRpcReply(response, 7);
        else await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.match(reply?.result.content[0].text ?? '', /restart-test/);
    }
  });
} else {
  it('replays on B what was missed, and A serves the session again', async () => {
    const { session, lastEventId } = JSON.parse(await readFile(STATE, 'utf8'));
    const stream = await B.get(session, lastEventId);
    const events = sseEvents(stream.body);
    const replayed = [];
    for (let i = 0; i < 2; i++) {
      const { value } = await within(5000, events.next(), `replayed event ${i + 1}`);
      replayed.push(JSON.parse(value.data).method);
    }
    assert.deepEqual(replayed, ['notifications/resources/updated', 'notifications/resources/updated']);
    await events.return();
    await stream.body.cancel();
    const reply = await jsonRpcReply(await A.post(session, A.toolCall(5, 'whoami')), 5);
    assert.match(reply.result.content[0].text, /restart-test/);
  });
}
