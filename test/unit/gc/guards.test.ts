/**
 * The pre-deletion guards against the real kernel where it matters: flock(2) through
 * flock(1) on our own fd, /proc of real processes, /proc/self/mountinfo and a real tmpfs
 * mount; fake /proc trees for what a live system cannot show on demand.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  findLiveProcesses,
  hostProcVisibility,
  mountsUnder,
  parseMountinfo,
  ProcessTable,
  readMountTable,
  tryExclusiveLock,
  type HeldLock,
  type LivenessQuery,
  type LockOutcome,
} from "../../../src/gc/guards.js";
import { TempDirs } from "../../support/temp.js";

const temp = new TempDirs("vce-guards-");
const children: ChildProcess[] = [];
const locks: HeldLock[] = [];
const mounted: string[] = [];

afterEach(async () => {
  for (const l of locks.splice(0)) l.release();
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await once(c, "exit");
    }
  }
  for (const m of mounted.splice(0)) spawnSync("umount", [m]);
  temp.cleanup();
});

const POD = "9a746c471e81c2e9d0e3a4d5f6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5";
const CID = "5e0f4f8c1b2a39d7e6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a29180f7e";
const OTHER_CID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const UUID = "9a746c47-1e81-4f5e-8d2c-0b1a2c3d4e5f";

/** Exit status of another process trying `flock --exclusive --nonblock <path> true` (1: busy). */
function otherFlock(path: string): number | null {
  return spawnSync("flock", ["--exclusive", "--nonblock", path, "true"]).status;
}

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lockFile(): { dir: string; lock: string } {
  const dir = temp.make();
  const lock = join(dir, "lock");
  writeFileSync(lock, "");
  return { dir, lock };
}

function keep(outcome: LockOutcome): LockOutcome {
  if (outcome.kind === "acquired") locks.push(outcome.lock);
  return outcome;
}

/** How many of our fds are open on `path`. */
function fdsOn(path: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(join("/proc/self/fd", fd)) === path;
    } catch {
      return false; // the fd readdir itself used, closed by now
    }
  }).length;
}

