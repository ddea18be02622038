// The HTTP floor for the ingest benchmark: a bare node:http server that reads a JSON body,
// parses it, and answers 201 with a small JSON body, as the gateway does, and nothing else.
// Run as a child process by ingest.bench.ts; prints "listening on http://127.0.0.1:PORT".
"use strict";
const http = require("node:http");

let next = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const count = Array.isArray(body.events) ? body.events.length : 1;
    const first = next;
    next += count;
    const answer = count === 1 && !body.events ? { index: first, created: true } : { events: Array.from({ length: count }, (_, i) => ({ index: first + i, created: true })) };
    const text = JSON.stringify(answer);
    res.writeHead(201, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
