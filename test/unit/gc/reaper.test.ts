/**
 * The reaper on real trees (sockets, FIFOs, symlinks out of the tree, a real tmpfs mount, an
 * immutable directory), with node:fs wrapped to inject errors and to swap a directory for a
 * symlink at chosen moments of the walk; and a property test over random trees.
 */
import { spawnSync } from "node:child_process";
import * as realFs from "node:fs";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { removePodDirectory } from "../../../src/gc/reaper.js";
import { TempDirs } from "../../support/temp.js";

/** Paths (as strings) at which the wrapped fs fails, and hooks run after a call on a path. */
const inject = vi.hoisted(() => ({
  fail: new Map<string, { op: string; code: string }>(),
  /** Run `run` after the (skip+1)-th `op` call on the path. */
  after: new Map<string, { op: string; skip: number; run: () => void }>(),
}));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const wrap = <F extends (...args: never[]) => unknown>(op: string, real: F): F =>
    ((path: realFs.PathLike, ...rest: unknown[]) => {
      const key = String(path);
      const failure = inject.fail.get(key);
      if (failure?.op === op) {
        throw Object.assign(new Error(`${failure.code}: injected, ${op} '${key}'`), { code: failure.code });
      }
      const result = (real as unknown as (...a: unknown[]) => unknown)(path, ...rest);
      const hook = inject.after.get(key);
      if (hook?.op === op) {
        if (hook.skip > 0) hook.skip -= 1;
        else {
          inject.after.delete(key);
          hook.run();
        }
      }
      return result;
    }) as unknown as F;
  return {
    ...fs,
    lstatSync: wrap("lstat", fs.lstatSync),
    opendirSync: wrap("readdir", fs.opendirSync),
    rmdirSync: wrap("rmdir", fs.rmdirSync),
    unlinkSync: wrap("unlink", fs.unlinkSync),
  };
});

const temp = new TempDirs("vce-reaper-");
const mounted: string[] = [];
const immutable: string[] = [];

beforeEach(() => {
  inject.fail.clear();
  inject.after.clear();
});

afterEach(() => {
  for (const m of mounted.splice(0)) spawnSync("umount", [m]);
  for (const d of immutable.splice(0)) spawnSync("chattr", ["-i", d]);
  temp.cleanup();
});

const POD = "9a746c471e81c2e9d0e3a4d5f6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5";
const CID = "5e0f4f8c1b2a39d7e6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a29180f7e";

interface Host {
  readonly base: string;
  readonly pods: string;
  readonly pod: string;
  readonly outside: string;
}

/** <base>/pods/<POD> (empty) beside <base>/outside holding a file, a directory and a sibling pod. */
function host(): Host {
  const base = temp.make();
  const pods = join(base, "pods");
  const pod = join(pods, POD);
  const outside = join(base, "outside");
  mkdirSync(pod, { recursive: true });
  mkdirSync(join(outside, "dir"), { recursive: true });
  writeFileSync(join(outside, "file"), "outside file");
  writeFileSync(join(outside, "dir", "inner"), "outside inner");
  mkdirSync(join(pods, "sibling"));
  writeFileSync(join(pods, "sibling", "state.json"), "{}");
  return { base, pods, pod, outside };
}

/** Every path below `dir` with its kind and, for files, contents: what must survive unchanged. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[p] = "dir";
        walk(p);
      } else out[p] = st.isFile() ? `file:${readFileSync(p, "utf8")}` : "other";
    }
  };
  walk(dir);
  return out;
}

/** A Unix socket left on disk, as a dead proxy leaves proxy.sock (closing a Node server unlinks it). */
async function leftoverSocket(path: string, scratch: string): Promise<void> {
  const short = join(scratch, "s.sock"); // sun_path is 108 bytes: listen on a short path, then move it
  const server = createServer().listen(short);
  await once(server, "listening");
  renameSync(short, path);
  server.close();
  await once(server, "close");
}

function mkfifo(path: string): void {
  expect(spawnSync("mkfifo", [path]).status).toBe(0);
}

