/**
 * `virtcontainers-exporter gc`: garbage collection from a shell, with the rules of `serve --gc`.
 * Passes run --gc-interval apart until no orphan waits for its grace period (at most the grace
 * period plus three intervals); then every pod's decision is printed with its reason.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Registry } from "prom-client";
import { loadGcCommandConfig, type GcCommandConfig } from "../config/gc-config.js";
import { GcRunner, type Decision, type RunReport } from "../gc/runner.js";
import { describeError } from "../kube/api.js";
import { listAllNodePods } from "../kube/list.js";
import { matchPods, type PodMatch } from "../kube/match.js";
import { NodeCheck } from "../kube/node.js";
import { toKubePod, type KubePod } from "../kube/pods.js";
import { createLogger } from "../log.js";
import { GcMetrics } from "../metrics/gc.js";
import { checkHostRoot, Scanner } from "../scan/scanner.js";

/** Skip reasons that only time can clear: the command waits for them. */
const WAITING = new Set(["first_seen", "orphan_grace", "recently_modified"]);

export async function runGc(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadGcCommandConfig(argv, env);
  checkHostRoot(config.hostRoot);
  const log = createLogger(config.logLevel, process.stderr);
  const { ClientNodeApi, loadKubeConfig } = await import("../kube/client.js");
  const api = new ClientNodeApi(loadKubeConfig(config.kubeconfig), {
    nodeName: config.nodeName,
    requestTimeoutMs: 30_000,
    component: "virtcontainers-exporter",
  });
  // The command says what went wrong in one line of its own; the check's log line would repeat it.
  const node = new NodeCheck({ api, nodeName: config.nodeName, log: log.child({}, { level: "silent" }) });
  const state = await node.check();
  if (node.confirmed === null) {
    process.stderr.write(
      state === "not_found"
        ? `virtcontainers-exporter gc: Node "${config.nodeName}" does not exist in the Kubernetes API; check --node-name\n`
        : `virtcontainers-exporter gc: cannot read Node "${config.nodeName}" from the Kubernetes API; nothing done\n`,
    );
    return 1;
  }
  const scanner = new Scanner({
    hostRoot: config.hostRoot,
    maxFileBytes: config.maxFileBytes,
    layouts: config.layouts,
  });
  const runner = new GcRunner({
    hostRoot: config.hostRoot,
    procRoot: config.gc.procRoot,
    processChecks: config.gc.processChecks,
    policy: config.gc,
    api,
    nodeName: config.nodeName,
    log,
    metrics: new GcMetrics(new Registry(), config.gc.mode),
    self: config.gc.self,
    rescan: async (podId) => (await scanner.scanPods([podId])).pods.find((p) => p.id === podId) ?? null,
  });
  const deadline = Date.now() + config.gc.graceMs + 3 * config.gc.intervalMs;
  const stop = new AbortController();
  const onSignal = () => {
    stop.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (let pass = 1; ; pass++) {
      const snapshot = await scanner.scan();
      let pods: KubePod[];
      try {
        pods = (await listAllNodePods(api)).items
          .map(toKubePod)
          .filter((p): p is KubePod => p !== null && p.nodeName === config.nodeName);
      } catch (err: unknown) {
        process.stderr.write(
          `virtcontainers-exporter gc: listing this node's pods failed: ${describeError(err)}\n`,
        );
        return 1;
      }
      const matches = matchPods({ snapshot, pods });
      const report = await runner.run({ snapshot, matches, viewUsable: true, node: node.confirmed });
      const waiting = report.decisions.filter((d) => d.reason !== null && WAITING.has(d.reason)).length;
      process.stderr.write(
        `pass ${pass}: ${snapshot.pods.length} pods, ${report.orphans} orphans, ${waiting} waiting for the grace period\n`,
      );
      const last = waiting === 0 || Date.now() + config.gc.intervalMs > deadline || stop.signal.aborted;
      if (last) {
        await write(print(config, matches, report));
        return report.decisions.some((d) => d.reason === "delete_failed" || d.reason === "unsafe_path")
          ? 1
          : 0;
      }
      // A timer that keeps the process alive (the pod view's sleeps are unref'd).
      await sleep(config.gc.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function print(config: GcCommandConfig, matches: readonly PodMatch[], report: RunReport): string {
  const byPod = new Map<string, Decision>(report.decisions.map((d) => [d.podId, d]));
  const rows = matches.map((m) => {
    const d = byPod.get(m.podId);
    return {
      podId: m.podId,
      namespace: m.namespace,
      pod: m.name,
      status: m.status,
      match: m.reason,
      decision: d?.outcome ?? "kept",
      reason: d?.reason ?? (d === undefined ? m.status : null),
      detail: d?.detail ?? "",
    };
  });
  if (config.output === "json") {
    return (
      JSON.stringify({
        mode: config.gc.mode,
        blocked: report.blocked,
        orphans: report.orphans,
        managed: report.managed,
        circuitOpen: report.circuitOpen,
        pods: rows,
      }) + "\n"
    );
  }
  const lines = rows.map((r) =>
    [
      r.podId.slice(0, 12),
      r.decision.padEnd(12),
      (r.reason ?? "").padEnd(22),
      r.namespace !== null && r.pod !== null ? `${r.namespace}/${r.pod}` : "-",
      r.detail,
    ]
      .join("  ")
      .trimEnd(),
  );
  const head = `mode ${config.gc.mode}; ${report.orphans} orphans of ${report.managed} Kubernetes pods${report.circuitOpen ? "; circuit open: nothing deleted" : ""}${report.blocked !== null ? `; run skipped: ${report.blocked}` : ""}`;
  return [head, ...lines].join("\n") + "\n";
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}
