/**
 * The Kubernetes evidence of a GC run (rule 3's direct read and rule 4's breaker) on a real
 * generated tree, with the real scanner and reaper and a scripted API: a direct list in pages
 * (forced by the server, failing on a continue token), the Node read again every run, the
 * exporter's own pod present or absent, static pods owned through their mirror pods.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GcPolicy } from "../../../src/gc/plan.js";
import { CONFIG_TREE, GcRunner, RUN_TREE, type RunReport } from "../../../src/gc/runner.js";
import type { KubeApi, NodeRef, SelfPod } from "../../../src/kube/api.js";
import { matchPods } from "../../../src/kube/match.js";
import { toKubePod, type KubePod } from "../../../src/kube/pods.js";
import { GcMetrics } from "../../../src/metrics/gc.js";
import { Scanner } from "../../../src/scan/scanner.js";
import { httpError, pagedLister, type PagingOptions } from "../../support/paged-api.js";
import { TempDirs } from "../../support/temp.js";
import { clonePod, configDir, runDir } from "../../integration/gc-fixtures.js";

const temp = new TempDirs("vce-gckube-");
afterEach(() => {
  temp.cleanup();
});

interface GenTree {
  generateTree(dir: string, pods: number, opts?: { seed?: number }): Promise<{ podIds: string[] }>;
}
let gen: GenTree;
beforeAll(async () => {
  gen = (await import(new URL("../../../bench/gen-tree.mjs", import.meta.url).href)) as GenTree;
});

const NODE: NodeRef = { name: "node-a", uid: "node-uid-1" };
const SELF: SelfPod = { namespace: "monitoring", name: "vce-x7k2p", uid: "5f0c2a7e-self" };
const POLICY: GcPolicy = { mode: "on", graceMs: 0, maxDeletionsPerRun: 100, maxOrphanFraction: 0.5 };

interface VcPod {
  readonly id: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

/** A tree of `n` generated pods (sorted by ID) and a fake /proc (no host PIDs, no mounts). */
async function tree(n: number, seed: number): Promise<{ host: string; proc: string; pods: VcPod[] }> {
  const host = temp.make();
  await gen.generateTree(host, n, { seed });
  const proc = temp.make();
  mkdirSync(join(proc, "self"));
  writeFileSync(join(proc, "self", "mountinfo"), "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
  const snapshot = await new Scanner({ hostRoot: host }).scan();
  const pods = snapshot.pods.map((p) => ({
    id: p.id,
    uid: p.identity.podUid ?? "",
    namespace: p.identity.namespace ?? "",
    name: p.identity.podName ?? "",
  }));
  return { host, proc, pods };
}

function apiPod(p: { uid: string; namespace: string; name: string }, annotations?: Record<string, string>) {
  return {
    metadata: { uid: p.uid, namespace: p.namespace, name: p.name, resourceVersion: "1", annotations },
    spec: { nodeName: NODE.name, containers: [{ name: "c" }] },
    status: { phase: "Running", containerStatuses: [{ containerID: `cri-o://${p.uid}-c` }] },
  };
}

const selfPod = () => apiPod(SELF);

interface Api {
  items: unknown[];
  paging: PagingOptions;
  node: NodeRef | null | Error;
}

function runner(
  host: string,
  proc: string,
  api: Api,
  over: { self?: SelfPod | null; policy?: Partial<GcPolicy> } = {},
) {
  const scanner = new Scanner({ hostRoot: host });
  let listerFor: PagingOptions | null = null;
  let lister = pagedLister(() => api.items, api.paging);
  const kubeApi: Pick<KubeApi, "listNodePods" | "getNode" | "createNodeEvent"> = {
    listNodePods: (page) => {
      // one server per paging setup: continue tokens stay valid across a list's pages
      if (listerFor !== api.paging) {
        listerFor = api.paging;
        lister = pagedLister(() => api.items, api.paging);
      }
      return lister(page);
    },
    getNode: () => (api.node instanceof Error ? Promise.reject(api.node) : Promise.resolve(api.node)),
    createNodeEvent: () => Promise.resolve(),
  };
  const gc = new GcRunner({
    hostRoot: host,
    procRoot: proc,
    processChecks: "off",
    policy: { ...POLICY, ...over.policy },
    api: kubeApi,
    nodeName: NODE.name,
    rescan: async (id) => (await scanner.scanPods([id])).pods.find((p) => p.id === id) ?? null,
    log: pino({ level: "silent" }),
    metrics: new GcMetrics(new Registry(), "on"),
    lock: (path) => Promise.resolve({ kind: "acquired", lock: { path, release: () => undefined } }),
    self: over.self === undefined ? SELF : over.self,
    pageSize: 500,
  });
  /** One run; the pod view holds `view` (raw pods). */
  const run = async (view: readonly unknown[]): Promise<RunReport> => {
    const snapshot = await scanner.scan();
    const pods = view.map(toKubePod).filter((p): p is KubePod => p !== null);
    return gc.run({ snapshot, matches: matchPods({ snapshot, pods }), viewUsable: true, node: NODE });
  };
  return { run };
}

function exists(host: string, id: string): boolean {
  return existsSync(join(host, ...RUN_TREE, id)) || existsSync(join(host, ...CONFIG_TREE, id));
}

function outcomes(report: RunReport): Record<string, string> {
  return Object.fromEntries(
    report.decisions.map((d) => [d.podId, d.outcome === "skipped" ? `skipped:${d.reason ?? ""}` : d.outcome]),
  );
}

const each = (ids: readonly string[], v: string) => Object.fromEntries(ids.map((id) => [id, v]));

describe("GC: the direct read in pages", () => {
  it("a server that pages on its own: owners on later pages keep their directories (the view lags)", async () => {
    const { host, proc, pods } = await tree(6, 11);
    const [orphan, ...owned] = pods as [VcPod, ...VcPod[]];
    // the server answers 2 items per page, whatever was asked; the exporter's own pod comes last
    const api: Api = {
      items: [...owned.map((p) => apiPod(p)), selfPod()],
      paging: { serverLimit: 2, ignoreClientLimit: true },
      node: NODE,
    };
    const { run } = runner(host, proc, api);
    // A view that has not seen any pod yet: every directory looks orphaned to it.
    expect(outcomes(await run([]))).toEqual(
      each(
        pods.map((p) => p.id),
        "skipped:first_seen",
      ),
    );
    const second = await run([]);
    expect(outcomes(second)).toEqual({
      ...each(
        owned.map((p) => p.id),
        "skipped:owned_by_api",
      ),
      [orphan.id]: "deleted",
    });
    for (const p of owned) expect(exists(host, p.id), p.id).toBe(true);
    expect(exists(host, orphan.id)).toBe(false);
  });

  it("a list that did not complete (410 on a continue token, or a failed page) deletes nothing: list_incomplete", async () => {
    const { host, proc, pods } = await tree(3, 12);
    const [orphan, ...owned] = pods as [VcPod, ...VcPod[]];
    const items = [...owned.map((p) => apiPod(p)), selfPod()];
    const api: Api = {
      items,
      paging: {
        serverLimit: 1,
        failPage: { page: 2, error: httpError(410, "The provided continue parameter is too old") },
      },
      node: NODE,
    };
    const { run } = runner(host, proc, api);
    const view = owned.map((p) => apiPod(p));
    await run(view);
    const report = await run(view);
    expect(outcomes(report)).toEqual({ [orphan.id]: "skipped:list_incomplete" });
    expect(report.decisions[0]?.detail).toContain("410");
    api.paging = { serverLimit: 1, failPage: { page: 1, error: new Error("connection reset") } };
    expect(outcomes(await run(view))).toEqual({ [orphan.id]: "skipped:list_incomplete" });
    expect(exists(host, orphan.id)).toBe(true);
    api.paging = { serverLimit: 1 };
    expect(outcomes(await run(view))).toEqual({ [orphan.id]: "deleted" });
  });
});

describe("GC: positive evidence that the answer is about this node", () => {
  it("deletes only when the direct list holds the exporter's own pod (namespace, name and UID)", async () => {
    const { host, proc, pods } = await tree(2, 13);
    const [orphan, live] = pods as [VcPod, VcPod];
    const api: Api = { items: [apiPod(live)], paging: {}, node: NODE };
    const { run } = runner(host, proc, api);
    await run([apiPod(live)]);
    const absent = await run([apiPod(live)]);
    expect(outcomes(absent)).toEqual({ [orphan.id]: "skipped:self_pod_absent" });
    expect(absent.decisions[0]?.detail).toContain(`${SELF.namespace}/${SELF.name}`);
    // the same name with another UID is another pod
    api.items = [apiPod(live), apiPod({ ...SELF, uid: "another-incarnation" })];
    expect(outcomes(await run([apiPod(live)]))).toEqual({ [orphan.id]: "skipped:self_pod_absent" });
    expect(exists(host, orphan.id)).toBe(true);
    api.items = [apiPod(live), selfPod()];
    expect(outcomes(await run([apiPod(live)]))).toEqual({ [orphan.id]: "deleted" });
    expect(exists(host, live.id)).toBe(true);
  });

  it("an empty API answer deletes nothing, however small the node (the self pod is missing from it)", async () => {
    const { host, proc, pods } = await tree(1, 14);
    const only = pods[0] as VcPod;
    const api: Api = { items: [], paging: {}, node: NODE };
    const { run } = runner(host, proc, api, { policy: { maxOrphanFraction: 1 } });
    await run([]);
    expect(outcomes(await run([]))).toEqual({ [only.id]: "skipped:self_pod_absent" });
    expect(exists(host, only.id)).toBe(true);
  });

  it("reads the Node on every run: deleted (404) or re-created (another UID) stops the run: node_gone", async () => {
    const { host, proc, pods } = await tree(2, 15);
    const [orphan, live] = pods as [VcPod, VcPod];
    const api: Api = { items: [apiPod(live), selfPod()], paging: {}, node: null };
    const { run } = runner(host, proc, api);
    const view = [apiPod(live)];
    await run(view);
    const gone = await run(view);
    expect(outcomes(gone)).toEqual({ [orphan.id]: "skipped:node_gone" });
    expect(gone.decisions[0]?.detail).toContain("no longer exists");
    api.node = { name: NODE.name, uid: "node-uid-2" };
    const recreated = await run(view);
    expect(outcomes(recreated)).toEqual({ [orphan.id]: "skipped:node_gone" });
    expect(recreated.decisions[0]?.detail).toContain("re-created");
    api.node = httpError(500);
    expect(outcomes(await run(view))).toEqual({ [orphan.id]: "skipped:api_unconfirmed" });
    expect(exists(host, orphan.id)).toBe(true);
    api.node = NODE;
    expect(outcomes(await run(view))).toEqual({ [orphan.id]: "deleted" });
  });
});

describe("GC: the orphan-fraction breaker is the fallback", () => {
  it("with the self pod known, a node whose only VM pod is an orphan is cleaned up", async () => {
    const { host, proc, pods } = await tree(2, 16);
    const ids = pods.map((p) => p.id);
    const api: Api = { items: [selfPod()], paging: {}, node: NODE };
    const { run } = runner(host, proc, api);
    await run([]);
    const report = await run([]);
    expect(report.circuitOpen).toBe(false);
    expect(outcomes(report)).toEqual(each(ids, "deleted"));
  });

  it("without a self identity (the gc command outside a pod) the breaker applies as before", async () => {
    const { host, proc, pods } = await tree(2, 17);
    const ids = pods.map((p) => p.id);
    const api: Api = { items: [selfPod()], paging: {}, node: NODE };
    const { run } = runner(host, proc, api, { self: null });
    await run([]);
    const report = await run([]);
    expect(report.circuitOpen).toBe(true);
    expect(outcomes(report)).toEqual(each(ids, "skipped:circuit_open"));
  });

  it("two static pods, one live pod and one real orphan: the orphan goes, the rest stays (default fraction 0.5)", async () => {
    const { host, proc, pods } = await tree(4, 18);
    const [staticA, staticB, live, orphan] = pods as [VcPod, VcPod, VcPod, VcPod];
    // the mirror pods: their own UIDs, the static pods' UIDs in kubernetes.io/config.mirror
    const mirror = (p: VcPod) =>
      apiPod(
        { ...p, uid: `mirror-of-${p.uid}` },
        { "kubernetes.io/config.mirror": p.uid, "kubernetes.io/config.source": "file" },
      );
    const view = [mirror(staticA), mirror(staticB), apiPod(live)];
    for (const self of [SELF, null]) {
      const { host: h, proc: pr } = self === SELF ? { host, proc } : await tree(4, 18);
      const api: Api = { items: [...view, selfPod()], paging: {}, node: NODE };
      const { run } = runner(h, pr, api, { self });
      expect(outcomes(await run(view))).toEqual({ [orphan.id]: "skipped:first_seen" });
      const report = await run(view);
      expect(report.circuitOpen).toBe(false);
      expect(outcomes(report)).toEqual({ [orphan.id]: "deleted" });
      for (const p of [staticA, staticB, live]) expect(exists(h, p.id), p.id).toBe(true);
      expect(exists(h, orphan.id)).toBe(false);
    }
  });
});

/** Edit a JSON file of the tree in place. */
function editJson(file: string, edit: (o: Record<string, unknown>) => Record<string, unknown>): void {
  writeFileSync(
    file,
    JSON.stringify(edit(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)),
  );
}

/** A second sandbox of pod `from` (same pod UID), started now and running. */
function newerSandbox(host: string, from: string, id: string): void {
  clonePod(host, from, id);
  editJson(join(runDir(host, id), id, "process.json"), (o) => ({
    ...o,
    StartTime: new Date().toISOString(),
  }));
  editJson(join(runDir(host, id), "state.json"), (o) => ({ ...o, state: "running" }));
}

describe("GC: superseded sandboxes", () => {
  const NEW = "e".repeat(64);

  it("after a reboot: the old config-only sandbox of a pod running in a new one is collected", async () => {
    const { host, proc, pods } = await tree(1, 19);
    const old = pods[0] as VcPod;
    newerSandbox(host, old.id, NEW);
    rmSync(runDir(host, old.id), { recursive: true }); // /run was emptied by the reboot
    const api: Api = { items: [apiPod(old), selfPod()], paging: {}, node: NODE };
    const { run } = runner(host, proc, api);
    const first = await run([apiPod(old)]);
    expect(outcomes(first)).toEqual({ [old.id]: "skipped:first_seen" });
    const second = await run([apiPod(old)]);
    expect(outcomes(second)).toEqual({ [old.id]: "deleted" });
    expect(second.decisions[0]?.evidence).toMatchObject({
      match: "newer_sandbox_running",
      presence: "config_only",
      uid: old.uid,
    });
    expect(existsSync(configDir(host, old.id))).toBe(false);
    expect(existsSync(runDir(host, NEW)) && existsSync(configDir(host, NEW))).toBe(true);
  });

  it("re-created without a reboot: the stopped older sandbox goes (under its lock), the running one stays", async () => {
    const { host, proc, pods } = await tree(1, 20);
    const old = pods[0] as VcPod;
    newerSandbox(host, old.id, NEW);
    editJson(join(runDir(host, old.id), "state.json"), (o) => ({ ...o, state: "stopped" }));
    const api: Api = { items: [apiPod(old), selfPod()], paging: {}, node: NODE };
    const { run } = runner(host, proc, api);
    await run([apiPod(old)]);
    const report = await run([apiPod(old)]);
    expect(outcomes(report)).toEqual({ [old.id]: "deleted" });
    expect(report.decisions[0]?.evidence).toMatchObject({ lock: "held", match: "newer_sandbox_running" });
    expect(exists(host, old.id)).toBe(false);
    expect(exists(host, NEW)).toBe(true);
  });

  it("two running sandboxes of one pod: neither is touched", async () => {
    const { host, proc, pods } = await tree(1, 21);
    const old = pods[0] as VcPod;
    newerSandbox(host, old.id, NEW);
    editJson(join(runDir(host, old.id), "state.json"), (o) => ({ ...o, state: "running" }));
    const api: Api = { items: [apiPod(old), selfPod()], paging: {}, node: NODE };
    const { run } = runner(host, proc, api);
    await run([apiPod(old)]);
    expect((await run([apiPod(old)])).decisions).toEqual([]);
    expect(exists(host, old.id) && exists(host, NEW)).toBe(true);
  });
});
