// Baseline for scrape latency: a plain node:http server answering every request with the same bytes,
// read once into memory. Prints one JSON line { port } once listening.
//
// CLI: node bench/baseline-server.mjs BODY_FILE CONTENT_TYPE [PORT]
import { readFileSync } from "node:fs";
import http from "node:http";

const KEEP_ALIVE_MS = 65_000; // as the exporter's server

function main([file, contentType, port = "0"]) {
  if (!file || !contentType)
    throw new Error("usage: node bench/baseline-server.mjs BODY_FILE CONTENT_TYPE [PORT]");
  const body = readFileSync(file);
  const headers = { "Content-Type": contentType, "Content-Length": body.length };
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  });
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.listen(Number(port), "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main(process.argv.slice(2));
