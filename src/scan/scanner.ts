/**
 * Turns the two trees under a host root into a Snapshot. Full scans walk both trees and
 * re-read only files whose stat changed; incremental scans re-read given pods (hints from
 * the watcher) and carry every other pod over from the previous snapshot.
 */
import { statSync } from "node:fs";
import { posix } from "node:path";
import { setImmediate as yieldLoop } from "node:timers/promises";
import {
  LAYOUT_NAMES,
  TREE_SETS,
  printableName,
  validateId,
  type LayoutName,
  type Tree,
  type TreeSet,
} from "../format/layout.js";
import { listDir, statEntry } from "./fsread.js";
import { FileLoader } from "./loader.js";
import { scanPod, type Listed } from "./pod.js";
import type { FileProblem, PodRecord, ScanStats, Snapshot, TreeStatus } from "./snapshot.js";

export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface ScannerOptions {
  readonly hostRoot: string;
  readonly maxFileBytes?: number;
  /** Wait before re-reading a file seen empty or cut short (default 50 ms). */
  readonly retryDelayMs?: number;
  readonly delay?: (ms: number) => Promise<void>;
  /** Wall clock in ms (injectable for tests). */
  readonly now?: () => number;
  /** The layouts to read (default all); trees holding none of them are not listed. */
  readonly layouts?: readonly LayoutName[];
}

export class HostRootError extends Error {}

/** What --host-root must be, and how to get there, for the error messages below. */
const HOST_ROOT_HINT =
  "--host-root (env VCE_HOST_ROOT) must be the directory where the node's filesystem is mounted, " +
  "the one holding run/ and var/lib/ (the chart mounts the node's state trees under /host): " +
  "mount it (a hostPath volume) or pass the directory it is mounted at";

/** A host root we cannot use at all is an error; missing trees under it are not. */
export function checkHostRoot(hostRoot: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(hostRoot).isDirectory();
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    const what =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
          ? "cannot be read by this user"
          : code === "ENOTDIR"
            ? "is below a file, not a directory"
            : "is not usable";
    throw new HostRootError(`host root ${hostRoot} ${what} (${code}); ${HOST_ROOT_HINT}`);
  }
  if (!isDir) throw new HostRootError(`host root ${hostRoot} is not a directory; ${HOST_ROOT_HINT}`);
}

interface TreeListing {
  readonly set: TreeSet;
  readonly status: TreeStatus;
  /** The root was listed, or is plainly absent: its listing is the truth about its pods. */
  readonly listable: boolean;
  readonly ids: readonly string[];
  readonly problems: readonly FileProblem[];
}

const defaultDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Scanner {
  private readonly loader: FileLoader;
  private readonly retryDelayMs: number;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private last: Snapshot | null = null;
  /** The last snapshot's pods by ID, for record reuse. */
  private previous = new Map<string, PodRecord>();
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ScannerOptions) {
    this.loader = new FileLoader(opts.hostRoot, opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
    this.retryDelayMs = opts.retryDelayMs ?? 50;
    this.delay = opts.delay ?? defaultDelay;
    this.now = opts.now ?? Date.now;
  }

  get snapshot(): Snapshot | null {
    return this.last;
  }

  /** Walk both trees. Scans are serialised: a call waits for the one in progress. */
  scan(): Promise<Snapshot> {
    return this.serialise(() => this.fullScan());
  }

  /** Re-read the given pods (forcing a read even when their stat is unchanged). */
  scanPods(podIds: Iterable<string>): Promise<Snapshot> {
    const ids = [...new Set(podIds)];
    return this.serialise(() =>
      this.last === null ? this.fullScan() : this.incrementalScan(ids, this.last),
    );
  }

  private serialise(run: () => Promise<Snapshot>): Promise<Snapshot> {
    const next = this.running.then(run, run);
    this.running = next.catch(() => undefined);
    return next;
  }

  /** The tree sets holding at least one selected layout. */
  private get sets(): readonly TreeSet[] {
    const want = this.opts.layouts ?? LAYOUT_NAMES;
    return TREE_SETS.filter((t) => t.layouts.some((l) => want.includes(l)));
  }

  private async fullScan(): Promise<Snapshot> {
    checkHostRoot(this.opts.hostRoot);
    const started = this.now();
    this.loader.resetCounters();
    this.loader.beginSweep();
    const listings = this.sets.flatMap((set) => [this.listTree(set, "run"), this.listTree(set, "config")]);
    const work: PodWork[] = [];
    for (const set of this.sets) {
      const run = listings.find((l) => l.set === set && l.status.tree === "run");
      const cfg = listings.find((l) => l.set === set && l.status.tree === "config");
      if (run === undefined || cfg === undefined) continue;
      const inRun = new Set(run.ids);
      const inCfg = new Set(cfg.ids);
      for (const id of [...new Set([...run.ids, ...cfg.ids])].sort()) {
        work.push({
          set,
          id,
          listed: { run: run.listable ? inRun.has(id) : null, config: cfg.listable ? inCfg.has(id) : null },
        });
      }
    }
    const { pods, retried } = await this.readPods(work, false);
    this.loader.endSweep();
    return this.finish("full", started, pods, listings, retried);
  }

  private async incrementalScan(ids: readonly string[], prev: Snapshot): Promise<Snapshot> {
    const started = this.now();
    this.loader.resetCounters();
    const valid = ids.filter((id) => validateId(id).ok);
    // A hint names a pod ID, not its trees: look for it in every set (one stat each).
    const work = valid.flatMap((id) => this.sets.map((set) => ({ set, id, listed: null })));
    const { pods: fresh, retried } = await this.readPods(work, true);
    const byKey = new Map(prev.pods.map((p) => [podKey(p.treeSet, p.id), p]));
    const found = new Set(fresh.map((p) => podKey(p.treeSet, p.id)));
    for (const w of work) {
      const key = podKey(w.set.id, w.id);
      if (found.has(key)) continue;
      byKey.delete(key); // gone from both trees
      this.loader.forgetUnder(`${w.set.run}/${w.id}`);
      this.loader.forgetUnder(`${w.set.config}/${w.id}`);
    }
    for (const p of fresh) byKey.set(podKey(p.treeSet, p.id), p);
    const listings = this.sets.flatMap((set) => [this.listTree(set, "run"), this.listTree(set, "config")]);
    return this.finish("incremental", started, [...byKey.values()], listings, retried);
  }

  private async readPods(
    work: readonly PodWork[],
    force: boolean,
  ): Promise<{ pods: PodRecord[]; retried: number }> {
    const pods = new Map<string, PodRecord>();
    const retry: PodWork[] = [];
    let lastYield = this.now();
    for (const w of work) {
      const key = podKey(w.set.id, w.id);
      const prev = this.previous.get(key) ?? null;
      const { record, transient } = scanPod(
        this.loader,
        this.opts.hostRoot,
        w.set,
        w.id,
        force,
        w.listed,
        prev,
      );
      if (record !== null) pods.set(key, record);
      if (transient) retry.push(w);
      if (this.now() - lastYield > 10) {
        await yieldLoop();
        lastYield = this.now();
      }
    }
    if (retry.length > 0) {
      // The runtime truncates and rewrites in place: give a half-written file one more chance.
      await this.delay(this.retryDelayMs);
      for (const w of retry) {
        const { record } = scanPod(this.loader, this.opts.hostRoot, w.set, w.id, true, w.listed);
        const key = podKey(w.set.id, w.id);
        if (record === null) pods.delete(key);
        else pods.set(key, record);
      }
    }
    return { pods: [...pods.values()], retried: retry.length };
  }

  private listTree(set: TreeSet, tree: Tree): TreeListing {
    const rel = tree === "run" ? set.run : set.config;
    const abs = posix.join(this.opts.hostRoot, rel);
    const target = { rel };
    const status = (present: boolean, problem: FileProblem | null): TreeStatus => ({
      set: set.id,
      tree,
      path: rel,
      present,
      problem,
    });
    const st = statEntry(abs);
    if (!st.ok) {
      if (st.reason === "missing")
        return { set, status: status(false, null), listable: true, ids: [], problems: [] };
      const p = treeProblem(target, st.reason, st.message);
      return { set, status: status(false, p), listable: false, ids: [], problems: [p] };
    }
    if (st.kind !== "dir") {
      const p = treeProblem(
        target,
        st.kind === "symlink" ? "symlink" : "not_directory",
        `tree root is a ${st.kind}`,
      );
      // Never read through a symlinked or non-directory root: its pods are absent.
      return { set, status: status(false, p), listable: true, ids: [], problems: [p] };
    }
    const list = listDir(abs);
    if (!list.ok) {
      const p = treeProblem(target, list.reason, list.message);
      return { set, status: status(false, p), listable: false, ids: [], problems: [p] };
    }
    const ids: string[] = [];
    const problems: FileProblem[] = [];
    for (const e of list.entries) {
      // Dot names are not sandboxes: the runtime never makes one, and the GC's tombstones
      // (deleted pods waiting to be removed) are dot-named. Not a problem, not listed.
      if (e.name.startsWith(".")) continue;
      const id = validateId(e.name);
      const entryRel = `${rel}/${id.ok ? e.name : printableName(e.name)}`;
      const t = { rel: entryRel };
      if (!id.ok) problems.push(treeProblem(t, "invalid_id", id.error.message, "pod_dir"));
      else if (e.isSymbolicLink())
        problems.push(treeProblem(t, "symlink", "pod directory is a symlink", "pod_dir"));
      else if (!e.isDirectory())
        problems.push(treeProblem(t, "not_directory", "not a pod directory", "pod_dir"));
      else ids.push(e.name);
    }
    return { set, status: status(true, null), listable: true, ids, problems };
  }

  private finish(
    kind: ScanStats["kind"],
    started: number,
    pods: PodRecord[],
    trees: readonly TreeListing[],
    retried: number,
  ): Snapshot {
    const end = this.now();
    const c = this.loader.counters;
    const { unique, duplicates } = uniqueIds(pods);
    const snapshot: Snapshot = {
      hostRoot: this.opts.hostRoot,
      takenAt: end / 1000,
      trees: trees.map((t) => t.status),
      pods: unique,
      problems: [...trees.flatMap((t) => t.problems), ...duplicates],
      stats: { kind, ...c, retried, durationSeconds: Math.max(0, end - started) / 1000 },
    };
    this.last = snapshot;
    this.previous = new Map(unique.map((p) => [podKey(p.treeSet, p.id), p]));
    return snapshot;
  }
}

