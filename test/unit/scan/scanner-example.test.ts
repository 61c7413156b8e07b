import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkHostRoot, HostRootError, Scanner } from "../../../src/scan/scanner.js";
import { toJsonReport, toTable } from "../../../src/scan/report.js";
import { allProblems, type PodRecord, type Snapshot } from "../../../src/scan/snapshot.js";
import {
  cfgRel,
  copyExample,
  DOCKER_POD,
  DOCKER_POD_FILES,
  INFER,
  K8S_POD,
  K8S_POD_FILES,
  LOADER,
  minimalPodConfig,
  runRel,
  STATE_READY,
  TempDirs,
  write,
  writeMinimalPod,
} from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

function pod(s: Snapshot, id: string): PodRecord {
  const p = s.pods.find((x) => x.id === id);
  if (p === undefined) throw new Error(`pod ${id} not in snapshot`);
  return p;
}

describe("the example tree", () => {
  it("gives two complete pods and no problem", async () => {
    const root = copyExample(temp);
    const s = await new Scanner({ hostRoot: root }).scan();

    expect(s.hostRoot).toBe(root);
    expect(s.trees).toEqual([
      { set: "pods", tree: "run", path: "run/virtcontainers/pods", present: true, problem: null },
      { set: "pods", tree: "config", path: "var/lib/virtcontainers/pods", present: true, problem: null },
      // the other generations' trees are looked for and absent here
      { set: "sandboxes", tree: "run", path: "run/virtcontainers/sandboxes", present: false, problem: null },
      {
        set: "sandboxes",
        tree: "config",
        path: "var/lib/virtcontainers/sandboxes",
        present: false,
        problem: null,
      },
      { set: "sbs", tree: "run", path: "run/vc/sbs", present: false, problem: null },
      { set: "sbs", tree: "config", path: "var/lib/vc/sbs", present: false, problem: null },
    ]);
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(allProblems(s)).toEqual([]);
    expect(s.stats).toMatchObject({
      kind: "full",
      filesRead: K8S_POD_FILES + DOCKER_POD_FILES,
      // Every file is stat-ed once (an fstat on the open file: the listings said they are
      // regular files); the absent mounts.json of the never-started "loader" container is
      // known absent from its directory's listing.
      filesStatted: K8S_POD_FILES + DOCKER_POD_FILES,
      filesReused: 0,
      retried: 0,
    });

    const k = pod(s, K8S_POD);
    expect(k.presence).toBe("both");
    expect(k.state).toBe("running");
    expect(k.lockPresent).toBe(true);
    expect(k.vcpus).toBe(18); // 16 boot + 2 hot-plugged
    expect(k.memoryBytes).toBe(2 * 1024 ** 3);
    expect(k.networkEndpoints).toBe(1);
    expect(k.identity).toMatchObject({
      status: "known",
      flavor: "cri-o",
      namespace: "ml-serving",
      podName: "resnet-infer-1684375908-7xq2p",
      podUid: "d4b0c6a2-2cf0-11e8-8a1d-fa163e4b2c7a",
    });
    expect(k.containers.map((c) => [c.id, c.type, c.state])).toEqual([
      [K8S_POD, "sandbox", "running"],
      [INFER, "container", "running"],
      [LOADER, "container", "ready"],
    ]);
    const infer = k.containers[1];
    const loader = k.containers[2];
    expect(infer?.identity.containerName).toBe("infer");
    expect(loader?.identity.containerName).toBe("loader");
    expect(loader?.mountList).toBeNull(); // hyperstart, never started: no mounts.json
    expect(infer?.devices.map((d) => [d.type, d.hostPath, d.bdf])).toEqual([
      ["vfio", "/dev/vfio/42", "04:00.0"],
    ]);
    expect(loader?.devices.map((d) => [d.type, d.hostPath, d.scsiAddr, d.hotplugged])).toEqual([
      ["block", "/dev/sdb", "0:0", true],
      ["generic", "/dev/fuse", "", false],
    ]);
    expect(k.containers.flatMap((c) => c.devices)).toHaveLength(3);
    expect(k.containers.every((c) => c.inRunTree && c.inConfigTree)).toBe(true);

    const d = pod(s, DOCKER_POD);
    expect(d.presence).toBe("both");
    expect(d.state).toBe("running");
    expect(d.identity).toMatchObject({ status: "none", namespace: null, podName: null });
    expect(d.vcpus).toBe(16);
    expect(d.memoryBytes).toBe(512 * 1024 ** 2);
    expect(d.containers.map((c) => [c.id, c.type, c.devices.length])).toEqual([[DOCKER_POD, "sandbox", 0]]);
  });

  it("reads a container's own config.json only when the pod config does not describe it", async () => {
    const root = copyExample(temp);
    const podCfg = join(root, cfgRel(K8S_POD, "config.json"));
    const cfg = JSON.parse(readFileSync(podCfg, "utf8")) as { Containers: { ID: string }[] };
    cfg.Containers = cfg.Containers.filter((c) => c.ID !== LOADER);
    writeFileSync(podCfg, JSON.stringify(cfg));

    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES + 1);
    expect(allProblems(s)).toEqual([]);
    const loader = pod(s, K8S_POD).containers.find((c) => c.id === LOADER);
    expect(loader?.identity.containerName).toBe("loader");
    expect(loader?.config?.id).toBe(LOADER);
  });
});

