import { describe, expect, it } from "vitest";
import { isCollectable, matchPods } from "../../../src/kube/match.js";
import { stripContainerScheme, toKubePod } from "../../../src/kube/pods.js";
import {
  NO_IDENTITY,
  UNKNOWN_IDENTITY,
  container,
  hexId,
  identity,
  kubePod,
  record,
  snapshot,
  trees,
} from "../../support/records.js";

const UID = "d4b0c6a2-2cf0-11e8-8a1d-fa163e4b2c7a";
const crio = identity({ namespace: "ml", podName: "web-1", podUid: UID });

function one(rec: ReturnType<typeof record>, pods: Parameters<typeof matchPods>[0]["pods"], t = trees()) {
  const [m] = matchPods({ snapshot: snapshot([rec], t), pods });
  if (m === undefined) throw new Error("no match");
  return m;
}

describe("matchPods", () => {
  it("matches by pod UID and takes the owner's identity", () => {
    const m = one(record({ id: hexId(1), identity: crio }), [
      kubePod({ uid: UID, namespace: "ml", name: "web-1" }),
    ]);
    expect(m).toMatchObject({ status: "matched", reason: "uid", namespace: "ml", name: "web-1", uid: UID });
  });

  it("a pod re-created with the same name but a new UID does not own the old directory", () => {
    const m = one(record({ id: hexId(1), identity: crio }), [
      kubePod({ uid: "new-uid", namespace: "ml", name: "web-1" }),
    ]);
    expect(m).toMatchObject({ status: "orphan", reason: "uid_not_found", owner: null });
  });

  it("without a UID, matches by container ID against container, init and ephemeral statuses", () => {
    const cid = hexId(99);
    const ident = identity({ flavor: "containerd" });
    const rec = record({
      id: hexId(1),
      identity: ident,
      containers: [
        container(hexId(1), ident),
        container(cid, identity({ kind: "container", flavor: "containerd" })),
      ],
    });
    const owner = toKubePod({
      metadata: { uid: "u1", namespace: "a", name: "b" },
      spec: { nodeName: "node-a", containers: [{ name: "c" }], initContainers: [{ name: "i" }] },
      status: {
        phase: "Running",
        initContainerStatuses: [{ containerID: `containerd://${hexId(98)}` }],
        containerStatuses: [{ containerID: `containerd://${cid}` }],
      },
    });
    expect(owner).not.toBeNull();
    const m = one(rec, owner === null ? [] : [owner]);
    expect(m).toMatchObject({
      status: "matched",
      reason: "container_id",
      namespace: "a",
      name: "b",
      uid: "u1",
    });
  });

  it("a static pod's sandbox (the kubelet's UID) is owned by its mirror pod (kubernetes.io/config.mirror)", () => {
    const hash = "6a7c3f0b1e2d4c5b8a9f0e1d2c3b4a59";
    const staticPod = identity({ namespace: "kube-system", podName: "etcd-node-a", podUid: hash });
    const mirror = toKubePod({
      metadata: {
        uid: "0b8a5e2c-mirror",
        namespace: "kube-system",
        name: "etcd-node-a",
        annotations: { "kubernetes.io/config.mirror": hash, "kubernetes.io/config.source": "file" },
      },
      spec: { nodeName: "node-a", containers: [{ name: "etcd" }] },
      status: { phase: "Running" },
    });
    expect(mirror?.mirrorUid).toBe(hash);
    const m = one(record({ id: hexId(1), identity: staticPod }), mirror === null ? [] : [mirror]);
    expect(m).toMatchObject({ status: "matched", reason: "mirror_uid", uid: "0b8a5e2c-mirror" });
    // without the mirror pod in the API, it is an orphan (the grace period covers a late mirror)
    expect(one(record({ id: hexId(1), identity: staticPod }), []).status).toBe("orphan");
  });

  it("a directory whose UID no pod has is still owned when one of its container IDs is in a pod's statuses", () => {
    const cid = hexId(42);
    const rec = record({
      id: hexId(1),
      identity: crio,
      containers: [container(hexId(1), crio), container(cid, identity({ kind: "container", podUid: UID }))],
    });
    const current = kubePod({ uid: "other-uid", containerIds: [cid] });
    expect(one(rec, [current])).toMatchObject({
      status: "matched",
      reason: "container_id",
      uid: "other-uid",
    });
    // lastState.terminated.containerID counts as well (a container restarted in the same sandbox)
    const restarted = toKubePod({
      metadata: { uid: "other-uid", namespace: "ml", name: "web-1" },
      spec: { nodeName: "node-a", containers: [{ name: "c" }] },
      status: {
        phase: "Running",
        containerStatuses: [
          {
            containerID: `cri-o://${hexId(77)}`,
            lastState: { terminated: { containerID: `cri-o://${cid}` } },
          },
        ],
      },
    });
    expect(restarted?.containerIds).toEqual([hexId(77), cid]);
    expect(restarted?.containersWithoutId).toBe(0);
    expect(one(rec, restarted === null ? [] : [restarted])).toMatchObject({
      status: "matched",
      reason: "container_id",
    });
    // a name alone never owns a directory that has a UID
    expect(one(rec, [kubePod({ uid: "new", namespace: "ml", name: "web-1" })]).status).toBe("orphan");
  });

  it("the pod ID itself matches a dockershim container ID", () => {
    const ident = identity({ flavor: "dockershim" });
    const m = one(record({ id: hexId(7), identity: ident }), [
      kubePod({ uid: "u", containerIds: [hexId(7)] }),
    ]);
    expect(m.status).toBe("matched");
  });

  it("without a UID or container ID, matches by namespace and name", () => {
    const ident = identity({ namespace: "ns", podName: "p" });
    expect(
      one(record({ id: hexId(1), identity: ident }), [kubePod({ uid: "u", namespace: "ns", name: "p" })]),
    ).toMatchObject({
      status: "matched",
      reason: "name",
    });
    expect(
      one(record({ id: hexId(1), identity: ident }), [kubePod({ uid: "u", namespace: "ns", name: "q" })]),
    ).toMatchObject({
      status: "orphan",
      reason: "no_owner",
    });
  });

  it("no Kubernetes identity at all is unmanaged, never orphan", () => {
    const m = one(record({ id: hexId(1), identity: NO_IDENTITY }), []);
    expect(m).toMatchObject({ status: "unmanaged", reason: "no_kubernetes_identity" });
  });

  it("an unreadable identity is unknown", () => {
    expect(one(record({ id: hexId(1), identity: UNKNOWN_IDENTITY }), [])).toMatchObject({
      status: "unknown",
      reason: "identity_unreadable",
    });
    expect(one(record({ id: hexId(1), identity: NO_IDENTITY, noConfig: true }), [])).toMatchObject({
      status: "unknown",
    });
  });

  it("everything is unknown while the view is not synced and fresh", () => {
    const recs = [record({ id: hexId(1), identity: crio }), record({ id: hexId(2), identity: NO_IDENTITY })];
    const ms = matchPods({ snapshot: snapshot(recs), pods: null });
    expect(ms.map((m) => [m.status, m.reason])).toEqual([
      ["unknown", "view_not_synced"],
      ["unknown", "view_not_synced"],
    ]);
  });

  it("a run-only leftover is an orphan when the config tree is readable, unknown when it is not", () => {
    const rec = record({ id: hexId(1), presence: "run_only" });
    expect(one(rec, [])).toMatchObject({ status: "orphan", reason: "no_config" });
    expect(one(rec, [], trees({ config: { present: false } }))).toMatchObject({
      status: "unknown",
      reason: "tree_unreadable",
    });
    expect(one(rec, [], trees({ config: { problem: { reason: "permission" } as never } }))).toMatchObject({
      status: "unknown",
    });
    // matched by a container ID, it is not a leftover
    expect(one(rec, [kubePod({ uid: "u", containerIds: [hexId(1)] })]).status).toBe("matched");
  });

  it("a persist sandbox (Kata 1.11+) lives in the run tree only: matched or orphan, never unknown for that", () => {
    const persist = {
      ...record({ id: hexId(1), identity: crio, presence: "run_only" }),
      layout: "persist" as const,
      treeSet: "sbs" as const,
    };
    const sbs = [
      { set: "sbs", tree: "run", path: "run/vc/sbs", present: true, problem: null },
      { set: "sbs", tree: "config", path: "var/lib/vc/sbs", present: false, problem: null },
    ] as Parameters<typeof snapshot>[1];
    expect(one(persist, [], sbs)).toMatchObject({ status: "orphan", reason: "uid_not_found" });
    expect(one(persist, [kubePod({ uid: UID })], sbs).status).toBe("matched");
    // without any Kubernetes identity (Kata 2.0-2.1 with the bundle out of sight) it is undecided
    const blind = {
      ...persist,
      identity: UNKNOWN_IDENTITY,
      containers: [container(hexId(1), UNKNOWN_IDENTITY)],
    };
    expect(one(blind, [], sbs)).toMatchObject({ status: "unknown", reason: "identity_unreadable" });
  });

  it("a config-only pod (after a reboot) is matched normally, unless the run tree is unreadable", () => {
    const rec = record({ id: hexId(1), identity: crio, presence: "config_only" });
    expect(one(rec, [], trees({ run: { present: false } }))).toMatchObject({
      status: "orphan",
      reason: "uid_not_found",
    });
    expect(
      one(rec, [], trees({ run: { present: false, problem: { reason: "permission" } as never } })).status,
    ).toBe("unknown");
  });

  it("a pod of this node whose containers have no IDs yet keeps ID-only directories undecided", () => {
    const ident = identity({ flavor: "containerd" }); // 2018 containerd: no UID, no name
    const rec = record({ id: hexId(1), identity: ident });
    const starting = kubePod({ uid: "s", phase: "Pending", containersWithoutId: 1 });
    expect(one(rec, [starting])).toMatchObject({ status: "unknown", reason: "pods_without_container_ids" });
    // a finished pod cannot be starting a sandbox
    expect(one(rec, [{ ...starting, phase: "Succeeded" }]).status).toBe("orphan");
    // once its containers have IDs that are elsewhere, the directory is an orphan
    expect(one(rec, [{ ...starting, containersWithoutId: 0, containerIds: [hexId(5)] }]).status).toBe(
      "orphan",
    );
    // a starting pod already owning another directory does not hold this one back
    const other = record({
      id: hexId(2),
      identity: ident,
      containers: [container(hexId(2), ident), container(hexId(3), ident)],
    });
    const ms = matchPods({
      snapshot: snapshot([rec, other]),
      pods: [{ ...starting, containerIds: [hexId(3)] }],
    });
    expect(ms.map((m) => m.status)).toEqual(["orphan", "matched"]);
    // a directory with a UID is decided by the UID alone
    expect(one(record({ id: hexId(1), identity: crio }), [starting]).status).toBe("orphan");
  });
});

