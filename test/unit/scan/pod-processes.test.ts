/**
 * The processes of each pod's VM, found on a fixture /proc (the --proc-root the collector reads)
 * written with real-shaped stat, statm and cmdline files for every generation's programs, for
 * the example pod in every layout fixture.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ProcessRole } from "../../../src/format/proc.js";
import { PodProcesses, type ProcessSample } from "../../../src/scan/pod-processes.js";
import { Scanner } from "../../../src/scan/scanner.js";
import type { Snapshot } from "../../../src/scan/snapshot.js";
import { hostNamespace, writeProcess, type FakeProcess } from "../../support/fake-proc.js";
import { EXAMPLE_HOST, TempDirs } from "../../support/temp.js";

const temp = new TempDirs("vce-procs-");
afterEach(() => {
  temp.cleanup();
});

const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const INFER = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
const LOADER = "8c8ea9204a5e5b0bbace6b0b24c76aaa95772031a997cfe9e6c3d5855c540a18";
const UUID = "9a746c47-1e81-42ee-9a42-f80a33309555";
const OTHER = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const LAYOUTS = new URL("../../fixtures/layouts/", import.meta.url).pathname;
const PAGE = 4096;

// The PIDs the fixtures record: shims (process.json), proxy (agent.json), QEMU (pid file,
// persist.json) and virtiofsd (persist.json).
const SHIMS: readonly [number, string][] = [
  [20543, POD],
  [20811, INFER],
  [20907, LOADER],
];
const PROXY = 20488;
const QEMU = 20462;
const VIRTIOFSD = 20455;
/** Not recorded anywhere: found by searching command lines. */
const SEARCHED = 4242;

function qemu(name: string, binary = "/usr/bin/qemu-system-x86_64"): string[] {
  return [
    binary,
    "-name",
    name,
    "-uuid",
    UUID,
    "-machine",
    "pc,accel=kvm",
    "-m",
    "2048M,slots=10,maxmem=64G",
  ];
}

/** Each generation's processes for the example pod. */
function generation(name: string): Map<number, FakeProcess> {
  const m = new Map<number, FakeProcess>();
  const put = (pid: number, args: string[], cpu: number, rss: number) =>
    m.set(pid, { args, utime: cpu * 3, stime: cpu, start: 5000 + pid, residentPages: rss });
  if (name === "example" || name === "vc-0.0.1") {
    const cc = name === "example";
    const dir = cc ? "pods" : "sandboxes";
    const url = `unix:///run/virtcontainers/${dir}/${POD}/proxy.sock`;
    for (const [pid, cid] of SHIMS)
      put(
        pid,
        cc
          ? ["/usr/libexec/clear-containers/cc-shim", "-c", cid, "-t", "dG9rZW4=", "-u", url]
          : ["/usr/libexec/kata-containers/kata-shim", "-agent", url, "-container", cid, "-exec-id", cid],
        10,
        100,
      );
    put(
      PROXY,
      cc
        ? ["/usr/libexec/clear-containers/cc-proxy", "-uri", url]
        : [
            "/usr/libexec/kata-containers/kata-proxy",
            "-listen-socket",
            url,
            "-mux-socket",
            `/run/virtcontainers/${dir}/${POD}/kata.sock`,
          ],
      20,
      200,
    );
    put(
      SEARCHED,
      qemu(cc ? `pod-${POD}` : `sandbox-${POD}`, "/usr/bin/qemu-lite-system-x86_64"),
      1000,
      50_000,
    );
    return m;
  }
  if (name.startsWith("kata-1.")) {
    const url = `unix:///run/vc/sbs/${POD}/proxy.sock`;
    for (const [pid, cid] of SHIMS)
      put(
        pid,
        ["/usr/libexec/kata-containers/kata-shim", "-agent", url, "-container", cid, "-exec-id", cid],
        10,
        100,
      );
    put(
      PROXY,
      [
        "/usr/libexec/kata-containers/kata-proxy",
        "-listen-socket",
        url,
        "-mux-socket",
        `/run/vc/vm/${POD}/kata.sock`,
      ],
      20,
      200,
    );
    // 1.7+ write QEMU's pid file; before, only a search finds it.
    const recorded = name === "kata-1.7" || name === "kata-1.10";
    put(recorded ? QEMU : SEARCHED, qemu(`sandbox-${POD}`), 1000, 50_000);
    return m;
  }
  put(
    SEARCHED,
    [
      "/usr/local/bin/containerd-shim-kata-v2",
      "-namespace",
      "k8s.io",
      "-address",
      "/run/containerd/containerd.sock",
      "-publish-binary",
      "/usr/bin/containerd",
      "-id",
      POD,
    ],
    30,
    300,
  );
  put(QEMU, qemu(`sandbox-${POD}`), 1000, 50_000);
  put(
    VIRTIOFSD,
    [
      "/opt/kata/libexec/virtiofsd",
      `--socket-path=/run/vc/vm/${POD}/vhost-fs.sock`,
      "-o",
      `source=/run/kata-containers/shared/sandboxes/${POD}/shared`,
      "--cache=auto",
    ],
    40,
    400,
  );
  return m;
}

