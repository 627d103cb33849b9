// Shared helpers for the end-to-end tests: timeouts, a small SSE parser, JSON-RPC replies.
import assert from 'node:assert/strict';
import net from 'node:net';

export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects after `ms` with `what` in the message; otherwise settles like `promise`. */
export async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A minimal text/event-stream parser: yields `{ event, id, data }` for every dispatched event
 * (comments and events with empty data, such as priming events, are skipped).
 */
export async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = { event: undefined, id: undefined, data: [] };
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
        const line = buffer.slice(0, newline);
        const length = buffer.startsWith('\r\n', newline) ? 2 : 1;
        // A lone trailing \r may be the first half of \r\n: wait for more input.
        if (length === 1 && buffer[newline] === '\r' && newline === buffer.length - 1) break;
        buffer = buffer.slice(newline + length);
        if (line === '') {
          // As in the SSE spec, an event whose data is empty is not dispatched.
          const data = event.data.join('\n');
          if (data !== '') yield { event: event.event, id: event.id, data };
          event = { event: undefined, id: undefined, data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') event.data.push(value);
        else if (field === 'event') event.event = value;
        else if (field === 'id') event.id = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** The JSON-RPC messages of an SSE body. */
export async function* sseMessages(body) {
  for await (const { data } of sseEvents(body)) {
    yield JSON.parse(data);
  }
}

/** The single JSON-RPC response to a request, whether the server answered with JSON or SSE. */
export async function jsonRpcReply(response, id) {
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) return response.json();
  assert.match(type, /^text\/event-stream/, `unexpected content-type ${type}`);
  for await (const message of sseMessages(response.body)) {
    if (message.id === id && ('result' in message || 'error' in message)) return message;
  }
  throw new Error(`SSE stream ended without a response to id ${id}`);
}

/** The median of some numbers (for the load benchmarks). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The `p` quantile (0–1) of some numbers. */
export const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** A loopback TCP port nothing listens on now. */
export function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
