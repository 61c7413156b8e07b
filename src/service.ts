/**
 * The exporter service: scanner + watcher + rendered-output cache, with an explicit
 * lifecycle. The constructor does nothing active; start() runs the first scan.
 */
import { GcRunner, type ProcessChecks, type RunReport } from "./gc/runner.js";
import type { KubernetesSummary } from "./http/app.js";
import type { GcPolicy } from "./gc/plan.js";
import type { KubeApi, SelfPod } from "./kube/api.js";
import { enrichSnapshot } from "./kube/enrich.js";
import { Kubernetes, type KubernetesOptions } from "./kube/kubernetes.js";
import { isCollectable, matchPods, type PodMatch } from "./kube/match.js";
import { LAYOUT_NAMES, TREE_SETS, type LayoutName, type TreeSet } from "./format/layout.js";
import type { Logger } from "./log.js";
import { ExpositionCache } from "./metrics/cache.js";
import { ALL_COLLECTORS } from "./metrics/collectors/index.js";
import type { RenderContext } from "./metrics/exposition.js";
import { GcMetrics } from "./metrics/gc.js";
import { ProcessSamplingMetrics } from "./metrics/process-sampling.js";
import { SelfMetrics } from "./metrics/self.js";
import { PodProcesses, type ProcessErrorReason } from "./scan/pod-processes.js";
import { detectPageSize, hostProcVisibility } from "./scan/procfs.js";
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
  /** The layouts to read (default all). */
  readonly layouts?: readonly LayoutName[];
  /** Watcher timings (tests shorten them). */
  readonly debounceMs?: number;
  readonly rootCheckMs?: number;
  /** The Kubernetes pod view; null or absent: off. */
  readonly kubernetes?: KubernetesServiceOptions | null;
  /** Garbage collection (needs `kubernetes`); null or absent, or mode off: no GC runs. */
  readonly gc?: GcServiceOptions | null;
  /** The `processes` collector's sampling (used when `collectors` has it). */
  readonly processes?: ProcessServiceOptions | null;
}

export interface ProcessServiceOptions {
  readonly procRoot: string;
  readonly intervalMs: number;
  /** statm's page size; default: the running kernel's. */
  readonly pageSize?: number;
}

/** The `processes` collector for the landing page. */
export type ProcessesSummary =
  | { readonly state: "off" | "not_visible" | "starting" }
  | { readonly state: "on"; readonly pods: number; readonly processes: number; readonly takenAt: number };

export interface KubernetesServiceOptions extends Pick<KubernetesOptions, "clock" | "view" | "nodeRetryMs"> {
  readonly api: KubeApi;
}

export interface GcServiceOptions {
  readonly policy: GcPolicy;
  readonly intervalMs: number;
  readonly processChecks: ProcessChecks;
  readonly procRoot: string;
  /** The exporter's own pod (downward API): see GcRunnerOptions.self. */
  readonly self?: SelfPod | null;
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
  /** Changes are followed (watches in place and the catch-up scan done, or polling started). */
  private following = false;
  readonly kube: Kubernetes | null;
  readonly gc: GcRunner | null;
  private context: RenderContext = { matches: null };
  private matchTimer: NodeJS.Timeout | null = null;
  private gcRunning: Promise<RunReport | null> | null = null;
  private podProcesses: PodProcesses | null = null;
  private processMetrics: ProcessSamplingMetrics | null = null;
  private processState: ProcessesSummary = { state: "off" };
  private sampling: Promise<void> | null = null;
  private readonly loggedProcessErrors = new Set<ProcessErrorReason>();

