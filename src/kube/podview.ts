/**
 * The pod view of this node: list, then watch, kept alive by hand (the client's informer stops
 * for good after most errors and can stall silently).
 *
 * - After a complete list (every page, list.ts) the view is synced. A watch follows from the
 *   list's resourceVersion.
 * - A watch that ends cleanly (the server's timeoutSeconds) is re-opened from the last
 *   resourceVersion. A 410 (Expired/Gone) relists at once. Any other failure (error event, HTTP
 *   error, reset, a watch that sends nothing past its own timeout: a silent stall) counts a
 *   restart and relists after a capped, jittered backoff.
 * - The view is fresh while the last successful contact (list, watch event, bookmark or clean
 *   watch end) is younger than `staleAfterMs`. Only a synced and fresh view is handed out.
 */
import type { Logger } from "../log.js";
import { describeError, httpStatusOf, type KubeApi, type WatchHandle } from "./api.js";
import { listAllNodePods } from "./list.js";
import { toKubePod, type KubePod } from "./pods.js";

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    }),
  random: () => Math.random(),
};

export interface PodViewOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Server-side watch timeout range (jittered per watch). Default 60–90 s. */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** A watch silent this long past its own timeout is a stall. Default 15 s. */
  readonly stallGraceMs?: number;
  /** Stale after this long without contact. Default 120 s. */
  readonly staleAfterMs?: number;
  /** Items per page of a list (default LIST_PAGE_SIZE). */
  readonly pageSize?: number;
  /** Backoff after failures: base and cap. Default 1 s and 30 s. */
  readonly backoffMs?: readonly [number, number];
  /** Called when the set of pods or the synced state changed. */
  readonly onChange?: () => void;
  readonly onRestart?: (reason: string) => void;
}

export interface PodViewStatus {
  readonly synced: boolean;
  readonly fresh: boolean;
  /** Last successful contact (ms since epoch), or null before the first list. */
  readonly lastContactMs: number | null;
  readonly restarts: number;
}

type WatchEnd = { kind: "clean" } | { kind: "expired" } | { kind: "failed"; error: string };

export class PodView {
  private readonly clock: Clock;
  private readonly store = new Map<string, KubePod>();
  private resourceVersion = "";
  private synced = false;
  private lastContact: number | null = null;
  private restartCount = 0;
  private failures = 0;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private current: WatchHandle | null = null;
  private cached: readonly KubePod[] | null = null;

  constructor(private readonly opts: PodViewOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** Starts the list/watch loop; never throws (failures are retried and reported). */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.current?.abort();
    await this.loop;
  }

  status(): PodViewStatus {
    return {
      synced: this.synced,
      fresh: this.isFresh(),
      lastContactMs: this.lastContact,
      restarts: this.restartCount,
    };
  }

  /** This node's pods when the view is synced and fresh, else null. */
  pods(): readonly KubePod[] | null {
    if (!this.synced || !this.isFresh()) return null;
    this.cached ??= [...this.store.values()].sort((a, b) => a.uid.localeCompare(b.uid));
    return this.cached;
  }

  private isFresh(): boolean {
    return this.lastContact !== null && this.clock.now() - this.lastContact <= this.staleAfterMs;
  }

