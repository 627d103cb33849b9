// A round-robin load balancer without sticky sessions: each request goes to the next backend,
// whatever session it belongs to; bodies (SSE included) stream through both ways.
//
//   node tests/redis/balancer.mjs PORT BACKEND_URL...     (prints `ready` when listening)
import http from 'node:http';

const [port, ...backends] = process.argv.slice(2);
let next = 0;

const server = http.createServer((request, response) => {
  const target = new URL(request.url, backends[next++ % backends.length]);
  const upstream = http.request(
    target,
    { method: request.method, headers: { ...request.headers, host: target.host } },
    (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on('error', () => {
    if (!response.headersSent) response.writeHead(502);
    response.end();
  });
  // A client that leaves closes the backend's connection too.
  response.on('close', () => upstream.destroy());
  request.pipe(upstream);
});
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
