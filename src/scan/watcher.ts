/**
 * Turns file events in both trees into pod IDs to re-read. One inotify watch per directory
 * (node:fs watch): a watch on a directory reports changes to the files in it, so watching
 * every file, as chokidar does, is not needed (at 1,000 pods chokidar 4 held 75 MiB of heap,
 * 25k watches and needed 8.5 s to start; see docs/layouts.md "File watching").
 *
 * What is watched follows the snapshots (`sync`): each tree root, each pod directory, and
 * in the run tree each container directory (container state files change on their own).
 * Events are hints; the service's periodic full resync catches whatever they miss. Roots
 * that appear after start or are replaced wholesale are noticed by inode every few seconds.
 * When watching fails (the inotify watch limit, ENOSPC) the service falls back to polling.
 */
import { statSync, watch, type FSWatcher } from "node:fs";
import { posix } from "node:path";
import { TREE_SETS, validateId, type Tree, type TreeSet, type TreeSetId } from "../format/layout.js";
import type { Snapshot } from "./snapshot.js";

export interface WatcherEvents {
  /** Pods whose files changed (debounced). */
  hints(podIds: ReadonlySet<string>): void;
  /** Something happened that only a full scan can sort out (a root appeared, vanished or was replaced). */
  resync(reason: string): void;
  /** Watching failed; the service should poll from now on. */
  fallback(reason: string, error: unknown): void;
  error(error: unknown): void;
}

export interface WatcherOptions {
  readonly hostRoot: string;
  readonly events: WatcherEvents;
  /** Coalesce events for this long before reporting hints (default 50 ms). */
  readonly debounceMs?: number;
  /** How often to check that the roots still are what is watched (default 2 s). */
  readonly rootCheckMs?: number;
  /** The tree sets to watch (default all). */
  readonly sets?: readonly TreeSet[];
}

interface Root {
  readonly set: TreeSetId;
  readonly tree: Tree;
  readonly abs: string;
  ino: number | null;
}

const FATAL_CODES = new Set(["ENOSPC", "EMFILE", "ENFILE"]);

export class TreeWatcher {
  private readonly roots: Root[];
  /** Absolute directory path -> its watch. */
  private readonly watches = new Map<string, FSWatcher>();
  private pending = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private rootTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private failed = false;

  constructor(private readonly opts: WatcherOptions) {
    this.roots = (opts.sets ?? TREE_SETS).flatMap((set) =>
      (["run", "config"] as const).map((tree) => ({
        set: set.id,
        tree,
        abs: posix.join(opts.hostRoot, tree === "run" ? set.run : set.config),
        ino: null,
      })),
    );
  }

  get watching(): boolean {
    return !this.failed && !this.stopped;
  }

  /** Number of directories watched (one inotify watch each). */
  get watchCount(): number {
    return this.watches.size;
  }

  /** Watch the tree roots. Pod and container directories follow with `sync`. */
  start(): Promise<void> {
    this.stopped = false;
    this.checkRoots(false);
    this.rootTimer = setInterval(() => {
      this.checkRoots(true);
    }, this.opts.rootCheckMs ?? 2000);
    this.rootTimer.unref();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.rootTimer !== null) clearInterval(this.rootTimer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.rootTimer = null;
    this.debounce = null;
    this.closeUnder(null);
    return Promise.resolve();
  }

  /**
   * Make the watched directories those of the snapshot. Returns the pods whose directories
   * were not watched before: their files may have changed before the watch existed, so the
   * caller re-reads them once.
   */
  sync(snapshot: Snapshot): Set<string> {
    const added = new Set<string>();
    if (!this.watching) return added;
    const wanted = new Set<string>();
    for (const r of this.roots) if (r.ino !== null) wanted.add(r.abs);
    for (const p of snapshot.pods) {
      const run = this.roots.find((r) => r.set === p.treeSet && r.tree === "run");
      const cfg = this.roots.find((r) => r.set === p.treeSet && r.tree === "config");
      if (run?.ino != null && p.presence !== "config_only") {
        wanted.add(posix.join(run.abs, p.id));
        for (const c of p.containers) if (c.inRunTree) wanted.add(posix.join(run.abs, p.id, c.id));
      }
      if (cfg?.ino != null && p.presence !== "run_only") wanted.add(posix.join(cfg.abs, p.id));
    }
    for (const [dir, w] of this.watches) {
      if (!wanted.has(dir)) {
        w.close();
        this.watches.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watches.has(dir)) continue;
      const result = this.add(dir);
      if (result === "fatal") return added;
      const podId = this.podOf(dir);
      // Only a watch that now exists earns a re-read (no rescan loop on an unwatchable dir).
      if (result === "watched" && podId !== null) added.add(podId);
    }
    return added;
  }