describe("missing trees and half-present pods", () => {
  it("an empty host root has two absent trees and no problem", async () => {
    const root = temp.make();
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present, t.problem])).toEqual([
      ["run", false, null],
      ["config", false, null],
    ]);
    expect(s.pods).toEqual([]);
    expect(allProblems(s)).toEqual([]);
  });

  it("keeps a run-only pod (creation in progress) when var/lib is missing", async () => {
    const root = copyExample(temp);
    rmSync(join(root, "var"), { recursive: true });
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present])).toEqual([
      ["run", true],
      ["config", false],
    ]);
    expect(s.pods.map((p) => [p.id, p.presence, p.state])).toEqual([
      [K8S_POD, "run_only", "running"],
      [DOCKER_POD, "run_only", "running"],
    ]);
    const k = pod(s, K8S_POD);
    expect(k.config).toBeNull();
    expect(k.vcpus).toBeNull();
    expect(k.memoryBytes).toBeNull();
    expect(k.containers.map((c) => [c.id, c.inRunTree, c.inConfigTree])).toEqual([
      [K8S_POD, true, false],
      [INFER, true, false],
      [LOADER, true, false],
    ]);
    // The missing half is the presence flag, not a problem (the pod config is written last).
    expect(allProblems(s)).toEqual([]);
  });

  it("keeps a config-only pod (after a reboot emptied /run) when run/ is missing", async () => {
    const root = copyExample(temp);
    rmSync(join(root, "run"), { recursive: true });
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present])).toEqual([
      ["run", false],
      ["config", true],
    ]);
    expect(s.pods.map((p) => [p.id, p.presence, p.state])).toEqual([
      [K8S_POD, "config_only", "unknown"],
      [DOCKER_POD, "config_only", "unknown"],
    ]);
    const k = pod(s, K8S_POD);
    expect(k.lockPresent).toBe(false);
    expect(k.vcpus).toBe(16); // no hypervisor.json: no hot-plugged vCPUs known
    expect(k.identity.podName).toBe("resnet-infer-1684375908-7xq2p");
    expect(k.containers.map((c) => [c.id, c.inRunTree, c.inConfigTree, c.state])).toEqual([
      [K8S_POD, false, true, "unknown"],
      [INFER, false, true, "unknown"],
      [LOADER, false, true, "unknown"],
    ]);
    expect(allProblems(s)).toEqual([]);
  });

  it("mixes a run-only and a config-only pod with a complete one", async () => {
    const root = temp.make();
    const creating = "a".repeat(64);
    const orphan = "b".repeat(64);
    const whole = "c".repeat(64);
    write(root, runRel(creating, "state.json"), STATE_READY);
    write(root, cfgRel(orphan, "config.json"), minimalPodConfig(orphan));
    writeMinimalPod(root, whole);
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods.map((p) => [p.id, p.presence, p.state])).toEqual([
      [creating, "run_only", "ready"],
      [orphan, "config_only", "unknown"],
      [whole, "both", "running"],
    ]);
  });
});