/** The pod tree of a dead Clear Containers pod, plus symlinks out of it. Returns [files, dirs]. */
async function realShapedPod(h: Host): Promise<[number, number]> {
  for (const d of [POD, CID]) {
    mkdirSync(join(h.pod, d, "deeper", "still"), { recursive: true });
    writeFileSync(join(h.pod, d, "state.json"), '{"state":"stopped"}');
    writeFileSync(join(h.pod, d, "process.json"), '{"Pid":1234}');
    writeFileSync(join(h.pod, d, "deeper", "still", "x"), "x");
  }
  for (const f of ["state.json", "network.json", "hypervisor.json", "agent.json", "lock"]) {
    writeFileSync(join(h.pod, f), "{}");
  }
  await leftoverSocket(join(h.pod, "proxy.sock"), h.base);
  mkfifo(join(h.pod, "console.fifo"));
  symlinkSync(join(h.outside, "file"), join(h.pod, "link-to-file"));
  symlinkSync(join(h.outside, "dir"), join(h.pod, "link-to-dir"));
  symlinkSync(join(h.outside, "dir"), join(h.pod, CID, "deeper", "link-to-dir"));
  symlinkSync(h.pods, join(h.pod, "link-to-tree"));
  symlinkSync(join(h.base, "nowhere"), join(h.pod, "dangling"));
  writeFileSync(join(h.pod, Buffer.from([0x62, 0xff, 0xfe, 0x0a]).toString("latin1")), "");
  writeFileSync(Buffer.concat([Buffer.from(`${h.pod}/`), Buffer.from([0x6e, 0xc3, 0x28])]), "bad utf-8 name");
  // Per container directory 3 files and 3 directories; at the top 5 files, the socket, the
  // FIFO, 5 symlinks (one in CID/deeper) and 2 odd names; and the pod directory itself.
  const files = 2 * 3 + 5 + 1 + 1 + 5 + 2;
  const dirs = 2 * 3 + 1;
  return [files, dirs];
}

