import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { toJsonReport, toTable } from "../../../src/scan/report.js";
import { statEntry } from "../../../src/scan/fsread.js";
import { Scanner } from "../../../src/scan/scanner.js";
import { allProblems, type FileProblem, type PodRecord, type Snapshot } from "../../../src/scan/snapshot.js";
import {
  addSecretEnv,
  CFG,
  cfgRel,
  copyExample,
  DOCKER_POD,
  FifoGuard,
  DOCKER_POD_FILES,
  INFER,
  K8S_POD,
  K8S_POD_FILES,
  LOADER,
  RUN,
  runRel,
  STATE_RUNNING,
  TempDirs,
  write,
  writeMinimalPod,
} from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

const MARKER = "OUTSIDE_THE_ROOT_7d1e";

function pod(s: Snapshot, id: string): PodRecord {
  const p = s.pods.find((x) => x.id === id);
  if (p === undefined) throw new Error(`pod ${id} not in snapshot`);
  return p;
}

function brief(p: FileProblem) {
  return { file: p.file, path: p.path, podId: p.podId, containerId: p.containerId, reason: p.reason };
}

/** A directory outside the host root holding files with recognisable content. */
function outsideDir(): string {
  const dir = temp.make("vce-outside-");
  writeFileSync(join(dir, "state.json"), `{"state":"running","fstype":"${MARKER}"}`);
  writeFileSync(join(dir, "config.json"), `{"ID":"${MARKER}"}`);
  writeFileSync(join(dir, "secret.json"), `{"state":"paused","fstype":"${MARKER}"}`);
  return dir;
}

function expectNoMarker(s: Snapshot): void {
  expect(JSON.stringify(s)).not.toContain(MARKER);
  expect(JSON.stringify(toJsonReport(s))).not.toContain(MARKER);
  expect(toTable(s)).not.toContain(MARKER);
}

/**
 * Leave a Unix socket at dir/name. A child process binds a relative name from inside the
 * directory (the absolute path is longer than sun_path allows) and exits; the socket stays.
 */
function makeSocket(dir: string, name: string): void {
  execFileSync(process.execPath, [
    "-e",
    "process.chdir(process.argv[1]); require('node:net').createServer().listen(process.argv[2], () => process.exit(0));",
    dir,
    name,
  ]);
}

describe("symlinks", () => {
  it("reports a pod directory that is a symlink to outside the root and does not follow it", async () => {
    const root = copyExample(temp);
    const outside = outsideDir();
    const linked = "d".repeat(64);
    symlinkSync(outside, join(root, runRel(linked)));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(s.problems.map(brief)).toEqual([
      { file: "pod_dir", path: runRel(linked), podId: null, containerId: null, reason: "symlink" },
    ]);
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);
    expectNoMarker(s);
  });

  it("reports a symlinked half of a pod once and keeps the real half", async () => {
    const root = temp.make();
    const outside = outsideDir();
    const id = "e".repeat(64);
    writeMinimalPod(root, id);
    rmSync(join(root, runRel(id)), { recursive: true });
    symlinkSync(outside, join(root, runRel(id)));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods.map((p) => [p.id, p.presence, p.state])).toEqual([[id, "config_only", "unknown"]]);
    const symlinkProblems = allProblems(s).filter((p) => p.path === runRel(id));
    expect(symlinkProblems.map((p) => [p.file, p.reason])).toEqual([["pod_dir", "symlink"]]);
    expectNoMarker(s);
  });

  it("reports a container directory that is a symlink and does not follow it", async () => {
    const root = copyExample(temp);
    const outside = outsideDir();
    const cid = "f".repeat(64);
    symlinkSync(outside, join(root, runRel(K8S_POD, cid)));
    const s = await new Scanner({ hostRoot: root }).scan();
    const k = pod(s, K8S_POD);
    expect(k.containers.map((c) => c.id)).toEqual([K8S_POD, INFER, LOADER]);
    expect(k.problems.map(brief)).toEqual([
      {
        file: "container_dir",
        path: runRel(K8S_POD, cid),
        podId: K8S_POD,
        containerId: cid,
        reason: "symlink",
      },
    ]);
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);
    expectNoMarker(s);
  });

  it("reports a container state.json that is a symlink to a file outside the root", async () => {
    const root = copyExample(temp);
    const outside = outsideDir();
    const rel = runRel(K8S_POD, INFER, "state.json");
    rmSync(join(root, rel));
    symlinkSync(join(outside, "secret.json"), join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    const k = pod(s, K8S_POD);
    expect(k.problems.map(brief)).toEqual([
      { file: "container_state", path: rel, podId: K8S_POD, containerId: INFER, reason: "symlink" },
    ]);
    expect(k.containers.find((c) => c.id === INFER)?.state).toBe("unknown");
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES - 1);
    expectNoMarker(s);
  });

  it("reports a pod state.json that is a symlink to a file outside the root", async () => {
    const root = copyExample(temp);
    const outside = outsideDir();
    const rel = runRel(DOCKER_POD, "state.json");
    rmSync(join(root, rel));
    symlinkSync(join(outside, "secret.json"), join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    const d = pod(s, DOCKER_POD);
    expect(d.state).toBe("unknown");
    expect(d.problems.map(brief)).toEqual([
      { file: "pod_state", path: rel, podId: DOCKER_POD, containerId: null, reason: "symlink" },
    ]);
    expectNoMarker(s);
  });

  it("reports a pod config.json and a lock that are symlinks", async () => {
    const root = copyExample(temp);
    const outside = outsideDir();
    const cfg = cfgRel(DOCKER_POD, "config.json");
    const lock = runRel(DOCKER_POD, "lock");
    rmSync(join(root, cfg));
    rmSync(join(root, lock));
    symlinkSync(join(outside, "config.json"), join(root, cfg));
    symlinkSync(join(outside, "state.json"), join(root, lock));
    const s = await new Scanner({ hostRoot: root }).scan();
    const d = pod(s, DOCKER_POD);
    expect(d.config).toBeNull();
    expect(d.lockPresent).toBe(false);
    expect(d.problems.map(brief)).toEqual([
      { file: "pod_config", path: cfg, podId: DOCKER_POD, containerId: null, reason: "symlink" },
      { file: "lock", path: lock, podId: DOCKER_POD, containerId: null, reason: "symlink" },
    ]);
    expectNoMarker(s);
  });

  it("reports a tree root that is a symlink and does not follow it", async () => {
    const root = temp.make();
    const outside = temp.make("vce-outside-");
    writeMinimalPod(outside, "a".repeat(64));
    mkdirSync(join(root, "run/virtcontainers"), { recursive: true });
    symlinkSync(join(outside, RUN), join(root, RUN));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods).toEqual([]);
    expect(
      s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present, t.problem?.reason ?? null]),
    ).toEqual([
      ["run", false, "symlink"],
      ["config", false, null],
    ]);
  });
});

