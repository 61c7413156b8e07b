/**
 * Turns the two trees under a host root into a Snapshot. Full scans walk both trees and
 * re-read only files whose stat changed; incremental scans re-read given pods (hints from
 * the watcher) and carry every other pod over from the previous snapshot.
 */
import { statSync } from "node:fs";
import { posix } from "node:path";
import { setImmediate as yieldLoop } from "node:timers/promises";
import { TREE_DIRS, printableName, validateId, type Tree } from "../format/layout.js";
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
}

export class HostRootError extends Error {}

/** A host root we cannot use at all is an error; missing trees under it are not. */
export function checkHostRoot(hostRoot: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(hostRoot).isDirectory();
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new HostRootError(`host root ${hostRoot} is not usable: ${code}`);
  }
  if (!isDir) throw new HostRootError(`host root ${hostRoot} is not a directory`);
}

interface TreeListing {
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

  private async fullScan(): Promise<Snapshot> {
    checkHostRoot(this.opts.hostRoot);
    const started = this.now();
    this.loader.resetCounters();
    this.loader.beginSweep();
    const run = this.listTree("run");
    const cfg = this.listTree("config");
    const ids = [...new Set([...run.ids, ...cfg.ids])].sort();
    const inRun = new Set(run.ids);
    const inCfg = new Set(cfg.ids);
    const { pods, retried } = await this.readPods(ids, false, (id) => ({
      run: run.listable ? inRun.has(id) : null,
      config: cfg.listable ? inCfg.has(id) : null,
    }));
    this.loader.endSweep();
    return this.finish("full", started, pods, [run, cfg], retried);
  }

  private async incrementalScan(ids: readonly string[], prev: Snapshot): Promise<Snapshot> {
    const started = this.now();
    this.loader.resetCounters();
    const valid = ids.filter((id) => validateId(id).ok);
    const { pods: fresh, retried } = await this.readPods(valid, true, () => null);
    const byId = new Map(prev.pods.map((p) => [p.id, p]));
    const found = new Set(fresh.map((p) => p.id));
    for (const id of valid) {
      if (found.has(id)) continue;
      byId.delete(id); // gone from both trees
      this.loader.forgetUnder(`${TREE_DIRS.run}/${id}`);
      this.loader.forgetUnder(`${TREE_DIRS.config}/${id}`);
    }
    for (const p of fresh) byId.set(p.id, p);
    const pods = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const trees = [this.listTree("run"), this.listTree("config")];
    return this.finish("incremental", started, pods, trees, retried);
  }

  private async readPods(
    ids: readonly string[],
    force: boolean,
    listed: (id: string) => Listed | null,
  ): Promise<{ pods: PodRecord[]; retried: number }> {
    const pods = new Map<string, PodRecord>();
    const retry: string[] = [];
    let lastYield = this.now();
    for (const id of ids) {
      const prev = this.previous.get(id) ?? null;
      const { record, transient } = scanPod(this.loader, this.opts.hostRoot, id, force, listed(id), prev);
      if (record !== null) pods.set(id, record);
      if (transient) retry.push(id);
      if (this.now() - lastYield > 10) {
        await yieldLoop();
        lastYield = this.now();
      }
    }
    if (retry.length > 0) {
      // The runtime truncates and rewrites in place: give a half-written file one more chance.
      await this.delay(this.retryDelayMs);
      for (const id of retry) {
        const { record } = scanPod(this.loader, this.opts.hostRoot, id, true, listed(id));
        if (record === null) pods.delete(id);
        else pods.set(id, record);
      }
    }
    return { pods: [...pods.values()], retried: retry.length };
  }

  private listTree(tree: Tree): TreeListing {
    const rel = TREE_DIRS[tree];
    const abs = posix.join(this.opts.hostRoot, rel);
    const target = { rel };
    const status = (present: boolean, problem: FileProblem | null): TreeStatus => ({
      tree,
      path: rel,
      present,
      problem,
    });
    const st = statEntry(abs);
    if (!st.ok) {
      if (st.reason === "missing")
        return { status: status(false, null), listable: true, ids: [], problems: [] };
      const p = treeProblem(target, st.reason, st.message);
      return { status: status(false, p), listable: false, ids: [], problems: [p] };
    }
    if (st.kind !== "dir") {
      const p = treeProblem(
        target,
        st.kind === "symlink" ? "symlink" : "not_directory",
        `tree root is a ${st.kind}`,
      );
      // Never read through a symlinked or non-directory root: its pods are absent.
      return { status: status(false, p), listable: true, ids: [], problems: [p] };
    }
    const list = listDir(abs);
    if (!list.ok) {
      const p = treeProblem(target, list.reason, list.message);
      return { status: status(false, p), listable: false, ids: [], problems: [p] };
    }
    const ids: string[] = [];
    const problems: FileProblem[] = [];
    for (const e of list.entries) {
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
    return { status: status(true, null), listable: true, ids, problems };
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
    const snapshot: Snapshot = {
      hostRoot: this.opts.hostRoot,
      takenAt: end / 1000,
      trees: trees.map((t) => t.status),
      pods,
      problems: trees.flatMap((t) => t.problems),
      stats: { kind, ...c, retried, durationSeconds: Math.max(0, end - started) / 1000 },
    };
    this.last = snapshot;
    this.previous = new Map(pods.map((p) => [p.id, p]));
    return snapshot;
  }
}

function treeProblem(
  t: { rel: string },
  reason: FileProblem["reason"],
  message: string,
  file: FileProblem["file"] = "tree",
): FileProblem {
  return { file, path: t.rel, podId: null, containerId: null, reason, message, stale: false };
}