describe("superseded sandboxes", () => {
  const owner = kubePod({ uid: UID, namespace: "ml", name: "web-1" });
  const HOUR = 3_600_000;
  /** A sandbox of pod UID with a state, a run directory or not, and a creation time (ms, or null). */
  function sandbox(
    n: number,
    over: {
      state?: "running" | "ready" | "paused" | "stopped" | "unknown";
      presence?: "both" | "config_only" | "run_only";
      createdMs?: number | null;
      newestMtimeMs?: number;
      ident?: typeof crio;
    },
  ) {
    const ident = over.ident ?? crio;
    return {
      ...record({
        id: hexId(n),
        identity: ident,
        presence: over.presence ?? "both",
        newestMtimeMs: over.newestMtimeMs ?? (over.createdMs ?? 0) + 1000,
      }),
      state: over.state ?? "running",
      startTimeSeconds:
        over.createdMs === undefined || over.createdMs === null ? null : over.createdMs / 1000,
    };
  }
  const statuses = (recs: ReturnType<typeof sandbox>[], pods = [owner]) =>
    matchPods({ snapshot: snapshot(recs), pods }).map((m) => `${m.status}/${m.reason}`);

  it("after a reboot: every config-only sandbox of a pod that runs in a newer one is superseded", () => {
    // containerd keeps no creation time in the config: the old ones' newest change is before the new start
    const oldIdent = identity({ flavor: "containerd", podUid: UID, namespace: "ml", podName: "web-1" });
    const twiceRebooted = [
      sandbox(1, {
        presence: "config_only",
        state: "unknown",
        createdMs: null,
        newestMtimeMs: 1 * HOUR,
        ident: oldIdent,
      }),
      sandbox(2, {
        presence: "config_only",
        state: "unknown",
        createdMs: null,
        newestMtimeMs: 2 * HOUR,
        ident: oldIdent,
      }),
      sandbox(3, { state: "running", createdMs: 3 * HOUR }),
    ];
    expect(statuses(twiceRebooted)).toEqual([
      "superseded/newer_sandbox_running",
      "superseded/newer_sandbox_running",
      "matched/uid",
    ]);
    const [m] = matchPods({ snapshot: snapshot(twiceRebooted), pods: [owner] });
    expect(m).toMatchObject({ namespace: "ml", name: "web-1", uid: UID, owner });
  });

  it("a sandbox re-created without a reboot: the stopped older one is superseded", () => {
    expect(
      statuses([
        sandbox(1, { state: "stopped", createdMs: HOUR }),
        sandbox(2, { state: "ready", createdMs: 2 * HOUR }),
      ]),
    ).toEqual(["superseded/newer_sandbox_running", "matched/uid"]);
  });

  it("when it cannot be told which sandbox is current, none is superseded", () => {
    const cases: ReturnType<typeof sandbox>[][] = [
      // two running (a stale state.json says running after the VM died)
      [
        sandbox(1, { state: "running", createdMs: HOUR }),
        sandbox(2, { state: "running", createdMs: 2 * HOUR }),
      ],
      // none running
      [
        sandbox(1, { state: "stopped", createdMs: HOUR }),
        sandbox(2, { presence: "config_only", state: "unknown", createdMs: 2 * HOUR }),
      ],
      // the dead one is the newer one
      [
        sandbox(1, { state: "running", createdMs: HOUR }),
        sandbox(2, { state: "stopped", createdMs: 2 * HOUR }),
      ],
      // the dead one changed after the running one started, and its creation time is unknown
      [
        sandbox(1, { state: "stopped", createdMs: null, newestMtimeMs: 3 * HOUR }),
        sandbox(2, { createdMs: 2 * HOUR }),
      ],
      // the running one's creation time is unknown
      [
        sandbox(1, { state: "stopped", createdMs: HOUR }),
        sandbox(2, { createdMs: null, newestMtimeMs: 5 * HOUR }),
      ],
      // a sibling with a run directory and no readable state
      [
        sandbox(1, { state: "stopped", createdMs: HOUR }),
        sandbox(2, { state: "unknown", createdMs: 2 * HOUR }),
        sandbox(3, { createdMs: 3 * HOUR }),
      ],
    ];
    for (const recs of cases) expect(statuses(recs).every((s) => s.startsWith("matched/"))).toBe(true);
  });

  it("only sandboxes: a dockershim pod's exited container VM next to its running ones stays matched", () => {
    const pause = identity({ flavor: "dockershim", kind: "sandbox" });
    const app = identity({ flavor: "dockershim", kind: "container" });
    const pod = kubePod({ uid: "d", containerIds: [hexId(1), hexId(2)] });
    const recs = [
      sandbox(1, { state: "running", createdMs: 2 * HOUR, ident: pause }),
      sandbox(2, { state: "stopped", createdMs: HOUR, ident: app }),
    ];
    expect(statuses(recs, [pod])).toEqual(["matched/container_id", "matched/container_id"]);
  });

  it("a superseded sandbox is an orphan once its pod is gone, and is collectable either way", () => {
    const recs = [sandbox(1, { state: "stopped", createdMs: HOUR }), sandbox(2, { createdMs: 2 * HOUR })];
    expect(statuses(recs, [])).toEqual(["orphan/uid_not_found", "orphan/uid_not_found"]);
    expect(isCollectable("superseded")).toBe(true);
    expect(isCollectable("orphan")).toBe(true);
    expect(isCollectable("matched")).toBe(false);
  });
});

