/**
 * A GC runner on a real tree for the disk-side tests: real scanner, matcher, locks (flock),
 * /proc (the real one, or a fake tree where the host's PIDs are not visible), reaper and
 * tombstone sweeper; the API answers "no pods" (every sandbox is an orphan).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import type { GcMode } from "../../../src/gc/plan.js";
import { GcRunner, type ProcessChecks, type RunReport } from "../../../src/gc/runner.js";
import { matchPods } from "../../../src/kube/match.js";
import { GcMetrics } from "../../../src/metrics/gc.js";
import { Scanner } from "../../../src/scan/scanner.js";

export interface Harness {
  readonly runner: GcRunner;
  readonly registry: Registry;
  run(): Promise<RunReport>;
}

export interface HarnessOptions {
  readonly host: string;
  readonly proc: string;
  readonly mode?: GcMode;
  readonly processChecks?: ProcessChecks;
  readonly graceMs?: number;
  readonly now?: () => number;
  readonly monotonic?: () => number;
}

export function harness(o: HarnessOptions): Harness {
  const scanner = new Scanner({ hostRoot: o.host });
  const registry = new Registry();
  const mode = o.mode ?? "on";
  const runner = new GcRunner({
    hostRoot: o.host,
    procRoot: o.proc,
    processChecks: o.processChecks ?? "auto",
    policy: { mode, graceMs: o.graceMs ?? 0, maxDeletionsPerRun: 50, maxOrphanFraction: 1 },
    api: {
      listNodePods: () => Promise.resolve({ items: [], resourceVersion: "1" }),
      getNode: () => Promise.resolve({ name: "node-a", uid: "u" }),
      createNodeEvent: () => Promise.resolve(),
    },
    nodeName: "node-a",
    rescan: async (id) => (await scanner.scanPods([id])).pods.find((p) => p.id === id) ?? null,
    log: pino({ level: "silent" }),
    metrics: new GcMetrics(registry, mode),
    ...(o.now === undefined ? {} : { now: o.now }),
    ...(o.monotonic === undefined ? {} : { monotonic: o.monotonic }),
  });
  return {
    runner,
    registry,
    run: async () => {
      const snapshot = await scanner.scan();
      return runner.run({
        snapshot,
        matches: matchPods({ snapshot, pods: [] }),
        viewUsable: true,
        node: { name: "node-a", uid: "u" },
      });
    },
  };
}

/** A fake /proc where the host's PID namespace is NOT visible (no kthreadd): a pod without hostPID. */
export function hiddenProc(dir: string): string {
  for (const d of ["self", "1"]) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, "mountinfo"), "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
  }
  return dir;
}

/** Outcome and reason per pod ID. */
export function outcomes(r: RunReport): Record<string, string> {
  return Object.fromEntries(r.decisions.map((d) => [d.podId, `${d.outcome}:${d.reason ?? ""}`]));
}

/** The tree roots of every layout (run, config, VM), relative to the host root. */
const ROOTS = [
  "run/virtcontainers/pods",
  "var/lib/virtcontainers/pods",
  "run/virtcontainers/sandboxes",
  "var/lib/virtcontainers/sandboxes",
  "run/vc/sbs",
  "var/lib/vc/sbs",
  "run/vc/vm",
];

/** Dot-named entries (tombstones) left in every tree root of `host`. */
export function tombstones(host: string): string[] {
  return ROOTS.flatMap((rel) => {
    const root = join(host, rel);
    try {
      return readdirSync(root)
        .filter((n) => n.startsWith("."))
        .map((n) => join(root, n));
    } catch {
      return [];
    }
  });
}

/** A metric's value in the registry (0 when absent). */
export async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/**
 * A real process whose command line is `argv0 ... args` (bash's exec -a; `sleep 600; :` keeps
 * bash from exec'ing sleep, which would lose the arguments). Resolves once /proc shows them.
 */
export async function fakeProcess(argv0: string, args: readonly string[]): Promise<ChildProcess> {
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("bash", ["-c", `exec -a '${argv0}' bash -c 'sleep 600; :' x ${quoted}`], {
    stdio: "ignore",
  });
  const want = args.at(-1) ?? argv0;
  for (let i = 0; i < 500; i++) {
    try {
      if (child.pid !== undefined && readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes(want))
        return child;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  throw new Error("the fake process never showed its command line");
}

/** Hold an exclusive flock on `path` from another process (as the runtime does) until killed. */
export async function holdLock(path: string): Promise<ChildProcess> {
  const holder = spawn("flock", ["--exclusive", "--no-fork", path, "sleep", "600"], { stdio: "ignore" });
  for (let i = 0; i < 500; i++) {
    if (spawnSync("flock", ["--exclusive", "--nonblock", path, "true"]).status !== 0) return holder;
    await new Promise((r) => setTimeout(r, 10));
  }
  holder.kill("SIGKILL");
  throw new Error(`the lock on ${path} was never taken`);
}