describe("special files", () => {
  it(
    "a FIFO named state.json does not block the scan and is reported as not_regular_file",
    { timeout: 5_000 },
    async () => {
      const root = copyExample(temp);
      const podRel = runRel(DOCKER_POD, "state.json");
      const ctrRel = runRel(K8S_POD, INFER, "state.json");
      for (const rel of [podRel, ctrRel]) {
        rmSync(join(root, rel));
        execFileSync("mkfifo", [join(root, rel)]);
      }
      const guard = new FifoGuard(
        [podRel, ctrRel].map((rel) => join(root, rel)),
        temp.make(),
      );
      let s: Snapshot;
      try {
        s = await new Scanner({ hostRoot: root }).scan();
        expect(guard.fired()).toBe(false);
      } finally {
        guard.stop();
      }
      expect(allProblems(s).map(brief)).toEqual([
        {
          file: "container_state",
          path: ctrRel,
          podId: K8S_POD,
          containerId: INFER,
          reason: "not_regular_file",
        },
        { file: "pod_state", path: podRel, podId: DOCKER_POD, containerId: null, reason: "not_regular_file" },
      ]);
      expect(pod(s, DOCKER_POD).state).toBe("unknown");
    },
  );

  it("a directory named like a container file is reported as not_regular_file", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, INFER, "process.json");
    rmSync(join(root, rel));
    mkdirSync(join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "process", path: rel, podId: K8S_POD, containerId: INFER, reason: "not_regular_file" },
    ]);
  });

  it("ignores sockets and unknown files in pod and container directories", async () => {
    const root = copyExample(temp);
    makeSocket(join(root, runRel(K8S_POD)), "proxy.sock");
    makeSocket(join(root, runRel(K8S_POD)), "mon-9a746c47-1e81");
    makeSocket(join(root, runRel(K8S_POD, INFER)), "tty.sock");
    expect(statEntry(join(root, runRel(K8S_POD, "proxy.sock")))).toMatchObject({ ok: true, kind: "other" });
    write(root, runRel(K8S_POD, "notes.txt"), MARKER);
    write(root, runRel(K8S_POD, INFER, "unknown.json"), `{"x":"${MARKER}"}`);
    execFileSync("mkfifo", [join(root, runRel(DOCKER_POD, "console.sock"))]);
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s)).toEqual([]);
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);
    expect(pod(s, K8S_POD).containers.map((c) => c.id)).toEqual([K8S_POD, INFER, LOADER]);
    expectNoMarker(s);
  });
});