  private add(dir: string): "watched" | "failed" | "fatal" {
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (_event, name) => {
        this.onEvent(dir, typeof name === "string" ? name : null);
      });
    } catch (err: unknown) {
      return this.onError(dir, err) ? "failed" : "fatal";
    }
    w.on("error", (err: unknown) => {
      this.onError(dir, err);
    });
    this.watches.set(dir, w);
    return "watched";
  }

  /** The pod a watched directory belongs to (null for a tree root). */
  private podOf(dir: string): string | null {
    for (const r of this.roots) {
      if (!dir.startsWith(`${r.abs}/`)) continue;
      const podId = dir.slice(r.abs.length + 1).split("/")[0] ?? "";
      return validateId(podId).ok ? podId : null;
    }
    return null;
  }

  private onEvent(dir: string, name: string | null): void {
    const root = this.roots.find((r) => r.abs === dir);
    // A dot name in a tree root is no sandbox (the GC's tombstones come and go there): no event.
    if (root !== undefined && name?.startsWith(".") === true) return;
    const podId = root !== undefined ? name : this.podOf(dir);
    if (podId === null || !validateId(podId).ok) {
      // An event on a root without a name: let the root check decide what happened.
      if (root !== undefined) this.checkRoots(true);
      return;
    }
    this.pending.add(podId);
    this.debounce ??= setTimeout(() => {
      this.flush();
    }, this.opts.debounceMs ?? 50);
  }

  private flush(): void {
    this.debounce = null;
    if (this.pending.size === 0 || this.stopped) return;
    const ids = this.pending;
    this.pending = new Set();
    this.opts.events.hints(ids);
  }

  private onError(dir: string, err: unknown): boolean {
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
    if (FATAL_CODES.has(code)) {
      if (!this.failed) {
        this.failed = true;
        this.closeUnder(null);
        this.opts.events.fallback(`file watching failed (${code})`, err);
      }
      return false;
    }
    // The directory went away (or cannot be watched): drop its watch, re-read its pod.
    this.watches.get(dir)?.close();
    this.watches.delete(dir);
    const podId = this.podOf(dir);
    if (podId !== null) this.onEvent(dir, null);
    else if (code !== "ENOENT") this.opts.events.error(err);
    return true;
  }

  /** (Re)attach to roots that appeared or were replaced; detach from roots that vanished. */
  private checkRoots(report: boolean): void {
    if (this.stopped || this.failed) return;
    for (const r of this.roots) {
      const ino = dirInode(r.abs);
      if (ino === r.ino) continue;
      const before = r.ino;
      r.ino = ino;
      this.closeUnder(r.abs);
      if (ino !== null && this.add(r.abs) === "fatal") return;
      if (report) {
        const what = before === null ? "appeared" : ino === null ? "vanished" : "was replaced";
        this.opts.events.resync(`${r.set} ${r.tree} tree root ${what}`);
      }
    }
  }

  /** Close the watches of one root and everything below it (or all of them). */
  private closeUnder(rootAbs: string | null): void {
    for (const [dir, w] of this.watches) {
      if (rootAbs === null || dir === rootAbs || dir.startsWith(`${rootAbs}/`)) {
        w.close();
        this.watches.delete(dir);
      }
    }
  }
}

/** Runs every couple of seconds: a missing root (a node without the runtime) must not throw. */
function dirInode(abs: string): number | null {
  try {
    const st = statSync(abs, { throwIfNoEntry: false });
    return st?.isDirectory() === true ? st.ino : null;
  } catch {
    return null;
  }
}