describe("removePodDirectory", () => {
  it("removes a real-shaped pod tree (socket, FIFO, odd names) and leaves symlink targets and siblings intact", async () => {
    const h = host();
    const [files, dirs] = await realShapedPod(h);
    expect(lstatSync(join(h.pod, "proxy.sock")).isSocket()).toBe(true);
    expect(lstatSync(join(h.pod, "console.fifo")).isFIFO()).toBe(true);
    const outside = snapshot(h.outside);
    const sibling = snapshot(join(h.pods, "sibling"));

    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
      kind: "removed",
      files,
      dirs,
    });
    expect(existsSync(h.pod)).toBe(false);
    expect(readdirSync(h.pods)).toEqual(["sibling"]);
    expect(snapshot(h.outside)).toEqual(outside);
    expect(snapshot(join(h.pods, "sibling"))).toEqual(sibling);
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({ kind: "absent" });
  });

  it("accepts a tree root with a trailing slash and removes an empty pod directory", async () => {
    const h = host();
    expect(await removePodDirectory({ treeRoot: `${h.pods}/`, name: POD })).toEqual({
      kind: "removed",
      files: 0,
      dirs: 1,
    });
    expect(existsSync(h.pod)).toBe(false);
  });

  it("refuses a symlinked pod directory and leaves its target untouched", async () => {
    const h = host();
    symlinkSync(join(h.outside, "dir"), join(h.pods, "linked"));
    const before = snapshot(h.outside);
    expect(await removePodDirectory({ treeRoot: h.pods, name: "linked" })).toEqual({
      kind: "refused",
      reason: "symlink",
      path: join(h.pods, "linked"),
    });
    expect(lstatSync(join(h.pods, "linked")).isSymbolicLink()).toBe(true);
    expect(snapshot(h.outside)).toEqual(before);
  });

  it("refuses a pod that is not a directory", async () => {
    const h = host();
    writeFileSync(join(h.pods, "file"), "not a pod");
    mkfifo(join(h.pods, "fifo"));
    for (const name of ["file", "fifo"]) {
      expect(await removePodDirectory({ treeRoot: h.pods, name })).toEqual({
        kind: "refused",
        reason: "not_directory",
        path: join(h.pods, name),
      });
    }
    expect(readFileSync(join(h.pods, "file"), "utf8")).toBe("not a pod");
  });

  it("refuses a name that is not one path component", async () => {
    const h = host();
    mkdirSync(join(h.pod, "sub"));
    const before = snapshot(h.base);
    for (const name of ["", ".", "..", `${POD}/sub`, "../pods", "a\0b", "/"]) {
      expect(await removePodDirectory({ treeRoot: h.pods, name })).toMatchObject({
        kind: "refused",
        reason: "invalid_name",
      });
    }
    expect(snapshot(h.base)).toEqual(before);
  });

  it("refuses a tree root that is a symlink, a file or missing", async () => {
    const h = host();
    symlinkSync(h.pods, join(h.base, "link"));
    writeFileSync(join(h.base, "plain"), "");
    const before = snapshot(h.base);
    for (const root of [join(h.base, "link"), join(h.base, "plain"), join(h.base, "missing")]) {
      expect(await removePodDirectory({ treeRoot: root, name: POD })).toEqual({
        kind: "refused",
        reason: "root_not_directory",
        path: root,
      });
    }
    expect(await removePodDirectory({ treeRoot: join(h.base, "plain", "x"), name: POD })).toMatchObject({
      kind: "refused",
      reason: "root_not_directory",
    });
    expect(snapshot(h.base)).toEqual(before);
  });

  it("refuses a tmpfs mounted under the pod directory and removes nothing", async (ctx) => {
    const h = host();
    writeFileSync(join(h.pod, "state.json"), "{}");
    const shm = join(h.pod, CID, "shm");
    mkdirSync(shm, { recursive: true });
    const mount = spawnSync("mount", ["-t", "tmpfs", "tmpfs", shm], { encoding: "utf8" });
    if (mount.status !== 0) {
      ctx.skip(`mount -t tmpfs is not permitted here: ${mount.stderr.trim()}`);
      return;
    }
    mounted.push(shm);
    writeFileSync(join(shm, "data"), "in the mount");
    const before = snapshot(h.pod);
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
      kind: "refused",
      reason: "mount_point",
      path: shm,
    });
    expect(snapshot(h.pod)).toEqual(before);
  });

  it("refuses a bind mount from the same filesystem under the pod, also through a symlinked tree root", async (ctx) => {
    const h = host();
    const source = join(h.base, "bind-source");
    mkdirSync(source);
    writeFileSync(join(source, "precious"), "keep me");
    const target = join(h.pod, CID, "rootfs");
    mkdirSync(target, { recursive: true });
    const mount = spawnSync("mount", ["--bind", source, target], { encoding: "utf8" });
    if (mount.status !== 0) {
      ctx.skip(`mount --bind is not permitted here: ${mount.stderr.trim()}`);
      return;
    }
    mounted.push(target);
    // same st_dev as the pod directory: only the mount table shows it
    symlinkSync(h.base, join(h.base, "link"));
    for (const treeRoot of [h.pods, join(h.base, "link", "pods")]) {
      expect(await removePodDirectory({ treeRoot, name: POD })).toMatchObject({
        kind: "refused",
        reason: "mount_point",
      });
    }
    expect(readFileSync(join(source, "precious"), "utf8")).toBe("keep me");
    expect(readFileSync(join(target, "precious"), "utf8")).toBe("keep me");
  });

  it("refuses a pod directory that is itself a mount point", async (ctx) => {
    const h = host();
    const mount = spawnSync("mount", ["-t", "tmpfs", "tmpfs", h.pod], { encoding: "utf8" });
    if (mount.status !== 0) {
      ctx.skip(`mount -t tmpfs is not permitted here: ${mount.stderr.trim()}`);
      return;
    }
    mounted.push(h.pod);
    writeFileSync(join(h.pod, "state.json"), "{}");
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
      kind: "refused",
      reason: "mount_point",
      path: h.pod,
    });
    expect(readFileSync(join(h.pod, "state.json"), "utf8")).toBe("{}");
  });

  it("stops at an immutable directory, leaves the rest and counts what it removed", async (ctx) => {
    const h = host();
    const locked = join(h.pod, CID);
    mkdirSync(locked);
    writeFileSync(join(locked, "state.json"), "kept");
    for (const n of ["a", "b", "c"]) writeFileSync(join(h.pod, n), n);
    const chattr = spawnSync("chattr", ["+i", locked], { encoding: "utf8" });
    if (chattr.status !== 0) {
      ctx.skip(`chattr +i is not available here: ${(chattr.stderr || String(chattr.error)).trim()}`);
      return;
    }
    immutable.push(locked);
    const out = await removePodDirectory({ treeRoot: h.pods, name: POD });
    expect(out).toMatchObject({ kind: "failed", code: "EPERM", path: join(locked, "state.json"), dirs: 0 });
    expect(readFileSync(join(locked, "state.json"), "utf8")).toBe("kept");
    const gone = ["a", "b", "c"].filter((n) => !existsSync(join(h.pod, n))).length;
    expect(out).toMatchObject({ files: gone });
  });
});

