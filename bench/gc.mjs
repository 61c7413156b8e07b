// Benchmark section "gc": the Kubernetes side at this tree size, in process, on the built code.
// - matching every pod against a pod view of the same size (median of 20), against a rescan;
// - what the kubernetes collector adds to /metrics (bytes and series per pod);
// - one dry-run GC run with 5% orphans (plan, direct read from an in-memory API, real flock(1),
//   real /proc and mountinfo checks, capped at 5 candidates per run), against a rescan.
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { median } from "./measure.mjs";
import { fmt, row, targetRow } from "./report.mjs";

const dist = (p) => pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href;

// A GC run spawns flock(1) for each of its (at most 5) candidates: a fixed cost of a few ms each,
// judged against a rescan from 1,000 pods up.
export const TARGETS = { matchOverRescan: { max: 0.25 }, gcRunOverRescan: { max: 1, atPods: 1000 } };

function apiPod(p, i) {
  return {
    metadata: {
      uid: p.identity.podUid ?? `uid-${i}`,
      namespace: p.identity.namespace ?? "ns",
      name: p.identity.podName ?? `p-${i}`,
      resourceVersion: "1",
    },
    spec: {
      nodeName: "node-a",
      containers: p.containers.filter((c) => c.type === "container").map((c) => ({ name: c.id.slice(0, 8) })),
    },
    status: {
      phase: "Running",
      containerStatuses: p.containers
        .filter((c) => c.type === "container")
        .map((c) => ({ containerID: `cri-o://${c.id}` })),
    },
  };
}

export const gcSection = {
  name: "gc",
  async run(root) {
    const [
      { Scanner },
      { matchPods },
      { toKubePod },
      { GcRunner },
      { GcMetrics },
      expo,
      { SNAPSHOT_COLLECTORS },
      prom,
      pino,
    ] = await Promise.all([
      import(dist("scan/scanner.js")),
      import(dist("kube/match.js")),
      import(dist("kube/pods.js")),
      import(dist("gc/runner.js")),
      import(dist("metrics/gc.js")),
      import(dist("metrics/exposition.js")),
      import(dist("metrics/collectors/index.js")),
      import("prom-client"),
      import("pino"),
    ]);
    const scanner = new Scanner({ hostRoot: root });
    const snapshot = await scanner.scan();
    const rescans = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await scanner.scan();
      rescans.push(performance.now() - t);
    }
    const rescanMs = median(rescans);
    const n = snapshot.pods.length;
    const orphanEvery = 20; // 5% orphans
    const items = snapshot.pods.filter((_, i) => i % orphanEvery !== 0).map(apiPod);
    const kube = items.map(toKubePod);
    const times = [];
    let matches = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      matches = matchPods({ snapshot, pods: kube });
      times.push(performance.now() - t);
    }
    const matchMs = median(times);
    const kubeCollector = SNAPSHOT_COLLECTORS.find((c) => c.name === "kubernetes");
    const text = kubeCollector.families.map((f) => expo.renderFamily(f, snapshot, { matches })).join("");
    const kubeBytes = Buffer.byteLength(text);
    const kubeSeries = text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;

    const runner = new GcRunner({
      hostRoot: root,
      procRoot: "/proc",
      processChecks: "auto",
      policy: { mode: "dry-run", graceMs: 0, maxDeletionsPerRun: 5, maxOrphanFraction: 0.5 },
      api: {
        listNodePods: async () => ({ items, resourceVersion: "1" }),
        createNodeEvent: async () => undefined,
      },
      nodeName: "node-a",
      rescan: async (id) => (await scanner.scanPods([id])).pods.find((p) => p.id === id) ?? null,
      log: pino.default({ level: "silent" }),
      metrics: new GcMetrics(new prom.Registry(), "dry-run"),
    });
    const input = { snapshot, matches, viewUsable: true, node: { name: "node-a", uid: "u" } };
    await runner.run(input); // first run: every orphan is first_seen
    const t = performance.now();
    const report = await runner.run(input);
    const gcMs = performance.now() - t;
    const wouldDelete = report.decisions.filter((d) => d.outcome === "would_delete").length;
    return {
      results: {
        pods: n,
        orphans: report.orphans,
        rescanMs,
        matchMs,
        kubeBytes,
        kubeSeries,
        gcMs,
        wouldDelete,
      },
      rows: [
        row("rescan, no change (median of 5)", fmt.ms(rescanMs)),
        row("match against the pod view (median of 20)", fmt.ms(matchMs)),
        targetRow("match / rescan", matchMs / rescanMs, TARGETS.matchOverRescan.max),
        row("kubernetes families: bytes per pod", fmt.int(Math.round(kubeBytes / n))),
        row("kubernetes families: series per pod", (kubeSeries / n).toFixed(2)),
        row(`GC dry-run run (${report.orphans} orphans, ${wouldDelete} checked and reported)`, fmt.ms(gcMs)),
        targetRow("GC run / rescan", gcMs / rescanMs, TARGETS.gcRunOverRescan.max, {
          applies: n >= TARGETS.gcRunOverRescan.atPods,
          note: `(from ${fmt.int(TARGETS.gcRunOverRescan.atPods)} pods)`,
        }),
      ],
    };
  },
};