interface PodWork {
  readonly set: TreeSet;
  readonly id: string;
  readonly listed: Listed | null;
}

function podKey(set: string, id: string): string {
  return `${set}/${id}`;
}

const SET_ORDER: readonly string[] = TREE_SETS.map((t) => t.id);

/**
 * Pods sorted by ID; a pod ID found in two tree sets (a node half-way through an upgrade, or a
 * copied tree) is kept once, from the first set, and the other copy is a problem: two records
 * with one pod_id would make duplicate series.
 */
function uniqueIds(pods: readonly PodRecord[]): { unique: PodRecord[]; duplicates: FileProblem[] } {
  const sorted = [...pods].sort(
    (a, b) =>
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || SET_ORDER.indexOf(a.treeSet) - SET_ORDER.indexOf(b.treeSet),
  );
  const unique: PodRecord[] = [];
  const duplicates: FileProblem[] = [];
  for (const p of sorted) {
    const last = unique.at(-1);
    if (last?.id === p.id) {
      const set = TREE_SETS.find((t) => t.id === p.treeSet);
      duplicates.push(
        treeProblem(
          { rel: `${set?.run ?? p.treeSet}/${p.id}` },
          "duplicate_id",
          `pod ID also in the ${last.treeSet} trees; this copy is not read`,
          "pod_dir",
        ),
      );
    } else unique.push(p);
  }
  return { unique, duplicates };
}

function treeProblem(
  t: { rel: string },
  reason: FileProblem["reason"],
  message: string,
  file: FileProblem["file"] = "tree",
): FileProblem {
  return { file, path: t.rel, podId: null, containerId: null, reason, message, stale: false };
}
