// The rmcp fixture inside the Worker, two isolates in front of one hub: what an rmcp tool on
// isolate A sends reaches the client on A's POST stream, and what the client POSTs to isolate
// B (answers to the tool's requests, cancellations) reaches the tool on A.
//
//   MCP_URL_A=… MCP_URL_B=… node --test tests/worker/rmcp.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { sseMessages, within } from '../e2e/helpers.mjs';
import { Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);

/** A tools/call with a progress token, so the tool reports progress. */
function withProgress(mcp, id, name, token) {
  const call = mcp.toolCall(id, name);
  call.params._meta = { progressToken: token };
  return call;
}

describe('rmcp tools across isolates', () => {
  it('completes on A a sampling request answered on B', async () => {
    const session = await A.initialize();
    const call = await A.post(session, A.toolCall(1, 'test_sampling', { prompt: 'Say hi' }));
    const messages = sseMessages(call.body);
    const { value: request } = await within(5000, messages.next(), 'the sampling request');
    assert.equal(request.method, 'sampling/createMessage');
    assert.equal(request.params.messages[0].content.text, 'Say hi');
    const answer = {
      jsonrpc: '2.0', id: request.id,
      result: { role: 'assistant', content: { type: 'text', text: 'hi from B' }, model: 'test', stopReason: 'endTurn' },
    };
    assert.equal((await B.post(session, answer)).status, 202);
    const { value: result } = await within(5000, messages.next(), 'the tool result on A');
    assert.equal(result.id, 1);
    assert.match(result.result.content[0].text, /hi from B/);
  });

  it('delivers progress in order on the POST stream', async () => {
    const session = await A.initialize();
    const call = await A.post(session, withProgress(A, 2, 'test_tool_with_progress', 'p-2'));
    assert.equal(call.headers.get('content-type'), 'text/event-stream');
    const seen = [];
    for await (const message of sseMessages(call.body)) {
      seen.push(message);
      if (message.id === 2) break;
    }
    const progress = seen.filter((m) => m.method === 'notifications/progress');
    assert.deepEqual(progress.map((m) => m.params.progress), [0, 50, 100]);
    assert.ok(progress.every((m) => m.params.progressToken === 'p-2'));
    assert.equal(seen.at(-1).id, 2, 'the result comes last');
  });

  it('stops a tool on A when the client cancels it on B', async () => {
    const session = await A.initialize();
    const call = await A.post(session, withProgress(A, 3, 'test_cancellation', 'c-3'));
    const messages = sseMessages(call.body);
    // Past the first second, after which a running request listens for cancellations.
    let last;
    for (let i = 0; i < 13; i += 1) {
      ({ value: last } = await within(5000, messages.next(), 'progress'));
    }
    assert.equal(last.method, 'notifications/progress');
    const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3, reason: 'test' } };
    assert.equal((await B.post(session, cancel)).status, 202);
    const rest = [];
    const ended = (async () => {
      for await (const message of messages) rest.push(message);
    })();
    await within(5000, ended, 'the end of the cancelled stream');
    assert.ok(rest.every((m) => m.id === undefined), `no answer after cancellation: ${JSON.stringify(rest)}`);
    assert.ok(rest.length < 10, `progress stopped soon after cancellation (${rest.length} more)`);
  });
});
