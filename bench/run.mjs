// Benchmark harness (`npm run bench`). For each tree size and layout: generate a synthetic host tree in a
// temp dir, measure the `find | cat` baseline, run every selected section that handles the layout, print a
// table and write .bench/results.json.
//
// Environment:
//   BENCH_SIZES=110,1000      pod counts (default 110,1000,5000)
//   BENCH_LAYOUTS=persist     trees: virtcontainers (the reference), persist (Kata 2.x) (default both)
//   BENCH_SECTIONS=scan       sections to run: scan, gc, processes, metrics (default all; empty = generator + baseline only)
//   BENCH_SCRAPES, BENCH_CHURN_SECONDS, BENCH_IDLE_SECONDS   see metrics.mjs
//   BENCH_SEED=1              generator seed
//   TMPDIR=/dev/shm           where trees are generated (os.tmpdir())
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { generatePersistTree, loadPersistTemplate } from "./gen-persist-tree.mjs";
import { generateTree, loadTemplate } from "./gen-tree.mjs";
import { measureBaseline } from "./measure.mjs";
import { metricsSection } from "./metrics.mjs";
import { makeTempDir, removeTempDir } from "./procs.mjs";
import { countStatuses, fmt, printTable, row } from "./report.mjs";
import { gcSection } from "./gc.mjs";
import { processesSection } from "./processes.mjs";
import { scanSection } from "./scan.mjs";
import { printSummary, summarize } from "./summary.mjs";

// metrics last: it edits the tree (and restores it)
const SECTIONS = [scanSection, gcSection, processesSection, metricsSection];
const DEFAULT_SIZES = [110, 1000, 5000];
/** The trees a run can generate; a section runs on the layouts it lists (default: the reference only). */
const LAYOUTS = {
  virtcontainers: { generate: generateTree, loadTemplate },
  persist: { generate: generatePersistTree, loadTemplate: loadPersistTemplate },
};
const DEFAULT_SECTION_LAYOUTS = ["virtcontainers"];
const sectionLayouts = (section) => section.layouts ?? DEFAULT_SECTION_LAYOUTS;
const RESULTS_FILE = fileURLToPath(new URL("../.bench/results.json", import.meta.url));

function parseSizes(value) {
  if (value === undefined) return DEFAULT_SIZES;
  const sizes = value.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`BENCH_SIZES must be a comma-separated list of positive integers, got "${value}"`);
  }
  return sizes;
}

function parseLayouts(value) {
  if (value === undefined) return Object.keys(LAYOUTS);
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !Object.hasOwn(LAYOUTS, name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`BENCH_LAYOUTS must list some of ${Object.keys(LAYOUTS).join(", ")}, got "${value}"`);
  }
  return [...new Set(names)];
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

async function generate(dir, layout, pods, options) {
  const start = performance.now();
  const tree = await LAYOUTS[layout].generate(dir, pods, options);
  return {
    layout,
    pods,
    files: tree.files,
    bytes: tree.bytes,
    states: tree.states,
    generateMs: performance.now() - start,
  };
}

async function benchSize(layout, pods, sections, options) {
  const dir = makeTempDir("vc-bench-"); // also removed on exit or Ctrl-C
  try {
    const meta = await generate(dir, layout, pods, options);
    const baseline = await measureBaseline(dir);
    Object.assign(meta, { baselineMs: baseline.medianMs, baselineSamples: baseline.samples });
    const rows = metaRows(meta);
    const results = {};
    for (const section of sections) {
      const layouts = sectionLayouts(section);
      if (!layouts.includes(layout)) {
        results[section.name] = { skipped: true };
        rows.push(row(`${section.name} section`, `skipped (${layouts.join(", ")} layout only)`));
        continue;
      }
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
  const layouts = parseLayouts(process.env.BENCH_LAYOUTS);
  const sections = selectSections(process.env.BENCH_SECTIONS);
  const seed = Number(process.env.BENCH_SEED ?? 1);
  for (const section of sections) section.preflight?.();
  const templates = {};
  for (const layout of layouts) templates[layout] = await LAYOUTS[layout].loadTemplate();
  // results keyed by layout, each with one entry per size
  const report = {
    environment: environment(),
    sections: sections.map((s) => s.name),
    layouts: Object.fromEntries(layouts.map((layout) => [layout, { sizes: [] }])),
  };
  const allRows = [];
  for (const pods of sizes) {
    for (const layout of layouts) {
      const { meta, results, rows } = await benchSize(layout, pods, sections, {
        seed,
        template: templates[layout],
      });
      printTable(`== ${fmt.int(pods)} pods, layout ${layout}`, rows);
      report.layouts[layout].sizes.push({ ...meta, ...results });
      allRows.push(...rows);
      await writeResults(report);
    }
  }
  report.summary = summarize(report);
  await writeResults(report);
  printSummary(report.summary);
  const { pass, miss } = countStatuses(allRows);
  console.log(
    `\ntargets: ${pass} PASS, ${miss} MISS; results in ${path.relative(process.cwd(), RESULTS_FILE)}`,
  );
}

await main();
