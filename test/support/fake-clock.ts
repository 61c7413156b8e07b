/** A manual clock for the pod view and node check: time moves only when a test advances it. */
import type { Clock } from "../../src/kube/podview.js";

interface Sleeper {
  readonly until: number;
  readonly resolve: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private sleepers: Sleeper[] = [];
  /** Every sleep asked for, in ms (backoff tests read it). */
  readonly sleeps: number[] = [];

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  random(): number {
    return 1; // no jitter: backoff = the full step; watch timeout = the top of its range
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const s: Sleeper = { until: this.t + ms, resolve };
      this.sleepers.push(s);
      signal.addEventListener(
        "abort",
        () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Move time forward by `ms`, waking sleepers in order and letting promise chains run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = this.sleepers.filter((s) => s.until <= end).sort((a, b) => a.until - b.until)[0];
      if (next === undefined) break;
      this.t = Math.max(this.t, next.until);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.t = end;
    await flush();
  }
}

/** Let pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