  constructor(private readonly opts: ServiceOptions) {
    this.self = new SelfMetrics(opts.nodeName);
    const kubeOpts = opts.kubernetes ?? null;
    this.cache = new ExpositionCache(
      ALL_COLLECTORS.filter(
        (c) => opts.collectors.includes(c.name) && (kubeOpts !== null || c.needsKubernetes !== true),
      ),
      this.self,
    );
    this.scanner = new Scanner({
      hostRoot: opts.hostRoot,
      maxFileBytes: opts.maxFileBytes,
      layouts: opts.layouts,
    });
    this.kube =
      kubeOpts === null
        ? null
        : new Kubernetes({
            ...kubeOpts,
            nodeName: opts.nodeName,
            log: opts.log,
            registry: this.self.registry,
            onChange: () => {
              this.scheduleMatch();
            },
          });
    const gcOpts = opts.gc ?? null;
    const gcMetrics = new GcMetrics(this.self.registry, gcOpts?.policy.mode ?? "off");
    this.gc =
      gcOpts === null || gcOpts.policy.mode === "off" || kubeOpts === null
        ? null
        : new GcRunner({
            hostRoot: opts.hostRoot,
            procRoot: gcOpts.procRoot,
            processChecks: gcOpts.processChecks,
            policy: gcOpts.policy,
            api: kubeOpts.api,
            nodeName: opts.nodeName,
            log: opts.log.child({ component: "gc" }),
            metrics: gcMetrics,
            self: gcOpts.self ?? null,
            rescan: async (podId) => {
              const snapshot = await this.scanner.scanPods([podId]);
              this.apply(snapshot);
              return snapshot.pods.find((p) => p.id === podId) ?? null;
            },
          });
  }

  /** For the landing page: null with Kubernetes off. */
  get kubernetesSummary(): KubernetesSummary | null {
    if (this.kube === null) return null;
    return {
      synced: this.kube.pods() !== null,
      nodeConfirmed: this.kube.confirmedNode !== null,
      orphans: this.context.matches?.filter((m) => isCollectable(m.status)).length ?? 0,
      gcMode: this.opts.gc?.policy.mode ?? "off",
    };
  }

  /** For the landing page. */
  get processesSummary(): ProcessesSummary {
    return this.processState;
  }

  /** The current Kubernetes matches (one per snapshot pod), or null with Kubernetes off. */
  get matches(): readonly PodMatch[] | null {
    return this.context.matches;
  }

  /** Ready means watching and rendered: the first scan is served and later changes are followed. */
  get ready(): boolean {
    return this.current !== null && this.following;
  }

  get snapshot(): Snapshot | null {
    return this.current;
  }

