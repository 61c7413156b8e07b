// Minimal keep-alive HTTP client for the server sections: GET with timing, readiness wait, and scrape
// latency with N concurrent clients (each on its own keep-alive connection, requests back-to-back).
import http from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { median } from "./measure.mjs";

const REQUEST_TIMEOUT_MS = 30_000;

export const keepAliveAgent = () => new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * GET `url`, reading the full body. Resolves { status, headers, ms, bytes, body? } where `body` (a Buffer)
 * is kept only with `keepBody`; `ms` runs from the request to the body's last byte.
 */
export function get(url, { agent, gzip = false, keepBody = false } = {}) {
  const headers = { "accept-encoding": gzip ? "gzip" : "identity" };
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get(url, { agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on("data", (chunk) => {
        bytes += chunk.length;
        if (keepBody) chunks.push(chunk);
      });
      res.on("error", reject);
      res.on("end", () => {
        const ms = performance.now() - start;
        const body = keepBody ? Buffer.concat(chunks) : undefined;
        resolve({ status: res.statusCode, headers: res.headers, ms, bytes, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
  });
}

/** Like `get`, but throws unless the answer is 200. */
export async function get200(url, options) {
  const res = await get(url, options);
  if (res.status !== 200) throw new Error(`GET ${url}: status ${res.status}`);
  return res;
}

/** Polls `url` until it answers 200; `check()` runs between polls (e.g. to notice a dead server). */
export async function waitFor200(url, { deadlineMs, check = () => {} }) {
  const start = performance.now();
  for (;;) {
    check();
    const status = await get(url).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) return performance.now() - start;
    if (performance.now() - start > deadlineMs) {
      throw new Error(`GET ${url}: no 200 within ${deadlineMs} ms (last status ${status || "none"})`);
    }
    await sleep(50);
  }
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * `requests` GETs of `url` split over `clients` concurrent clients, after `warmup` untimed requests per
 * client on the same connections. Returns { medianMs, p99Ms, requests, clients, bytes }.
 */
export async function scrapeLatency(url, { requests, clients = 1, gzip = false, warmup = 3 }) {
  const agents = Array.from({ length: clients }, keepAliveAgent);
  const samples = [];
  let bytes = 0;
  const client = async (agent, count) => {
    for (let i = 0; i < warmup; i++) await get200(url, { agent, gzip });
    for (let i = 0; i < count; i++) {
      const res = await get200(url, { agent, gzip });
      samples.push(res.ms);
      bytes = res.bytes;
    }
  };
  const share = (i) => Math.floor(requests / clients) + (i < requests % clients ? 1 : 0);
  try {
    await Promise.all(agents.map((agent, i) => client(agent, share(i))));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return { medianMs: median(samples), p99Ms: percentile(samples, 99), requests, clients, bytes };
}
