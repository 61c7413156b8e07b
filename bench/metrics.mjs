// Benchmark section "metrics": the exporter serving the tree as the image runs it. /metrics size, scrape
// latency against a plain node:http baseline, change-to-visible latency, RSS after a churn period, idle CPU.
//
// Environment:
//   BENCH_SCRAPES=100          timed requests per latency measurement (default 200 at 110 pods, 100 at 1000,
//                              30 at 5000; 30 at any other size)
//   BENCH_CHURN_SECONDS=60     churn period (default 600)
//   BENCH_IDLE_SECONDS=10      idle CPU period (default 60)
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { loadTemplate } from "./gen-tree.mjs";
import { get200 } from "./http-client.mjs";
import {
  changeToVisible,
  churn,
  expositionSize,
  heapFromBody,
  idleCpu,
  scrapeLatencies,
} from "./metrics-phases.mjs";
import { readMemory, stopProcess } from "./procs.mjs";
import { fmt, row, targetRow } from "./report.mjs";
import { CLI, exporterEnv, startExporter } from "./servers.mjs";
import { TreeEdits } from "./tree-edit.mjs";

const DEFAULT_SCRAPES = { 110: 200, 1000: 100, 5000: 30 };
const FALLBACK_SCRAPES = 30;
const CATCH_UP_MS = 2000;
const SETTLE_MS = 5000;

export const TARGETS = {
  seriesPerPod: { max: 24 },
  bytesPerPod: { max: 6144 },
  scrapeOverBaseline: { max: 1.5, atPods: 1000 },
  visibleMs: { max: 1000 },
  rssMiB: { max: 120, atPods: 1000 },
  idleCpuPercent: { max: 1 },
};

function envSeconds(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

function settings(pods) {
  return {
    scrapes: envSeconds("BENCH_SCRAPES", DEFAULT_SCRAPES[pods] ?? FALLBACK_SCRAPES),
    churnSeconds: envSeconds("BENCH_CHURN_SECONDS", 600),
    idleSeconds: envSeconds("BENCH_IDLE_SECONDS", 60),
  };
}

function preflight() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing (dist/ is built by \`npm run build\`)`);
  if (!existsSync("/proc/self/stat")) throw new Error("the metrics section reads /proc (Linux only)");
  settings(110);
}

async function measure(meta, exporter, tree, config) {
  await sleep(CATCH_UP_MS);
  exporter.check();
  const firstScan = readMemory(exporter.pid);
  const { body, headers } = await get200(exporter.metricsUrl, { keepBody: true });
  const size = expositionSize(body, meta.pods);
  const latency = await scrapeLatencies(exporter.metricsUrl, body, headers["content-type"], config.scrapes);
  const visible = await changeToVisible(tree, exporter.metricsUrl);
  const churned = await churn(tree, exporter, { seconds: config.churnSeconds });
  const heapAfterChurn = heapFromBody((await get200(exporter.metricsUrl, { keepBody: true })).body);
  tree.restore();
  await sleep(SETTLE_MS);
  const idle = await idleCpu(exporter.pid, config.idleSeconds);
  exporter.check();
  const afterIdle = readMemory(exporter.pid);
  return {
    config,
    nodeOptions: exporterEnv().NODE_OPTIONS,
    readyMs: exporter.readyMs,
    rssAfterFirstScanMiB: firstScan.rssMiB,
    heapAfterFirstScan: heapFromBody(body),
    heapAfterChurn,
    size,
    latency,
    visible,
    churn: churned,
    idle,
    rssAfterIdleMiB: afterIdle.rssMiB,
  };
}

const ms2 = (r) => `${fmt.ms(r.medianMs)} / ${fmt.ms(r.p99Ms)}`;

function rows(r, pods) {
  const t = TARGETS;
  const at = (target) => ({ applies: pods === target.atPods, note: `at ${target.atPods} pods` });
  const rss = (label, value) =>
    targetRow(label, value, t.rssMiB.max, { ...at(t.rssMiB), format: fmt.mib, unit: " MiB" });
  const { clients1: c1, clients10: c10, gzip } = r.latency;
  const heap = (h) => `${fmt.mib(h.usedMiB ?? NaN)} / ${fmt.mib(h.totalMiB ?? NaN)}`;
  return [
    row("exporter NODE_OPTIONS", r.nodeOptions),
    row("exporter ready (/readyz 200)", fmt.ms(r.readyMs)),
    row("/metrics body (plain)", `${fmt.int(r.size.bytes)} B, ${fmt.int(r.size.series)} series`),
    row("  pods exported", fmt.int(r.size.exportedPods)),
    targetRow("series per pod", r.size.seriesPerPod, t.seriesPerPod.max, { format: (n) => n.toFixed(1) }),
    targetRow("bytes per pod", r.size.bytesPerPod, t.bytesPerPod.max, {
      format: (n) => fmt.int(Math.round(n)),
    }),
    row("scrape 1 client, median / p99", ms2(c1.exporter)),
    row("  baseline, median / p99", ms2(c1.baseline)),
    targetRow(
      "  exporter / baseline (median)",
      c1.medianRatio,
      t.scrapeOverBaseline.max,
      at(t.scrapeOverBaseline),
    ),
    row("scrape 10 clients, median / p99", ms2(c10.exporter)),
    row("  baseline, median / p99", ms2(c10.baseline)),
    targetRow(
      "  exporter / baseline (median)",
      c10.medianRatio,
      t.scrapeOverBaseline.max,
      at(t.scrapeOverBaseline),
    ),
    row("scrape gzip 1 client, median / p99", `${ms2(gzip)}, ${fmt.int(gzip.bytes)} B`),
    targetRow("change to visible (median of 5)", r.visible.medianMs, t.visibleMs.max, {
      format: fmt.ms,
      unit: " ms",
    }),
    rss("RSS after first scan", r.rssAfterFirstScanMiB),
    row("  V8 heap used / total then", heap(r.heapAfterFirstScan)),
    row("churn", `${Math.round(r.churn.seconds)} s, +${r.churn.added} -${r.churn.removed} pods`),
    rss("RSS after churn", r.churn.rssAfterMiB),
    rss("peak RSS during churn (VmRSS)", r.churn.peakRssMiB),
    row("VmHWM after churn", fmt.mib(r.churn.hwmMiB)),
    row("  V8 heap used / total after churn", heap(r.heapAfterChurn)),
    targetRow(`idle CPU (${Math.round(r.idle.seconds)} s)`, r.idle.cpuPercent, t.idleCpuPercent.max, {
      format: fmt.pct,
      unit: " %",
    }),
    row("RSS after idle", fmt.mib(r.rssAfterIdleMiB)),
  ];
}

/** Measures the metrics section on the tree at `root`. */
export async function benchMetrics(root, meta) {
  const config = settings(meta.pods);
  const tree = new TreeEdits(root, await loadTemplate());
  let exporter;
  try {
    exporter = await startExporter(root);
    const results = await measure(meta, exporter, tree, config);
    return { results, rows: rows(results, meta.pods) };
  } finally {
    await stopProcess(exporter?.child);
    tree.restore();
  }
}

export const metricsSection = { name: "metrics", preflight, run: benchMetrics };