describe("removePodDirectory with injected failures", () => {
  function podWithContainer(): Host & { readonly ctr: string } {
    const h = host();
    const ctr = join(h.pod, CID);
    mkdirSync(join(ctr, "sub"), { recursive: true });
    writeFileSync(join(ctr, "state.json"), "{}");
    writeFileSync(join(ctr, "sub", "f"), "f");
    return { ...h, ctr };
  }

  it.each([
    ["unlink", "EACCES"],
    ["rmdir", "EBUSY"],
    ["readdir", "EACCES"],
    ["lstat", "EIO"],
  ])("returns failed on %s %s, without throwing, and leaves the rest", async (op, code) => {
    const h = podWithContainer();
    const target = op === "unlink" || op === "lstat" ? join(h.ctr, "sub", "f") : join(h.ctr, "sub");
    inject.fail.set(target, { op, code });
    const out = await removePodDirectory({ treeRoot: h.pods, name: POD });
    expect(out).toMatchObject({ kind: "failed", path: target, code });
    expect(existsSync(join(h.ctr, "sub"))).toBe(true);
    expect(existsSync(h.pod)).toBe(true);
  });

  it("reports the counts removed before the failure", async () => {
    const h = podWithContainer();
    inject.fail.set(h.pod, { op: "rmdir", code: "EBUSY" });
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
      kind: "failed",
      path: h.pod,
      code: "EBUSY",
      message: `EBUSY: injected, rmdir '${h.pod}'`,
      files: 2,
      dirs: 2,
    });
    expect(readdirSync(h.pod)).toEqual([]);
  });

  it("fails on a failing tree root or pod lstat", async () => {
    const h = podWithContainer();
    inject.fail.set(h.pods, { op: "lstat", code: "EACCES" });
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toMatchObject({
      kind: "failed",
      code: "EACCES",
    });
    inject.fail.clear();
    inject.fail.set(h.pod, { op: "lstat", code: "EIO" });
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toMatchObject({
      kind: "failed",
      code: "EIO",
    });
    expect(existsSync(join(h.ctr, "sub", "f"))).toBe(true);
  });

  /**
   * Replace `dir` by a symlink to a copy of it outside the tree (what an attacker with root
   * could do mid-walk): following the link would remove the copy's files, which have the
   * names just listed. Returns the copy's contents as they were right after the swap.
   */
  function swapAfter(h: Host, dir: string, op: string, skip: number): () => Record<string, string> {
    const victim = join(h.outside, "victim");
    let copied: Record<string, string> = {};
    inject.after.set(dir, {
      op,
      skip,
      run: () => {
        realFs.cpSync(dir, victim, { recursive: true });
        renameSync(dir, join(h.base, "moved"));
        symlinkSync(victim, dir);
        copied = snapshot(victim);
      },
    });
    return () => copied;
  }

  // The first walk checks the tree, the second removes it: swap during each.
  it.each([
    ["checking", 0],
    ["removing", 1],
  ])(
    "does not act on a listing when the directory was swapped for a symlink while listed (%s)",
    async (_, skip) => {
      const h = podWithContainer();
      const copied = swapAfter(h, h.ctr, "readdir", skip);
      expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toMatchObject({
        kind: "failed",
        path: h.ctr,
        code: "changed",
      });
      expect(Object.keys(copied())).toContain(join(h.outside, "victim", "state.json"));
      expect(snapshot(join(h.outside, "victim"))).toEqual(copied());
    },
  );

  // lstat calls on sub: (checking) as an entry, before opening it, after opening it and before its
  // one batch; (removing) as an entry.
  it.each([
    ["checking", 0],
    ["removing", 4],
  ])(
    "does not list a directory swapped for a symlink after it was seen as a directory (%s)",
    async (_, skip) => {
      const h = podWithContainer();
      const copied = swapAfter(h, join(h.ctr, "sub"), "lstat", skip);
      expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toMatchObject({
        kind: "failed",
        path: join(h.ctr, "sub"),
        code: "changed",
      });
      expect(Object.keys(copied())).toContain(join(h.outside, "victim", "f"));
      expect(snapshot(join(h.outside, "victim"))).toEqual(copied());
    },
  );

  it("treats entries that vanish during the walk as removed by someone else, not as errors", async () => {
    const h = podWithContainer();
    inject.after.set(h.ctr, {
      op: "readdir",
      skip: 0,
      run: () => {
        realFs.rmSync(join(h.ctr, "sub"), { recursive: true });
        realFs.rmSync(join(h.ctr, "state.json"));
      },
    });
    expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
      kind: "removed",
      files: 0,
      dirs: 2,
    });
    expect(existsSync(h.pod)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

type Node =
  | { readonly kind: "file"; readonly text: string }
  | { readonly kind: "link"; readonly to: "file" | "dir" | "root" | "sibling" | "dangling" | "self" }
  | { readonly kind: "dir"; readonly children: readonly (readonly [string, Node])[] };

const entryName = fc
  .string({ unit: fc.constantFrom("a", "b", ".", "-", " ", "\n", "é"), minLength: 1, maxLength: 6 })
  .filter((n) => n !== "." && n !== "..");

const { node: nodeArb } = fc.letrec<{ node: Node; dir: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("file" as const), text: fc.string({ maxLength: 8 }) }),
    fc.record({
      kind: fc.constant("link" as const),
      to: fc.constantFrom("file", "dir", "root", "sibling", "dangling", "self"),
    }),
    tie("dir"),
  ),
  dir: fc.record({
    kind: fc.constant("dir" as const),
    children: fc.uniqueArray(fc.tuple(entryName, tie("node")), { maxLength: 4, selector: (e) => e[0] }),
  }),
}));

