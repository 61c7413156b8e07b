/**
 * The GC plan (pure): snapshot x matches x history x clock x policy -> which orphans may go on
 * to the checks that need the outside world (API re-read, lock, processes, mounts), and why
 * every other orphan is skipped this run. Rules 1, 2 and 4 of docs/gc.md "Garbage collection".
 */
import { isCollectable, type PodMatch } from "../kube/match.js";
import type { PodRecord } from "../scan/snapshot.js";

export type GcMode = "off" | "dry-run" | "on";
export const GC_MODES: readonly GcMode[] = ["off", "dry-run", "on"];

/** Every reason a GC run or an orphan is skipped: the `reason` label of gc_skipped_total. */
export const SKIP_REASONS = [
  // rule 1 (the whole run)
  "view_not_synced",
  "node_not_confirmed",
  // rule 2
  "first_seen",
  "orphan_grace",
  "recently_modified",
  // rule 3
  "owned_by_api",
  "api_unconfirmed",
  "list_incomplete",
  "node_gone",
  "self_pod_absent",
  // rule 4
  "circuit_open",
  "run_limit",
  // rule 5
  "locked",
  "lock_error",
  // rule 6
  "changed",
  // rule 7
  "process_alive",
  "process_unverifiable",
  "processes_not_visible",
  "no_evidence",
  // rule 8
  "mounted",
  "mountinfo_unreadable",
  // rule 9
  "unsafe_path",
  "delete_failed",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface GcPolicy {
  readonly mode: GcMode;
  readonly graceMs: number;
  readonly maxDeletionsPerRun: number;
  readonly maxOrphanFraction: number;
}

/** Per pod ID: when this process first saw it orphaned, in the unbroken run of orphan runs. */
export type OrphanHistory = ReadonlyMap<string, number>;

export interface PlanInput {
  readonly pods: readonly PodRecord[];
  /** Same order and length as `pods`. */
  readonly matches: readonly PodMatch[];
  readonly history: OrphanHistory;
  /** Wall clock, ms since the epoch: file ages compare file mtimes with it. */
  readonly nowMs: number;
  /**
   * Monotonic clock, ms (default `nowMs`): the orphan-since times in `history` are measured by
   * this process on it, so a wall-clock step neither shortens nor stretches the grace period.
   */
  readonly monoMs?: number;
  readonly policy: GcPolicy;
  readonly viewUsable: boolean;
  readonly nodeConfirmed: boolean;
}

export interface Candidate {
  readonly record: PodRecord;
  readonly match: PodMatch;
  /** On the monotonic clock of PlanInput.monoMs. */
  readonly orphanSinceMs: number;
}

export interface Skip {
  readonly podId: string;
  readonly reason: SkipReason;
  readonly detail: string;
}

export interface Plan {
  /** Rule 1 failed: nothing else was considered. */
  readonly blocked: SkipReason | null;
  readonly orphans: number;
  /** Pods with a Kubernetes owner or none (matched + orphan). */
  readonly managed: number;
  readonly fraction: number;
  /** Rule 4: the orphan fraction is above the limit; nothing may be deleted this run. */
  readonly circuitOpen: boolean;
  /** In order: longest-orphaned first. They still face rules 3 to 9. */
  readonly candidates: readonly Candidate[];
  readonly skips: readonly Skip[];
  readonly history: OrphanHistory;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

export function planRun(input: PlanInput): Plan {
  const { nowMs, policy } = input;
  const monoMs = input.monoMs ?? nowMs;
  const history = new Map<string, number>();
  let orphans = 0;
  let managed = 0;
  const eligible: Candidate[] = [];
  const skips: Skip[] = [];
  input.pods.forEach((record, i) => {
    const match = input.matches[i];
    if (match === undefined || match.podId !== record.id) throw new Error("matches do not follow pods");
    if (match.status === "matched" || isCollectable(match.status)) managed++;
    if (!isCollectable(match.status)) return;
    orphans++;
    const previous = input.history.get(record.id);
    const since = previous ?? monoMs;
    history.set(record.id, since);
    if (previous === undefined) {
      skips.push({ podId: record.id, reason: "first_seen", detail: "orphan for the first time this run" });
    } else if (monoMs - since < policy.graceMs) {
      skips.push({
        podId: record.id,
        reason: "orphan_grace",
        detail: `orphan for ${seconds(monoMs - since)} of ${seconds(policy.graceMs)}`,
      });
    } else if (nowMs - record.newestMtimeMs < policy.graceMs) {
      skips.push({
        podId: record.id,
        reason: "recently_modified",
        detail: `newest file ${seconds(nowMs - record.newestMtimeMs)} old, grace ${seconds(policy.graceMs)}`,
      });
    } else eligible.push({ record, match, orphanSinceMs: since });
  });
  const fraction = managed === 0 ? 0 : orphans / managed;
  const blocked: SkipReason | null = !input.viewUsable
    ? "view_not_synced"
    : !input.nodeConfirmed
      ? "node_not_confirmed"
      : null;
  eligible.sort((a, b) => a.orphanSinceMs - b.orphanSinceMs || a.record.id.localeCompare(b.record.id));
  return {
    blocked,
    orphans,
    managed,
    fraction,
    circuitOpen: fraction > policy.maxOrphanFraction,
    candidates: blocked === null ? eligible : [],
    skips: blocked === null ? skips : [],
    history,
  };
}
