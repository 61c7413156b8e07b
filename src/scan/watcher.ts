/**
 * Turns file events in both trees into pod IDs to re-read. Events are hints: a periodic
 * full resync (in the service) catches whatever inotify misses. This also handles roots
 * that appear after start or are replaced wholesale (checked by inode every few seconds),
 * and falls back to polling (periodic stat-only rescans) when watching fails, for example
 * when the inotify watch limit is reached.
 */
import { watch, type FSWatcher } from "chokidar";
import { statSync } from "node:fs";
import { posix } from "node:path";
import { TREE_DIRS, validateId, type Tree } from "../format/layout.js";

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
}

interface RootWatch {
  readonly tree: Tree;
  readonly abs: string;
  watcher: FSWatcher | null;
  ino: number | null;
}

const FATAL_CODES = new Set(["ENOSPC", "EMFILE", "ENFILE"]);

export class TreeWatcher {
  private readonly roots: RootWatch[];
  private pending = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private rootTimer: NodeJS.Timeout | null = null;
  private stopped = true;
  private failed = false;

  constructor(private readonly opts: WatcherOptions) {
    this.roots = (["run", "config"] as const).map((tree) => ({
      tree,
      abs: posix.join(opts.hostRoot, TREE_DIRS[tree]),
      watcher: null,
      ino: null,
    }));
  }

  get watching(): boolean {
    return !this.failed && !this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.checkRoots(false);
    this.rootTimer = setInterval(() => {
      this.checkRoots(true);
    }, this.opts.rootCheckMs ?? 2000);
    this.rootTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rootTimer !== null) clearInterval(this.rootTimer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.rootTimer = null;
    this.debounce = null;
    await Promise.all(this.roots.map((r) => this.close(r)));
  }

  /** (Re)attach to roots that appeared or were replaced; detach from roots that vanished. */
  private checkRoots(report: boolean): void {
    if (this.stopped || this.failed) return;
    for (const r of this.roots) {
      const ino = dirInode(r.abs);
      if (ino === r.ino) continue;
      const before = r.ino;
      r.ino = ino;
      void this.close(r);
      if (ino !== null) this.open(r);
      if (report) {
        const what = before === null ? "appeared" : ino === null ? "vanished" : "was replaced";
        this.opts.events.resync(`${r.tree} tree root ${what}`);
      }
    }
  }

  private open(r: RootWatch): void {
    const w = watch(r.abs, {
      ignoreInitial: true,
      depth: 2,
      followSymlinks: false,
      ignorePermissionErrors: true,
      persistent: true,
      atomic: false,
    });
    w.on("all", (_event, path) => {
      this.onPath(r, path);
    });
    w.on("error", (err: unknown) => {
      this.onError(err);
    });
    r.watcher = w;
  }

  private async close(r: RootWatch): Promise<void> {
    const w = r.watcher;
    r.watcher = null;
    if (w !== null) await w.close();
  }

  private onPath(r: RootWatch, path: string): void {
    const rel = posix.relative(r.abs, path);
    if (rel === "" || rel.startsWith("..")) {
      // The root itself changed (for example it was removed): let the root check decide.
      this.checkRoots(true);
      return;
    }
    const podId = rel.split("/")[0] ?? "";
    if (!validateId(podId).ok) return;
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

  private onError(err: unknown): void {
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
    if (!FATAL_CODES.has(code)) {
      this.opts.events.error(err);
      return;
    }
    if (this.failed) return;
    this.failed = true;
    for (const r of this.roots) void this.close(r);
    this.opts.events.fallback(`file watching failed (${code})`, err);
  }
}

function dirInode(abs: string): number | null {
  try {
    const st = statSync(abs);
    return st.isDirectory() ? st.ino : null;
  } catch {
    return null;
  }
}
