/**
 * Tombstones: what a deleted pod's directories become (reaper.entomb renames them, under the
 * runtime's lock) until they are removed. A tombstone is a dot-named directory directly in the
 * tree root it came from (`.vce-tombstone.<pod id>.<part>.<unique>`), so the runtime, the scanner
 * and the watcher ignore it, and it outlives a restart: every sweep (each GC run in mode `on`)
 * lists every tree root and removes every tombstone it finds, until none is left.
 *
 * Removal is asynchronous and yields (reaper.removePodDirectory), so a tombstone of 400,000 files
 * never stops /metrics. Two exporters on one node (a rolling update with maxSurge) may sweep the
 * same roots: each tombstone is taken with flock(LOCK_EX|LOCK_NB) on the directory itself first,
 * and one that is busy is left to the other sweeper.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { tryExclusiveLock, type LockOptions, type LockOutcome } from "./guards.js";
import { removePodDirectory, type RemoveOutcome } from "./reaper.js";

export const TOMBSTONE_PREFIX = ".vce-tombstone.";

/** Why a tombstone could not be removed: the `reason` label of gc_tombstone_errors_total. */
export const TOMBSTONE_ERROR_REASONS = ["delete_failed", "unsafe_path", "changed"] as const;
export type TombstoneErrorReason = (typeof TOMBSTONE_ERROR_REASONS)[number];

let sequence = 0;

/** A new tombstone name for the directory `podId` (a valid pod ID, so no "/" and no NUL). */
export function tombstoneName(podId: string, part: string): string {
  sequence = (sequence + 1) % 1_000_000_000;
  const unique = `${process.pid}-${Date.now().toString(36)}-${sequence}-${Math.random().toString(36).slice(2, 8)}`;
  return `${TOMBSTONE_PREFIX}${podId}.${part}.${unique}`;
}

export function isTombstone(name: string): boolean {
  return name.startsWith(TOMBSTONE_PREFIX) && name.length > TOMBSTONE_PREFIX.length;
}

export interface TombstoneFailure {
  readonly path: string;
  readonly reason: TombstoneErrorReason;
  readonly detail: string;
}

export interface SweepReport {
  /** Tombstones removed by this sweep (relocated deep subtrees included). */
  readonly removed: number;
  /** Tombstones another sweeper held. */
  readonly busy: number;
  readonly failures: readonly TombstoneFailure[];
  /** Tombstones present in the roots after the sweep. */
  readonly remaining: number;
}

export interface SweeperOptions {
  /** Absolute tree roots that may hold tombstones (missing ones are fine). */
  readonly roots: () => readonly string[];
  readonly lock?: (path: string, opts?: LockOptions) => Promise<LockOutcome>;
  /** Default /proc/self/mountinfo. */
  readonly mountinfo?: string;
  readonly sliceMs?: number;
  readonly remove?: typeof removePodDirectory;
}

export class TombstoneSweeper {
  private stopped = false;

  constructor(private readonly opts: SweeperOptions) {}

  /** Ends a sweep in progress at its next turn. */
  stop(): void {
    this.stopped = true;
  }

  /** Tombstones present now, over every root. */
  count(): number {
    return this.opts.roots().reduce((n, root) => n + list(root).length, 0);
  }

  async sweep(): Promise<SweepReport> {
    let removed = 0;
    let busy = 0;
    const failures: TombstoneFailure[] = [];
    for (const root of this.opts.roots()) {
      const queue = list(root);
      for (let name = queue.shift(); name !== undefined && !this.stopped; name = queue.shift()) {
        const out = await this.one(root, name, (deeper) => queue.push(deeper));
        if (out === "removed") removed++;
        else if (out === "busy") busy++;
        else if (out !== "absent") failures.push(out);
      }
    }
    return { removed, busy, failures, remaining: this.count() };
  }

  private async one(
    root: string,
    name: string,
    relocated: (name: string) => void,
  ): Promise<"removed" | "busy" | "absent" | TombstoneFailure> {
    const path = join(root, name);
    const lock = await (this.opts.lock ?? tryExclusiveLock)(path, { directory: true });
    if (lock.kind === "busy") return "busy";
    if (lock.kind === "absent") return "absent";
    if (lock.kind === "error")
      return { path, reason: unsafe(path) ? "unsafe_path" : "delete_failed", detail: lock.message };
    try {
      const out = await (this.opts.remove ?? removePodDirectory)({
        treeRoot: root,
        name,
        ...(this.opts.mountinfo === undefined ? {} : { mountinfo: this.opts.mountinfo }),
        ...(this.opts.sliceMs === undefined ? {} : { sliceMs: this.opts.sliceMs }),
        relocate: () => tombstoneName(podOf(name), "deep"),
        onRelocated: relocated,
        aborted: () => this.stopped,
      });
      // Stopped by shutdown: left for the next sweep, like one another sweeper holds.
      if (out.kind === "failed" && out.code === "aborted") return "busy";
      return outcome(path, out);
    } finally {
      lock.lock.release();
    }
  }
}

function outcome(path: string, out: RemoveOutcome): "removed" | "absent" | TombstoneFailure {
  switch (out.kind) {
    case "removed":
      return "removed";
    case "absent":
      return "absent";
    case "refused":
      return { path, reason: "unsafe_path", detail: `refused (${out.reason}) at ${out.path}` };
    case "failed":
      return {
        path,
        reason: out.code === "changed" ? "changed" : "delete_failed",
        detail: `${out.code} at ${out.path}: ${out.message}`,
      };
  }
}

/** A symlink or non-directory with a tombstone's name is not ours: never touched, reported. */
function unsafe(path: string): boolean {
  try {
    const st = lstatSync(path, { throwIfNoEntry: false });
    return st !== undefined && !st.isDirectory();
  } catch {
    return false;
  }
}

/** The pod ID in a tombstone's name (for the name of a relocated part of it). */
function podOf(name: string): string {
  return name.slice(TOMBSTONE_PREFIX.length).split(".")[0] ?? "x";
}

/** Tombstone names in `root`, sorted; none when it cannot be listed (a missing tree). */
function list(root: string): string[] {
  try {
    return readdirSync(root).filter(isTombstone).sort();
  } catch {
    return [];
  }
}
