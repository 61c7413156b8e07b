/**
 * Proves the envtest-style test cluster (test/cluster/cluster.ts) works:
 * real etcd + kube-apiserver, Node/Pod fixtures, status subresource writes,
 * 410 Gone after etcd compaction, ServiceAccount kubeconfigs and RBAC.
 *
 * Needs the binaries `npm run provision` builds (test/support/tools.ts).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

import { ApiException, CoreV1Api, Health, KubeConfig, Watch } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { randomContainerId, startCluster, type Cluster } from "../cluster/cluster.js";
import { toolPath } from "../support/tools.js";

const execFileAsync = promisify(execFile);

const helmBin = toolPath("helm");

interface WatchOutcome {
  /** ERROR event delivered in a 200 watch stream */
  event?: { code?: number; reason?: string; message?: string };
  /** non-200 response or transport error */
  httpStatus?: number;
  error?: unknown;
  /** type of the first non-ERROR event (the watch was accepted) */
  firstEvent?: string;
}

/** Open a watch and report how it starts: first event, ERROR event or failure. */
function watchOnce(
  kc: KubeConfig,
  path: string,
  resourceVersion: string,
  timeoutMs = 15_000,
): Promise<WatchOutcome> {
  return new Promise<WatchOutcome>((resolve) => {
    let controller: AbortController | undefined;
    let settled = false;
    const timer = setTimeout(() => {
      finish({ error: new Error(`no watch event within ${timeoutMs} ms`) });
    }, timeoutMs);
    const finish = (o: WatchOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
      // aborting synchronously calls `done` again; `settled` ignores that
      controller?.abort();
    };
    void new Watch(kc)
      .watch(
        path,
        { resourceVersion },
        (phase: string, obj: unknown) => {
          if (phase === "ERROR") {
            const s = obj as { code?: number; reason?: string; message?: string };
            finish({ event: { code: s.code, reason: s.reason, message: s.message } });
          } else {
            finish({ firstEvent: phase });
          }
        },
        (err: unknown) => {
          const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
          finish({ httpStatus: typeof statusCode === "number" ? statusCode : undefined, error: err });
        },
      )
      .then(
        (c) => {
          controller = c;
          if (settled) c.abort();
        },
        (err: unknown) => {
          finish({ error: err });
        },
      );
  });
}

