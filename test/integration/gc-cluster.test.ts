/**
 * Garbage collection against a real API server (test/cluster: etcd + kube-apiserver), with the
 * exporter in-process: ExporterService (or GcRunner itself where a run must be interfered
 * with) on generated host trees, talking to the API through the real ClientNodeApi as a
 * ServiceAccount with exactly the chart's permissions, directly or through the chaos proxy.
 *
 * One cluster for the file; every test has its own Node (`gc-<n>`), so pod lists never mix.
 * A directory is "owned" when its files carry the UID the API server gave the pod created for
 * it. Every test lists both trees afterwards: what was deleted and what was not.
 *
 * Needs the binaries from `bash test/cluster/build-testbin.sh`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  cpSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import type { CoreV1Event } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from "vitest";

import { hostProcVisibility, tryExclusiveLock } from "../../src/gc/guards.js";
import type { GcPolicy } from "../../src/gc/plan.js";
import { GcRunner, type RunReport } from "../../src/gc/runner.js";
import type { KubeApi, SelfPod } from "../../src/kube/api.js";
import { ClientNodeApi, loadKubeConfig } from "../../src/kube/client.js";
import { matchPods } from "../../src/kube/match.js";
import { toKubePod, type KubePod } from "../../src/kube/pods.js";
import { createLogger } from "../../src/log.js";
import { COLLECTOR_NAMES } from "../../src/metrics/collectors/index.js";
import { GcMetrics } from "../../src/metrics/gc.js";
import { Scanner } from "../../src/scan/scanner.js";
import { ExporterService, type KubernetesServiceOptions } from "../../src/service.js";
import { serviceAccountToken, startChaosProxy, type ChaosProxy } from "../cluster/chaos-proxy.js";
import { startCluster, type Cluster } from "../cluster/cluster.js";
import {
  clonePod,
  configDir,
  EXPORTER_RULES,
  listTrees,
  randomId,
  readPods,
  regularFiles,
  rewriteUid,
  runDir,
  setTimes,
  stripIdentity,
  type VcPod,
} from "./gc-fixtures.js";
import {
  CFG,
  DOCKER_POD,
  EXAMPLE,
  freePort,
  loadGenTree,
  makeWritable,
  parseExposition,
  pollUntil,
  RUN,
  select,
  sleep,
  TempDirs,
  valueOf,
  type ParsedSample,
} from "./helpers.js";

const SA_NAMESPACE = "vce-gc";
const SA_NAME = "exporter";
/** The namespace of every pod the tree generator clones (the example pod's). */
const POD_NAMESPACE = "ml-serving";
const VIEW = {
  watchTimeoutSeconds: [2, 3],
  stallGraceMs: 1000,
  staleAfterMs: 4000,
  backoffMs: [100, 500],
} as const;
const POLICY: GcPolicy = { mode: "on", graceMs: 0, maxDeletionsPerRun: 5, maxOrphanFraction: 0.5 };

const log = createLogger("silent");
const temp = new TempDirs("vce-gc-");
const services: ExporterService[] = [];
const children: ChildProcess[] = [];
const proxies: ChaosProxy[] = [];

let cluster: Cluster;
/** Kubeconfig of the exporter's ServiceAccount, straight to the API server. */
let saKubeconfig: string;