describe("size cap", () => {
  it("refuses a 100 MiB state.json as too_large without reading it", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    truncateSync(join(root, rel), 100 * 1024 * 1024); // sparse
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(pod(s, DOCKER_POD).problems.map(brief)).toEqual([
      { file: "pod_state", path: rel, podId: DOCKER_POD, containerId: null, reason: "too_large" },
    ]);
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES - 1);
    expect(s.stats.bytesRead).toBeLessThan(1024 * 1024);
  });

  it("the cap is configurable with maxFileBytes", async () => {
    const root = copyExample(temp);
    // The Kubernetes pod config.json is 44,641 bytes, the Docker one 14,819.
    const s = await new Scanner({ hostRoot: root, maxFileBytes: 20_000 }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      {
        file: "pod_config",
        path: cfgRel(K8S_POD, "config.json"),
        podId: K8S_POD,
        containerId: null,
        reason: "too_large",
      },
    ]);
    expect(allProblems(s)[0]?.message).toBe("larger than 20000 bytes");
    expect(pod(s, K8S_POD).config).toBeNull();
    expect(pod(s, DOCKER_POD).config).not.toBeNull();
    // Without a pod config the three container config.json files are read instead, so the
    // identity is still known.
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES - 1 + 3);
    expect(pod(s, K8S_POD).identity.podName).toBe("resnet-infer-1684375908-7xq2p");

    const all = await new Scanner({ hostRoot: root, maxFileBytes: 44_641 }).scan();
    expect(allProblems(all)).toEqual([]);
  });
});

describe("permissions", () => {
  // As root (uid 0), chmod 000 does not stop open(2): root has CAP_DAC_OVERRIDE, so this
  // case can only fail when the tests run unprivileged. permission.test.ts covers the
  // mapping in-process with a mocked EACCES, and scan-cli.test.ts runs the CLI as nobody.
  it.skipIf(process.getuid?.() === 0)("reports an unreadable file as permission", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    chmodSync(join(root, rel), 0o000);
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(pod(s, DOCKER_POD).problems.map(brief)).toEqual([
      { file: "pod_state", path: rel, podId: DOCKER_POD, containerId: null, reason: "permission" },
    ]);
  });
});

describe("names and stray entries", () => {
  it("reports invalid pod directory names and never joins them; dot names (GC tombstones) are not pods nor problems", async () => {
    const root = copyExample(temp);
    mkdirSync(join(root, RUN, ".hidden"));
    write(root, `${RUN}/.hidden/state.json`, STATE_RUNNING);
    mkdirSync(join(root, CFG, "bad\nname"));
    mkdirSync(join(root, RUN, "with space"));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(s.problems.map(brief)).toEqual(
      expect.arrayContaining([
        {
          file: "pod_dir",
          path: `${CFG}/bad\\u000aname`,
          podId: null,
          containerId: null,
          reason: "invalid_id",
        },
        { file: "pod_dir", path: `${RUN}/with space`, podId: null, containerId: null, reason: "invalid_id" },
      ]),
    );
    expect(s.problems).toHaveLength(2);
    expect(JSON.stringify(s)).not.toContain(".hidden");
    expect(JSON.stringify(s)).not.toContain("bad\\nname/");
    expect(s.problems.some((p) => p.path.includes("\n"))).toBe(false);
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);
  });

  it("reports invalid container directory names inside a pod", async () => {
    const root = copyExample(temp);
    mkdirSync(join(root, runRel(K8S_POD, ".tmp")));
    mkdirSync(join(root, runRel(K8S_POD, "x\ny")));
    const s = await new Scanner({ hostRoot: root }).scan();
    const k = pod(s, K8S_POD);
    expect(k.containers.map((c) => c.id)).toEqual([K8S_POD, INFER, LOADER]);
    expect(k.problems.map(brief)).toEqual(
      expect.arrayContaining([
        {
          file: "container_dir",
          path: runRel(K8S_POD, ".tmp"),
          podId: K8S_POD,
          containerId: null,
          reason: "invalid_id",
        },
        {
          file: "container_dir",
          path: runRel(K8S_POD, "x\\u000ay"),
          podId: K8S_POD,
          containerId: null,
          reason: "invalid_id",
        },
      ]),
    );
    expect(k.problems).toHaveLength(2);
  });

  it("a container symlink with an invalid name is reported as invalid_id, its name escaped", async () => {
    const root = copyExample(temp);
    symlinkSync(outsideDir(), join(root, runRel(K8S_POD, "evil\nlink")));
    const s = await new Scanner({ hostRoot: root }).scan();
    const k = pod(s, K8S_POD);
    expect(k.problems.map(brief)).toEqual([
      {
        file: "container_dir",
        path: runRel(K8S_POD, "evil\\u000alink"),
        podId: K8S_POD,
        containerId: null,
        reason: "invalid_id",
      },
    ]);
    expectNoMarker(s);
  });

  it("reports stray regular files in the tree roots as not_directory", async () => {
    const root = copyExample(temp);
    write(root, `${RUN}/stray.json`, "{}");
    write(root, `${CFG}/${"a".repeat(64)}`, "{}");
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(s.problems.map(brief)).toEqual([
      { file: "pod_dir", path: `${RUN}/stray.json`, podId: null, containerId: null, reason: "not_directory" },
      {
        file: "pod_dir",
        path: `${CFG}/${"a".repeat(64)}`,
        podId: null,
        containerId: null,
        reason: "not_directory",
      },
    ]);
  });

  it("reports a tree root that is a regular file", async () => {
    const root = temp.make();
    write(root, RUN, "");
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(
      s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present, t.problem?.reason ?? null]),
    ).toEqual([
      ["run", false, "not_directory"],
      ["config", false, null],
    ]);
    expect(s.problems.map(brief)).toEqual([
      { file: "tree", path: RUN, podId: null, containerId: null, reason: "not_directory" },
    ]);
  });
});

