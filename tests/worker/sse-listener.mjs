// A cheap SSE reader for load drivers: a GET stream read with node:http, counting the JSON-RPC
// messages it delivers. Reading a thousand streams through `fetch` costs the driver more CPU
// than the server spends on them (web streams per chunk), which would time the driver.
import http from 'node:http';

import { LEGACY } from './mcp.mjs';

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/**
 * Opens the standalone GET stream of `session` at `url`. Resolves once the response headers
 * arrived, with `next()` (a promise of the arrival time, from `performance.now()`, of the
 * next JSON-RPC message; rejected if the stream ends first) and `close()`.
 */
export function listen(url, session) {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.get({
      host: hostname, port, path: pathname, agent,
      headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': LEGACY },
    }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`GET stream answered ${response.statusCode}`));
        return;
      }
      const waiting = [];
      const arrived = [];
      let ended = false;
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // Priming events and keep-alives carry no message.
          if (!/^data: ?\{/m.test(event)) continue;
          const at = performance.now();
          const waiter = waiting.shift();
          waiter ? waiter.resolve(at) : arrived.push(at);
        }
      });
      response.on('close', () => {
        ended = true;
        for (const waiter of waiting.splice(0)) waiter.reject(new Error('the GET stream ended'));
      });
      resolve({
        next: () => {
          if (arrived.length) return Promise.resolve(arrived.shift());
          if (ended) return Promise.reject(new Error('the GET stream ended'));
          return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
        },
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}
