/**
 * The GC's tombstones come and go in the tree roots (a rename in, a removal later, deep subtrees
 * moved up): the watcher reports none of it as a pod change or a root change.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { TREE_SETS } from "../../../src/format/layout.js";
import { TreeWatcher } from "../../../src/scan/watcher.js";
import { TempDirs } from "../../support/temp.js";

const temp = new TempDirs("vce-watch-tomb-");
const watchers: TreeWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop();
  temp.cleanup();
});

it("ignores dot-named entries in a tree root, and still reports a pod created after them", async () => {
  const host = temp.make();
  const root = join(host, "run/virtcontainers/pods");
  mkdirSync(root, { recursive: true });
  const hints: string[] = [];
  const resyncs: string[] = [];
  const watcher = new TreeWatcher({
    hostRoot: host,
    sets: TREE_SETS.filter((s) => s.id === "pods"),
    debounceMs: 20,
    rootCheckMs: 60_000,
    events: {
      hints: (ids) => hints.push(...ids),
      resync: (reason) => resyncs.push(reason),
      fallback: () => undefined,
      error: () => undefined,
    },
  });
  watchers.push(watcher);
  await watcher.start();
  // a pod renamed to a tombstone, a deep subtree moved up, both removed
  mkdirSync(join(root, "a-pod", "ctr"), { recursive: true });
  await new Promise((r) => setTimeout(r, 100));
  hints.length = 0;
  renameSync(join(root, "a-pod"), join(root, ".vce-tombstone.a-pod.run.1"));
  renameSync(join(root, ".vce-tombstone.a-pod.run.1", "ctr"), join(root, ".vce-tombstone.a-pod.deep.2"));
  writeFileSync(join(root, ".vce-tombstone.a-pod.deep.2", "f"), "");
  rmSync(join(root, ".vce-tombstone.a-pod.deep.2"), { recursive: true });
  rmSync(join(root, ".vce-tombstone.a-pod.run.1"), { recursive: true });
  mkdirSync(join(root, "b-pod"));
  for (let i = 0; i < 500 && !hints.includes("b-pod"); i++) await new Promise((r) => setTimeout(r, 10));
  // the pod renamed away is reported (it is gone: re-read it), its tombstones never are
  expect([...new Set(hints)].sort()).toEqual(["a-pod", "b-pod"]);
  expect(resyncs).toEqual([]);
});
