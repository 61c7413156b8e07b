/**
 * The pod view (src/kube) against the real API server, without the exporter around it: the field
 * selector keeps other nodes' pods out, and a real 410 (a resourceVersion compacted away in etcd)
 * makes it relist and end up with every pod.
 */
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "../cluster/cluster.js";
import type { KubeApi, WatchHandlers } from "../../src/kube/api.js";
import { ClientNodeApi, loadKubeConfig } from "../../src/kube/client.js";
import { PodView } from "../../src/kube/podview.js";
import { pollUntil } from "./helpers.js";

let cluster: Cluster;
const log = pino({ level: "silent" });
const views: PodView[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.createNode("pv-a");
  await cluster.createNode("pv-b");
}, 120_000);
afterEach(async () => {
  await Promise.all(views.splice(0).map((v) => v.stop()));
});
afterAll(async () => {
  await cluster.stop();
});

function api(nodeName: string): ClientNodeApi {
  return new ClientNodeApi(loadKubeConfig({ kind: "file", path: cluster.kubeconfigPath }), {
    nodeName,
    requestTimeoutMs: 5000,
    component: "virtcontainers-exporter",
  });
}

function view(source: KubeApi, nodeName: string, restarts: string[] = []): PodView {
  const v = new PodView({
    api: source,
    nodeName,
    log,
    watchTimeoutSeconds: [2, 3],
    stallGraceMs: 5000,
    staleAfterMs: 10_000,
    backoffMs: [100, 500],
    onRestart: (r) => restarts.push(r),
  });
  views.push(v);
  v.start();
  return v;
}

const names = (v: PodView) => (v.pods() ?? []).map((p) => p.name).sort();

describe("the pod view on a real API server", () => {
  it("follows this node's pods only, through adds, container IDs and deletes", async () => {
    await cluster.createPod({ name: "a-1", nodeName: "pv-a" });
    await cluster.createPod({ name: "b-1", nodeName: "pv-b" });
    const v = view(api("pv-a"), "pv-a");
    await pollUntil("the first list", () => (v.pods() !== null ? true : undefined));
    expect(names(v)).toEqual(["a-1"]);
    await cluster.createPod({ name: "a-2", nodeName: "pv-a" });
    await cluster.setPodContainerStatuses("default", "a-2", [{ containerID: `cri-o://${"ab".repeat(32)}` }]);
    await pollUntil("a-2 with its container ID", () =>
      v
        .pods()
        ?.find((p) => p.name === "a-2")
        ?.containerIds.includes("ab".repeat(32)) === true
        ? true
        : undefined,
    );
    await cluster.deletePod("default", "a-1");
    await pollUntil("a-1 gone", () => (names(v).join() === "a-2" ? true : undefined));
    expect(v.status().restarts).toBe(0);
  });

  it("relists after a real 410: a watch from a resourceVersion that etcd compacted away", async () => {
    const real = api("pv-a");
    const before = await real.listNodePods();
    await cluster.createPod({ name: "a-3", nodeName: "pv-a" });
    await cluster.createPod({ name: "a-4", nodeName: "pv-a" });
    await cluster.compactEtcd();
    // The first watch starts from the resourceVersion of before the compaction, as a view that
    // fell behind would; the server answers 410 and the view must relist.
    let first = true;
    const behind: KubeApi = {
      listNodePods: () => real.listNodePods(),
      getNode: () => real.getNode(),
      createNodeEvent: (e) => real.createNodeEvent(e),
      watchNodePods: (rv: string, timeout: number, handlers: WatchHandlers) => {
        const from = first ? before.resourceVersion : rv;
        first = false;
        return real.watchNodePods(from, timeout, handlers);
      },
    };
    const restarts: string[] = [];
    const v = view(behind, "pv-a", restarts);
    await pollUntil(
      "the relist after the 410",
      () => (restarts.length > 0 && v.pods() !== null ? true : undefined),
      {
        timeoutMs: 15_000,
      },
    );
    expect(restarts[0]).toMatch(/410/);
    expect(names(v)).toEqual(expect.arrayContaining(["a-3", "a-4"]));
    await cluster.createPod({ name: "a-5", nodeName: "pv-a" });
    await pollUntil("a-5 after the relist", () => (names(v).includes("a-5") ? true : undefined));
  });
});
