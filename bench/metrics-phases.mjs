// Phases of the metrics section, each against a running exporter: exposition size, scrape latency against
// the baseline server, change-to-visible latency, churn (RSS under load) and idle CPU.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { createRng } from "./gen-tree.mjs";
import { get200, keepAliveAgent, scrapeLatency } from "./http-client.mjs";
import { median } from "./measure.mjs";
import { clockTicksPerSecond, readCpuTicks, readMemory } from "./procs.mjs";
import { startBaseline } from "./servers.mjs";
import { STATES } from "./tree-edit.mjs";

/** Size of a plain /metrics body; per-pod series are the sample lines carrying a `pod_id` label. */
export function expositionSize(body, pods) {
  const samples = body
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"));
  const podSeries = samples.filter((line) => line.includes('pod_id="'));
  const exportedPods = samples
    .filter((line) => line.startsWith("virtcontainers_pods{"))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return {
    bytes: body.length,
    series: samples.length,
    podSeries: podSeries.length,
    exportedPods,
    seriesPerPod: podSeries.length / pods,
    bytesPerPod: body.length / pods,
    podSeriesBytesPerPod: podSeries.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0) / pods,
  };
}

/**
 * The exporter's own heap figures in a /metrics body (nodejs_heap_size_used_bytes and _total_bytes), in MiB;
 * null where a line is missing.
 */
export function heapFromBody(body) {
  const text = body.toString("utf8");
  const value = (name) => {
    const at = text.indexOf(`\n${name} `);
    if (at === -1) return null;
    const end = text.indexOf("\n", at + 1);
    return Number(text.slice(at + name.length + 2, end === -1 ? undefined : end)) / 2 ** 20;
  };
  return { usedMiB: value("nodejs_heap_size_used_bytes"), totalMiB: value("nodejs_heap_size_total_bytes") };
}

/** Plain scrapes of the exporter and of the baseline serving `body`, at 1 and 10 clients; gzip at 1. */
export async function scrapeLatencies(exporterUrl, body, contentType, requests) {
  const baseline = await startBaseline(body, contentType);
  try {
    const out = {};
    for (const clients of [1, 10]) {
      const base = await scrapeLatency(baseline.metricsUrl, { requests, clients });
      const exp = await scrapeLatency(exporterUrl, { requests, clients });
      out[`clients${clients}`] = { exporter: exp, baseline: base, medianRatio: exp.medianMs / base.medianMs };
    }
    out.gzip = await scrapeLatency(exporterUrl, { requests, clients: 1, gzip: true });
    return out;
  } finally {
    await baseline.stop();
  }
}

/** True when `text` has a line starting with `prefix` and ending with `suffix`. */
function hasLine(text, prefix, suffix) {
  for (let at = text.indexOf(prefix); at !== -1; at = text.indexOf(prefix, at + 1)) {
    const end = text.indexOf("\n", at);
    if (text.slice(at, end === -1 ? undefined : end).endsWith(suffix)) return true;
  }
  return false;
}

/**
 * Rewrites one running pod's state.json `edits` times (paused, running, paused, ...) and polls /metrics
 * back-to-back until its `virtcontainers_pod_state{...,state="<new>"} 1` line shows. Times in ms.
 */
export async function changeToVisible(tree, url, { edits = 5, deadlineMs = 10_000, pauseMs = 300 } = {}) {
  const podId = tree.podIds().find((id) => tree.readState(id) === "running");
  const agent = keepAliveAgent();
  const samplesMs = [];
  const polls = [];
  let timedOut = 0;
  try {
    for (let i = 0; i < edits; i++) {
      const state = i % 2 === 0 ? "paused" : "running";
      const prefix = `virtcontainers_pod_state{pod_id="${podId}",`;
      const start = performance.now();
      tree.setState(podId, state);
      for (let n = 1; ; n++) {
        const { body } = await get200(url, { agent, keepBody: true });
        const ms = performance.now() - start;
        const seen = hasLine(body.toString("utf8"), prefix, `state="${state}"} 1`);
        if (seen || ms > deadlineMs) {
          samplesMs.push(ms);
          polls.push(n);
          if (!seen) timedOut++;
          break;
        }
      }
      await sleep(pauseMs);
    }
  } finally {
    agent.destroy();
  }
  return { podId, medianMs: median(samplesMs), samplesMs, polls, timedOut };
}

/**
 * Every second for `seconds`: one pod's state changes, one pod is added, and every `removeEvery` seconds
 * the pods added so far are removed (so the tree stays within N+1..N+removeEvery pods); /metrics is
 * scraped (plain and gzip alternately) and VmRSS sampled.
 */
export async function churn(tree, exporter, { seconds, removeEvery = 5, seed = 1 }) {
  const rng = createRng(seed);
  const podIds = tree.podIds();
  const agent = keepAliveAgent();
  const scrapeMs = { plain: [], gzip: [] };
  const rssMiB = [];
  let added = 0;
  let removed = 0;
  const start = performance.now();
  try {
    for (let t = 1; t <= seconds; t++) {
      exporter.check();
      const id = podIds[rng() % podIds.length];
      tree.setState(id, STATES[(STATES.indexOf(tree.readState(id)) + 1) % STATES.length]);
      if (t % removeEvery === 0) {
        while (tree.removeOldestAdded() !== undefined) removed++;
      }
      await tree.addPod();
      added++;
      const gzip = t % 2 === 0;
      scrapeMs[gzip ? "gzip" : "plain"].push((await get200(exporter.metricsUrl, { agent, gzip })).ms);
      rssMiB.push(readMemory(exporter.pid).rssMiB);
      await sleep(Math.max(0, start + t * 1000 - performance.now()));
    }
  } finally {
    agent.destroy();
  }
  const end = readMemory(exporter.pid);
  return {
    seconds: (performance.now() - start) / 1000,
    stateChanges: seconds,
    added,
    removed,
    rssAfterMiB: end.rssMiB,
    peakRssMiB: Math.max(...rssMiB, end.rssMiB),
    hwmMiB: end.hwmMiB,
    scrapeMedianMs: { plain: median(scrapeMs.plain), gzip: median(scrapeMs.gzip) },
  };
}

/** CPU used by `pid` over `seconds` of doing nothing to it, as % of one core; ticks also per second. */
export async function idleCpu(pid, seconds) {
  const ticks0 = readCpuTicks(pid);
  const start = performance.now();
  const ticksPerSecond = [];
  for (let t = 1, last = ticks0; t <= seconds; t++) {
    await sleep(Math.max(0, start + t * 1000 - performance.now()));
    const now = readCpuTicks(pid);
    ticksPerSecond.push(now - last);
    last = now;
  }
  const ticks = readCpuTicks(pid) - ticks0;
  const wall = (performance.now() - start) / 1000;
  const clkTck = clockTicksPerSecond();
  return { seconds: wall, ticks, clkTck, cpuPercent: (ticks / clkTck / wall) * 100, ticksPerSecond };
}