const HOST: Record<string, string> = { example: EXAMPLE_HOST };
function hostOf(name: string): string {
  return HOST[name] ?? join(LAYOUTS, name, "host");
}

/** A fixture /proc with the given processes and some unrelated ones. */
function fakeProc(procs: ReadonlyMap<number, FakeProcess>): string {
  const root = temp.make();
  hostNamespace(root);
  writeProcess(root, 1, { args: ["/sbin/init"], start: 1 });
  writeProcess(root, 900, { args: ["/usr/bin/bash", "-c", `echo ${POD}`], start: 900 });
  writeProcess(root, 901, {
    args: ["/usr/bin/qemu-system-x86_64", "-name", "sandbox-other", "-uuid", "x"],
    start: 901,
  });
  for (const [pid, p] of procs) writeProcess(root, pid, p);
  return root;
}

function tracker(
  procRoot: string,
  hostRoot: string,
  over: Partial<ConstructorParameters<typeof PodProcesses>[0]> = {},
) {
  return new PodProcesses({ procRoot, hostRoot, pageSize: PAGE, ...over });
}

function roles(sample: ProcessSample, pod = POD): Record<string, [number, number, number]> {
  const out: Record<string, [number, number, number]> = {};
  for (const [role, u] of sample.pods.get(pod) ?? [])
    out[role] = [u.processes, u.cpuSeconds, u.residentBytes];
  return out;
}

async function scan(hostRoot: string): Promise<Snapshot> {
  return new Scanner({ hostRoot }).scan();
}

describe("PodProcesses on a fixture /proc, every generation", () => {
  const EXPECTED: Record<string, Partial<Record<ProcessRole, [number, number, number]>>> = {
    // [processes, CPU seconds ((3+1) * cpu ticks / 100), resident bytes (pages * 4096)]
    classic: { hypervisor: [1, 40, 50_000 * PAGE], proxy: [1, 0.8, 200 * PAGE], shim: [3, 1.2, 300 * PAGE] },
    persist: {
      hypervisor: [1, 40, 50_000 * PAGE],
      shim: [1, 1.2, 300 * PAGE],
      virtiofsd: [1, 1.6, 400 * PAGE],
    },
  };
  for (const name of [
    "example",
    "vc-0.0.1",
    "kata-1.0",
    "kata-1.3",
    "kata-1.7",
    "kata-1.10",
    "kata-2.x",
    "kata-3.x",
  ]) {
    it(`${name}: hypervisor, shims, proxy and virtiofsd with their CPU and resident memory`, async () => {
      const procs = generation(name);
      const root = fakeProc(procs);
      const t = tracker(root, hostOf(name));
      const snapshot = await scan(hostOf(name));
      const sample = await t.sample(snapshot);
      expect(roles(sample)).toEqual(
        EXPECTED[name.startsWith("kata-2") || name.startsWith("kata-3") ? "persist" : "classic"],
      );
      expect(sample.errors.size).toBe(0);
      // Recorded PIDs are verified without a search when nothing is missing (the example's
      // second pod has no process at all: searched too).
      expect(sample.searchedPods).toBe((procs.has(SEARCHED) ? 1 : 0) + (name === "example" ? 1 : 0));
      // Everything is known now: the next sample reads no command line and searches nothing.
      const again = await t.sample(snapshot);
      expect(again.cmdlinesRead).toBe(0);
      expect(again.searchedPods).toBe(name === "example" ? 1 : 0);
      expect(roles(again)).toEqual(roles(sample));
    });
  }

  it("Cloud Hypervisor and Firecracker are the hypervisor too (recorded PID, verified by the sandbox ID)", async () => {
    for (const args of [
      ["/usr/bin/cloud-hypervisor", "--api-socket", `/run/vc/vm/${POD}/clh-api.sock`, "--cpus", "boot=1"],
      ["/opt/kata/bin/firecracker", "--api-sock", `/run/vc/firecracker/${POD}/root/run/firecracker.socket`],
    ]) {
      const procs = generation("kata-2.x");
      procs.set(QEMU, { args, utime: 50, stime: 50, start: 7, residentPages: 1000 });
      const root = fakeProc(procs);
      const sample = await tracker(root, hostOf("kata-2.x")).sample(await scan(hostOf("kata-2.x")));
      expect(roles(sample).hypervisor).toEqual([1, 1, 1000 * PAGE]);
    }
  });
});

