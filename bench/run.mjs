// Benchmark harness (`npm run bench`). For each tree size: generate a synthetic host tree in a temp dir,
// measure the `find | cat` baseline, run every selected section, print a table and write .bench/results.json.
//
// Environment:
//   BENCH_SIZES=110,1000      pod counts (default 110,1000,5000)
//   BENCH_SECTIONS=scan       sections to run: scan, gc, metrics (default all; empty = generator + baseline only)
//   BENCH_SCRAPES, BENCH_CHURN_SECONDS, BENCH_IDLE_SECONDS   see metrics.mjs
//   BENCH_SEED=1              generator seed
//   TMPDIR=/dev/shm           where trees are generated (os.tmpdir())
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { generateTree, loadTemplate } from "./gen-tree.mjs";
import { measureBaseline } from "./measure.mjs";
import { metricsSection } from "./metrics.mjs";
import { makeTempDir, removeTempDir } from "./procs.mjs";
import { countStatuses, fmt, printTable, row } from "./report.mjs";
import { gcSection } from "./gc.mjs";
import { scanSection } from "./scan.mjs";

const SECTIONS = [scanSection, gcSection, metricsSection]; // metrics last: it edits the tree (and restores it)
const DEFAULT_SIZES = [110, 1000, 5000];
const RESULTS_FILE = fileURLToPath(new URL("../.bench/results.json", import.meta.url));

function parseSizes(value) {
  if (value === undefined) return DEFAULT_SIZES;
  const sizes = value.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`BENCH_SIZES must be a comma-separated list of positive integers, got "${value}"`);
  }
  return sizes;
}

function selectSections(value) {
  if (value === undefined) return SECTIONS;
  const names = value.split(",").filter(Boolean);
  const unknown = names.filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`unknown BENCH_SECTIONS: ${unknown.join(", ")}`);
  return SECTIONS.filter((s) => names.includes(s.name));
}

function metaRows(meta) {
  return [
    row("pods", fmt.int(meta.pods)),
    row("files", fmt.int(meta.files)),
    row("total bytes", fmt.bytes(meta.bytes)),
    row("tree generation", fmt.ms(meta.generateMs)),
    row("baseline find+cat (median)", fmt.ms(meta.baselineMs)),
  ];
}

async function generate(dir, pods, options) {
  const start = performance.now();
  const tree = await generateTree(dir, pods, options);
  return {
    pods,
    files: tree.files,
    bytes: tree.bytes,
    states: tree.states,
    generateMs: performance.now() - start,
  };
}

async function benchSize(pods, sections, options) {
  const dir = makeTempDir("vc-bench-"); // also removed on exit or Ctrl-C
  try {
    const meta = await generate(dir, pods, options);
    const baseline = await measureBaseline(dir);
    Object.assign(meta, { baselineMs: baseline.medianMs, baselineSamples: baseline.samples });
    const rows = metaRows(meta);
    const results = {};
    for (const section of sections) {
      const out = await section.run(dir, meta);
      results[section.name] = out.results;
      rows.push(...out.rows);
    }
    return { meta, results, rows };
  } finally {
    removeTempDir(dir);
  }
}

function environment() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}`,
    tmpdir: os.tmpdir(),
  };
}

async function writeResults(report) {
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
}

async function main() {
  const sizes = parseSizes(process.env.BENCH_SIZES);
  const sections = selectSections(process.env.BENCH_SECTIONS);
  const seed = Number(process.env.BENCH_SEED ?? 1);
  for (const section of sections) section.preflight?.();
  const template = await loadTemplate();
  const report = { environment: environment(), sections: sections.map((s) => s.name), sizes: [] };
  const allRows = [];
  for (const pods of sizes) {
    const { meta, results, rows } = await benchSize(pods, sections, { seed, template });
    printTable(`== ${fmt.int(pods)} pods`, rows);
    report.sizes.push({ ...meta, ...results });
    allRows.push(...rows);
    await writeResults(report);
  }
  const { pass, miss } = countStatuses(allRows);
  console.log(
    `\ntargets: ${pass} PASS, ${miss} MISS; results in ${path.relative(process.cwd(), RESULTS_FILE)}`,
  );
}

await main();