function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing: ${what}`);
  return value;
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.createNamespace(POD_NAMESPACE);
  await cluster.createNamespace(SA_NAMESPACE);
  await cluster.grantServiceAccount(SA_NAMESPACE, SA_NAME, EXPORTER_RULES);
  saKubeconfig = await cluster.kubeconfigForServiceAccount(SA_NAMESPACE, SA_NAME);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

afterEach(async () => {
  try {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    await Promise.all(children.splice(0).map(killChild));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  } finally {
    temp.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Fixture {
  readonly node: string;
  readonly hostRoot: string;
  /** Directories owned by an API pod of the node (their files carry its UID). */
  readonly owned: readonly VcPod[];
  /** Directories no API pod owns (their UID is the generator's). */
  readonly orphans: readonly VcPod[];
}

/** Run `fn` on every item, at most `limit` at a time. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/**
 * Node `gc-<n>` and a tree of `owned + orphans` generated pods (seeded by n): the first
 * `owned` (by ID) get an API pod on the node, whose UID is written into their files.
 */
async function fixture(n: number, owned: number, orphans: number): Promise<Fixture> {
  const node = `gc-${n}`;
  await cluster.createNode(node);
  const hostRoot = temp.make();
  await (await loadGenTree()).generateTree(hostRoot, owned + orphans, { seed: 7000 + n });
  const pods = await readPods(hostRoot);
  expect(pods).toHaveLength(owned + orphans);
  const ownedPods = new Map<string, VcPod>();
  await inBatches(pods.slice(0, owned), 10, async (p) => {
    const created = await cluster.createPod({
      namespace: must(p.namespace, "namespace"),
      name: must(p.name, "name"),
      nodeName: node,
    });
    const uid = must(created.metadata?.uid, "uid of the created pod");
    rewriteUid(hostRoot, p, uid);
    ownedPods.set(p.id, { ...p, uid });
  });
  return {
    node,
    hostRoot,
    owned: pods.slice(0, owned).map((p) => must(ownedPods.get(p.id), p.id)),
    orphans: pods.slice(owned),
  };
}

const ids = (pods: readonly VcPod[]): string[] => pods.map((p) => p.id);

/** The exporter's own pod on the fixture's node (as the DaemonSet would have created it). */
/** The exporter's pod namespace/name as the API has it now. */
async function readSelf(namespace: string, name: string): Promise<SelfPod> {
  const pod = await cluster.core.readNamespacedPod({ namespace, name });
  return { namespace, name, uid: must(pod.metadata?.uid, "uid") };
}

async function selfPod(f: Fixture): Promise<SelfPod> {
  const name = `exporter-${f.node}`;
  const created = await cluster.createPod({ namespace: SA_NAMESPACE, name, nodeName: f.node });
  return { namespace: SA_NAMESPACE, name, uid: must(created.metadata?.uid, "uid of the exporter's pod") };
}

/** Rewrite a JSON file of a pod's tree. */
function editJson(file: string, edit: (o: Record<string, unknown>) => Record<string, unknown>): void {
  writeFileSync(
    file,
    JSON.stringify(edit(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)),
  );
}

/** Both trees hold exactly these pod directories. */
function expectTrees(hostRoot: string, podIds: readonly string[]): void {
  const sorted = [...podIds].sort();
  expect(listTrees(hostRoot)).toEqual({ run: sorted, config: sorted });
}

// ---------------------------------------------------------------------------------------------
// The exporter

function nodeApi(nodeName: string, kubeconfig = saKubeconfig): ClientNodeApi {
  return new ClientNodeApi(loadKubeConfig({ kind: "file", path: kubeconfig }), {
    nodeName,
    requestTimeoutMs: 5000,
    component: "virtcontainers-exporter",
  });
}

interface ServiceOpts {
  /** The exporter's own pod (as the chart passes it from the downward API); absent: none. */
  readonly self?: SelfPod;
  readonly nodeName?: string;
  readonly api?: KubeApi;
  readonly pollIntervalMs?: number;
  readonly policy?: Partial<GcPolicy>;
  readonly view?: Partial<NonNullable<KubernetesServiceOptions["view"]>>;
}

async function startService(f: Fixture, opts: ServiceOpts = {}): Promise<ExporterService> {
  const nodeName = opts.nodeName ?? f.node;
  const service = new ExporterService({
    hostRoot: f.hostRoot,
    nodeName,
    resyncIntervalMs: 3_600_000,
    pollIntervalMs: opts.pollIntervalMs ?? 5000,
    watch: "polling",
    maxFileBytes: 16 * 1024 * 1024,
    collectors: COLLECTOR_NAMES,
    log,
    kubernetes: {
      api: opts.api ?? nodeApi(nodeName),
      view: { ...VIEW, ...opts.view },
      nodeRetryMs: 200,
    },
    gc: {
      policy: { ...POLICY, ...opts.policy },
      intervalMs: 3_600_000, // runs are started by the tests
      processChecks: "auto",
      procRoot: "/proc",
      self: opts.self ?? null,
    },
  });
  services.push(service);
  await service.start();
  return service;
}

function kubeOf(service: ExporterService): NonNullable<ExporterService["kube"]> {
  return must(service.kube, "the service's Kubernetes side");
}

function describeKube(service: ExporterService): string {
  const kube = kubeOf(service);
  return JSON.stringify({ view: kube.view.status(), node: kube.node.state });
}

/** The pod view is synced and fresh, and (unless told otherwise) the Node was confirmed. */
async function waitUsable(service: ExporterService, node = true): Promise<void> {
  const kube = kubeOf(service);
  await pollUntil(
    "the pod view to be usable" + (node ? " and the Node confirmed" : ""),
    () => (kube.pods() !== null && (!node || kube.confirmedNode !== null) ? true : undefined),
    { timeoutMs: 15_000, describe: () => describeKube(service) },
  );
}

async function runGc(service: ExporterService): Promise<RunReport> {
  return must(await service.runGc(), "a GC run report");
}

/** Per pod of the report: "deleted", "would_delete" or "skipped:<reason>". */
function outcomes(report: RunReport): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of report.decisions) {
    expect(out[d.podId], `one decision per pod (${d.podId})`).toBeUndefined();
    out[d.podId] = d.outcome === "skipped" ? `skipped:${d.reason ?? ""}` : d.outcome;
  }
  return out;
}

function each(podIds: readonly string[], outcome: string): Record<string, string> {
  return Object.fromEntries(podIds.map((id) => [id, outcome]));
}

/** The service's current match of each pod: "<status>/<reason>". */
function matchStatuses(service: ExporterService): Record<string, string> {
  return Object.fromEntries((service.matches ?? []).map((m) => [m.podId, `${m.status}/${m.reason}`]));
}

async function waitMatches(service: ExporterService, expected: Record<string, string>): Promise<void> {
  await pollUntil(
    "the pods' Kubernetes matches",
    () => {
      const now = matchStatuses(service);
      return Object.entries(expected).every(([id, status]) => now[id] === status) ? true : undefined;
    },
    {
      timeoutMs: 15_000,
      describe: () =>
        `want ${JSON.stringify(expected)}, have ${JSON.stringify(matchStatuses(service))} ${describeKube(service)}`,
    },
  );
}

async function metrics(service: ExporterService): Promise<ParsedSample[]> {
  return parseExposition(Buffer.concat(await service.cache.render(false)).toString("utf8"));
}

/** virtcontainers_pod_kubernetes: the status of each pod (the series whose value is 1). */
function kubeStatuses(samples: readonly ParsedSample[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of select(samples, "virtcontainers_pod_kubernetes")) {
    if (s.value === 1) out[must(s.labels.pod_id, "pod_id")] = must(s.labels.status, "status");
  }
  return out;
}

function restarts(service: ExporterService): number {
  return kubeOf(service).view.status().restarts;
}

async function nodeEvents(node: string, reason: string): Promise<CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({
    namespace: "default",
    fieldSelector: `involvedObject.name=${node}`,
  });
  return list.items.filter((e) => e.reason === reason && e.involvedObject.kind === "Node");
}

/** A kubeconfig for the exporter's ServiceAccount through the chaos proxy. */
async function proxied(): Promise<{ proxy: ChaosProxy; kubeconfig: string }> {
  const proxy = await startChaosProxy(cluster);
  proxies.push(proxy);
  const token = await serviceAccountToken(cluster, SA_NAMESPACE, SA_NAME);
  return { proxy, kubeconfig: await proxy.kubeconfigWithToken(token) };
}

// ---------------------------------------------------------------------------------------------
// Processes

function track(child: ChildProcess): ChildProcess {
  child.on("error", () => undefined);
  children.push(child);
  return child;
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  child.kill("SIGKILL");
  await exited;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Spawn and wait until the process runs `marker` (its exec is done). */
async function spawnRunning(cmd: string, args: readonly string[], marker: string): Promise<number> {
  const child = track(spawn(cmd, args, { stdio: "ignore" }));
  const pid = must(child.pid, `pid of ${cmd}`);
  await pollUntil(`${cmd} to run`, () => (cmdline(pid).includes(marker) ? true : undefined), {
    timeoutMs: 10_000,
  });
  return pid;
}

/**
 * mount(8) with `args`; false after skipping the test when mounting is not permitted here
 * (EPERM), an error for any other failure.
 */
function mountOrSkip(ctx: TestContext, args: readonly string[]): boolean {
  const mount = spawnSync("mount", args, { encoding: "utf8" });
  if (mount.status === 0) return true;
  if (/permission denied|not permitted|must be superuser/i.test(mount.stderr)) {
    ctx.skip(`mount ${args.join(" ")} is not permitted here (EPERM): ${mount.stderr.trim()}`);
    return false;
  }
  throw new Error(`mount ${args.join(" ")} failed: ${mount.stderr}`);
}

function umount(target: string): void {
  const out = spawnSync("umount", [target], { encoding: "utf8" });
  expect(out.status, out.stderr).toBe(0);
}

/** Record `pid` as the shim of container `cid` (its process.json "Pid"). */
function recordShimPid(hostRoot: string, podId: string, cid: string, pid: number): void {
  const file = join(runDir(hostRoot, podId), cid, "process.json");
  const process = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  expect(typeof process.Pid).toBe("number");
  writeFileSync(file, JSON.stringify({ ...process, Pid: pid }));
}

// ---------------------------------------------------------------------------------------------

describe("GC against the API server", () => {
  it("1: deletes an orphan's two directories on the second run, and nothing else", async () => {
    const f = await fixture(1, 3, 1);
    const orphan = must(f.orphans[0], "orphan");
    for (const tree of [RUN, CFG]) {
      cpSync(join(EXAMPLE, tree, DOCKER_POD), join(f.hostRoot, tree, DOCKER_POD), { recursive: true });
      makeWritable(join(f.hostRoot, tree, DOCKER_POD));
    }
    const all = [...ids(f.owned), orphan.id, DOCKER_POD];
    const service = await startService(f);
    await waitUsable(service);
    await waitMatches(service, {
      ...each(ids(f.owned), "matched/uid"),
      [orphan.id]: "orphan/uid_not_found",
      [DOCKER_POD]: "unmanaged/no_kubernetes_identity",
    });

    const first = await runGc(service);
    expect(first.blocked).toBeNull();
    expect(first.circuitOpen).toBe(false);
    expect({ orphans: first.orphans, managed: first.managed }).toEqual({ orphans: 1, managed: 4 });
    expect(outcomes(first)).toEqual({ [orphan.id]: "skipped:first_seen" });
    expectTrees(f.hostRoot, all);
    expect(await nodeEvents(f.node, "OrphanPodStateRemoved")).toEqual([]);

    // Right before the deleting run, the exposition shows what the GC acts on.
    const before = await metrics(service);
    expect(kubeStatuses(before)).toEqual({
      ...each(ids(f.owned), "matched"),
      [orphan.id]: "orphan",
      [DOCKER_POD]: "unmanaged",
    });
    expect(valueOf(before, "virtcontainers_orphan_pods")).toBe(1);

    const second = await runGc(service);
    expect(outcomes(second)).toEqual({ [orphan.id]: "deleted" });
    const deleted = must(second.decisions[0], "decision");
    expect(deleted.evidence).toMatchObject({
      namespace: POD_NAMESPACE,
      pod: orphan.name,
      uid: orphan.uid,
      presence: "both",
      match: "uid_not_found",
      lock: "held",
      mounts: "none",
      removed: ["config", "run"],
    });
    expectTrees(f.hostRoot, [...ids(f.owned), DOCKER_POD]);

    const events = await nodeEvents(f.node, "OrphanPodStateRemoved");
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe("Normal");
    expect(events[0]?.message).toContain(orphan.id);
    expect(events[0]?.message).toContain(`(was ${POD_NAMESPACE}/${must(orphan.name, "name")})`);
    expect(await nodeEvents(f.node, "OrphanPodStateFound")).toEqual([]);

    const after = await metrics(service);
    const deletions = (tree: string, mode: string) =>
      valueOf(after, "virtcontainers_gc_deletions_total", { tree, mode });
    expect([deletions("run", "live"), deletions("config", "live")]).toEqual([1, 1]);
    expect([deletions("run", "dry_run"), deletions("config", "dry_run")]).toEqual([0, 0]);
    expect(valueOf(after, "virtcontainers_gc_runs_total")).toBe(2);
    expect(valueOf(after, "virtcontainers_gc_skipped_total", { reason: "first_seen" })).toBe(1);
    expect(valueOf(after, "virtcontainers_gc_errors_total")).toBe(0);
    expect(valueOf(after, "virtcontainers_gc_circuit_open")).toBe(0);
    expect(valueOf(after, "virtcontainers_gc_mode", { mode: "on" })).toBe(1);
    // The deletion was followed by a rescan: the orphan is gone from the exposition.
    expect(kubeStatuses(after)).toEqual({ ...each(ids(f.owned), "matched"), [DOCKER_POD]: "unmanaged" });
    expect(valueOf(after, "virtcontainers_orphan_pods")).toBe(0);
    // The Kubernetes side's own metrics.
    expect(valueOf(after, "virtcontainers_kubernetes_synced")).toBe(1);
    expect(valueOf(after, "virtcontainers_kubernetes_node_confirmed")).toBe(1);
    expect(valueOf(after, "virtcontainers_kubernetes_last_sync_timestamp_seconds")).toBeGreaterThan(0);
    expect(valueOf(after, "virtcontainers_kubernetes_watch_restarts_total")).toBe(0);
  });

  it("2: dry-run deletes nothing and reports the orphan once", async () => {
    const f = await fixture(2, 3, 1);
    const orphan = must(f.orphans[0], "orphan");
    const all = [...ids(f.owned), orphan.id];
    const service = await startService(f, { policy: { mode: "dry-run" } });
    await waitUsable(service);

    expect(outcomes(await runGc(service))).toEqual({ [orphan.id]: "skipped:first_seen" });
    const second = await runGc(service);
    expect(outcomes(second)).toEqual({ [orphan.id]: "would_delete" });
    expect(second.decisions[0]?.first).toBe(true);
    const third = await runGc(service);
    expect(outcomes(third)).toEqual({ [orphan.id]: "would_delete" });
    expect(third.decisions[0]?.first).toBe(false);
    expectTrees(f.hostRoot, all);

    const found = await nodeEvents(f.node, "OrphanPodStateFound");
    expect(found).toHaveLength(1);
    expect(found[0]?.type).toBe("Warning");
    expect(found[0]?.message).toContain(orphan.id);
    expect(await nodeEvents(f.node, "OrphanPodStateRemoved")).toEqual([]);

    const m = await metrics(service);
    const deletions = (tree: string, mode: string) =>
      valueOf(m, "virtcontainers_gc_deletions_total", { tree, mode });
    expect([deletions("run", "dry_run"), deletions("config", "dry_run")]).toEqual([1, 1]);
    expect([deletions("run", "live"), deletions("config", "live")]).toEqual([0, 0]);
    expect(valueOf(m, "virtcontainers_gc_mode", { mode: "dry_run" })).toBe(1);
    expect(valueOf(m, "virtcontainers_gc_runs_total")).toBe(3);
  });

  it("3: a pod re-created with the same name leaves its old directory an orphan, which is deleted", async () => {
    const f = await fixture(3, 3, 0);
    const [gone, ...kept] = f.owned;
    const old = must(gone, "pod");
    const service = await startService(f);
    await waitUsable(service);
    await waitMatches(service, each(ids(f.owned), "matched/uid"));

    const recreated = await cluster.recreatePod({
      namespace: must(old.namespace, "namespace"),
      name: must(old.name, "name"),
      nodeName: f.node,
    });
    expect(recreated.metadata?.name).toBe(old.name);
    expect(recreated.metadata?.uid).not.toBe(old.uid);
    // The view follows the deletion and the creation through its watch.
    await waitMatches(service, { [old.id]: "orphan/uid_not_found", ...each(ids(kept), "matched/uid") });

    expect(outcomes(await runGc(service))).toEqual({ [old.id]: "skipped:first_seen" });
    expectTrees(f.hostRoot, ids(f.owned));
    expect(outcomes(await runGc(service))).toEqual({ [old.id]: "deleted" });
    expectTrees(f.hostRoot, ids(kept));
  });

  it("4: with a node name the API does not know, GC is blocked although every pod looks orphaned", async () => {
    const f = await fixture(4, 2, 1);
    const all = [...ids(f.owned), ...ids(f.orphans)];
    const service = await startService(f, { nodeName: "gc-4-typo" });
    const kube = kubeOf(service);
    await waitUsable(service, false);
    await pollUntil("the Node check to answer not_found", () =>
      kube.node.state === "not_found" ? true : undefined,
    );
    await waitMatches(service, each(all, "orphan/uid_not_found"));

    for (let run = 0; run < 2; run++) {
      const report = await runGc(service);
      expect(report.blocked).toBe("node_not_confirmed");
      expect(report.orphans).toBe(3);
      expect(report.decisions).toEqual([]);
    }
    expectTrees(f.hostRoot, all);
    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_kubernetes_node_confirmed")).toBe(0);
    expect(valueOf(m, "virtcontainers_kubernetes_synced")).toBe(1);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "node_not_confirmed" })).toBe(2);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "first_seen" })).toBe(0);

    // The Node shows up (a late registration): GC runs, and the circuit is the next guard,
    // since every pod still looks orphaned to a view of the wrong node.
    await cluster.createNode("gc-4-typo");
    await pollUntil("the Node to be confirmed", () => (kube.confirmedNode !== null ? true : undefined), {
      describe: () => describeKube(service),
    });
    // The blocked runs saw the same orphans (the view was usable): they are not first_seen again.
    const confirmed = await runGc(service);
    expect(confirmed.blocked).toBeNull();
    expect(confirmed.circuitOpen).toBe(true);
    expect(outcomes(confirmed)).toEqual(each(all, "skipped:circuit_open"));
    expectTrees(f.hostRoot, all);
    expect(valueOf(await metrics(service), "virtcontainers_gc_circuit_open")).toBe(1);
    expect(await nodeEvents("gc-4-typo", "OrphanPodStateRemoved")).toEqual([]);
  });

  it("5: with the API unreachable from the start, the view never syncs and nothing is deleted", async () => {
    const f = await fixture(5, 1, 1);
    const all = [...ids(f.owned), ...ids(f.orphans)];
    const closed = await freePort();
    const kubeconfig = join(temp.make(), "closed.kubeconfig");
    const text = readFileSync(saKubeconfig, "utf8");
    expect(text).toContain(`server: ${cluster.server}`);
    writeFileSync(
      kubeconfig,
      text.replace(`server: ${cluster.server}`, `server: https://127.0.0.1:${closed}`),
    );
    const service = await startService(f, { api: nodeApi(f.node, kubeconfig) });
    const kube = kubeOf(service);
    await pollUntil("the Node check to fail", () => (kube.node.state === "error" ? true : undefined), {
      describe: () => describeKube(service),
    });
    await sleep(500); // a few list attempts (backoff 100-500 ms)

    const report = await runGc(service);
    expect(report.blocked).toBe("view_not_synced");
    expect(report.orphans).toBe(0);
    expect(report.decisions).toEqual([]);
    expectTrees(f.hostRoot, all);
    expect(kube.pods()).toBeNull();
    expect(kube.view.status()).toMatchObject({ synced: false, lastContactMs: null });

    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_kubernetes_synced")).toBe(0);
    expect(valueOf(m, "virtcontainers_kubernetes_node_confirmed")).toBe(0);
    expect(valueOf(m, "virtcontainers_kubernetes_last_sync_timestamp_seconds")).toBe(0);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "view_not_synced" })).toBe(1);
    expect(kubeStatuses(m)).toEqual(each(all, "unknown"));
    expect(matchStatuses(service)).toEqual(each(all, "unknown/view_not_synced"));
  });

  it("6: a failing or reset direct read skips every candidate as api_unconfirmed, then GC resumes", async () => {
    const f = await fixture(6, 2, 2);
    const orphans = ids(f.orphans);
    const { proxy, kubeconfig } = await proxied();
    const service = await startService(f, { api: nodeApi(f.node, kubeconfig) });
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual(each(orphans, "skipped:first_seen"));

    const directRead = { method: "GET", pathPrefix: "/api/v1/pods", watch: false };
    proxy.failRequests({ status: 500, match: directRead });
    const failed = await runGc(service);
    expect(failed.blocked).toBeNull();
    expect(outcomes(failed)).toEqual(each(orphans, "skipped:api_unconfirmed"));
    expect(failed.decisions.every((d) => d.detail.includes("HTTP 500"))).toBe(true);
    expect(proxy.log.some((r) => r.fault === "fail" && !r.watch && r.path === "/api/v1/pods")).toBe(true);
    expectTrees(f.hostRoot, [...ids(f.owned), ...orphans]);

    proxy.passThrough();
    proxy.resetRequests({ match: directRead });
    await waitUsable(service);
    const reset = await runGc(service);
    expect(outcomes(reset)).toEqual(each(orphans, "skipped:api_unconfirmed"));
    expect(proxy.log.some((r) => r.fault === "reset" && !r.watch && r.path === "/api/v1/pods")).toBe(true);
    expectTrees(f.hostRoot, [...ids(f.owned), ...orphans]);

    proxy.passThrough();
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual(each(orphans, "deleted"));
    expectTrees(f.hostRoot, ids(f.owned));
    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "api_unconfirmed" })).toBe(4);
  });

  it("7: a watch stalled without an error makes the view stale, GC waits, and the restarted view resumes GC", async () => {
    const f = await fixture(7, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const { proxy, kubeconfig } = await proxied();
    // With the file's timings (watch timeout 2-3 s + 1 s grace vs. stale after 4 s) the stall
    // is detected about when the view would go stale: a longer grace makes the stale window
    // (4 s after the last contact to 7-8 s after it) observable.
    const service = await startService(f, { api: nodeApi(f.node, kubeconfig), view: { stallGraceMs: 5000 } });
    const kube = kubeOf(service);
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });

    const before = restarts(service);
    await pollUntil("a watch to be open", () => (proxy.openWatches === 1 ? true : undefined));
    proxy.stallOpenWatches();
    await pollUntil("the view to go stale", () => (kube.pods() === null ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 20,
      describe: () => describeKube(service),
    });
    const stale = await runGc(service);
    expect(stale.blocked).toBe("view_not_synced");
    expect(stale.decisions).toEqual([]);
    expect(valueOf(await metrics(service), "virtcontainers_kubernetes_synced")).toBe(0);
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);

    await pollUntil(
      "the stall to be detected and the view to be fresh again",
      () => (restarts(service) > before && kube.pods() !== null ? true : undefined),
      { timeoutMs: 20_000, describe: () => describeKube(service) },
    );
    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_kubernetes_watch_restarts_total")).toBeGreaterThan(before);
    expect(valueOf(m, "virtcontainers_kubernetes_synced")).toBe(1);

    // The stale run saw no orphan (every status was unknown): the orphan starts over.
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("8: a 410 storm restarts the watch, never costs an owned pod, and the view recovers", async () => {
    const f = await fixture(8, 3, 0);
    const { proxy, kubeconfig } = await proxied();
    const service = await startService(f, { api: nodeApi(f.node, kubeconfig) });
    const kube = kubeOf(service);
    await waitUsable(service);
    const before = restarts(service);

    proxy.expireWatches({ count: 15, match: { pathPrefix: "/api/v1/pods" } });
    const expired = () => proxy.log.filter((r) => r.fault === "expire").length;
    const reports: RunReport[] = [];
    const deadline = Date.now() + 30_000;
    while (expired() < 15 || restarts(service) < before + 15 || kube.pods() === null) {
      if (Date.now() > deadline)
        throw new Error(`410 storm not over: ${expired()} expired, ${describeKube(service)}`);
      reports.push(await runGc(service));
      await sleep(100);
    }
    expect(reports.flatMap((r) => r.decisions)).toEqual([]);
    expectTrees(f.hostRoot, ids(f.owned));
    expect(
      valueOf(await metrics(service), "virtcontainers_kubernetes_watch_restarts_total"),
    ).toBeGreaterThanOrEqual(before + 15);

    // After the storm the view follows the API again: a deleted pod's directory is collected.
    const [victim, ...kept] = f.owned;
    const v = must(victim, "pod");
    await cluster.deletePod(must(v.namespace, "namespace"), must(v.name, "name"));
    await waitMatches(service, { [v.id]: "orphan/uid_not_found", ...each(ids(kept), "matched/uid") });
    expect(outcomes(await runGc(service))).toEqual({ [v.id]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [v.id]: "deleted" });
    expectTrees(f.hostRoot, ids(kept));
  });

  it("9: a directory matchable only by container ID waits for a starting pod's container IDs", async () => {
    const f = await fixture(9, 0, 2);
    const [x, y] = f.orphans;
    const loose = must(x, "pod x");
    const owned = must(y, "pod y");
    for (const p of f.orphans) stripIdentity(f.hostRoot, p.id);
    for (const p of await readPods(f.hostRoot))
      expect({ uid: p.uid, ns: p.namespace, name: p.name }).toEqual({
        uid: null,
        ns: null,
        name: null,
      });
    await cluster.createPod({
      namespace: POD_NAMESPACE,
      name: "starting-9",
      nodeName: f.node,
      containers: ["infer", "loader"],
    });
    const service = await startService(f);
    await waitUsable(service);
    await waitMatches(service, each(ids(f.orphans), "unknown/pods_without_container_ids"));

    const waiting = await runGc(service);
    expect(waiting.orphans).toBe(0);
    expect(waiting.decisions).toEqual([]);
    expect(kubeStatuses(await metrics(service))).toEqual(each(ids(f.orphans), "unknown"));
    expectTrees(f.hostRoot, ids(f.orphans));

    await cluster.setPodContainerStatuses(
      POD_NAMESPACE,
      "starting-9",
      owned.containerIds.map((id, i) => ({ name: ["infer", "loader"][i], containerID: `cri-o://${id}` })),
    );
    await waitMatches(service, { [owned.id]: "matched/container_id", [loose.id]: "orphan/no_owner" });
    expect(outcomes(await runGc(service))).toEqual({ [loose.id]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [loose.id]: "deleted" });
    expectTrees(f.hostRoot, [owned.id]);
  });

  it("10: a lock held by someone else keeps the pod until it is released", async () => {
    const f = await fixture(10, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const lock = join(runDir(f.hostRoot, orphan), "lock");
    const holder = track(
      spawn("flock", ["--exclusive", "--no-fork", lock, "sleep", "60"], { stdio: "ignore" }),
    );
    await pollUntil("flock(1) to hold the lock", () =>
      spawnSync("flock", ["--nonblock", lock, "true"]).status === 1 ? true : undefined,
    );
    const service = await startService(f);
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:locked" });
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);

    await killChild(holder);
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("11: a live shim keeps its pod; a reused PID does not", async (ctx) => {
    if (hostProcVisibility({ root: "/proc" }) !== "visible") {
      ctx.skip("the host's PID namespace is not visible here: process checks do not run");
      return;
    }
    const f = await fixture(11, 2, 2);
    const [a, b] = f.orphans;
    const alive = must(a, "orphan a");
    const reused = must(b, "orphan b");
    const cid = must(alive.containerIds[0], "container id");
    const shim = await spawnRunning(
      process.execPath,
      ["-e", "setInterval(() => {}, 1000)", "--", "-c", cid],
      cid,
    );
    recordShimPid(f.hostRoot, alive.id, cid, shim);
    const other = await spawnRunning("sleep", ["60"], "sleep");
    recordShimPid(f.hostRoot, reused.id, must(reused.containerIds[0], "container id"), other);

    const service = await startService(f);
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual(each(ids(f.orphans), "skipped:first_seen"));
    const second = await runGc(service);
    expect(outcomes(second)).toEqual({ [alive.id]: "skipped:process_alive", [reused.id]: "deleted" });
    const kept = must(
      second.decisions.find((d) => d.podId === alive.id),
      "decision",
    );
    expect(kept.detail).toContain(`shim ${shim}`);
    expect(second.decisions.find((d) => d.podId === reused.id)?.evidence?.processes).toBe("none_alive");
    expectTrees(f.hostRoot, [...ids(f.owned), alive.id]);
  });

  it("12: a mount under the pod keeps it, and the mount's contents are untouched", async (ctx) => {
    const f = await fixture(12, 1, 1);
    const orphan = must(f.orphans[0], "orphan");
    const mnt = join(runDir(f.hostRoot, orphan.id), must(orphan.containerIds[0], "container id"), "mnt");
    mkdirSync(mnt);
    if (!mountOrSkip(ctx, ["-t", "tmpfs", "none", mnt])) return;
    try {
      writeFileSync(join(mnt, "data"), "in the mount");
      const service = await startService(f);
      await waitUsable(service);
      expect(outcomes(await runGc(service))).toEqual({ [orphan.id]: "skipped:first_seen" });
      const second = await runGc(service);
      expect(outcomes(second)).toEqual({ [orphan.id]: "skipped:mounted" });
      expect(second.decisions[0]?.detail).toContain(mnt);
      expectTrees(f.hostRoot, [...ids(f.owned), orphan.id]);
      expect(readFileSync(join(mnt, "data"), "utf8")).toBe("in the mount");
    } finally {
      umount(mnt);
    }
  });

  // BUG (src/gc/runner.ts checkMounts): the mount guard compares join(hostRoot, ...) with the
  // kernel's mount points, which are canonical paths. Reached through a symlink (a host root
  // given as a symlink, or a symlinked /var/lib/virtcontainers with --host-root /), a mount
  // under the pod is not seen; a bind mount from the same filesystem has the pod's st_dev, so
  // the reaper walks into it too and removes the files of the bind mount's source, outside the
  // tree, before its rmdir fails with EBUSY.
  it("12b: a bind mount under a pod is seen when the host root is reached through a symlink", async (ctx) => {
    const f = await fixture(121, 1, 1);
    const orphan = must(f.orphans[0], "orphan");
    const outside = temp.make("vce-gc-precious-");
    writeFileSync(join(outside, "precious"), "not part of any pod");
    const mnt = join(runDir(f.hostRoot, orphan.id), must(orphan.containerIds[0], "container id"), "mnt");
    mkdirSync(mnt);
    if (!mountOrSkip(ctx, ["--bind", outside, mnt])) return;
    try {
      const link = join(temp.make(), "host");
      symlinkSync(f.hostRoot, link);
      const service = await startService({ ...f, hostRoot: link });
      await waitUsable(service);
      expect(outcomes(await runGc(service))).toEqual({ [orphan.id]: "skipped:first_seen" });
      const second = await runGc(service);
      expect({ outcome: outcomes(second), outside: regularFiles(outside).length }).toEqual({
        outcome: { [orphan.id]: "skipped:mounted" },
        outside: 1,
      });
      expect(readFileSync(join(outside, "precious"), "utf8")).toBe("not part of any pod");
      expectTrees(f.hostRoot, [...ids(f.owned), orphan.id]);
    } finally {
      umount(mnt);
    }
  });

  it("13: symlinks out of the tree are unlinked, never followed; a symlinked pod directory is no pod", async () => {
    const f = await fixture(13, 1, 1);
    const orphan = must(f.orphans[0], "orphan");
    const outside = temp.make("vce-gc-outside-");
    // A pod-shaped directory outside the trees, linked in under a pod ID of its own.
    cpSync(runDir(f.hostRoot, orphan.id), join(outside, "run-pod"), { recursive: true });
    cpSync(configDir(f.hostRoot, orphan.id), join(outside, "config-pod"), { recursive: true });
    const fake = randomId();
    symlinkSync(join(outside, "run-pod"), join(f.hostRoot, RUN, fake));
    symlinkSync(join(outside, "config-pod"), join(f.hostRoot, CFG, fake));
    // Sentinels the orphan links to.
    const sentinelDir = join(outside, "sentinel");
    mkdirSync(sentinelDir);
    writeFileSync(join(sentinelDir, "keep"), "sentinel");
    const sentinelFile = join(outside, "sentinel-file");
    writeFileSync(sentinelFile, "sentinel file");
    const cid = must(orphan.containerIds[0], "container id");
    symlinkSync(sentinelDir, join(runDir(f.hostRoot, orphan.id), "escape"));
    symlinkSync(sentinelFile, join(runDir(f.hostRoot, orphan.id), cid, "escape-file"));
    symlinkSync(sentinelDir, join(configDir(f.hostRoot, orphan.id), cid, "escape"));
    const outsideFiles = regularFiles(outside).map((p) => [p, readFileSync(p, "utf8")]);
    expect(outsideFiles.length).toBeGreaterThan(10);

    const service = await startService(f);
    await waitUsable(service);
    expect(must(service.snapshot, "snapshot").pods.map((p) => p.id)).toEqual(
      [...ids(f.owned), orphan.id].sort(),
    );
    expect(outcomes(await runGc(service))).toEqual({ [orphan.id]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [orphan.id]: "deleted" });

    const left = [...ids(f.owned), fake].sort();
    expect(listTrees(f.hostRoot)).toEqual({ run: left, config: left });
    expect(lstatSync(join(f.hostRoot, RUN, fake)).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(f.hostRoot, CFG, fake)).isSymbolicLink()).toBe(true);
    expect(regularFiles(outside).map((p) => [p, readFileSync(p, "utf8")])).toEqual(outsideFiles);
    expect(readFileSync(join(sentinelDir, "keep"), "utf8")).toBe("sentinel");
    expect(readFileSync(sentinelFile, "utf8")).toBe("sentinel file");
  });

  it("14: a pod created while a run is in progress is not touched by that run, and is new to the next", async () => {
    const f = await fixture(14, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const api = nodeApi(f.node);
    const scanner = new Scanner({ hostRoot: f.hostRoot });
    let created: string | null = null;
    const runner = new GcRunner({
      hostRoot: f.hostRoot,
      procRoot: "/proc",
      processChecks: "auto",
      policy: POLICY,
      api,
      nodeName: f.node,
      log,
      metrics: new GcMetrics(new Registry(), POLICY.mode),
      rescan: async (podId) => (await scanner.scanPods([podId])).pods.find((p) => p.id === podId) ?? null,
      lock: async (path, opts) => {
        if (created === null) {
          created = randomId();
          clonePod(f.hostRoot, orphan, created);
        }
        return tryExclusiveLock(path, opts);
      },
    });
    const node = must(await api.getNode(), "the Node");
    const run = async (): Promise<RunReport> => {
      const snapshot = await scanner.scan();
      const pods = (await api.listNodePods()).items
        .map(toKubePod)
        .filter((p): p is KubePod => p !== null && p.nodeName === f.node);
      return runner.run({ snapshot, matches: matchPods({ snapshot, pods }), viewUsable: true, node });
    };

    expect(outcomes(await run())).toEqual({ [orphan]: "skipped:first_seen" });
    expect(created).toBeNull();
    const second = await run();
    const newPod = must(created as string | null, "the pod created during the run");
    expect(outcomes(second)).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, [...ids(f.owned), newPod]);
    expect(regularFiles(runDir(f.hostRoot, newPod)).length).toBeGreaterThan(5);

    expect(outcomes(await run())).toEqual({ [newPod]: "skipped:first_seen" });
    expectTrees(f.hostRoot, [...ids(f.owned), newPod]);
  });

  it("15: 100 orphans next to 100 live pods go 5 per run", async () => {
    const f = await fixture(15, 100, 100);
    const orphans = ids(f.orphans);
    const service = await startService(f);
    await waitUsable(service);
    await waitMatches(service, {
      ...each(ids(f.owned), "matched/uid"),
      ...each(orphans, "orphan/uid_not_found"),
    });

    const first = await runGc(service);
    expect({ orphans: first.orphans, managed: first.managed, circuitOpen: first.circuitOpen }).toEqual({
      orphans: 100,
      managed: 200,
      circuitOpen: false,
    });
    expect(outcomes(first)).toEqual(each(orphans, "skipped:first_seen"));
    expectTrees(f.hostRoot, [...ids(f.owned), ...orphans]);

    // Candidates go longest-orphaned first, then by pod ID: all were first seen together.
    const byId = [...orphans].sort();
    const second = await runGc(service);
    expect(outcomes(second)).toEqual({
      ...each(byId.slice(0, 5), "deleted"),
      ...each(byId.slice(5), "skipped:run_limit"),
    });
    expectTrees(f.hostRoot, [...ids(f.owned), ...byId.slice(5)]);
    const third = await runGc(service);
    expect(outcomes(third)).toEqual({
      ...each(byId.slice(5, 10), "deleted"),
      ...each(byId.slice(10), "skipped:run_limit"),
    });
    expectTrees(f.hostRoot, [...ids(f.owned), ...byId.slice(10)]);
    expect(listTrees(f.hostRoot).run).toHaveLength(190);

    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_gc_deletions_total", { tree: "run", mode: "live" })).toBe(10);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "run_limit" })).toBe(95 + 90);
    expect(await nodeEvents(f.node, "OrphanPodStateRemoved")).toHaveLength(10);
  });

  it("16: more orphans than the fraction allows open the circuit; fraction 1 collects them", async () => {
    const f = await fixture(16, 1, 3);
    const orphans = ids(f.orphans);
    const all = [...ids(f.owned), ...orphans];
    const guarded = await startService(f);
    await waitUsable(guarded);
    const first = await runGc(guarded);
    expect(first.circuitOpen).toBe(true);
    expect(outcomes(first)).toEqual(each(orphans, "skipped:first_seen"));
    const second = await runGc(guarded);
    expect(second.circuitOpen).toBe(true);
    expect(outcomes(second)).toEqual(each(orphans, "skipped:circuit_open"));
    expectTrees(f.hostRoot, all);
    const m = await metrics(guarded);
    expect(valueOf(m, "virtcontainers_gc_circuit_open")).toBe(1);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "circuit_open" })).toBe(3);
    await guarded.stop();

    const open = await startService(f, { policy: { maxOrphanFraction: 1 } });
    await waitUsable(open);
    expect(outcomes(await runGc(open))).toEqual(each(orphans, "skipped:first_seen"));
    expect(outcomes(await runGc(open))).toEqual(each(orphans, "deleted"));
    expectTrees(f.hostRoot, ids(f.owned));
    expect(valueOf(await metrics(open), "virtcontainers_gc_circuit_open")).toBe(0);
    expect(await nodeEvents(f.node, "OrphanPodStateRemoved")).toHaveLength(3);
  });

  it("17: an orphan waits out its grace period and a recent change to its files", async () => {
    const f = await fixture(17, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const all = [...ids(f.owned), orphan];
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const dir of [runDir(f.hostRoot, orphan), configDir(f.hostRoot, orphan)]) setTimes(dir, hourAgo);
    const graceMs = 1500;
    const service = await startService(f, { policy: { graceMs }, pollIntervalMs: 100 });
    await waitUsable(service);
    const newest = () =>
      must(
        service.snapshot?.pods.find((p) => p.id === orphan),
        "the orphan's record",
      ).newestMtimeMs;
    // mtimes come back as fractional milliseconds
    const isOld = () => Math.abs(newest() - hourAgo.getTime()) < 1;
    expect(isOld()).toBe(true);

    const seen = Date.now();
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:orphan_grace" });
    await sleep(Math.max(0, seen + graceMs + 100 - Date.now()));

    // The runtime touched a file: the pod waits until its newest file is as old as the grace.
    const state = join(runDir(f.hostRoot, orphan), "state.json");
    const now = new Date();
    utimesSync(state, now, now);
    await pollUntil("the rescan to see the change", () => (newest() >= now.getTime() - 1 ? true : undefined));
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:recently_modified" });
    expectTrees(f.hostRoot, all);

    utimesSync(state, hourAgo, hourAgo);
    await pollUntil("the rescan to see the old time", () => (isOld() ? true : undefined));
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("18: an owner the stalled view has not seen yet is found by the direct read (owned_by_api)", async () => {
    const f = await fixture(18, 1, 1);
    const loose = must(f.orphans[0], "orphan");
    stripIdentity(f.hostRoot, loose.id);
    const { proxy, kubeconfig } = await proxied();
    // A longer stall grace keeps the stalled view fresh for a while (see test 7).
    const service = await startService(f, { api: nodeApi(f.node, kubeconfig), view: { stallGraceMs: 5000 } });
    await waitUsable(service);
    await waitMatches(service, { [loose.id]: "orphan/no_owner" });
    expect(outcomes(await runGc(service))).toEqual({ [loose.id]: "skipped:first_seen" });

    // Stall a watch right after it opened: the view stays fresh for about 4 s, blind.
    const watches = () => proxy.log.filter((r) => r.watch).length;
    const opened = watches();
    await pollUntil("a new watch", () => (watches() > opened && proxy.openWatches === 1 ? true : undefined));
    proxy.stallOpenWatches();
    await cluster.createPod({ namespace: POD_NAMESPACE, name: "late-owner-18", nodeName: f.node });
    await cluster.setPodContainerStatuses(POD_NAMESPACE, "late-owner-18", [
      { containerID: `cri-o://${must(loose.containerIds[0], "container id")}` },
    ]);
    const report = await runGc(service);
    expect(report.blocked).toBeNull();
    expect(outcomes(report)).toEqual({ [loose.id]: "skipped:owned_by_api" });
    expect(report.decisions[0]?.detail).toContain("matched (container_id)");
    expect(matchStatuses(service)[loose.id]).toBe("orphan/no_owner"); // the view has not seen it
    expectTrees(f.hostRoot, [...ids(f.owned), loose.id]);

    // Once the stalled stream breaks, the relisted view knows the owner too.
    proxy.resetOpenWatches();
    await waitMatches(service, { [loose.id]: "matched/container_id" });
    expect((await runGc(service)).decisions).toEqual([]);
    expectTrees(f.hostRoot, [...ids(f.owned), loose.id]);
  });

  it("19: run-only and config-only leftovers go through the same rules", async () => {
    const f = await fixture(19, 2, 2);
    const [a, b] = f.orphans;
    const configOnly = must(a, "orphan a").id;
    const runOnly = must(b, "orphan b").id;
    rmSync(runDir(f.hostRoot, configOnly), { recursive: true });
    rmSync(configDir(f.hostRoot, runOnly), { recursive: true });
    const service = await startService(f);
    await waitUsable(service);
    await waitMatches(service, {
      [configOnly]: "orphan/uid_not_found",
      [runOnly]: "orphan/no_config",
      ...each(ids(f.owned), "matched/uid"),
    });
    expect(outcomes(await runGc(service))).toEqual(each([configOnly, runOnly], "skipped:first_seen"));
    const report = await runGc(service);
    expect(outcomes(report)).toEqual(each([configOnly, runOnly], "deleted"));
    const evidence = (id: string) => report.decisions.find((d) => d.podId === id)?.evidence;
    expect(evidence(configOnly)).toMatchObject({
      presence: "config_only",
      lock: "no_run_directory",
      removed: ["config"],
    });
    expect(evidence(runOnly)).toMatchObject({ presence: "run_only", lock: "held", removed: ["run"] });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("20: static pods are owned through their mirror pods; next to one live pod, the one real orphan goes", async () => {
    const f = await fixture(20, 1, 3);
    const [a, b, real] = f.orphans;
    const statics = [must(a, "static a"), must(b, "static b")];
    const orphan = must(real, "orphan").id;
    // A static pod's sandbox carries the kubelet's UID (a hash of its manifest); the API holds a
    // mirror pod with its own UID and that hash in kubernetes.io/config.mirror.
    for (const p of statics) {
      const hash = randomId().slice(0, 32);
      rewriteUid(f.hostRoot, p, hash);
      const mirror = await cluster.createPod({
        namespace: POD_NAMESPACE,
        name: must(p.name, "name"),
        nodeName: f.node,
        annotations: { "kubernetes.io/config.mirror": hash, "kubernetes.io/config.source": "file" },
      });
      expect(mirror.metadata?.uid).not.toBe(hash);
      expect(mirror.metadata?.annotations?.["kubernetes.io/config.mirror"]).toBe(hash);
    }
    const service = await startService(f, { self: await selfPod(f) }); // default fraction 0.5
    await waitUsable(service);
    await waitMatches(service, {
      ...each(ids(statics), "matched/mirror_uid"),
      ...each(ids(f.owned), "matched/uid"),
      [orphan]: "orphan/uid_not_found",
    });
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    const second = await runGc(service);
    expect(second.circuitOpen).toBe(false);
    expect(outcomes(second)).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, [...ids(f.owned), ...ids(statics)]);
  });

  it("21: a proxy that pages every list: owners on later pages keep their pods; a 410 on a continue token is list_incomplete", async () => {
    const f = await fixture(21, 5, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const self = await selfPod(f);
    const { proxy, kubeconfig } = await proxied();
    proxy.forceListLimit(2);
    // The fraction breaker off: only the lists stand between the owned pods and a deletion.
    const service = await startService(f, {
      api: nodeApi(f.node, kubeconfig),
      self,
      policy: { maxOrphanFraction: 1 },
    });
    await waitUsable(service);
    await waitMatches(service, { ...each(ids(f.owned), "matched/uid"), [orphan]: "orphan/uid_not_found" });
    const lists = () => proxy.log.filter((r) => !r.watch && r.path === "/api/v1/pods");
    expect(lists().some((r) => r.query.continue !== undefined)).toBe(true);

    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    // Every later page of a list answers 410 (as for an expired continue token): no evidence.
    proxy.failRequests({
      status: 410,
      message: "The provided continue parameter is too old to display a consistent list result.",
      match: { method: "GET", pathPrefix: "/api/v1/pods", watch: false, hasQuery: "continue" },
    });
    const incomplete = await runGc(service);
    expect(outcomes(incomplete)).toEqual({ [orphan]: "skipped:list_incomplete" });
    expect(incomplete.decisions[0]?.detail).toContain("410");
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);

    proxy.passThrough();
    await waitUsable(service);
    const before = lists().length;
    const done = await runGc(service);
    expect(outcomes(done)).toEqual({ [orphan]: "deleted" });
    // the direct read asked for pages of 500 and got 3 pages of 2 (5 owners and the exporter's pod)
    const direct = lists().slice(before);
    expect(direct.length).toBeGreaterThanOrEqual(3);
    expect(direct.every((r) => r.query.limit === "500")).toBe(true);
    expect(direct.filter((r) => r.query.continue !== undefined).length).toBeGreaterThanOrEqual(2);
    expectTrees(f.hostRoot, ids(f.owned));
    const m = await metrics(service);
    expect(valueOf(m, "virtcontainers_gc_skipped_total", { reason: "list_incomplete" })).toBe(1);
  });

  it("22: GC deletes only when the direct list holds the exporter's own pod", async () => {
    const f = await fixture(22, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const name = `exporter-${f.node}`;
    // the identity the downward API would give, before the pod is in the API (or after it is gone)
    const self: SelfPod = { namespace: SA_NAMESPACE, name, uid: "00000000-0000-4000-8000-000000000022" };
    const service = await startService(f, { self });
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    const absent = await runGc(service);
    expect(outcomes(absent)).toEqual({ [orphan]: "skipped:self_pod_absent" });
    expect(absent.circuitOpen).toBe(false);
    // a pod of that name, but another incarnation (another UID), is not the exporter's
    await cluster.createPod({ namespace: SA_NAMESPACE, name, nodeName: f.node });
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:self_pod_absent" });
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);
    expect(
      valueOf(await metrics(service), "virtcontainers_gc_skipped_total", { reason: "self_pod_absent" }),
    ).toBe(2);
    await service.stop();

    const real = await startService(f, { self: await readSelf(SA_NAMESPACE, name) });
    await waitUsable(real);
    await runGc(real);
    expect(outcomes(await runGc(real))).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("23: a Node deleted after it was confirmed stops GC (node_gone) until it is back", async () => {
    const f = await fixture(23, 1, 1);
    const orphan = must(f.orphans[0], "orphan").id;
    const service = await startService(f, { self: await selfPod(f) });
    const kube = kubeOf(service);
    await waitUsable(service);
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "skipped:first_seen" });
    await cluster.deleteNode(f.node);
    const gone = await runGc(service);
    expect(outcomes(gone)).toEqual({ [orphan]: "skipped:node_gone" });
    expect(gone.decisions[0]?.detail).toContain("no longer exists");
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);
    // The Node check is unconfirmed again: later runs stop at rule 1.
    await pollUntil("the Node check to say not_found", () =>
      kube.node.state === "not_found" ? true : undefined,
    );
    expect(valueOf(await metrics(service), "virtcontainers_kubernetes_node_confirmed")).toBe(0);
    expect((await runGc(service)).blocked).toBe("node_not_confirmed");
    expectTrees(f.hostRoot, [...ids(f.owned), orphan]);

    await cluster.createNode(f.node);
    await pollUntil(
      "the Node to be confirmed again",
      () => (kube.confirmedNode !== null ? true : undefined),
      {
        describe: () => describeKube(service),
      },
    );
    expect(outcomes(await runGc(service))).toEqual({ [orphan]: "deleted" });
    expectTrees(f.hostRoot, ids(f.owned));
  });

  it("24: after a reboot, a pod's old config-only sandbox is superseded by its running one and collected", async () => {
    const f = await fixture(24, 2, 0);
    const [rebooted, other] = f.owned;
    const old = must(rebooted, "pod");
    const fresh = randomId();
    clonePod(f.hostRoot, old.id, fresh);
    editJson(join(runDir(f.hostRoot, fresh), fresh, "process.json"), (o) => ({
      ...o,
      StartTime: new Date().toISOString(),
    }));
    editJson(join(runDir(f.hostRoot, fresh), "state.json"), (o) => ({ ...o, state: "running" }));
    rmSync(runDir(f.hostRoot, old.id), { recursive: true }); // /run is empty after a reboot
    setTimes(configDir(f.hostRoot, old.id), new Date(Date.now() - 3_600_000));
    const service = await startService(f, { self: await selfPod(f) });
    await waitUsable(service);
    await waitMatches(service, {
      [old.id]: "superseded/newer_sandbox_running",
      [fresh]: "matched/uid",
      [must(other, "other").id]: "matched/uid",
    });
    const m = await metrics(service);
    expect(kubeStatuses(m)[old.id]).toBe("superseded");
    expect(valueOf(m, "virtcontainers_orphan_pods")).toBe(1);
    expect(outcomes(await runGc(service))).toEqual({ [old.id]: "skipped:first_seen" });
    const report = await runGc(service);
    expect(outcomes(report)).toEqual({ [old.id]: "deleted" });
    expect(report.decisions[0]?.evidence).toMatchObject({
      match: "newer_sandbox_running",
      presence: "config_only",
      uid: old.uid,
      removed: ["config"],
    });
    expect(listTrees(f.hostRoot)).toEqual({
      run: [fresh, must(other, "other").id].sort(),
      config: [fresh, must(other, "other").id].sort(),
    });
  });
});