describe("PodProcesses: a PID is one process, identified by its start time", () => {
  it("a reused PID (new start time, another command line) leaves the pod; the role's CPU never goes back", async () => {
    const host = hostOf("kata-1.10");
    const procs = generation("kata-1.10");
    const root = fakeProc(procs);
    const t = tracker(root, host);
    const snapshot = await scan(host);
    expect(roles(await t.sample(snapshot)).shim).toEqual([3, 1.2, 300 * PAGE]);
    // Shim 20811 burns more, then exits; its PID goes to a shim of another pod's container.
    writeProcess(root, 20811, { ...procs.get(20811), utime: 90, stime: 10 } as FakeProcess);
    expect(roles(await t.sample(snapshot)).shim).toEqual([3, 1.8, 300 * PAGE]);
    writeProcess(root, 20811, {
      args: ["/usr/libexec/kata-containers/kata-shim", "-container", OTHER],
      utime: 1,
      stime: 1,
      start: 999_999,
      residentPages: 7,
    });
    const after = roles(await t.sample(snapshot));
    // 2 live shims (0.4 + 0.4 s) + the exited one's last 1.0 s.
    expect(after.shim).toEqual([2, 1.8, 200 * PAGE]);
    expect(after.shim?.[1]).toBeGreaterThan(0.8);
    // The same PID with the old command line but a new start time is a new process: its CPU
    // starts from its own, added to what the role carried.
    writeProcess(root, 20811, { ...procs.get(20811), utime: 3, stime: 2, start: 1_000_000 } as FakeProcess);
    expect(roles(await t.sample({ ...snapshot, pods: [...snapshot.pods] })).shim).toEqual([
      3,
      1.85,
      300 * PAGE,
    ]);
  });

  it("a recorded PID whose command line names something else is never taken", async () => {
    const host = hostOf("kata-2.x");
    const procs = generation("kata-2.x");
    procs.set(QEMU, {
      args: ["/usr/bin/qemu-system-x86_64", "-name", "sandbox-other", "-uuid", "other"],
      start: 3,
    });
    procs.set(VIRTIOFSD, { args: ["/usr/bin/sleep", "1000"], start: 4 });
    const sample = await tracker(fakeProc(procs), host).sample(await scan(host));
    expect(Object.keys(roles(sample))).toEqual(["shim"]);
  });

  it("exited processes disappear from the next sample; zombies count as exited; the pod going forgets its CPU", async () => {
    const host = hostOf("kata-1.10");
    const procs = generation("kata-1.10");
    const root = fakeProc(procs);
    const t = tracker(root, host);
    const snapshot = await scan(host);
    await t.sample(snapshot);
    rmSync(join(root, String(PROXY)), { recursive: true });
    writeProcess(root, 20543, { ...procs.get(20543), state: "Z", residentPages: 0 } as FakeProcess);
    const s = roles(await t.sample(snapshot));
    expect(s.proxy).toBeUndefined();
    expect(s.shim).toEqual([2, 1.2, 200 * PAGE]);
    expect((await t.sample({ ...snapshot, pods: [] })).pods.size).toBe(0);
    expect(t.tracked).toBe(0);
  });
});

describe("PodProcesses: processes vanishing or unreadable mid-read", () => {
  it("a process whose statm is gone after its stat exited; not an error", async () => {
    const host = hostOf("kata-1.10");
    const procs = generation("kata-1.10");
    const root = fakeProc(procs);
    const t = tracker(root, host);
    const snapshot = await scan(host);
    await t.sample(snapshot);
    rmSync(join(root, String(QEMU), "statm"));
    const s = await t.sample(snapshot);
    expect(roles(s).hypervisor).toBeUndefined();
    expect(s.errors.size).toBe(0);
  });

  it("a recorded process with a stat but no cmdline (gone between reads) is not taken", async () => {
    const host = hostOf("kata-1.10");
    const procs = generation("kata-1.10");
    const root = fakeProc(procs);
    rmSync(join(root, String(PROXY), "cmdline"));
    const s = await tracker(root, host).sample(await scan(host));
    expect(roles(s).proxy).toBeUndefined();
    expect(s.errors.size).toBe(0);
  });

  it("an unreadable or malformed file is counted by reason and the last values are kept", async () => {
    const host = hostOf("kata-1.10");
    const procs = generation("kata-1.10");
    const root = fakeProc(procs);
    const t = tracker(root, host);
    const snapshot = await scan(host);
    const first = roles(await t.sample(snapshot));
    rmSync(join(root, String(QEMU), "statm"));
    mkdirSync(join(root, String(QEMU), "statm"));
    writeFileSync(join(root, String(PROXY), "stat"), "garbage\n");
    const s = await t.sample(snapshot);
    expect(Object.fromEntries(s.errors)).toEqual({ unreadable: 1, malformed: 1 });
    expect(roles(s)).toEqual(first);
  });

  it("a malformed QEMU pid file is counted (pid_file) and the search still finds QEMU", async () => {
    const host = temp.make();
    const { cpSync } = await import("node:fs");
    cpSync(hostOf("kata-1.10"), host, { recursive: true });
    const pidFile = join(host, "run/vc/vm", POD, "pid");
    chmodSync(pidFile, 0o644);
    writeFileSync(pidFile, "not a pid\n");
    const s = await tracker(fakeProc(generation("kata-1.10")), host).sample(await scan(host));
    expect(Object.fromEntries(s.errors)).toEqual({ pid_file: 1 });
    expect(roles(s).hypervisor?.[0]).toBe(1);
  });

  it("a /proc that cannot be listed is counted (proc_list); recorded PIDs are still read", async () => {
    const host = hostOf("kata-1.0");
    const root = fakeProc(generation("kata-1.0"));
    const t = tracker(join(root, "missing"), host);
    const s = await t.sample(await scan(host));
    expect(Object.fromEntries(s.errors)).toEqual({ proc_list: 1 });
    expect(s.pods.size).toBe(0);
  });
});