describe("devices.json", () => {
  it("an unknown device type is a problem for that container; the other devices are kept", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, LOADER, "devices.json");
    const devices = JSON.parse(
      '[{"Type":"block","Data":{"DeviceType":"block","DeviceInfo":{"HostPath":"/dev/sdb","ContainerPath":"/dev/block-data","DevType":"b","Major":8,"Minor":16,"Hotplugged":true,"ID":"11a9404d0c8f17cb"},"SCSIAddr":"0:0","VirtPath":""}},' +
        '{"Type":"nvdimm","Data":{"DeviceType":"nvdimm","DeviceInfo":{"HostPath":"/dev/pmem0"}}},' +
        '{"Type":"generic","Data":{"DeviceType":"generic","DeviceInfo":{"HostPath":"/dev/fuse","ContainerPath":"/dev/fuse","DevType":"c","Major":10,"Minor":229}}}]',
    ) as unknown;
    write(root, rel, JSON.stringify(devices));
    const s = await new Scanner({ hostRoot: root }).scan();
    const k = pod(s, K8S_POD);
    expect(k.problems.map(brief)).toEqual([
      { file: "devices", path: rel, podId: K8S_POD, containerId: LOADER, reason: "unknown_device_type" },
    ]);
    expect(k.problems[0]?.message).toMatch(/^entry 1: /);
    expect(k.containers.find((c) => c.id === LOADER)?.devices.map((d) => d.hostPath)).toEqual([
      "/dev/sdb",
      "/dev/fuse",
    ]);
    expect(k.containers.find((c) => c.id === INFER)?.devices).toHaveLength(1);
    expect(toJsonReport(s).summary.devices).toBe(3);
  });
});

describe("secrets", () => {
  it("environment values never reach the snapshot or the reports", async () => {
    const root = copyExample(temp);
    // Cmd.Envs (pod config and container config) and the embedded OCI specs of both pods.
    expect(addSecretEnv(root, DOCKER_POD, "API_TOKEN", "SECRET_VALUE_123")).toBe(5);
    expect(addSecretEnv(root, K8S_POD, "API_TOKEN", "SECRET_VALUE_123")).toBeGreaterThanOrEqual(12);
    const scanner = new Scanner({ hostRoot: root });
    const s = await scanner.scan();
    expect(allProblems(s)).toEqual([]);
    expect(s.pods.map((p) => p.identity.status)).toEqual(["known", "none"]); // specs still parsed
    expect(JSON.stringify(s)).not.toContain("SECRET_VALUE_123");
    expect(JSON.stringify(toJsonReport(s))).not.toContain("SECRET_VALUE_123");
    expect(toTable(s)).not.toContain("SECRET_VALUE_123");

    // The container configs themselves are read when the pod config is unusable.
    write(root, cfgRel(K8S_POD, "config.json"), "{broken");
    const s2 = await new Scanner({ hostRoot: root }).scan();
    expect(s2.stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES + 3);
    expect(s2.pods[0]?.identity.podName).toBe("resnet-infer-1684375908-7xq2p");
    expect(JSON.stringify(s2)).not.toContain("SECRET_VALUE_123");
  });
});

describe("counts", () => {
  it("the fixture counts used above match the example tree", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    expect((await scanner.scanPods([])).stats.filesRead).toBe(K8S_POD_FILES + DOCKER_POD_FILES);
    expect((await scanner.scanPods([DOCKER_POD])).stats.filesRead).toBe(DOCKER_POD_FILES);
  });
});
