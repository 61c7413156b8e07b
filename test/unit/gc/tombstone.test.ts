/**
 * Issue 11 items 7, 8 and 9: a deletion renames the pod's directories to dot-named tombstones
 * under the lock, and sweeps remove the tombstones afterwards, off the event loop, retrying every
 * run (and after a restart) until they are gone, deep trees and immutable files included; two
 * exporters on one tree delete each orphan exactly once. Real trees, locks, immutable files
 * (chattr +i), bind mounts and a tree deeper than PATH_MAX.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hostProcVisibility } from "../../../src/gc/guards.js";
import { entomb, MAX_WALK_PATH, removePodDirectory } from "../../../src/gc/reaper.js";
import { TOMBSTONE_PREFIX, TombstoneSweeper, tombstoneName } from "../../../src/gc/tombstone.js";
import { Scanner } from "../../../src/scan/scanner.js";
import { TempDirs } from "../../support/temp.js";
import { harness, holdLock, metric, outcomes, tombstones } from "./harness.js";

const FIXTURES = new URL("../../fixtures/layouts", import.meta.url).pathname;
const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const temp = new TempDirs("vce-tomb-");
const immutable: string[] = [];
const mounted: string[] = [];
const deepRoots: string[] = [];
afterEach(() => {
  for (const f of immutable.splice(0)) spawnSync("chattr", ["-i", f]);
  for (const m of mounted.splice(0)) spawnSync("umount", [m]);
  // rm(1) removes trees deeper than PATH_MAX; Node's rmSync goes by full paths
  for (const d of deepRoots.splice(0)) spawnSync("rm", ["-rf", "--one-file-system", d]);
  temp.cleanup();
});

const hostVisible = hostProcVisibility({ root: "/proc" }) === "visible";

function kata110(): { host: string; run: string; config: string; vm: string } {
  const host = temp.make();
  cpSync(join(FIXTURES, "kata-1.10", "host"), host, { recursive: true });
  return {
    host,
    run: join(host, "run/vc/sbs", POD),
    config: join(host, "var/lib/vc/sbs", POD),
    vm: join(host, "run/vc/vm", POD),
  };
}

function chattr(flag: "+i" | "-i", path: string): boolean {
  const r = spawnSync("chattr", [flag, path], { encoding: "utf8" });
  if (r.status === 0 && flag === "+i") immutable.push(path);
  return r.status === 0;
}

/** A chain of directories below `dir` whose deepest path is longer than PATH_MAX (made with relative mkdir/cd). */
function deepChain(dir: string, levels = 48): void {
  const name = "d".repeat(100);
  const r = spawnSync(
    "bash",
    [
      "-c",
      `cd "$1" && for i in $(seq ${levels}); do mkdir ${name} && cd ${name}; done && echo leaf > leaf`,
      "x",
      dir,
    ],
    { encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  deepRoots.push(dir);
}

describe("entomb", () => {
  it("renames every part to a dot name in its own tree root (same directory), which the scanner does not see", async () => {
    const { host, run, config, vm } = kata110();
    const before = [run, config, vm].map((d) => lstatSync(d).ino);
    const out = entomb(
      [run, vm, config].map((d) => ({ treeRoot: join(d, ".."), name: POD })),
      { tombstoneName: (n, i) => tombstoneName(n, String(i)) },
    );
    expect(out.kind).toBe("entombed");
    expect([run, config, vm].some(existsSync)).toBe(false);
    const left = tombstones(host);
    expect(left).toHaveLength(3);
    expect(left.map((t) => lstatSync(t).ino).sort()).toEqual([...before].sort());
    const snapshot = await new Scanner({ hostRoot: host }).scan();
    expect(snapshot.pods).toEqual([]);
    expect(snapshot.problems).toEqual([]);
  });

  it("puts back what it renamed when a later part cannot be renamed (an immutable directory)", (ctx) => {
    const { host, run, config } = kata110();
    if (!chattr("+i", run)) {
      ctx.skip("chattr +i is not available here");
      return;
    }
    const out = entomb(
      [config, run].map((d) => ({ treeRoot: join(d, ".."), name: POD })),
      { tombstoneName: (n, i) => tombstoneName(n, String(i)) },
    );
    expect(out).toMatchObject({ kind: "failed", code: "EPERM", restored: true });
    expect(existsSync(config) && existsSync(run)).toBe(true);
    expect(tombstones(host)).toEqual([]);
  });

  it("refuses a part with a mount point under it and renames nothing", (ctx) => {
    const { host, run, config } = kata110();
    const source = temp.make();
    const target = join(run, "mnt");
    mkdirSync(target);
    const m = spawnSync("mount", ["--bind", source, target], { encoding: "utf8" });
    if (m.status !== 0) {
      ctx.skip(`mount --bind is not permitted here: ${m.stderr.trim()}`);
      return;
    }
    mounted.push(target);
    const out = entomb(
      [config, run].map((d) => ({ treeRoot: join(d, ".."), name: POD })),
      { tombstoneName: (n, i) => tombstoneName(n, String(i)) },
    );
    expect(out).toMatchObject({ kind: "refused", reason: "mount_point" });
    expect(existsSync(config) && existsSync(run)).toBe(true);
    expect(tombstones(host)).toEqual([]);
  });
});

describe.runIf(hostVisible)("deletion through tombstones", () => {
  it("item 7: an immutable file stops the removal, the tombstone is retried every run and goes once it can", async (ctx) => {
    const { host, run, config, vm } = kata110();
    // A file that the directory listing returns after config.json: a removal in listing order
    // (today's reaper) takes config.json first and then stops at the immutable file.
    const names = Array.from({ length: 16 }, (_, i) => `stuck-${i}`);
    for (const n of names) writeFileSync(join(config, n), n);
    const order = readdirSync(config);
    const stuck = order.slice(order.indexOf("config.json") + 1).find((n) => n.startsWith("stuck-"));
    if (stuck === undefined) {
      ctx.skip("no test file is listed after config.json here");
      return;
    }
    for (const n of names) if (n !== stuck) rmSync(join(config, n));
    if (!chattr("+i", join(config, stuck))) {
      ctx.skip("chattr +i is not available here");
      return;
    }
    const gc = harness({ host, proc: "/proc" });
    await gc.run();
    expect(outcomes(await gc.run())).toEqual({ [POD]: "deleted:" });
    expect([run, config, vm].some(existsSync)).toBe(false);
    expect(tombstones(host)).toHaveLength(1);
    expect(await metric(gc.registry, "virtcontainers_gc_tombstones")).toBe(1);
    expect(
      await metric(gc.registry, "virtcontainers_gc_tombstone_errors_total", { reason: "delete_failed" }),
    ).toBe(1);
    // retried every run
    expect(outcomes(await gc.run())).toEqual({});
    expect(
      await metric(gc.registry, "virtcontainers_gc_tombstone_errors_total", { reason: "delete_failed" }),
    ).toBe(2);
    const tomb = tombstones(host)[0] ?? "";
    immutable.push(join(tomb, stuck));
    chattr("-i", join(tomb, stuck));
    await gc.run();
    expect(tombstones(host)).toEqual([]);
    expect(await metric(gc.registry, "virtcontainers_gc_tombstones")).toBe(0);
    expect([run, config, vm].some(existsSync)).toBe(false);
  }, 30_000);

  it("item 8: a pod tree deeper than PATH_MAX is removed, without a path longer than the limit", async () => {
    const { host, run, config } = kata110();
    const ctr = readdirSync(config, { withFileTypes: true }).find((e) => e.isDirectory() && e.name !== "raw");
    deepChain(join(config, ctr?.name ?? "raw"));
    const gc = harness({ host, proc: "/proc" });
    await gc.run();
    expect(outcomes(await gc.run())).toEqual({ [POD]: "deleted:" });
    expect(tombstones(host)).toEqual([]);
    expect(
      await metric(gc.registry, "virtcontainers_gc_tombstone_errors_total", { reason: "delete_failed" }),
    ).toBe(0);
    expect([run, config].some(existsSync)).toBe(false);
    expect(readdirSync(join(host, "var/lib/vc/sbs"))).toEqual([]);
  }, 60_000);

  it("tombstones left by an earlier process are removed by the next run in mode on; dry-run counts them and removes nothing", async () => {
    const { host } = kata110();
    const left = join(host, "run/vc/sbs", `${TOMBSTONE_PREFIX}${"a".repeat(64)}.run.1-x-1-y`);
    mkdirSync(join(left, "ctr"), { recursive: true });
    writeFileSync(join(left, "ctr", "state.json"), "{}");
    const dry = harness({ host, proc: "/proc", mode: "dry-run" });
    await dry.run();
    expect(existsSync(left)).toBe(true);
    expect(await metric(dry.registry, "virtcontainers_gc_tombstones")).toBe(1);
    const on = harness({ host, proc: "/proc", graceMs: 3_600_000 });
    await on.run();
    expect(existsSync(left)).toBe(false);
    expect(existsSync(join(host, "run/vc/sbs", POD))).toBe(true); // the pod itself waits for its grace
    expect(await metric(on.registry, "virtcontainers_gc_tombstones")).toBe(0);
  });

  it("two exporters on one node at once delete each orphan exactly once", async () => {
    const host = temp.make();
    const gen = (await import(new URL("../../../bench/gen-tree.mjs", import.meta.url).href)) as {
      generateTree(dir: string, pods: number, opts?: { seed?: number }): Promise<{ podIds: string[] }>;
    };
    const { podIds } = await gen.generateTree(host, 12, { seed: 11 });
    // a third of them config-only (no lock to take: only rename(2) decides who deletes them)
    for (const id of podIds.slice(0, 4))
      rmSync(join(host, "run/virtcontainers/pods", id), { recursive: true });
    const a = harness({ host, proc: "/proc" });
    const b = harness({ host, proc: "/proc" });
    await Promise.all([a.run(), b.run()]);
    const [ra, rb] = await Promise.all([a.run(), b.run()]);
    const deleted = [...ra.decisions, ...rb.decisions]
      .filter((d) => d.outcome === "deleted")
      .map((d) => d.podId);
    expect(deleted.sort()).toEqual([...podIds].sort());
    const lost = [...ra.decisions, ...rb.decisions].filter((d) => d.outcome !== "deleted");
    for (const d of lost) expect(["locked", "changed"]).toContain(d.reason);
    const live = async (h: typeof a) =>
      (await metric(h.registry, "virtcontainers_gc_deletions_total", { tree: "config", mode: "live" })) +
      (await metric(h.registry, "virtcontainers_gc_deletions_total", { tree: "run", mode: "live" }));
    // 12 config directories and 8 run directories, each counted by exactly one exporter
    expect((await live(a)) + (await live(b))).toBe(12 + 8);
    await Promise.all([a.run(), b.run()]);
    expect(tombstones(host)).toEqual([]);
    expect(readdirSync(join(host, "var/lib/virtcontainers/pods"))).toEqual([]);
  }, 60_000);
});

describe("the sweep", () => {
  function sweeper(root: string): TombstoneSweeper {
    return new TombstoneSweeper({ roots: () => [root] });
  }

  it("removes a large tombstone in slices, giving the event loop turns while it works", async () => {
    const root = temp.make();
    const t = join(root, `${TOMBSTONE_PREFIX}big`);
    mkdirSync(t);
    for (let i = 0; i < 20_000; i++) writeFileSync(join(t, `f${i}`), "");
    let turns = 0;
    const ticker = setInterval(() => {
      turns++;
    }, 0);
    const report = await new TombstoneSweeper({ roots: () => [root], sliceMs: 1 }).sweep();
    clearInterval(ticker);
    expect(report).toMatchObject({ removed: 1, failures: [], remaining: 0 });
    expect(turns).toBeGreaterThan(0);
  }, 60_000);

  it("never follows a symlink named like a tombstone, and says so", async () => {
    const root = temp.make();
    const outside = temp.make();
    writeFileSync(join(outside, "precious"), "keep");
    symlinkSync(outside, join(root, `${TOMBSTONE_PREFIX}link`));
    const report = await sweeper(root).sweep();
    expect(report.failures).toMatchObject([{ reason: "unsafe_path" }]);
    expect(readFileSync(join(outside, "precious"), "utf8")).toBe("keep");
    expect(report.remaining).toBe(1);
  });

  it("stops at a mount point inside a tombstone and counts it", async (ctx) => {
    const root = temp.make();
    const source = temp.make();
    writeFileSync(join(source, "precious"), "keep");
    const target = join(root, `${TOMBSTONE_PREFIX}m`, "rootfs");
    mkdirSync(target, { recursive: true });
    const m = spawnSync("mount", ["--bind", source, target], { encoding: "utf8" });
    if (m.status !== 0) {
      ctx.skip(`mount --bind is not permitted here: ${m.stderr.trim()}`);
      return;
    }
    mounted.push(target);
    const report = await sweeper(root).sweep();
    expect(report.failures).toMatchObject([{ reason: "unsafe_path" }]);
    expect(readFileSync(join(source, "precious"), "utf8")).toBe("keep");
  });

  it("a directory replaced while a tombstone was removed is counted as changed and the tombstone kept", async () => {
    const root = temp.make();
    const sub = join(root, `${TOMBSTONE_PREFIX}c`, "sub");
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, "f"), "");
    const outside = temp.make();
    writeFileSync(join(outside, "precious"), "keep");
    let turns = 0;
    const report = await new TombstoneSweeper({
      roots: () => [root],
      // the real removal; at its 4th turn (the removing walk, inside sub) sub becomes a symlink
      remove: (opts) =>
        removePodDirectory({
          ...opts,
          aborted: () => {
            if (++turns === 4) {
              rmSync(sub, { recursive: true });
              symlinkSync(outside, sub);
            }
            return false;
          },
        }),
    }).sweep();
    expect(turns).toBeGreaterThanOrEqual(4);
    expect(report.failures).toMatchObject([{ reason: "changed" }]);
    expect(report.remaining).toBe(1);
    expect(readFileSync(join(outside, "precious"), "utf8")).toBe("keep");
  });

  it("a tombstone another sweeper holds is left to it", async () => {
    const root = temp.make();
    const t = join(root, `${TOMBSTONE_PREFIX}held`);
    mkdirSync(t);
    const child = await holdLock(t);
    try {
      const report = await sweeper(root).sweep();
      expect(report).toMatchObject({ removed: 0, busy: 1, remaining: 1 });
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("removePodDirectory and depth", () => {
  it("without somewhere to move deep subtrees it stops at the depth limit (ENAMETOOLONG) and leaves the rest", async () => {
    const root = temp.make();
    mkdirSync(join(root, "pod"));
    deepChain(join(root, "pod"), 40);
    const out = await removePodDirectory({ treeRoot: root, name: "pod" });
    expect(out).toMatchObject({ kind: "failed", code: "ENAMETOOLONG" });
    expect(existsSync(join(root, "pod"))).toBe(true);
  });

  it("moves deep subtrees up into the tree root, each checked to be the same directory, and removes them all", async () => {
    const root = temp.make();
    mkdirSync(join(root, "pod"));
    deepChain(join(root, "pod"), 90);
    const moved: string[] = [];
    let n = 0;
    const out = await removePodDirectory({
      treeRoot: root,
      name: "pod",
      relocate: () => `.deep-${n++}`,
      onRelocated: (name) => moved.push(name),
    });
    expect(out.kind).toBe("removed");
    // 90 levels of 101 bytes: at least two moves of at most MAX_WALK_PATH bytes of path each
    expect(moved.length).toBeGreaterThanOrEqual(Math.floor((90 * 101) / MAX_WALK_PATH) - 1);
    for (const name of moved) {
      expect(
        await removePodDirectory({
          treeRoot: root,
          name,
          relocate: () => `.deep-${n++}`,
          onRelocated: (x) => moved.push(x),
        }),
      ).toMatchObject({ kind: "removed" });
    }
    expect(readdirSync(root)).toEqual([]);
  }, 60_000);
});