const podArb = fc.uniqueArray(fc.tuple(entryName, nodeArb), { maxLength: 6, selector: (e) => e[0] });

function build(h: Host, dir: string, children: readonly (readonly [string, Node])[]): [number, number] {
  let files = 0;
  let dirs = 0;
  const targets = {
    file: join(h.outside, "file"),
    dir: join(h.outside, "dir"),
    root: h.pods,
    sibling: join(h.pods, "sibling"),
    dangling: join(h.base, "nowhere"),
    self: ".",
  };
  for (const [name, node] of children) {
    const p = join(dir, name);
    if (node.kind === "dir") {
      mkdirSync(p);
      const [f, d] = build(h, p, node.children);
      files += f;
      dirs += d + 1;
    } else {
      if (node.kind === "file") writeFileSync(p, node.text);
      else symlinkSync(targets[node.to], p);
      files += 1;
    }
  }
  return [files, dirs];
}

describe("removePodDirectory on random trees", () => {
  it("removes the pod directory and nothing outside it", async () => {
    await fc.assert(
      fc.asyncProperty(podArb, async (children) => {
        const h = host();
        const [files, dirs] = build(h, h.pod, children);
        const outside = snapshot(h.outside);
        const sibling = snapshot(join(h.pods, "sibling"));
        expect(await removePodDirectory({ treeRoot: h.pods, name: POD })).toEqual({
          kind: "removed",
          files,
          dirs: dirs + 1,
        });
        expect(existsSync(h.pod)).toBe(false);
        expect(existsSync(join(h.base, "nowhere"))).toBe(false);
        expect(snapshot(h.outside)).toEqual(outside);
        expect(snapshot(join(h.pods, "sibling"))).toEqual(sibling);
        temp.cleanup();
      }),
      { numRuns: 60 },
    );
  });
});
