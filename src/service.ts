/**
 * The exporter service: scanner + watcher + rendered-output cache, with an explicit
 * lifecycle. The constructor does nothing active; start() runs the first scan.
 */
import type { Logger } from "./log.js";
import { ExpositionCache } from "./metrics/cache.js";
import { SNAPSHOT_COLLECTORS } from "./metrics/collectors/index.js";
import { SelfMetrics } from "./metrics/self.js";
import { Scanner } from "./scan/scanner.js";
import { allProblems, type Snapshot } from "./scan/snapshot.js";
import { TreeWatcher } from "./scan/watcher.js";

export interface ServiceOptions {
  readonly hostRoot: string;
  readonly nodeName: string;
  readonly resyncIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly watch: "inotify" | "polling";
  readonly maxFileBytes: number;
  readonly collectors: readonly string[];
  readonly log: Logger;
  /** Watcher timings (tests shorten them). */
  readonly debounceMs?: number;
  readonly rootCheckMs?: number;
}

export class ExporterService {
  readonly self: SelfMetrics;
  readonly cache: ExpositionCache;
  private readonly scanner: Scanner;
  private watcher: TreeWatcher | null = null;
  private timers: NodeJS.Timeout[] = [];
  private problemKeys = new Set<string>();
  private current: Snapshot | null = null;
  private stopped = false;
  private watchSynced = false;

  constructor(private readonly opts: ServiceOptions) {
    this.self = new SelfMetrics(opts.nodeName);
    this.cache = new ExpositionCache(
      SNAPSHOT_COLLECTORS.filter((c) => opts.collectors.includes(c.name)),
      this.self,
    );
    this.scanner = new Scanner({ hostRoot: opts.hostRoot, maxFileBytes: opts.maxFileBytes });
  }

  get ready(): boolean {
    return this.current !== null;
  }

  get snapshot(): Snapshot | null {
    return this.current;
  }

  /** Resolves once changes are followed: /readyz turns ready after the first scan, before that. */
  async start(): Promise<void> {
    await this.run("full", () => this.scanner.scan());
    if (this.opts.watch === "inotify") {
      await this.startWatcher();
      if (this.current !== null) this.watcher?.sync(this.current);
      this.watchSynced = true;
      // Changes made after the first scan but before the watches were in place raised no
      // event: a stat-only rescan catches them (unchanged files are not re-read).
      await this.run("full", () => this.scanner.scan());
    } else this.startPolling("--watch polling");
    if (this.stopped) return;
    this.every(this.opts.resyncIntervalMs, () => this.run("full", () => this.scanner.scan()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.watcher?.stop();
  }

  private startWatcher(): Promise<void> {
    const log = this.opts.log;
    this.watcher = new TreeWatcher({
      hostRoot: this.opts.hostRoot,
      debounceMs: this.opts.debounceMs,
      rootCheckMs: this.opts.rootCheckMs,
      events: {
        hints: (ids) => void this.run("incremental", () => this.scanner.scanPods(ids)),
        resync: (reason) => {
          log.info({ reason }, "tree changed wholesale; full rescan");
          void this.run("full", () => this.scanner.scan());
        },
        fallback: (reason, error) => {
          this.self.watchErrors.inc();
          log.warn({ reason, err: error }, "file watching failed; falling back to polling");
          this.startPolling(reason);
        },
        error: (error) => {
          this.self.watchErrors.inc();
          log.warn({ err: error }, "file watcher error");
        },
      },
    });
    return this.watcher.start();
  }

  private startPolling(reason: string): void {
    this.self.setWatchMode("polling");
    this.opts.log.info({ reason, pollIntervalMs: this.opts.pollIntervalMs }, "polling the trees");
    this.every(this.opts.pollIntervalMs, () => this.run("full", () => this.scanner.scan()));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => void fn(), ms);
    t.unref();
    this.timers.push(t);
  }

  private async run(kind: "full" | "incremental", scan: () => Promise<Snapshot>): Promise<void> {
    if (this.stopped) return;
    let snapshot: Snapshot;
    try {
      snapshot = await scan();
    } catch (err: unknown) {
      this.self.scanErrors.inc();
      this.opts.log.error({ err, kind }, "scan failed; keeping the last snapshot");
      return;
    }
    this.apply(snapshot);
  }

  private apply(snapshot: Snapshot): void {
    this.self.recordScan(snapshot.stats, snapshot.takenAt);
    this.countNewProblems(snapshot);
    for (const f of this.cache.update(snapshot)) {
      this.opts.log.error({ collector: f.collector, err: f.error }, "collector failed");
    }
    this.current = snapshot;
    this.opts.log.debug({ stats: snapshot.stats, pods: snapshot.pods.length }, "snapshot updated");
    this.followWatches(snapshot);
  }

  /** Watch the directories of the new snapshot; pods watched for the first time are re-read once. */
  private followWatches(snapshot: Snapshot): void {
    if (this.watcher === null || !this.watchSynced) return;
    const added = this.watcher.sync(snapshot);
    this.self.watchedDirectories.set(this.watcher.watchCount);
    if (added.size > 0) void this.run("incremental", () => this.scanner.scanPods(added));
  }

  /** A problem that persists across scans is counted (and logged) once. */
  private countNewProblems(snapshot: Snapshot): void {
    const keys = new Set<string>();
    for (const p of allProblems(snapshot)) {
      const key = `${p.path}\0${p.reason}`;
      keys.add(key);
      if (this.problemKeys.has(key)) continue;
      this.self.parseErrors.inc({ file: p.file, reason: p.reason });
      this.opts.log.warn(
        { path: p.path, podId: p.podId, file: p.file, reason: p.reason, detail: p.message, stale: p.stale },
        "state file problem",
      );
    }
    this.problemKeys = keys;
  }
}
