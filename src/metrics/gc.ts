/** Metrics of garbage collection, in the exporter's private registry. */
import { Counter, Gauge, type Registry } from "prom-client";
import { GC_MODES, SKIP_REASONS, type GcMode, type SkipReason } from "../gc/plan.js";
import { TOMBSTONE_ERROR_REASONS, type TombstoneErrorReason } from "../gc/tombstone.js";

export type GcTree = "run" | "config";
export type GcDeletionMode = "live" | "dry_run";

export class GcMetrics {
  private readonly mode: Gauge;
  readonly runs: Counter;
  readonly lastRun: Gauge;
  private readonly deletions: Counter;
  private readonly skipped: Counter;
  readonly errors: Counter;
  readonly circuitOpen: Gauge;
  readonly tombstones: Gauge;
  private readonly tombstoneErrors: Counter;

  constructor(registry: Registry, mode: GcMode) {
    const registers = [registry];
    this.mode = new Gauge({
      name: "virtcontainers_gc_mode",
      help: "Garbage collection mode: off, dry_run (decide and report, delete nothing) or on (1 for the current mode).",
      labelNames: ["mode"],
      registers,
    });
    for (const m of GC_MODES) this.mode.set({ mode: m.replace("-", "_") }, m === mode ? 1 : 0);
    this.runs = new Counter({
      name: "virtcontainers_gc_runs_total",
      help: "Garbage collection runs.",
      registers,
    });
    this.lastRun = new Gauge({
      name: "virtcontainers_gc_last_run_timestamp_seconds",
      help: "Time the last garbage collection run finished, Unix seconds.",
      registers,
    });
    this.deletions = new Counter({
      name: "virtcontainers_gc_deletions_total",
      help: "Orphan pod directories deleted, i.e. renamed to tombstones (mode live), or that would have been deleted (mode dry_run), by tree (run or config).",
      labelNames: ["tree", "mode"],
      registers,
    });
    for (const tree of ["run", "config"]) {
      for (const m of ["live", "dry_run"]) this.deletions.inc({ tree, mode: m }, 0);
    }
    this.skipped = new Counter({
      name: "virtcontainers_gc_skipped_total",
      help: "Orphans (or whole runs) not deleted, by the first rule that held them back.",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of SKIP_REASONS) this.skipped.inc({ reason }, 0);
    this.errors = new Counter({
      name: "virtcontainers_gc_errors_total",
      help: "Deletions that failed (the pod is left whole and retried next run).",
      registers,
    });
    this.circuitOpen = new Gauge({
      name: "virtcontainers_gc_circuit_open",
      help: "1 when the last run found more orphans than --gc-max-orphan-fraction allows and deleted nothing.",
      registers,
    });
    this.circuitOpen.set(0);
    this.tombstones = new Gauge({
      name: "virtcontainers_gc_tombstones",
      help: "Deleted pod directories (renamed to dot-named tombstones in their tree root) not removed yet, after the last sweep.",
      registers,
    });
    this.tombstones.set(0);
    this.tombstoneErrors = new Counter({
      name: "virtcontainers_gc_tombstone_errors_total",
      help: "Tombstones a sweep could not remove (retried every run), by reason: delete_failed, unsafe_path or changed.",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of TOMBSTONE_ERROR_REASONS) this.tombstoneErrors.inc({ reason }, 0);
  }

  tombstoneError(reason: TombstoneErrorReason): void {
    this.tombstoneErrors.inc({ reason });
  }

  deleted(tree: GcTree, mode: GcDeletionMode): void {
    this.deletions.inc({ tree, mode });
  }

  skip(reason: SkipReason): void {
    this.skipped.inc({ reason });
  }
}
