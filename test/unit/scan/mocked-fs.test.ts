/**
 * node:fs wrapped for two things a real tree cannot show here:
 * - EACCES/EPERM as root: the tests run as uid 0, where chmod 000 does not stop open(2),
 *   so chosen paths fail. The scanner must turn the errno into reason "permission" at each
 *   step (readdir, lstat, read) without crashing.
 * - which paths were opened and which were read: a file over the size cap must be refused
 *   unread (a file the listing showed as regular may be opened: the cap is checked by fstat
 *   on the descriptor, before any read; one lstat-ed first is not even opened).
 */
import * as realFs from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readRegularFile } from "../../../src/scan/fsread.js";
import { Scanner } from "../../../src/scan/scanner.js";
import { allProblems, type FileProblem } from "../../../src/scan/snapshot.js";
import { CFG, copyExample, DOCKER_POD, INFER, K8S_POD, runRel, TempDirs } from "./helpers.js";

const denied = vi.hoisted(() => ({
  open: new Set<string>(),
  readdir: new Set<string>(),
  lstat: new Set<string>(),
  code: "EACCES",
}));
const seen = vi.hoisted(() => ({
  opened: [] as string[],
  read: [] as string[],
  fds: new Map<number, string>(),
}));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const fail = (path: unknown) =>
    Object.assign(new Error(`${denied.code}: denied, ${String(path)}`), { code: denied.code });
  return {
    ...fs,
    openSync: ((path: realFs.PathLike, ...rest: unknown[]) => {
      if (denied.open.has(String(path))) throw fail(path);
      seen.opened.push(String(path));
      const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
      seen.fds.set(fd, String(path));
      return fd;
    }) as typeof fs.openSync,
    readSync: ((fd: number, ...rest: unknown[]) => {
      const path = seen.fds.get(fd);
      if (path !== undefined && !seen.read.includes(path)) seen.read.push(path);
      return (fs.readSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof fs.readSync,
    readFileSync: ((path: realFs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (denied.open.has(String(path))) throw fail(path);
      seen.opened.push(String(path));
      seen.read.push(String(path));
      return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readFileSync,
    lstatSync: ((path: realFs.PathLike, ...rest: unknown[]) => {
      if (denied.lstat.has(String(path))) throw fail(path);
      return (fs.lstatSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.lstatSync,
    readdirSync: ((path: realFs.PathLike, ...rest: unknown[]) => {
      if (denied.readdir.has(String(path))) throw fail(path);
      return (fs.readdirSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readdirSync,
  };
});

const temp = new TempDirs();
beforeEach(() => {
  denied.open.clear();
  denied.readdir.clear();
  denied.lstat.clear();
  denied.code = "EACCES";
  seen.opened.length = 0;
  seen.read.length = 0;
  seen.fds.clear();
});
afterEach(() => {
  temp.cleanup();
});

function brief(p: FileProblem) {
  return { file: p.file, path: p.path, podId: p.podId, containerId: p.containerId, reason: p.reason };
}

describe("permission errors", () => {
  it.each(["EACCES", "EPERM"])("an unreadable state.json (%s) is a permission problem", async (code) => {
    const root = copyExample(temp);
    denied.code = code;
    const rel = runRel(DOCKER_POD, "state.json");
    denied.open.add(join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_state", path: rel, podId: DOCKER_POD, containerId: null, reason: "permission" },
    ]);
    expect(allProblems(s)[0]?.message).toBe(code);
    expect(s.pods.find((p) => p.id === DOCKER_POD)?.state).toBe("unknown");
  });

  it("an unreadable optional file is still reported", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, INFER, "devices.json");
    denied.open.add(join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "devices", path: rel, podId: K8S_POD, containerId: INFER, reason: "permission" },
    ]);
  });

  it("a container directory that cannot be listed is still read: its files are looked up by name", async () => {
    const root = copyExample(temp);
    denied.readdir.add(join(root, runRel(K8S_POD, INFER)));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s)).toEqual([]);
    expect(s.pods.find((p) => p.id === K8S_POD)?.containers.find((c) => c.id === INFER)?.state).toBe(
      "running",
    );
  });

  it("a container file that cannot even be looked up (no search permission) is a permission problem", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, INFER, "state.json");
    // Read permission on the directory but no search permission: listed, but neither
    // lstat nor open reaches the file.
    denied.lstat.add(join(root, rel));
    denied.open.add(join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "container_state", path: rel, podId: K8S_POD, containerId: INFER, reason: "permission" },
    ]);
  });

  it("an unlistable pod directory is a pod_dir permission problem", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD);
    denied.readdir.add(join(root, rel));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_dir", path: rel, podId: DOCKER_POD, containerId: null, reason: "permission" },
    ]);
    expect(s.pods.find((p) => p.id === DOCKER_POD)?.presence).toBe("config_only");
  });

  it("an unlistable tree root is a tree problem and the tree is not present", async () => {
    const root = copyExample(temp);
    denied.readdir.add(join(root, CFG));
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(
      s.trees.filter((t) => t.set === "pods").map((t) => [t.tree, t.present, t.problem?.reason ?? null]),
    ).toEqual([
      ["run", true, null],
      ["config", false, "permission"],
    ]);
    expect(s.problems.map(brief)).toEqual([
      { file: "tree", path: CFG, podId: null, containerId: null, reason: "permission" },
    ]);
    // Like a directory with x but not r: the pods found in the run tree are still
    // reached by name in the config tree.
    expect(s.pods.map((p) => [p.id, p.presence])).toEqual([
      [K8S_POD, "both"],
      [DOCKER_POD, "both"],
    ]);
  });
});

describe("the size cap", () => {
  it("a 100 MiB state.json is never read by a scan", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    realFs.truncateSync(join(root, rel), 100 * 1024 * 1024);
    const s = await new Scanner({ hostRoot: root }).scan();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_state", path: rel, podId: DOCKER_POD, containerId: null, reason: "too_large" },
    ]);
    expect(seen.read).not.toContain(join(root, rel));
    expect(seen.read).toContain(join(root, runRel(K8S_POD, "state.json"))); // the tracker works
    seen.read.length = 0;
    const scanner = new Scanner({ hostRoot: root });
    const again = await scanner.scan();
    expect(allProblems(again).map((p) => p.reason)).toEqual(["too_large"]);
    expect(seen.read).not.toContain(join(root, rel));
    const third = await scanner.scan();
    expect(allProblems(third).map((p) => p.reason)).toEqual(["too_large"]);
    expect(seen.read).not.toContain(join(root, rel));
  });

  it("readRegularFile refuses an oversized file after lstat, before opening it", () => {
    const dir = temp.make();
    const big = join(dir, "big.json");
    realFs.writeFileSync(big, "");
    realFs.truncateSync(big, 100 * 1024 * 1024);
    expect(readRegularFile(big, 1024)).toMatchObject({ ok: false, reason: "too_large" });
    expect(seen.opened).toEqual([]);
    expect(seen.read).toEqual([]);
  });
});
