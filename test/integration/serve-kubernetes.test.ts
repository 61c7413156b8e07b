/**
 * `serve` with the Kubernetes pod view and GC, as the chart runs it: authenticated as the chart's
 * ServiceAccount with exactly the chart's ClusterRole (installed from `helm template`), against
 * the real API server. The pod view syncs, the Node is confirmed, matching shows up in /metrics,
 * GC (dry-run, then on) records Events on the Node, and nothing was forbidden on the way.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "../cluster/cluster.js";
import { toolPath } from "../support/tools.js";
import { installChartRbac } from "./chart-rbac.js";
import {
  CFG,
  DOCKER_POD,
  K8S_POD,
  RUN,
  TempDirs,
  copyExample,
  ensureBuilt,
  httpGet,
  parseExposition,
  pollUntil,
  startExporter,
  valueOf,
  type Exporter,
} from "./helpers.js";

let cluster: Cluster;
let kubeconfig: string;
const temp = new TempDirs("vce-servek-");
let exporter: Exporter | null = null;

beforeAll(async () => {
  ensureBuilt();
  cluster = await startCluster();
  await cluster.createNode("node-a");
  kubeconfig = (await installChartRbac(cluster)).kubeconfigPath;
}, 120_000);
afterEach(async () => {
  await exporter?.child.stop();
  exporter = null;
});
afterAll(async () => {
  temp.cleanup();
  await cluster.stop();
});

async function metrics(e: Exporter) {
  return parseExposition((await httpGet(`${e.base}/metrics`)).body.toString());
}

async function nodeEvents(reason: string) {
  const list = await cluster.core.listNamespacedEvent({
    namespace: "default",
    fieldSelector: `involvedObject.kind=Node,involvedObject.name=node-a,reason=${reason}`,
  });
  return list.items;
}

const GC = ["--gc-interval", "1s", "--gc-grace", "0s", "--gc-max-orphan-fraction", "1"];

describe("serve with the chart's ServiceAccount", () => {
  it("syncs the pod view, confirms the Node, and reports matching; GC dry-run records one Event", async () => {
    const root = copyExample(temp);
    exporter = await startExporter(root, ["--kubeconfig", kubeconfig, "--gc", "dry-run", ...GC]);
    const e = exporter;
    const s = await pollUntil(
      "the pod view to sync and GC to report the orphan",
      async () => {
        const m = await metrics(e);
        return valueOf(m, "virtcontainers_gc_deletions_total", { tree: "run", mode: "dry_run" }) === 1
          ? m
          : undefined;
      },
      { timeoutMs: 20_000, describe: () => e.child.describe() },
    );
    expect(valueOf(s, "virtcontainers_kubernetes_synced")).toBe(1);
    expect(valueOf(s, "virtcontainers_kubernetes_node_confirmed")).toBe(1);
    expect(valueOf(s, "virtcontainers_kubernetes_last_sync_timestamp_seconds")).toBeGreaterThan(
      Date.now() / 1000 - 60,
    );
    expect(valueOf(s, "virtcontainers_pod_kubernetes", { pod_id: K8S_POD, status: "orphan" })).toBe(1);
    expect(valueOf(s, "virtcontainers_pod_kubernetes", { pod_id: DOCKER_POD, status: "unmanaged" })).toBe(1);
    expect(valueOf(s, "virtcontainers_orphan_pods")).toBe(1);
    expect(valueOf(s, "virtcontainers_gc_mode", { mode: "dry_run" })).toBe(1);
    expect(valueOf(s, "virtcontainers_gc_deletions_total", { tree: "config", mode: "dry_run" })).toBe(1);
    const found = await pollUntil("the OrphanPodStateFound Event", async () => {
      const ev = await nodeEvents("OrphanPodStateFound");
      return ev.length > 0 ? ev : undefined;
    });
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toContain(K8S_POD);
    expect(found[0]?.message).toContain("ml-serving/resnet-infer-1684375908-7xq2p");
    // more runs: counted and recorded once per pod
    await pollUntil("three GC runs", async () =>
      (valueOf(await metrics(e), "virtcontainers_gc_runs_total") ?? 0) >= 3 ? true : undefined,
    );
    expect(await nodeEvents("OrphanPodStateFound")).toHaveLength(1);
    // the whole exposition, Kubernetes and GC families included, passes promtool's lint
    const text = (await httpGet(`${e.base}/metrics`)).body.toString();
    const lint = spawnSync(toolPath("promtool"), ["check", "metrics"], { input: text, encoding: "utf8" });
    expect({ status: lint.status, out: lint.stdout + lint.stderr }).toEqual({ status: 0, out: "" });
    expect([existsSync(join(root, RUN, K8S_POD)), existsSync(join(root, CFG, K8S_POD))]).toEqual([
      true,
      true,
    ]);
    expect(e.child.output).not.toMatch(/forbidden|"level":50/i);
  });

  it("GC on deletes the orphan, records OrphanPodStateRemoved, and keeps the unmanaged pod", async () => {
    const root = copyExample(temp);
    exporter = await startExporter(root, ["--kubeconfig", kubeconfig, "--gc", "on", ...GC]);
    const e = exporter;
    await pollUntil(
      "the orphan's directories to be deleted",
      () =>
        !existsSync(join(root, RUN, K8S_POD)) && !existsSync(join(root, CFG, K8S_POD)) ? true : undefined,
      { timeoutMs: 20_000, describe: () => e.child.describe() },
    );
    expect([existsSync(join(root, RUN, DOCKER_POD)), existsSync(join(root, CFG, DOCKER_POD))]).toEqual([
      true,
      true,
    ]);
    const removed = await pollUntil("the OrphanPodStateRemoved Event", async () => {
      const ev = await nodeEvents("OrphanPodStateRemoved");
      return ev.length > 0 ? ev : undefined;
    });
    expect(removed[0]?.type).toBe("Normal");
    const s = await pollUntil("the pod to leave /metrics", async () => {
      const m = await metrics(e);
      return valueOf(m, "virtcontainers_orphan_pods") === 0 ? m : undefined;
    });
    expect(valueOf(s, "virtcontainers_gc_deletions_total", { tree: "run", mode: "live" })).toBe(1);
    expect(valueOf(s, "virtcontainers_gc_errors_total")).toBe(0);
    expect(e.child.output).not.toMatch(/forbidden|"level":50/i);
  });
});
