// Streams a client abandoned must not swallow its messages. A client follows its GET stream
// the way the SDKs do (resuming with Last-Event-ID after the server's `retry:` when the stream
// ends); before a resource update it leaves another stream behind in one of several ways. Every
// update must reach the stream it reads within a second, exactly once.
//
//   MCP_URL_A=... MCP_URL_B=... node --test tests/worker/abandoned.test.mjs

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { jsonRpcReply } from '../e2e/helpers.mjs';
import { LEGACY, Mcp } from './mcp.mjs';

const A = new Mcp(process.env.MCP_URL_A);
const B = new Mcp(process.env.MCP_URL_B);
const WATCHED = 'test://abandoned';

function getStream(mcp, session, lastEventId, signal) {
  return fetch(mcp.url, {
    signal,
    headers: {
      accept: 'text/event-stream',
      'mcp-session-id': session,
      'mcp-protocol-version': LEGACY,
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
  });
}

/** Follows a session's GET stream as an SDK client does; `messages` records what arrived. */
class Follower {
  constructor(mcp, session) {
    Object.assign(this, { mcp, session, messages: [], lastEventId: undefined, retry: 1000 });
    this.current = undefined;
    this.stopped = false;
  }

  /** Opens a stream (resuming from the last id seen) and reads it until it ends. */
  async open() {
    const response = await getStream(this.mcp, this.session, this.lastEventId);
    assert.equal(response.status, 200);
    const reader = response.body.getReader();
    const connection = { reader, frozen: false };
    this.current = connection;
    this.#read(connection);
    return connection;
  }

  async #read(connection) {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = { id: undefined, data: [] };
    for (;;) {
      let chunk;
      try {
        chunk = await connection.reader.read();
      } catch {
        break;
      }
      if (chunk.done || connection.frozen) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (event.id !== undefined) this.lastEventId = event.id;
          const data = event.data.join('\n');
          if (data) this.messages.push({ id: event.id, message: JSON.parse(data), at: Date.now() });
          event = { id: undefined, data: [] };
        } else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('data: ')) event.data.push(line.slice(6));
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
      }
    }
    // A frozen connection is one the client no longer reads (it died unnoticed).
    if (connection.frozen || this.stopped || this.current !== connection) return;
    await sleep(this.retry);
    if (!this.stopped) await this.open();
  }

  /** Stops reading the current stream without closing it, and reconnects. */
  async reconnectOverDeadStream() {
    this.current.frozen = true;
    return this.open();
  }

  stop() {
    this.stopped = true;
    this.current?.reader.cancel().catch(() => {});
  }

  updates() {
    return this.messages.filter((m) => m.message.method === 'notifications/resources/updated');
  }
}

const patterns = {
  async 'a second GET aborted before its body is read'(session) {
    const abort = new AbortController();
    const response = await getStream(A, session, undefined, abort.signal);
    assert.equal(response.status, 200);
    abort.abort();
  },
  async 'a second GET aborted after its priming event was read'(session) {
    const abort = new AbortController();
    const response = await getStream(B, session, undefined, abort.signal);
    const reader = response.body.getReader();
    await reader.read();
    abort.abort();
  },
  async 'a second GET read for a while, then cancelled'(session) {
    const response = await getStream(A, session);
    const reader = response.body.getReader();
    await reader.read();
    await sleep(200);
    await reader.cancel();
  },
  async 'the followed stream dies unnoticed and the client reconnects'(_session, follower) {
    await follower.reconnectOverDeadStream();
  },
  async 'two abandoned GETs, one on each isolate'(session) {
    for (const mcp of [A, B]) {
      const abort = new AbortController();
      await getStream(mcp, session, undefined, abort.signal);
      abort.abort();
    }
  },
};

describe('abandoned streams', () => {
  for (const [name, abandon] of Object.entries(patterns)) {
    it(`delivers every update once, within a second, after ${name}`, async () => {
      const session = await A.initialize('abandoned-test');
      const publisher = await B.initialize('abandoned-publisher');
      await jsonRpcReply(await A.post(session, A.request(1, 'resources/subscribe', { uri: WATCHED })), 1);
      const follower = new Follower(A, session);
      await follower.open();
      await sleep(100);
      await abandon(session, follower);

      const published = [];
      for (let n = 0; n < 3; n++) {
        await sleep(n === 0 ? 50 : 400);
        published.push(Date.now());
        await jsonRpcReply(
          await B.post(publisher, B.toolCall(10 + n, 'touch_resource', { uri: WATCHED })),
          10 + n,
        );
      }
      const deadline = Date.now() + 3000;
      while (follower.updates().length < published.length && Date.now() < deadline) await sleep(20);
      await sleep(300);
      follower.stop();

      const updates = follower.updates();
      assert.equal(updates.length, published.length, `each update arrives once: ${JSON.stringify(updates)}`);
      assert.equal(new Set(updates.map((u) => u.id)).size, updates.length, 'no event twice');
      updates.forEach((update, n) => {
        const delay = update.at - published[n];
        assert.ok(delay < 1000, `update ${n} took ${delay} ms`);
      });
    });
  }
});