describe("PodProcesses: the search is bounded and cached", () => {
  it("a pod whose processes are not found is searched at samples 1, 2, 4, 8, 16 then every 16; command lines are read once", async () => {
    const host = hostOf("kata-1.0");
    const root = fakeProc(new Map());
    for (let pid = 3000; pid < 3050; pid++)
      writeProcess(root, pid, {
        args: ["/usr/bin/qemu-system-x86_64", "-name", `sandbox-${pid}`],
        start: pid,
      });
    const t = tracker(root, host);
    const snapshot = await scan(host);
    const searched: number[] = [];
    let reads = 0;
    for (let i = 1; i <= 40; i++) {
      const s = await t.sample(snapshot);
      if (s.searchedPods > 0) searched.push(i);
      reads += s.cmdlinesRead;
    }
    expect(searched).toEqual([1, 2, 4, 8, 16, 32]);
    // 53 processes read at the first search, then served from the cache.
    expect(reads).toBe(53);
  });

  it("a cached command line is read again after a minute: a PID reused by a hypervisor is found then", async () => {
    const host = hostOf("kata-1.0");
    const root = fakeProc(new Map([[SEARCHED, { args: ["/usr/bin/bash"], start: 1 }]]));
    let clock = 0;
    const t = tracker(root, host, { now: () => clock, maxSearchBackoff: 1 });
    const snapshot = await scan(host);
    expect((await t.sample(snapshot)).cmdlinesRead).toBeGreaterThan(0);
    // The bash exits and its PID goes to the pod's QEMU between two searches.
    writeProcess(root, SEARCHED, { args: qemu(`sandbox-${POD}`), start: 2, residentPages: 3 });
    clock = 59_000;
    expect((await t.sample(snapshot)).pods.size).toBe(0);
    clock = 61_000;
    expect(roles(await t.sample(snapshot)).hypervisor).toEqual([1, 0, 3 * PAGE]);
  });

  it("a pod whose files change is searched at once; a process started later is found then", async () => {
    const host = hostOf("kata-1.0");
    const root = fakeProc(new Map());
    const t = tracker(root, host);
    const snapshot = await scan(host);
    for (let i = 0; i < 5; i++) await t.sample(snapshot);
    writeProcess(root, SEARCHED, { args: qemu(`sandbox-${POD}`), utime: 100, start: 77, residentPages: 10 });
    expect((await t.sample(snapshot)).pods.size).toBe(0); // backing off
    const changed = { ...snapshot, pods: snapshot.pods.map((p) => ({ ...p })) };
    expect(roles(await t.sample(changed)).hypervisor).toEqual([1, 1, 10 * PAGE]);
  });

  it("finds each of many pods' processes in one pass (the window index agrees with includes)", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => createHash("sha256").update(String(i)).digest("hex"));
    const root = fakeProc(new Map());
    ids.forEach((id, i) => {
      writeProcess(root, 10_000 + i, { args: qemu(`sandbox-${id}`), utime: i, start: i, residentPages: 1 });
      writeProcess(root, 20_000 + i, {
        args: ["containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", id],
        start: i,
      });
    });
    const base = await scan(hostOf("kata-1.0"));
    const template = base.pods[0];
    if (template === undefined) throw new Error("fixture has no pod");
    const snapshot = {
      ...base,
      pods: ids.map((id) => ({ ...template, id, hypervisor: null, containers: [] })),
    };

    const s = await tracker(root, hostOf("kata-1.0")).sample(snapshot);
    expect(s.pods.size).toBe(200);
    ids.forEach((id, i) => {
      expect(roles(s, id)).toEqual({ hypervisor: [1, i / 100, PAGE], shim: [1, 0, 0] });
    });
  });
});