function script(dir: string, body: string): string {
  const path = join(dir, "fake-flock");
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function hold(args: string[]): ChildProcess {
  const child = spawn("flock", args, { stdio: "ignore" });
  children.push(child);
  return child;
}

describe("tryExclusiveLock", () => {
  it("takes a real flock(2) on a free lock file: another process cannot lock it until release()", async () => {
    const { lock } = lockFile();
    const out = keep(await tryExclusiveLock(lock));
    expect(out.kind).toBe("acquired");
    if (out.kind !== "acquired") return;
    expect(out.lock.path).toBe(lock);
    expect(otherFlock(lock)).toBe(1);
    expect(otherFlock(lock)).toBe(1);
    expect(fdsOn(lock)).toBe(1);
    out.lock.release();
    expect(fdsOn(lock)).toBe(0);
    expect(otherFlock(lock)).toBe(0);
    out.lock.release();
    expect(otherFlock(lock)).toBe(0);
  });

  it("is busy while another process holds an exclusive lock, and acquires once that process has gone", async () => {
    const { lock } = lockFile();
    const holder = hold(["--exclusive", "--no-fork", lock, "sleep", "30"]);
    await waitUntil(() => otherFlock(lock) === 1);
    expect(await tryExclusiveLock(lock)).toEqual({ kind: "busy" });
    holder.kill("SIGKILL");
    await once(holder, "exit");
    const out = keep(await tryExclusiveLock(lock));
    expect(out.kind).toBe("acquired");
    expect(otherFlock(lock)).toBe(1);
  });

  it("is busy while another process holds a shared lock (a runtime reading the pod)", async () => {
    const { lock } = lockFile();
    hold(["--shared", "--no-fork", lock, "sleep", "30"]);
    await waitUntil(() => otherFlock(lock) === 1);
    expect(await tryExclusiveLock(lock)).toEqual({ kind: "busy" });
  });

  it("reports a missing lock file (or pod directory) as absent and creates nothing", async () => {
    const dir = temp.make();
    expect(await tryExclusiveLock(join(dir, "lock"))).toEqual({ kind: "absent" });
    expect(await tryExclusiveLock(join(dir, "gone", "lock"))).toEqual({ kind: "absent" });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a symlinked lock: the dangling target is not created, an existing one is not locked", async () => {
    const dir = temp.make();
    const target = join(dir, "target");
    symlinkSync(target, join(dir, "lock"));
    const out = await tryExclusiveLock(join(dir, "lock"));
    expect(out).toEqual({ kind: "error", message: expect.stringContaining("symlink") as unknown });
    expect(existsSync(target)).toBe(false);
    expect(readlinkSync(join(dir, "lock"))).toBe(target);

    writeFileSync(target, "contents");
    expect((await tryExclusiveLock(join(dir, "lock"))).kind).toBe("error");
    expect(otherFlock(target)).toBe(0);
    expect(readFileSync(target, "utf8")).toBe("contents");
  });

  it("refuses a FIFO without opening it or hanging", async () => {
    const dir = temp.make();
    const fifo = join(dir, "lock");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const out = await tryExclusiveLock(fifo);
    expect(out).toEqual({ kind: "error", message: expect.stringContaining("not a regular file") as unknown });
  });

  it("locks a directory in directory mode only, and a regular file only without it", async () => {
    const { dir, lock } = lockFile();
    const out = keep(await tryExclusiveLock(dir, { directory: true }));
    expect(out.kind).toBe("acquired");
    expect(otherFlock(dir)).toBe(1);
    expect(await tryExclusiveLock(dir)).toEqual({
      kind: "error",
      message: expect.stringContaining("not a regular file") as unknown,
    });
    expect(await tryExclusiveLock(lock, { directory: true })).toEqual({
      kind: "error",
      message: expect.stringContaining("not a directory") as unknown,
    });
    if (out.kind === "acquired") out.lock.release();
    expect(otherFlock(dir)).toBe(0);
  });

  it("reports a missing flock(1) as an error and keeps no fd open", async () => {
    const { dir, lock } = lockFile();
    const out = await tryExclusiveLock(lock, { flockBin: join(dir, "no-such-flock") });
    expect(out).toEqual({ kind: "error", message: expect.stringContaining("ENOENT") as unknown });
    expect(fdsOn(lock)).toBe(0);
  });

  it("reports flock(1)'s other exits with its stderr, and kills it after the timeout", async () => {
    const { dir, lock } = lockFile();
    const failing = script(dir, 'echo "flock: bad fd" >&2\nexit 3');
    expect(await tryExclusiveLock(lock, { flockBin: failing })).toEqual({
      kind: "error",
      message: "flock(1) exited with status 3: flock: bad fd",
    });

    const hanging = script(dir, "exec sleep 30");
    const started = Date.now();
    const out = await tryExclusiveLock(lock, { flockBin: hanging, timeoutMs: 200 });
    expect(out).toEqual({ kind: "error", message: "flock(1) gave no answer within 200 ms" });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(fdsOn(lock)).toBe(0);
    expect(otherFlock(lock)).toBe(0);
  });

  it("hands flock(1) our fd as its fd 3, never the path", async () => {
    const { dir, lock } = lockFile();
    const argsFile = join(dir, "args");
    const spy = script(dir, `echo "$@" > ${argsFile}\nreadlink /proc/$$/fd/3 >> ${argsFile}\nexit 0`);
    const out = keep(await tryExclusiveLock(lock, { flockBin: spy }));
    expect(out.kind).toBe("acquired");
    expect(readFileSync(argsFile, "utf8")).toBe(
      `--exclusive --nonblock --conflict-exit-code 75 3\n${lock}\n`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** A fake /proc: pid → argv (written NUL-separated with a trailing NUL, as the kernel does). */
function fakeProc(procs: Record<number, readonly string[]>): string {
  const root = temp.make("vce-proc-");
  for (const [pid, args] of Object.entries(procs)) {
    mkdirSync(join(root, pid));
    writeFileSync(join(root, pid, "cmdline"), args.map((a) => `${a}\0`).join(""));
  }
  return root;
}

function query(over: Partial<LivenessQuery> = {}): LivenessQuery {
  return { podId: POD, shims: [], proxyPid: null, hypervisorUuid: null, ...over };
}

const CC_SHIM = ["/usr/libexec/clear-containers/cc-shim", "-c", CID, "-t", "tok", "-u", "unix:///x"];
const KATA_SHIM = ["/usr/libexec/kata-containers/kata-shim", "-agent", "unix:///a", "-container", CID];
const PROXY = [
  "/usr/libexec/clear-containers/cc-proxy",
  "-uri",
  `unix:///run/virtcontainers/pods/${POD}/proxy.sock`,
];
const QEMU_UUID = ["/usr/bin/qemu-lite-system-x86_64", "-name", "pod-other", "-uuid", UUID, "-machine", "pc"];
const QEMU_NAME = ["/usr/bin/qemu-system-x86_64", "-name", `pod-${POD}`, "-uuid", "other-uuid"];

describe("findLiveProcesses on a fake /proc", () => {
  it("finds a cc-shim and a kata-shim by container ID and the proxy by pod ID, sorted by PID", () => {
    const root = fakeProc({ 300: PROXY, 200: KATA_SHIM, 100: CC_SHIM });
    const shims = [
      { pid: 200, containerId: CID },
      { pid: 100, containerId: CID },
    ];
    expect(findLiveProcesses(query({ shims, proxyPid: 300 }), { root })).toEqual({
      kind: "checked",
      live: [
        { pid: 100, role: "shim", evidence: `cmdline names container ${CID.slice(0, 12)}` },
        { pid: 200, role: "shim", evidence: `cmdline names container ${CID.slice(0, 12)}` },
        { pid: 300, role: "proxy", evidence: `cmdline names pod ${POD.slice(0, 12)}` },
      ],
    });
  });

  it("treats PID reuse, dead PIDs, empty cmdlines and PIDs <= 1 as not alive", () => {
    const root = fakeProc({ 1: CC_SHIM, 100: CC_SHIM, 150: [], 300: ["/usr/bin/bash"] });
    const q = query({
      shims: [
        { pid: 100, containerId: OTHER_CID },
        { pid: 150, containerId: CID },
        { pid: 999, containerId: CID },
        { pid: 1, containerId: CID },
        { pid: 0, containerId: CID },
        { pid: -100, containerId: CID },
        { pid: 100.5, containerId: CID },
      ],
      proxyPid: 300,
    });
    expect(findLiveProcesses(q, { root })).toEqual({ kind: "checked", live: [] });
    expect(findLiveProcesses(query({ proxyPid: 0 }), { root })).toEqual({ kind: "checked", live: [] });
  });

  it("finds the hypervisor by -uuid <UUID> and by -name pod-<podId>, and nothing for another pod", () => {
    const root = fakeProc({
      500: QEMU_UUID,
      600: QEMU_NAME,
      700: ["qemu", "-name", "pod-abc", "-uuid", "u-2"],
    });
    expect(findLiveProcesses(query({ hypervisorUuid: UUID }), { root })).toEqual({
      kind: "checked",
      live: [
        { pid: 500, role: "hypervisor", evidence: "cmdline names hypervisor UUID 9a746c47" },
        { pid: 600, role: "hypervisor", evidence: `cmdline names pod-${POD.slice(0, 12)}` },
      ],
    });
    const other = query({ podId: "f".repeat(64), hypervisorUuid: "11111111-2222-3333-4444-555555555555" });
    expect(findLiveProcesses(other, { root })).toEqual({ kind: "checked", live: [] });
    expect(findLiveProcesses(query({ hypervisorUuid: "" }), { root })).toEqual({
      kind: "checked",
      live: [{ pid: 600, role: "hypervisor", evidence: `cmdline names pod-${POD.slice(0, 12)}` }],
    });
  });

  it("uses the table it is given, read once, instead of listing /proc again", () => {
    const root = fakeProc({ 600: QEMU_NAME });
    const table = ProcessTable.read({ root });
    expect(table.size).toBe(1);
    const empty = { root: fakeProc({}) };
    expect(findLiveProcesses(query(), empty, table)).toEqual({
      kind: "checked",
      live: [{ pid: 600, role: "hypervisor", evidence: `cmdline names pod-${POD.slice(0, 12)}` }],
    });
    expect(findLiveProcesses(query(), empty)).toEqual({ kind: "checked", live: [] });
  });

  it("is unverifiable when a recorded PID exists but its cmdline cannot be read", () => {
    const root = fakeProc({ 100: CC_SHIM });
    mkdirSync(join(root, "200"));
    mkdirSync(join(root, "200", "cmdline"));
    const q = query({ shims: [{ pid: 200, containerId: CID }] });
    expect(findLiveProcesses(q, { root })).toEqual({
      kind: "unverifiable",
      reason: "shim PID 200 exists but its cmdline cannot be read (not a regular file)",
    });
    const proxy = findLiveProcesses(query({ proxyPid: 200 }), { root });
    expect(proxy.kind).toBe("unverifiable");
  });

  it("is unverifiable when any process's cmdline is unreadable (it could be the hypervisor) or /proc cannot be listed", () => {
    const root = fakeProc({ 100: CC_SHIM });
    mkdirSync(join(root, "42"));
    symlinkSync(join(root, "100", "cmdline"), join(root, "42", "cmdline"));
    const table = ProcessTable.read({ root });
    expect(table.unreadable).toEqual([42]);
    expect(findLiveProcesses(query(), { root }, table)).toEqual({
      kind: "unverifiable",
      reason: "1 process with an unreadable cmdline (first PID 42) may be the hypervisor",
    });
    const missing = findLiveProcesses(query(), { root: join(root, "nope") });
    expect(missing).toEqual({ kind: "unverifiable", reason: expect.stringContaining("ENOENT") as unknown });
    expect(findLiveProcesses(query({ podId: "" }), { root }).kind).toBe("unverifiable");
  });

  it("is unverifiable for an existing PID recorded without a container ID to match", () => {
    const root = fakeProc({ 100: CC_SHIM });
    expect(findLiveProcesses(query({ shims: [{ pid: 100, containerId: "" }] }), { root }).kind).toBe(
      "unverifiable",
    );
    expect(findLiveProcesses(query({ shims: [{ pid: 101, containerId: "" }] }), { root })).toEqual({
      kind: "checked",
      live: [],
    });
  });

  it("never follows a symlinked PID entry out of the tree", () => {
    const outside = fakeProc({ 1: QEMU_NAME, 2: CC_SHIM });
    const root = fakeProc({});
    symlinkSync(join(outside, "1"), join(root, "77"));
    symlinkSync(join(outside, "2"), join(root, "78"));
    expect(ProcessTable.read({ root }).size).toBe(0);
    expect(findLiveProcesses(query(), { root })).toEqual({ kind: "checked", live: [] });
    const q = query({ shims: [{ pid: 78, containerId: CID }] });
    expect(findLiveProcesses(q, { root })).toEqual({
      kind: "unverifiable",
      reason: "shim PID 78 exists but its cmdline cannot be read (not a directory)",
    });
  });

  it("reads at most 64 KiB of a cmdline", () => {
    const junk = "x".repeat(70 * 1024);
    const root = fakeProc({ 100: [junk, "-c", CID], 600: ["qemu", junk, "-name", `pod-${POD}`] });
    const q = query({ shims: [{ pid: 100, containerId: CID }] });
    expect(findLiveProcesses(q, { root })).toEqual({ kind: "checked", live: [] });
    const early = fakeProc({ 100: ["cc-shim", "-c", CID, junk] });
    expect(findLiveProcesses(q, { root: early })).toMatchObject({ kind: "checked", live: [{ pid: 100 }] });
  });
});

describe("findLiveProcesses on the real /proc", () => {
  const proc = { root: "/proc" };

  async function start(args: string[]): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "--", ...args], {
      stdio: "ignore",
    });
    children.push(child);
    await once(child, "spawn");
    return child;
  }

  it("finds a running shim, proxy and hypervisor; the same PID for another container is not alive", async () => {
    const shim = await start(["-c", CID, "-t", "token"]);
    const proxy = await start(["-uri", `unix:///run/virtcontainers/pods/${POD}/proxy.sock`]);
    const qemu = await start(["-name", `pod-${POD}`, "-uuid", UUID]);
    const shimPid = shim.pid ?? 0;
    const proxyPid = proxy.pid ?? 0;
    const qemuPid = qemu.pid ?? 0;
    const table = ProcessTable.read(proc);
    const result = findLiveProcesses(
      query({ shims: [{ pid: shimPid, containerId: CID }], proxyPid, hypervisorUuid: UUID }),
      proc,
      table,
    );
    expect(result.kind).toBe("checked");
    if (result.kind !== "checked") return;
    expect(result.live).toContainEqual({
      pid: shimPid,
      role: "shim",
      evidence: expect.any(String) as unknown,
    });
    expect(result.live).toContainEqual({
      pid: proxyPid,
      role: "proxy",
      evidence: expect.any(String) as unknown,
    });
    expect(result.live).toContainEqual({
      pid: qemuPid,
      role: "hypervisor",
      evidence: "cmdline names hypervisor UUID 9a746c47",
    });

    const reused = findLiveProcesses(
      query({ podId: "e".repeat(64), shims: [{ pid: shimPid, containerId: OTHER_CID }], proxyPid }),
      proc,
      table,
    );
    expect(reused).toEqual({ kind: "checked", live: [] });
  });

  it("treats a PID that has exited as not alive", async () => {
    const child = spawn(process.execPath, ["-e", "", "--", "-c", CID], { stdio: "ignore" });
    await once(child, "exit");
    const q = query({ podId: "d".repeat(64), shims: [{ pid: child.pid ?? 0, containerId: CID }] });
    expect(findLiveProcesses(q, proc)).toEqual({ kind: "checked", live: [] });
  });
});

describe("hostProcVisibility", () => {
  it("is visible only when <root>/2/comm reads kthreadd", () => {
    const visible = fakeProc({});
    mkdirSync(join(visible, "2"));
    writeFileSync(join(visible, "2", "comm"), "kthreadd\n");
    expect(hostProcVisibility({ root: visible })).toBe("visible");

    expect(hostProcVisibility({ root: fakeProc({}) })).toBe("not_visible");
    expect(hostProcVisibility({ root: join(visible, "missing") })).toBe("not_visible");

    const other = fakeProc({});
    mkdirSync(join(other, "2"));
    writeFileSync(join(other, "2", "comm"), "bash\n");
    expect(hostProcVisibility({ root: other })).toBe("not_visible");

    const linked = fakeProc({});
    symlinkSync(join(visible, "2"), join(linked, "2"));
    expect(hostProcVisibility({ root: linked })).toBe("not_visible");
  });
});

// ---------------------------------------------------------------------------------------------

const MOUNTINFO = [
  "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
  "40 22 0:21 / /run rw,nosuid,nodev shared:5 master:3 propagate_from:2 unbindable - tmpfs tmpfs rw,mode=755",
  "41 40 0:44 / /run/a\\040b\\011c\\012d\\134e rw - tmpfs none rw",
  "42 40 0:4 net:[4026532281] /run/netns/cni-1 rw shared:7 - nsfs nsfs rw",
  "43 40 0:45 / /run/no-optional rw - tmpfs  rw",
  "44 22 253:0 / /run rw - ext4 /dev/vda rw",
  "",
  "garbage",
  "50 22 0:50 / /no-separator rw shared:1 ext4 /dev/vda rw",
  "x1 22 0:50 / /bad-id rw - ext4 /dev/vda rw",
  "51 22 050 / /bad-devno rw - ext4 /dev/vda rw",
  "52 22 0:50 / relative rw - ext4 /dev/vda rw",
  "53 22 0:50 / /cut-after-separator rw - ext4",
].join("\n");

describe("parseMountinfo", () => {
  it("takes the mount point of each well-formed line, unescaped, sorted and unique", () => {
    expect(parseMountinfo(MOUNTINFO).mountPoints).toEqual([
      "/",
      "/mnt2",
      "/run",
      "/run/a b\tc\nd\\e",
      "/run/netns/cni-1",
      "/run/no-optional",
    ]);
    expect(parseMountinfo("").mountPoints).toEqual([]);
  });

  it("reads the real /proc/self/mountinfo", () => {
    const table = readMountTable("/proc/self/mountinfo");
    if ("error" in table) throw new Error(table.error);
    expect(table.mountPoints).toContain("/");
  });

  it("reports a missing, symlinked or FIFO mountinfo as an error without hanging", () => {
    const dir = temp.make();
    expect(readMountTable(join(dir, "missing"))).toEqual({ error: `${join(dir, "missing")}: ENOENT` });
    writeFileSync(join(dir, "real"), MOUNTINFO);
    symlinkSync(join(dir, "real"), join(dir, "link"));
    expect(readMountTable(join(dir, "link"))).toEqual({ error: `${join(dir, "link")}: ELOOP` });
    expect(spawnSync("mkfifo", [join(dir, "fifo")]).status).toBe(0);
    expect(readMountTable(join(dir, "fifo"))).toEqual({ error: `${join(dir, "fifo")}: not a regular file` });
    expect(readMountTable(join(dir, "real"))).toEqual(parseMountinfo(MOUNTINFO));
  });

  it("sees a real tmpfs mounted on a path with a space and a tab", (ctx) => {
    const dir = join(temp.make(), "pod dir\twith", "shm");
    mkdirSync(dir, { recursive: true });
    const mount = spawnSync("mount", ["-t", "tmpfs", "tmpfs", dir], { encoding: "utf8" });
    if (mount.status !== 0) {
      ctx.skip(`mount -t tmpfs is not permitted here: ${mount.stderr.trim()}`);
      return;
    }
    mounted.push(dir);
    const table = readMountTable("/proc/self/mountinfo");
    if ("error" in table) throw new Error(table.error);
    expect(mountsUnder(table, [join(dir, "..")])).toEqual([dir]);
  });
});

describe("mountsUnder", () => {
  const table = { mountPoints: ["/", "/a/b", "/a/b/c", "/a/bc", "/a/b c", "/x"] };

  it("matches a directory and what lies below it, on a / boundary", () => {
    expect(mountsUnder(table, ["/a/b"])).toEqual(["/a/b", "/a/b/c"]);
    expect(mountsUnder(table, ["/a/b/"])).toEqual(["/a/b", "/a/b/c"]);
    expect(mountsUnder(table, ["/a//b/./c"])).toEqual(["/a/b/c"]);
    expect(mountsUnder(table, ["/a/b/c/d"])).toEqual([]);
    expect(mountsUnder(table, ["/a"])).toEqual(["/a/b", "/a/b c", "/a/b/c", "/a/bc"]);
    expect(mountsUnder(table, ["/x", "/a/bc"])).toEqual(["/a/bc", "/x"]);
    expect(mountsUnder(table, ["/"])).toEqual([...table.mountPoints].sort());
    expect(mountsUnder(table, ["a/b", ""])).toEqual([]);
    expect(mountsUnder(table, [])).toEqual([]);
  });
});
