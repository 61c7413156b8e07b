// Benchmark: removing one tombstone of N files (a deleted pod whose directory held 400,000 entries)
// on the built code, while a 1 ms timer measures how long the event loop is kept from running
// (what a /metrics request would wait). Compared with removing the same tree synchronously by path
// in one go (what the reaper did before tombstones: readdir, lstat and unlink in one blocking walk).
//
// CLI: node bench/tombstone.mjs [ENTRIES]      (default 400000; TMPDIR chooses the filesystem)
import { lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeTempDir, removeTempDir } from "./procs.mjs";

const dist = (p) => pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href;

function fill(dir, entries) {
  mkdirSync(dir);
  for (let i = 0; i < entries; i++) writeFileSync(path.join(dir, `f${i}`), "");
}

/** The old reaper's shape: one synchronous walk by path. */
function removeSync(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (lstatSync(p).isDirectory()) removeSync(p);
    else unlinkSync(p);
  }
  rmdirSync(dir);
}

async function measure(label, work) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let longest = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  h.enable();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  h.disable();
  longest = Math.max(longest, performance.now() - last);
  const ms = (ns) => (ns / 1e6).toFixed(1);
  console.log(
    `${label.padEnd(34)} ${seconds.toFixed(2).padStart(7)} s   longest stall ${longest.toFixed(1).padStart(8)} ms   ` +
      `event-loop delay p99 ${ms(h.percentile(99)).padStart(7)} ms, max ${ms(h.max).padStart(8)} ms`,
  );
}

const entries = Number(process.argv[2] ?? "400000");
if (!Number.isInteger(entries) || entries < 1)
  throw new Error(`ENTRIES must be a positive integer, got ${process.argv[2]}`);
const { TombstoneSweeper, TOMBSTONE_PREFIX } = await import(dist("gc/tombstone.js"));
const root = await makeTempDir("vce-bench-tomb-");
try {
  console.log(`one directory of ${entries} empty files under ${os.tmpdir()}`);
  fill(path.join(root, "old"), entries);
  await measure("synchronous walk (before)", () => removeSync(path.join(root, "old")));
  fill(path.join(root, `${TOMBSTONE_PREFIX}bench`), entries);
  await measure("tombstone sweep (now)", async () => {
    const report = await new TombstoneSweeper({ roots: () => [root] }).sweep();
    if (report.removed !== 1 || report.remaining !== 0) throw new Error(`sweep: ${JSON.stringify(report)}`);
  });
} finally {
  await removeTempDir(root);
}