  /** Resolves once changes are followed; /readyz turns ready then, not at the first scan. */
  async start(): Promise<void> {
    this.kube?.start();
    await this.run("full", () => this.scanner.scan());
    const first = this.current;
    if (first !== null && !first.trees.some((t) => t.present)) {
      this.opts.log.warn(
        { hostRoot: first.hostRoot, expected: first.trees.map((t) => t.path) },
        "none of the state trees was found under the host root: is --host-root the node's filesystem, " +
          "mounted with its state trees? (virtcontainers_state_tree_present shows each tree)",
      );
    }
    if (this.opts.watch === "inotify") {
      await this.startWatcher();
      if (this.current !== null) this.watcher?.sync(this.current);
      this.watchSynced = true;
      // Changes made after the first scan but before the watches were in place raised no
      // event: a stat-only rescan catches them (unchanged files are not re-read).
      await this.run("full", () => this.scanner.scan());
    } else this.startPolling("--watch polling");
    this.following = true;
    if (this.stopped) return;
    this.every(this.opts.resyncIntervalMs, () => this.run("full", () => this.scanner.scan()));
    // Freshness changes with time alone (a view with no contact goes stale): match again often.
    if (this.kube !== null) {
      this.every(5000, () => {
        if (this.current !== null) this.render(this.current);
        return Promise.resolve();
      });
    }
    this.startProcesses();
    const gcOpts = this.opts.gc;
    if (this.gc !== null && gcOpts) {
      this.every(gcOpts.intervalMs, async () => {
        await this.runGc();
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.matchTimer !== null) clearTimeout(this.matchTimer);
    this.gc?.stop();
    await Promise.all([this.watcher?.stop(), this.kube?.stop(), this.gcRunning, this.sampling]);
  }

  /**
   * One GC run over the current snapshot (runs never overlap: a call during a run waits for it).
   * Null when GC is off or before the first scan.
   */
  async runGc(): Promise<RunReport | null> {
    if (this.gcRunning !== null) return this.gcRunning;
    const run = async (): Promise<RunReport | null> => {
      const gc = this.gc;
      const kube = this.kube;
      const snapshot = this.current;
      if (gc === null || kube === null || snapshot === null || this.stopped) return null;
      const pods = kube.pods();
      const report = await gc.run({
        snapshot,
        matches: matchPods({ snapshot, pods }),
        viewUsable: pods !== null,
        node: kube.confirmedNode,
      });
      if (report.nodeGone) kube.node.invalidate();
      if (report.decisions.some((d) => d.outcome === "deleted"))
        await this.run("full", () => this.scanner.scan());
      return report;
    };
    this.gcRunning = run().finally(() => {
      this.gcRunning = null;
    });
    return this.gcRunning;
  }

  /**
   * The processes collector: on when asked for and the host's PID namespace is visible (said
   * once in the log otherwise); a first sample now, then one every interval.
   */
  private startProcesses(): void {
    const p = this.opts.processes ?? null;
    if (p === null || !this.opts.collectors.includes("processes") || this.stopped) return;
    if (hostProcVisibility({ root: p.procRoot }) !== "visible") {
      this.processState = { state: "not_visible" };
      this.opts.log.warn(
        { procRoot: p.procRoot },
        "collector processes: the host's PID namespace is not visible (run with hostPID); no process metrics",
      );
      return;
    }
    this.processState = { state: "starting" };
    this.processMetrics = new ProcessSamplingMetrics(this.self.registry);
    this.podProcesses = new PodProcesses({
      procRoot: p.procRoot,
      hostRoot: this.opts.hostRoot,
      pageSize: p.pageSize ?? detectPageSize(),
    });
    void this.sampleProcesses();
    this.every(p.intervalMs, () => this.sampleProcesses());
  }

  /**
   * One process sample of the current snapshot's pods, rendered into the cache. Samples never
   * overlap: a call during one waits for it.
   */
  async sampleProcesses(): Promise<void> {
    this.sampling ??= this.sampleOnce().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async sampleOnce(): Promise<void> {
    const tracker = this.podProcesses;
    const snapshot = this.current;
    if (tracker === null || snapshot === null || this.stopped) return;
    const sample = await tracker.sample(snapshot);
    if (this.stopped) return;
    this.processMetrics?.record(sample);
    for (const [reason, detail] of sample.errorDetails) {
      const first = !this.loggedProcessErrors.has(reason);
      this.loggedProcessErrors.add(reason);
      this.opts.log[first ? "warn" : "debug"]({ reason, detail }, "collector processes: a /proc read failed");
    }
    for (const f of this.cache.updateSample(sample))
      this.opts.log.error({ collector: f.collector, err: f.error }, "collector failed");
    let processes = 0;
    for (const roles of sample.pods.values()) for (const u of roles.values()) processes += u.processes;
    this.processState = { state: "on", pods: sample.pods.size, processes, takenAt: Date.now() / 1000 };
  }

  /** Kubernetes changed: match again soon (changes come in bursts). */
  private scheduleMatch(): void {
    if (this.matchTimer !== null || this.stopped) return;
    this.matchTimer = setTimeout(() => {
      this.matchTimer = null;
      if (this.current !== null) this.render(this.current);
    }, 100);
    this.matchTimer.unref();
  }

  /** Match (with Kubernetes on) and render the snapshot. */
  private render(snapshot: Snapshot): void {
    let ctx = this.context;
    if (this.kube !== null) {
      const matches = matchPods({ snapshot, pods: this.kube.pods() });
      if (!sameMatches(ctx.matches, matches)) ctx = { matches };
    }
    this.context = ctx;
    for (const f of this.cache.update(enrichSnapshot(snapshot, ctx.matches), ctx)) {
      this.opts.log.error({ collector: f.collector, err: f.error }, "collector failed");
    }
  }

  private startWatcher(): Promise<void> {
    const log = this.opts.log;
    this.watcher = new TreeWatcher({
      sets: setsFor(this.opts.layouts),
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
    this.render(snapshot);
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

function sameMatches(a: readonly PodMatch[] | null, b: readonly PodMatch[]): boolean {
  if (a === null || a.length !== b.length) return false;
  return a.every((m, i) => {
    const n = b[i];
    return (
      n !== undefined &&
      m.podId === n.podId &&
      m.status === n.status &&
      m.reason === n.reason &&
      m.namespace === n.namespace &&
      m.name === n.name &&
      m.uid === n.uid &&
      m.owner?.uid === n.owner?.uid &&
      m.owner?.namespace === n.owner?.namespace &&
      m.owner?.name === n.owner?.name
    );
  });
}

function setsFor(layouts: readonly LayoutName[] = LAYOUT_NAMES): TreeSet[] {
  return TREE_SETS.filter((t) => t.layouts.some((l) => layouts.includes(l)));
}