describe("stat reuse and incremental scans", () => {
  it("does not re-read an unchanged tree, and re-reads only a changed file", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    expect(first.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);

    const second = await scanner.scan();
    expect(second.stats).toMatchObject({
      kind: "full",
      filesRead: 0,
      bytesRead: 0,
      filesReused: K8S_POD_FILES + DOCKER_POD_FILES,
    });
    expect(second.pods).toEqual(first.pods);

    // loader: "ready" -> "running" (content and size change).
    const rel = runRel(K8S_POD, LOADER, "state.json");
    write(root, rel, '{"state":"running","blockIndex":0,"fstype":"","hotpluggedDrive":false}');
    const third = await scanner.scan();
    expect(third.stats.filesRead).toBe(1);
    expect(third.stats.filesReused).toBe(K8S_POD_FILES + DOCKER_POD_FILES - 1);
    expect(pod(third, K8S_POD).containers.find((c) => c.id === LOADER)?.state).toBe("running");
    expect(allProblems(third)).toEqual([]);
  });

  it("scanPods re-reads the given pod even when unchanged and keeps the others", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    const s = await scanner.scanPods([DOCKER_POD, DOCKER_POD]);
    expect(s.stats).toMatchObject({ kind: "incremental", filesRead: DOCKER_POD_FILES, filesReused: 0 });
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(pod(s, K8S_POD)).toBe(pod(first, K8S_POD)); // carried over, not re-read
    expect(pod(s, DOCKER_POD)).toEqual(pod(first, DOCKER_POD));
    expect(scanner.snapshot).toBe(s);

    write(root, runRel(DOCKER_POD, "state.json"), '{"state":"paused"}');
    write(root, runRel(K8S_POD, "state.json"), '{"state":"stopped"}');
    const s2 = await scanner.scanPods([DOCKER_POD]);
    expect(pod(s2, DOCKER_POD).state).toBe("paused");
    expect(pod(s2, K8S_POD).state).toBe("running"); // not asked for: previous value kept
    const s3 = await scanner.scan();
    expect(s3.stats.filesRead).toBe(1);
    expect(pod(s3, K8S_POD).state).toBe("stopped");
  });

  it("scanPods before any scan does a full scan, and ignores invalid IDs", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const s = await scanner.scanPods([DOCKER_POD]);
    expect(s.stats.kind).toBe("full");
    expect(s.pods).toHaveLength(2);
    const s2 = await scanner.scanPods(["../../etc", ".hidden", ""]);
    expect(s2.stats).toMatchObject({ kind: "incremental", filesRead: 0, filesStatted: 0 });
    expect(s2.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
  });

  it("a pod deleted between scans disappears from the next full and incremental snapshot", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    await scanner.scan();
    rmSync(join(root, runRel(DOCKER_POD)), { recursive: true });
    rmSync(join(root, cfgRel(DOCKER_POD)), { recursive: true });
    const s = await scanner.scan();
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD]);
    expect(allProblems(s)).toEqual([]);

    rmSync(join(root, runRel(K8S_POD)), { recursive: true });
    rmSync(join(root, cfgRel(K8S_POD)), { recursive: true });
    const s2 = await scanner.scanPods([K8S_POD]);
    expect(s2.pods).toEqual([]);
    expect(allProblems(s2)).toEqual([]);
  });

  it("concurrent scans are serialised and all resolve", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const [a, b, c] = await Promise.all([scanner.scan(), scanner.scanPods([K8S_POD]), scanner.scan()]);
    expect(a.stats.kind).toBe("full");
    expect(b.stats).toMatchObject({ kind: "incremental", filesRead: K8S_POD_FILES });
    expect(c.stats).toMatchObject({ kind: "full", filesRead: 0 });
    expect(scanner.snapshot).toBe(c);
  });
});

describe("checkHostRoot", () => {
  it("accepts a directory and rejects a missing path or a regular file", async () => {
    const root = temp.make();
    expect(() => {
      checkHostRoot(root);
    }).not.toThrow();
    expect(() => {
      checkHostRoot(join(root, "missing"));
    }).toThrow(HostRootError);
    const file = write(root, "plain", "x");
    expect(() => {
      checkHostRoot(file);
    }).toThrow(/is not a directory/);
    await expect(new Scanner({ hostRoot: join(root, "missing") }).scan()).rejects.toThrow(/ENOENT/);
  });
});

describe("report", () => {
  it("renders the example as JSON and as a table", async () => {
    const root = copyExample(temp);
    const s = await new Scanner({ hostRoot: root, now: () => 1_700_000_000_000 }).scan();
    const j = toJsonReport(s);
    expect(j.schemaVersion).toBe(1);
    expect(j.takenAt).toBe("2023-11-14T22:13:20.000Z");
    expect(j.summary).toEqual({
      pods: 2,
      podsByState: { ready: 0, running: 2, paused: 0, stopped: 0, unknown: 0 },
      containers: 4,
      devices: 3,
      problems: 0,
    });
    expect(j.pods[0]?.vm).toMatchObject({ vcpus: 18, memoryBytes: 2147483648, hypervisor: "qemu" });
    const table = toTable(s);
    expect(table).toContain(
      "042f7fc8d580  virtcontainers  running  both      ml-serving/resnet-infer-1684375908-7xq2p  3           3",
    );
    expect(table).toContain("b6557d11c510  virtcontainers  running  both      (none)");
    expect(j.pods[0]?.layout).toBe("virtcontainers");
    expect(table).not.toContain("PROBLEMS (");
  });
});