  private get staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 120_000;
  }

  private contact(): void {
    this.lastContact = this.clock.now();
  }

  private changed(): void {
    this.cached = null;
    this.opts.onChange?.();
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let needList = true;
    while (!signal.aborted) {
      if (needList) {
        const ok = await this.list();
        if (!ok) {
          await this.backoff("list failed");
          continue;
        }
      }
      const startedAt = this.clock.now();
      const end = await this.watchOnce();
      if (signal.aborted) break;
      const lasted = this.clock.now() - startedAt;
      const short = lasted < 1000;
      if (lasted > 30_000) this.failures = 0;
      if (end.kind === "clean" && !short) {
        this.contact();
        this.failures = 0;
        needList = false;
        continue;
      }
      needList = true;
      if (end.kind === "expired") {
        this.restart("watch expired (410): relisting");
        // A 410 right after a fresh list means the server cannot follow us: back off then.
        if (short) await this.backoff("410 storm");
        continue;
      }
      this.restart(end.kind === "clean" ? "watch ended at once" : `watch failed: ${end.error}`);
      await this.backoff(end.kind === "clean" ? "watch ended at once" : end.error);
    }
  }

  private restart(reason: string): void {
    this.restartCount++;
    this.opts.onRestart?.(reason);
    this.opts.log.warn({ reason, restarts: this.restartCount }, "Kubernetes pod watch restarting");
  }

  private async backoff(reason: string): Promise<void> {
    const [base, cap] = this.opts.backoffMs ?? [1000, 30_000];
    const ms = Math.min(cap, base * 2 ** Math.min(this.failures, 16));
    this.failures++;
    const jittered = Math.round(ms * (0.5 + this.clock.random() / 2));
    this.opts.log.debug({ reason, backoffMs: jittered }, "Kubernetes pod view backing off");
    await this.clock.sleep(jittered, this.stopping.signal);
  }

  private async list(): Promise<boolean> {
    try {
      // Every page, or nothing: a list that did not complete leaves the view as it was.
      const list = await listAllNodePods(this.opts.api, this.opts.pageSize);
      this.store.clear();
      for (const raw of list.items) {
        const pod = toKubePod(raw);
        if (pod !== null && pod.nodeName === this.opts.nodeName) this.store.set(pod.uid, pod);
      }
      this.resourceVersion = list.resourceVersion;
      const first = !this.synced;
      this.synced = true;
      this.contact();
      if (first) this.opts.log.info({ pods: this.store.size }, "Kubernetes pod view synced");
      this.changed();
      return true;
    } catch (err: unknown) {
      this.opts.log.warn({ err: describeError(err) }, "listing this node's pods failed");
      return false;
    }
  }

  /** One watch, until it ends; never throws. */
  private watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      const [lo, hi] = this.opts.watchTimeoutSeconds ?? [60, 90];
      const timeoutSeconds = Math.round(lo + (hi - lo) * this.clock.random());
      const stallMs = timeoutSeconds * 1000 + (this.opts.stallGraceMs ?? 15_000);
      let ended = false;
      let handle: WatchHandle | null = null;
      let abortedByUs = false;
      const stall = new AbortController();
      const finish = (end: WatchEnd): void => {
        if (ended) return;
        ended = true;
        stall.abort();
        this.stopping.signal.removeEventListener("abort", onStop);
        if (!abortedByUs) handle?.abort();
        this.current = null;
        resolve(end);
      };
      const onStop = (): void => {
        finish({ kind: "clean" });
      };
      this.stopping.signal.addEventListener("abort", onStop, { once: true });
      // Silent stall: nothing at all (not even the server's own end) past the watch timeout.
      let lastEvent = this.clock.now();
      const watchdog = async (): Promise<void> => {
        while (!ended) {
          await this.clock.sleep(Math.max(1, lastEvent + stallMs - this.clock.now()), stall.signal);
          if (ended) return;
          if (this.clock.now() - lastEvent >= stallMs) {
            finish({ kind: "failed", error: `no watch event for ${Math.round(stallMs / 1000)} s (stalled)` });
            return;
          }
        }
      };
      void watchdog();
      this.opts.api
        .watchNodePods(this.resourceVersion, timeoutSeconds, {
          event: (type, object) => {
            if (ended) return;
            lastEvent = this.clock.now();
            const end = this.apply(type, object);
            if (end !== null) finish(end);
          },
          done: (error) => {
            if (error === null || error === undefined) finish({ kind: "clean" });
            else if (httpStatusOf(error) === 410) finish({ kind: "expired" });
            else finish({ kind: "failed", error: describeError(error) });
          },
        })
        .then(
          (h) => {
            handle = h;
            this.current = h;
            if (ended) {
              abortedByUs = true;
              h.abort();
            } else this.contact(); // the server accepted the watch from our resourceVersion
          },
          (err: unknown) => {
            finish({ kind: "failed", error: describeError(err) });
          },
        );
    });
  }

  /** Apply one watch event; returns how the watch ends when the event ends it. */
  private apply(type: string, object: unknown): WatchEnd | null {
    const rv = resourceVersionOf(object);
    switch (type) {
      case "ADDED":
      case "MODIFIED":
      case "DELETED": {
        const pod = toKubePod(object);
        if (pod === null) return null;
        if (rv !== "") this.resourceVersion = rv;
        this.contact();
        if (type === "DELETED" || pod.nodeName !== this.opts.nodeName) this.store.delete(pod.uid);
        else this.store.set(pod.uid, pod);
        this.changed();
        return null;
      }
      case "BOOKMARK":
        if (rv !== "") this.resourceVersion = rv;
        this.contact();
        return null;
      case "ERROR": {
        const code = httpStatusOf(object);
        return code === 410 ? { kind: "expired" } : { kind: "failed", error: statusMessage(object) };
      }
      default:
        return { kind: "failed", error: `unexpected watch event type "${type.slice(0, 32)}"` };
    }
  }
}

function resourceVersionOf(object: unknown): string {
  if (typeof object !== "object" || object === null) return "";
  const meta = (object as { metadata?: unknown }).metadata;
  if (typeof meta !== "object" || meta === null) return "";
  const rv = (meta as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === "string" ? rv : "";
}

function statusMessage(object: unknown): string {
  if (typeof object !== "object" || object === null) return "watch error event";
  const o = object as { code?: unknown; reason?: unknown; message?: unknown };
  const parts = [o.code, o.reason, o.message].filter((v) => typeof v === "string" || typeof v === "number");
  return `watch error event: ${parts.map(String).join(" ").slice(0, 200)}`;
}