describe("test cluster (etcd + kube-apiserver)", () => {
  let cluster: Cluster;
  let core: CoreV1Api;

  beforeAll(async () => {
    cluster = await startCluster();
    core = cluster.core;
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it("is ready", async () => {
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(cluster.kubeconfigPath)).toBe(true);
    expect(await new Health(cluster.kubeConfig).readyz({})).toBe(true);
    const ns = await core.readNamespace({ name: "default" });
    expect(ns.metadata?.name).toBe("default");
  });

  it("filters pods by spec.nodeName", async () => {
    await cluster.createNode("node-a", { "vce-test": "a" });
    await cluster.createNode("node-b");
    const node = await core.readNode({ name: "node-a" });
    expect(node.metadata?.labels?.["vce-test"]).toBe("a");

    await cluster.createNamespace("filter");
    for (const name of ["a1", "a2", "a3"]) {
      await cluster.createPod({ namespace: "filter", name, nodeName: "node-a" });
    }
    for (const name of ["b1", "b2"]) {
      await cluster.createPod({ namespace: "filter", name, nodeName: "node-b" });
    }

    const onA = await core.listNamespacedPod({ namespace: "filter", fieldSelector: "spec.nodeName=node-a" });
    expect(onA.items.map((p) => p.metadata?.name).sort()).toEqual(["a1", "a2", "a3"]);
    const onBAll = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-b" });
    expect(onBAll.items.map((p) => p.metadata?.name).sort()).toEqual(["b1", "b2"]);
    expect(onBAll.items.every((p) => p.spec?.nodeName === "node-b")).toBe(true);
  });

  it("writes containerStatuses through the status subresource", async () => {
    await cluster.createNamespace("status");
    await cluster.createPod({
      namespace: "status",
      name: "p",
      nodeName: "node-a",
      containers: ["app", "sidecar"],
    });
    const ids = [randomContainerId(), randomContainerId()];
    expect(ids[0]).toMatch(/^cri-o:\/\/[0-9a-f]{64}$/);
    await cluster.setPodContainerStatuses("status", "p", [
      { containerID: ids[0] },
      { containerID: ids[1], state: "terminated" },
    ]);

    const pod = await core.readNamespacedPod({ namespace: "status", name: "p" });
    expect(pod.status?.phase).toBe("Running");
    const statuses = pod.status?.containerStatuses ?? [];
    expect(statuses.map((s) => [s.name, s.containerID])).toEqual([
      ["app", ids[0]],
      ["sidecar", ids[1]],
    ]);
    expect(statuses[0]?.state?.running).toBeDefined();
    expect(statuses[1]?.state?.terminated?.exitCode).toBe(0);

    // delete + recreate gives a new UID under the same name, with empty status
    const uid = pod.metadata?.uid;
    const again = await cluster.recreatePod({ namespace: "status", name: "p", nodeName: "node-a" });
    expect(again.metadata?.uid).toBeDefined();
    expect(again.metadata?.uid).not.toBe(uid);
    expect(again.status?.containerStatuses ?? []).toEqual([]);
    await cluster.deletePod("status", "p");
    await expect(core.readNamespacedPod({ namespace: "status", name: "p" })).rejects.toMatchObject({
      code: 404,
    });
  });

  it("answers 410 Expired to a watch from a resourceVersion compacted away in etcd", async () => {
    await cluster.createNamespace("compact");
    const list = await core.listNamespacedPod({ namespace: "compact" });
    const oldRv = list.metadata?.resourceVersion;
    expect(oldRv).toMatch(/^\d+$/);
    if (oldRv === undefined) return;

    // sanity: before compaction the same watch is accepted and replays events
    await cluster.createPod({ namespace: "compact", name: "w1", nodeName: "node-a" });
    await cluster.setPodContainerStatuses("compact", "w1");
    const before = await watchOnce(cluster.kubeConfig, "/api/v1/namespaces/compact/pods", oldRv);
    expect(before.firstEvent, JSON.stringify(before)).toBe("ADDED");

    const rev = await cluster.compactEtcd();
    expect(rev).toBeGreaterThan(Number(oldRv) + 1);
    expect(await cluster.etcdRevision()).toBe(rev);

    const after = await watchOnce(cluster.kubeConfig, "/api/v1/namespaces/compact/pods", oldRv);
    const code = after.event?.code ?? after.httpStatus;
    expect(code, JSON.stringify(after)).toBe(410);
    if (after.event) expect(after.event.reason).toBe("Expired");

    // and a list at that exact old resourceVersion fails the same way
    await expect(
      core.listNamespacedPod({ namespace: "compact", resourceVersion: oldRv, resourceVersionMatch: "Exact" }),
    ).rejects.toMatchObject({ code: 410 });
  });

  it("authenticates a ServiceAccount token kubeconfig, which RBAC denies by default", async () => {
    await cluster.createNamespace("vce");
    await cluster.createPod({ namespace: "vce", name: "mine", nodeName: "node-rbac" });
    await cluster.createPod({ namespace: "vce", name: "other", nodeName: "node-elsewhere" });
    const path = await cluster.kubeconfigForServiceAccount("vce", "exporter");
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    expect(kc.getCurrentUser()?.token).toMatch(/^ey/);
    const saCore = kc.makeApiClient(CoreV1Api);

    const err: unknown = await saCore.listNamespacedPod({ namespace: "vce" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(403);
    expect(String((err as ApiException<unknown>).body)).toContain("system:serviceaccount:vce:exporter");

    await expect(
      saCore.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-rbac" }),
    ).rejects.toMatchObject({ code: 403 });

    // ... and allows once granted (RBAC changes apply without restarts)
    await cluster.grantServiceAccount("vce", "exporter", [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    ]);
    let pods: string[] | undefined;
    for (let i = 0; i < 50 && pods === undefined; i++) {
      try {
        const list = await saCore.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-rbac" });
        pods = list.items.map((p) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`);
      } catch (e: unknown) {
        if (!(e instanceof ApiException) || (e as ApiException<unknown>).code !== 403) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(pods).toEqual(["vce/mine"]);
    await expect(saCore.listNode({})).rejects.toMatchObject({ code: 403 });
  });

  it("runs the pinned helm against the cluster", async () => {
    const { stdout: version } = await execFileAsync(helmBin, ["version", "--short"]);
    expect(version.trim()).toMatch(/^v3\.22\.0/);
    const { stdout } = await execFileAsync(
      helmBin,
      ["list", "--all-namespaces", "--kubeconfig", cluster.kubeconfigPath, "-o", "json"],
      {
        env: {
          ...process.env,
          HELM_CACHE_HOME: `${cluster.dataDir}/helm/cache`,
          HELM_CONFIG_HOME: `${cluster.dataDir}/helm/config`,
          HELM_DATA_HOME: `${cluster.dataDir}/helm/data`,
        },
      },
    );
    expect(JSON.parse(stdout)).toEqual([]);
  });
});
