import { describe, expect, it } from "vitest";
import { enrichSnapshot } from "../../../src/kube/enrich.js";
import { matchPods } from "../../../src/kube/match.js";
import { ExpositionCache } from "../../../src/metrics/cache.js";
import { SNAPSHOT_COLLECTORS } from "../../../src/metrics/collectors/index.js";
import { SelfMetrics } from "../../../src/metrics/self.js";
import { container, hexId, identity, kubePod, record, snapshot } from "../../support/records.js";
import { EXAMPLE_HOST, renderSnapshot, scanTree } from "./helpers.js";

const K8S_POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const DOCKER_POD = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";

describe("collector kubernetes", () => {
  it("renders each pod's status (1 for the current one) and the orphan total", async () => {
    const s = await scanTree(EXAMPLE_HOST);
    const matches = matchPods({ snapshot: s, pods: [] });
    const text = renderSnapshot(s, { matches });
    for (const status of ["matched", "orphan", "superseded", "unmanaged", "unknown"]) {
      expect(text).toContain(
        `virtcontainers_pod_kubernetes{pod_id="${K8S_POD}",namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",status="${status}"} ${status === "orphan" ? 1 : 0}\n`,
      );
      expect(text).toContain(
        `virtcontainers_pod_kubernetes{pod_id="${DOCKER_POD}",namespace="",pod="",status="${status}"} ${status === "unmanaged" ? 1 : 0}\n`,
      );
    }
    expect(text).toContain("\nvirtcontainers_orphan_pods 1\n");
    const owned = renderSnapshot(s, {
      matches: matchPods({ snapshot: s, pods: [kubePod({ uid: "d4b0c6a2-2cf0-11e8-8a1d-fa163e4b2c7a" })] }),
    });
    expect(owned).toContain("\nvirtcontainers_orphan_pods 0\n");
    // with Kubernetes off, the families are not rendered at all
    expect(renderSnapshot(s)).not.toContain("virtcontainers_pod_kubernetes");
  });

  it("counts superseded sandboxes with the orphans", async () => {
    const s = await scanTree(EXAMPLE_HOST);
    const matches = matchPods({ snapshot: s, pods: [] }).map((m) =>
      m.podId === K8S_POD
        ? { ...m, status: "superseded" as const, reason: "newer_sandbox_running" as const }
        : m,
    );
    const text = renderSnapshot(s, { matches });
    expect(text).toContain(
      `virtcontainers_pod_kubernetes{pod_id="${K8S_POD}",namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",status="superseded"} 1\n`,
    );
    expect(text).toContain("\nvirtcontainers_orphan_pods 1\n");
  });

  it("re-renders when only the matches changed, and not otherwise", async () => {
    const s = await scanTree(EXAMPLE_HOST);
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("n"));
    const ctx = { matches: matchPods({ snapshot: s, pods: [] }) };
    cache.update(s, ctx);
    const v = cache.version;
    cache.update(s, ctx);
    expect(cache.version).toBe(v);
    cache.update(s, { matches: matchPods({ snapshot: s, pods: null }) });
    expect(cache.version).toBe(v + 1);
    const text = Buffer.concat(await cache.render(false)).toString();
    expect(text).toContain("\nvirtcontainers_orphan_pods 0\n");
  });
});

describe("enrichSnapshot", () => {
  it("fills the UID, namespace and name of a pod matched by container ID, and keeps the record object across calls", () => {
    const ident = identity({ flavor: "containerd" });
    const rec = record({
      id: hexId(1),
      identity: ident,
      containers: [container(hexId(1), ident), container(hexId(2), ident)],
    });
    const plain = record({
      id: hexId(3),
      identity: identity({ podUid: "u3", namespace: "a", podName: "b" }),
    });
    const s = snapshot([rec, plain]);
    const pods = [
      kubePod({ uid: "u1", namespace: "ns", name: "web", containerIds: [hexId(2)] }),
      kubePod({ uid: "u3", namespace: "a", name: "b" }),
    ];
    const matches = matchPods({ snapshot: s, pods });
    const a = enrichSnapshot(s, matches);
    expect(a.pods[0]?.identity).toMatchObject({ podUid: "u1", namespace: "ns", podName: "web" });
    expect(a.pods[1]).toBe(plain);
    const b = enrichSnapshot(s, matchPods({ snapshot: s, pods }));
    expect(b.pods[0]).toBe(a.pods[0]);
    expect(enrichSnapshot(s, null)).toBe(s);
    expect(enrichSnapshot(s, matchPods({ snapshot: s, pods: [] }))).toBe(s);
  });
});