describe("toKubePod", () => {
  it("strips the runtime scheme and counts containers without IDs", () => {
    const p = toKubePod({
      metadata: { uid: "u", namespace: "n", name: "p", resourceVersion: "7" },
      spec: { nodeName: "x", containers: [{}, {}], ephemeralContainers: [{}] },
      status: {
        phase: "Running",
        containerStatuses: [{ containerID: "cri-o://abc" }, { containerID: "" }],
        ephemeralContainerStatuses: [{ containerID: "docker://def" }],
      },
    });
    expect(p).toMatchObject({
      containerIds: ["abc", "def"],
      containersWithoutId: 1,
      nodeName: "x",
      resourceVersion: "7",
    });
  });

  it("refuses objects without uid, namespace or name, and never throws", () => {
    for (const raw of [
      null,
      1,
      "x",
      [],
      {},
      { metadata: {} },
      { metadata: { uid: "u", name: "n" } },
      { metadata: { uid: 1, namespace: "n", name: "p" } },
    ]) {
      expect(toKubePod(raw)).toBeNull();
    }
    expect(
      toKubePod({ metadata: { uid: "u", namespace: "n", name: "p" }, status: { containerStatuses: "x" } }),
    ).toMatchObject({ containerIds: [] });
  });

  it("stripContainerScheme", () => {
    expect(stripContainerScheme("containerd://abc")).toBe("abc");
    expect(stripContainerScheme("abc")).toBe("abc");
    expect(stripContainerScheme("cri-o://")).toBeNull();
    expect(stripContainerScheme("")).toBeNull();
  });
});
