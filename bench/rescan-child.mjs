// Child process of the scan section: one in-process Scanner, a first scan, then timed no-change rescans.
// Prints one JSON line: { firstMs, firstFilesRead, rescanMs[], rescanFilesRead[], rssMiB }.
//
// CLI: node bench/rescan-child.mjs ROOT [RUNS]
import { performance } from "node:perf_hooks";

const SCANNER_URL = new URL("../dist/scan/scanner.js", import.meta.url);

async function timed(fn) {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, filesRead: value?.stats?.filesRead };
}

async function main([root, runs = "5"]) {
  if (!root) throw new Error("usage: node bench/rescan-child.mjs ROOT [RUNS]");
  const { Scanner } = await import(SCANNER_URL.href);
  const scanner = new Scanner({ hostRoot: root });
  const first = await timed(() => scanner.scan());
  const rescans = [];
  for (let i = 0; i < Number(runs); i++) rescans.push(await timed(() => scanner.scan()));
  const result = {
    firstMs: first.ms,
    firstFilesRead: first.filesRead ?? null,
    rescanMs: rescans.map((r) => r.ms),
    rescanFilesRead: rescans.map((r) => r.filesRead ?? null),
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main(process.argv.slice(2));
