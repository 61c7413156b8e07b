/**
 * One GC run: the pure plan (rules 1, 2, 4), then for each candidate, in order, the checks that
 * need the outside world (rule 3: a direct API read; rule 5: the runtime's lock; a re-read of
 * the pod under the lock (rule 6); rule 7: live processes; rule 8: mounts) and the deletion (rule 9).
 * `dry-run` goes through exactly the same path and stops before the deletion.
 * Every decision is logged with the pod ID and counted; nothing here throws.
 */
import { lstatSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TREE_SETS, treeSet, type TreeSet } from "../format/layout.js";
import { describeError, type KubeApi, type NodeRef, type SelfPod } from "../kube/api.js";
import { IncompleteListError, listAllNodePods } from "../kube/list.js";
import { isCollectable, matchPods, type PodMatch } from "../kube/match.js";
import { toKubePod, type KubePod } from "../kube/pods.js";
import type { Logger } from "../log.js";
import type { GcMetrics, GcTree } from "../metrics/gc.js";
import type { PodRecord, Snapshot } from "../scan/snapshot.js";
import {
  changedSince,
  findLiveProcesses,
  hostProcVisibility,
  mountsUnder,
  ProcessTable,
  readMountTable,
  tryExclusiveLock,
  type HeldLock,
  type LockOutcome,
  type LockOptions,
} from "./guards.js";
import { planRun, type Candidate, type GcPolicy, type OrphanHistory, type SkipReason } from "./plan.js";
import { entomb, type EntombOutcome } from "./reaper.js";
import { TombstoneSweeper, tombstoneName, type SweepReport } from "./tombstone.js";

export type ProcessChecks = "auto" | "required" | "off";

/** What a deletion removes: the config and run directories, and Kata's VM directory. */
export type FootprintPart = GcTree | "vm";

interface HostView {
  readonly visible: boolean;
  /** Null when the host is not visible or process checks are off. */
  readonly table: ProcessTable | null;
}

export const RUN_TREE = ["run", "virtcontainers", "pods"] as const;
export const CONFIG_TREE = ["var", "lib", "virtcontainers", "pods"] as const;

export interface GcRunnerOptions {
  readonly hostRoot: string;
  readonly procRoot: string;
  readonly processChecks: ProcessChecks;
  readonly policy: GcPolicy;
  readonly api: Pick<KubeApi, "listNodePods" | "getNode" | "createNodeEvent">;
  readonly nodeName: string;
  /** Re-read one pod (under its lock) to see that nothing changed since the plan. */
  readonly rescan: (podId: string) => Promise<PodRecord | null>;
  readonly log: Logger;
  readonly metrics: GcMetrics;
  /** Wall clock, ms (file ages, timestamps). */
  readonly now?: () => number;
  /** Monotonic clock, ms (orphan-since times); default performance.now, or `now` when only that is given (tests). */
  readonly monotonic?: () => number;
  /** Replaceable for tests only. */
  readonly lock?: (path: string, opts?: LockOptions) => Promise<LockOutcome>;
  readonly entomb?: typeof entomb;
  readonly sweeper?: TombstoneSweeper;
  /** Items per page of the direct read (default LIST_PAGE_SIZE). */
  readonly pageSize?: number;
  /**
   * The exporter's own pod (downward API). Given: a run deletes only when the direct list holds
   * it, and the orphan-fraction breaker does not apply. Absent (the gc command outside a pod):
   * the breaker applies.
   */
  readonly self?: SelfPod | null;
}

export interface RunInput {
  readonly snapshot: Snapshot;
  readonly matches: readonly PodMatch[];
  readonly viewUsable: boolean;
  readonly node: NodeRef | null;
}

export type Outcome = "deleted" | "would_delete" | "skipped";

/** Rule 3's direct read: this node's pods and the matches they give, or why there is no evidence. */
type DirectRead =
  | { readonly kind: "failed"; readonly reason: SkipReason; readonly detail: string }
  | {
      readonly kind: "read";
      readonly pods: readonly KubePod[];
      readonly matches: ReadonlyMap<string, PodMatch>;
    };

export interface Decision {
  readonly podId: string;
  readonly outcome: Outcome;
  readonly reason: SkipReason | null;
  readonly detail: string;
  readonly evidence: Evidence | null;
  /** A deletion, or the first dry-run finding of this pod (later ones do not use up the per-run cap). */
  readonly first?: boolean;
}

/** What was checked before a deletion, logged with it (and with skips that got that far). */
export interface Evidence {
  namespace: string | null;
  pod: string | null;
  uid: string | null;
  presence: string;
  match: string;
  orphanSeconds: number;
  newestFileAgeSeconds: number;
  lock?: "held" | "absent" | "no_run_directory";
  processes?: "none_alive" | "not_visible" | "not_checked";
  mounts?: "none";
  /** Newest modification of any file or directory, at any depth, checked under the lock. */
  changes?: "none_in_grace";
  /** The parts renamed to tombstones (removed by the sweep after the lock is released). */
  removed?: FootprintPart[];
}

export interface RunReport {
  readonly blocked: SkipReason | null;
  readonly orphans: number;
  readonly managed: number;
  readonly circuitOpen: boolean;
  /** This run's read of the Node found it deleted or re-created (`node_gone`). */
  readonly nodeGone: boolean;
  readonly decisions: readonly Decision[];
}

export class GcRunner {
  private history: OrphanHistory = new Map();
  /** Pods already reported by dry-run. */
  private readonly reported = new Set<string>();
  private readonly now: () => number;
  private readonly monotonic: () => number;
  private readonly sweeper: TombstoneSweeper;

  constructor(private readonly opts: GcRunnerOptions) {
    this.now = opts.now ?? (() => Date.now());
    this.monotonic = opts.monotonic ?? opts.now ?? (() => performance.now());
    this.sweeper = opts.sweeper ?? new TombstoneSweeper({ roots: () => tombstoneRoots(opts.hostRoot) });
  }

  /** Ends a tombstone sweep in progress (shutdown). */
  stop(): void {
    this.sweeper.stop();
  }

  /**
   * `auto` means `required` when the GC deletes: "could not check the processes" is then a skip.
   * In dry-run it checks where the host's processes are visible and notes it where not.
   */
  private get processChecks(): ProcessChecks {
    const mode = this.opts.processChecks;
    return mode === "auto" && this.opts.policy.mode === "on" ? "required" : mode;
  }

  get mode(): GcPolicy["mode"] {
    return this.opts.policy.mode;
  }

  /**
   * Rule 4's orphan-fraction breaker is the fallback guard against an API answer about the wrong
   * node or an empty one: with the exporter's own pod known, rule 3 has positive evidence instead
   * (the direct list holds it, or nothing is deleted), and a node with few VM pods, or one just
   * rebooted, is cleaned up.
   */
  private get breakerApplies(): boolean {
    return (this.opts.self ?? null) === null;
  }

  async run(input: RunInput): Promise<RunReport> {
    const { log, metrics, policy } = this.opts;
    const nowMs = this.now();
    const plan = planRun({
      pods: input.snapshot.pods,
      matches: input.matches,
      history: this.history,
      nowMs,
      monoMs: this.monotonic(),
      policy,
      viewUsable: input.viewUsable,
      nodeConfirmed: input.node !== null,
    });
    this.history = plan.history;
    const circuitOpen = this.breakerApplies && plan.circuitOpen;
    for (const id of this.reported) if (!plan.history.has(id)) this.reported.delete(id);
    const decisions: Decision[] = [];
    const skip = (podId: string, reason: SkipReason, detail: string, evidence: Evidence | null = null) => {
      metrics.skip(reason);
      decisions.push({ podId, outcome: "skipped", reason, detail, evidence });
      // Waiting for time to pass is the normal case: debug; anything else: info.
      const waiting = reason === "first_seen" || reason === "orphan_grace" || reason === "recently_modified";
      log[waiting ? "debug" : "info"]({ podId, reason, detail, evidence }, "gc: orphan kept");
    };
    let nodeRead: DirectRead | null = null;
    if (plan.blocked !== null) {
      metrics.skip(plan.blocked);
      log.warn({ reason: plan.blocked, orphans: plan.orphans }, "gc: run skipped");
    } else {
      for (const s of plan.skips) skip(s.podId, s.reason, s.detail);
      if (circuitOpen && plan.orphans > 0) {
        log.error(
          {
            orphans: plan.orphans,
            managed: plan.managed,
            fraction: Number(plan.fraction.toFixed(3)),
            max: policy.maxOrphanFraction,
          },
          "gc: orphan fraction above --gc-max-orphan-fraction; deleting nothing (a wrong node name, an empty API answer or a mis-scoped token look like this)",
        );
      }
      // The Node is read again on every run, candidates or not (a gone Node unconfirms it).
      nodeRead = input.node === null ? null : await this.nodeGone(input.node);
      await this.act(plan.candidates, input, circuitOpen, nodeRead, skip, decisions);
    }
    await this.sweep();
    metrics.circuitOpen.set(plan.blocked === null && circuitOpen ? 1 : 0);
    metrics.runs.inc();
    metrics.lastRun.set(this.now() / 1000);
    return {
      blocked: plan.blocked,
      orphans: plan.orphans,
      managed: plan.managed,
      circuitOpen,
      nodeGone: nodeRead?.kind === "failed" && nodeRead.reason === "node_gone",
      decisions,
    };
  }

  private async act(
    candidates: readonly Candidate[],
    input: RunInput,
    circuitOpen: boolean,
    nodeRead: DirectRead | null,
    skip: (podId: string, reason: SkipReason, detail: string, evidence?: Evidence | null) => void,
    decisions: Decision[],
  ): Promise<void> {
    if (candidates.length === 0) return;
    const node = input.node;
    if (node === null) return;
    // Rule 3: the Node as read this run, then one list straight from the API server (not the
    // watch cache) right before acting.
    const direct = nodeRead ?? (await this.directRead(input.snapshot));
    let deletions = 0;
    let host: HostView | null = null;
    for (const c of candidates) {
      const id = c.record.id;
      const evidence = this.evidence(c);
      if (direct.kind === "failed") {
        skip(id, direct.reason, direct.detail, evidence);
        continue;
      }
      const now = direct.matches.get(id);
      if (now === undefined || !isCollectable(now.status)) {
        skip(
          id,
          "owned_by_api",
          `direct API read: ${now?.status ?? "gone"} (${now?.reason ?? ""})`,
          evidence,
        );
        continue;
      }
      if (circuitOpen) {
        skip(id, "circuit_open", "orphan fraction above the limit", evidence);
        continue;
      }
      if (deletions >= this.opts.policy.maxDeletionsPerRun) {
        skip(id, "run_limit", `${deletions} deletions this run`, evidence);
        continue;
      }
      host ??= this.hostView();
      const done = await this.guardedDelete(c, evidence, host, skip);
      if (done === null) continue;
      decisions.push(done);
      if (done.first !== true) continue;
      deletions++;
      await this.event(node, done);
    }
  }

  /**
   * Rule 3's read: every page of this node's pods, straight from the API server, matched against
   * the snapshot. A failed first page is `api_unconfirmed`; a list that did not complete (a later
   * page failed, a 410 on its continue token) is `list_incomplete`: neither is evidence.
   */
  private async directRead(snapshot: Snapshot): Promise<DirectRead> {
    let items: readonly unknown[];
    try {
      items = (await listAllNodePods(this.opts.api, this.opts.pageSize)).items;
    } catch (err: unknown) {
      if (err instanceof IncompleteListError) {
        this.opts.log.warn({ err: err.message, pages: err.pages }, "gc: the direct list did not complete");
        return { kind: "failed", reason: "list_incomplete", detail: `direct API read: ${err.message}` };
      }
      return {
        kind: "failed",
        reason: "api_unconfirmed",
        detail: `direct API read failed: ${describeError(err)}`,
      };
    }
    const pods = items
      .map(toKubePod)
      .filter((p): p is KubePod => p !== null && p.nodeName === this.opts.nodeName);
    const absent = this.selfAbsent(pods);
    if (absent !== null) return absent;
    return { kind: "read", pods, matches: new Map(matchPods({ snapshot, pods }).map((m) => [m.podId, m])) };
  }

  /**
   * The Node is read again on every run: deleted (404) or re-created (another UID) since it was
   * confirmed, this node's pods in the API are not the ones on disk: `node_gone`.
   */
  private async nodeGone(confirmed: NodeRef): Promise<DirectRead | null> {
    const name = this.opts.nodeName;
    let now: NodeRef | null;
    try {
      now = await this.opts.api.getNode();
    } catch (err: unknown) {
      return {
        kind: "failed",
        reason: "api_unconfirmed",
        detail: `reading Node "${name}" failed: ${describeError(err)}`,
      };
    }
    const detail =
      now === null
        ? `Node "${name}" no longer exists in the API`
        : confirmed.uid !== "" && now.uid !== confirmed.uid
          ? `Node "${name}" was re-created (UID ${confirmed.uid} is now ${now.uid})`
          : null;
    if (detail === null) return null;
    this.opts.log.error({ nodeName: name }, `gc: ${detail}; deleting nothing`);
    return { kind: "failed", reason: "node_gone", detail };
  }

  /** With the exporter's own pod known, the direct list must hold it (same namespace, name and UID). */
  private selfAbsent(pods: readonly KubePod[]): DirectRead | null {
    const self = this.opts.self ?? null;
    if (self === null) return null;
    if (pods.some((p) => p.uid === self.uid && p.namespace === self.namespace && p.name === self.name))
      return null;
    const detail = `the exporter's own pod ${self.namespace}/${self.name} (${self.uid}) is not in the direct list of this node's ${pods.length} pods`;
    this.opts.log.error({ self }, `gc: ${detail}; deleting nothing`);
    return { kind: "failed", reason: "self_pod_absent", detail };
  }

  /** Once per run: whether the host's PID namespace is visible, and its processes when checked. */
  private hostView(): HostView {
    const src = { root: this.opts.procRoot };
    const visible = hostProcVisibility(src) === "visible";
    return { visible, table: visible && this.processChecks !== "off" ? ProcessTable.read(src) : null };
  }

  /** Rules 5 to 9 for one candidate; null when it was skipped (already recorded). */
  private async guardedDelete(
    c: Candidate,
    evidence: Evidence,
    host: HostView,
    skip: (podId: string, reason: SkipReason, detail: string, evidence?: Evidence | null) => void,
  ): Promise<Decision | null> {
    const { hostRoot } = this.opts;
    const id = c.record.id;
    const set = treeSet(c.record.treeSet);
    const runDir = join(hostRoot, set.run, id);
    const configDir = join(hostRoot, set.config, id);
    const vmDir = set.vm === null ? null : join(hostRoot, set.vm, id);
    const dirs = [runDir, configDir, ...(vmDir === null ? [] : [vmDir])];
    // persist (Kata 1.11+) locks the sandbox directory itself; earlier layouts a `lock` file in it.
    const byDirectory = c.record.layout === "persist";
    let held: HeldLock | null = null;
    try {
      // Rule 5: the runtime's own flock, held until the deletion is done.
      if (c.record.presence === "config_only") evidence.lock = "no_run_directory";
      else {
        const lock = byDirectory
          ? await (this.opts.lock ?? tryExclusiveLock)(runDir, { directory: true })
          : await (this.opts.lock ?? tryExclusiveLock)(join(runDir, "lock"));
        if (lock.kind === "busy")
          return skipNull(skip, id, "locked", "the runtime holds the pod's lock", evidence);
        if (lock.kind === "error") return skipNull(skip, id, "lock_error", lock.message, evidence);
        if (lock.kind === "acquired") held = lock.lock;
        evidence.lock = lock.kind === "acquired" ? "held" : "absent";
      }
      // Rule 6, under the lock: the pod must be exactly as planned.
      const fresh = await this.opts.rescan(id);
      if (fresh?.signature !== c.record.signature) {
        return skipNull(
          skip,
          id,
          "changed",
          fresh === null ? "vanished" : "files changed since the plan",
          evidence,
        );
      }
      // Rule 7: nothing recorded in the pod is alive.
      const procs = this.checkProcesses(fresh, host.table);
      if (procs.reason !== null) return skipNull(skip, id, procs.reason, procs.detail, evidence);
      evidence.processes = procs.evidence;
      // Positive evidence that no runtime uses it, per layout: never the mere lack of a check.
      const missing = missingEvidence(fresh, evidence, runDir, vmDir);
      if (missing !== null) return skipNull(skip, id, "no_evidence", missing, evidence);
      // Rule 8: no mount point under either directory.
      const mounts = this.checkMounts(dirs, set, id, host.visible);
      if (mounts.reason !== null) return skipNull(skip, id, mounts.reason, mounts.detail, evidence);
      evidence.mounts = "none";
      // Rule 2 again, under the lock and at every depth: directories count as well as files.
      const changed = await this.recentChange(dirs);
      if (changed !== null) return skipNull(skip, id, changed.reason, changed.detail, evidence);
      evidence.changes = "none_in_grace";
      if (this.opts.policy.mode !== "on") return this.wouldDelete(c, evidence);
      return this.entombPod(id, set, evidence, skip);
    } finally {
      held?.release();
    }
  }

  /** Dry-run: counted, logged as a warning and recorded as an Event once per pod; later runs log at info. */
  private wouldDelete(c: Candidate, evidence: Evidence): Decision {
    const id = c.record.id;
    const trees: GcTree[] = [];
    if (c.record.presence !== "run_only") trees.push("config");
    if (c.record.presence !== "config_only") trees.push("run");
    evidence.removed = trees;
    const first = !this.reported.has(id);
    this.reported.add(id);
    if (first) for (const t of trees) this.opts.metrics.deleted(t, "dry_run");
    this.opts.log[first ? "warn" : "info"]({ podId: id, evidence }, "gc: orphan would be deleted (dry-run)");
    return { podId: id, outcome: "would_delete", reason: null, detail: "dry-run", evidence, first };
  }

  /** The newest change at any depth, wall clock against mtimes: null when older than the grace. */
  private async recentChange(
    dirs: readonly string[],
  ): Promise<{ reason: SkipReason; detail: string } | null> {
    const graceMs = this.opts.policy.graceMs;
    const since = this.now() - graceMs;
    const found = await changedSince(dirs, since);
    if (found.kind === "none") return null;
    if (found.kind === "error") {
      // Gone meanwhile (another exporter deleted it; config-only pods take no lock): not ours to judge.
      if (!dirs.some(mayExist)) return { reason: "changed", detail: "vanished" };
      return { reason: "recently_modified", detail: `newest change not checkable: ${found.message}` };
    }
    const age = Math.max(0, Math.round((this.now() - found.mtimeMs) / 1000));
    return {
      reason: "recently_modified",
      detail: `a file or directory changed ${age}s ago, grace ${Math.round(graceMs / 1000)}s`,
    };
  }

  /**
   * Rule 9, still under the lock: every part renamed to a tombstone in its tree root (config, VM,
   * run with the lock last), all or none; the tombstones are removed by the sweep after the lock
   * is released. Two exporters cannot both do it: rename(2) of one directory succeeds once.
   */
  private entombPod(
    id: string,
    set: TreeSet,
    evidence: Evidence,
    skip: (podId: string, reason: SkipReason, detail: string, evidence?: Evidence | null) => void,
  ): Decision | null {
    const { hostRoot, log, metrics } = this.opts;
    const parts: [FootprintPart, string][] = [];
    for (const [part, path] of [
      ["config", set.config],
      ["vm", set.vm],
      ["run", set.run],
    ] as const) {
      if (path !== null) parts.push([part, path]);
    }
    const out: EntombOutcome = (this.opts.entomb ?? entomb)(
      parts.map(([, path]) => ({ treeRoot: join(hostRoot, path), name: id })),
      { tombstoneName: (name, i) => tombstoneName(name, parts[i]?.[0] ?? "part") },
    );
    if (out.kind === "failed" && out.code === "ENOENT" && out.restored) {
      // Renamed by another exporter between our checks and our rename (config-only pods take no lock).
      return skipNull(skip, id, "changed", "vanished", evidence);
    }
    if (out.kind !== "entombed") {
      metrics.errors.inc();
      log.error({ podId: id, outcome: out, evidence }, "gc: deletion failed; the pod is left in place");
      const reason: SkipReason = out.kind === "refused" ? "unsafe_path" : "delete_failed";
      return skipNull(skip, id, reason, describeEntomb(out), evidence);
    }
    const removed = parts.filter((_, i) => out.done[i] != null).map(([part]) => part);
    if (!removed.includes("run") && !removed.includes("config")) {
      // Another exporter renamed it between our checks and our rename (config-only pods take no lock).
      return skipNull(skip, id, "changed", "vanished", evidence);
    }
    for (const part of removed) if (part !== "vm") metrics.deleted(part, "live");
    evidence.removed = removed;
    log.warn({ podId: id, evidence }, "gc: orphan pod state deleted");
    return { podId: id, outcome: "deleted", reason: null, detail: "deleted", evidence, first: true };
  }

  /** Mode on: remove every tombstone (this run's and any left before), off the event loop. */
  private async sweep(): Promise<void> {
    const { log, metrics } = this.opts;
    if (this.opts.policy.mode !== "on") {
      metrics.tombstones.set(this.sweeper.count());
      return;
    }
    let report: SweepReport;
    try {
      report = await this.sweeper.sweep();
    } catch (err: unknown) {
      log.error({ err: describeError(err) }, "gc: tombstone sweep failed");
      return;
    }
    for (const f of report.failures) {
      metrics.tombstoneError(f.reason);
      log.error(
        { path: f.path, reason: f.reason, detail: f.detail },
        "gc: tombstone not removed; retried next run",
      );
    }
    if (report.removed > 0) log.info({ removed: report.removed }, "gc: tombstones removed");
    metrics.tombstones.set(report.remaining);
  }

  private checkProcesses(
    r: PodRecord,
    table: ProcessTable | null,
  ): { reason: SkipReason | null; detail: string; evidence: "none_alive" | "not_visible" | "not_checked" } {
    const mode = this.processChecks;
    if (mode === "off") return { reason: null, detail: "", evidence: "not_checked" };
    if (table === null) {
      return mode === "required"
        ? {
            reason: "processes_not_visible",
            detail: "the host's PID namespace is not visible (hostPID)",
            evidence: "not_visible",
          }
        : { reason: null, detail: "", evidence: "not_visible" };
    }
    const result = findLiveProcesses(
      {
        podId: r.id,
        shims: r.containers.flatMap((c) =>
          c.process !== null && c.process.pid > 1 ? [{ pid: c.process.pid, containerId: c.id }] : [],
        ),
        proxyPid: r.agent !== null && r.agent.proxyPid > 1 ? r.agent.proxyPid : null,
        hypervisorUuid: r.hypervisor?.uuid || null,
      },
      { root: this.opts.procRoot },
      table,
    );
    if (result.kind === "unverifiable")
      return { reason: "process_unverifiable", detail: result.reason, evidence: "not_checked" };
    if (result.live.length > 0) {
      const what = result.live.map((p) => `${p.role} ${p.pid} (${p.evidence})`).join(", ");
      return { reason: "process_alive", detail: what, evidence: "not_checked" };
    }
    return { reason: null, detail: "", evidence: "none_alive" };
  }

  private checkMounts(
    dirs: readonly string[],
    set: TreeSet,
    podId: string,
    hostVisible: boolean,
  ): { reason: SkipReason | null; detail: string } {
    const own = readMountTable(join(this.opts.procRoot, "self", "mountinfo"));
    if ("error" in own) return { reason: "mountinfo_unreadable", detail: own.error };
    // mountinfo lists real paths: a host root (or a tree root) reached through a symlink must be
    // compared as its real path too, or a bind mount under the pod would go unseen.
    const found = mountsUnder(own, [...new Set(dirs.flatMap((d) => [d, realDirectory(d)]))]);
    if (hostVisible) {
      const host = readMountTable(join(this.opts.procRoot, "1", "mountinfo"));
      if ("error" in host) return { reason: "mountinfo_unreadable", detail: `host: ${host.error}` };
      const hostDirs = [set.run, set.config, ...(set.vm === null ? [] : [set.vm])].map((d) =>
        join("/", d, podId),
      );
      found.push(...mountsUnder(host, hostDirs));
    }
    return found.length > 0
      ? { reason: "mounted", detail: `mount points under the pod: ${found.slice(0, 3).join(", ")}` }
      : { reason: null, detail: "" };
  }

  private evidence(c: Candidate): Evidence {
    const nowMs = this.now();
    return {
      namespace: c.match.namespace,
      pod: c.match.name,
      uid: c.match.uid,
      presence: c.record.presence,
      match: c.match.reason,
      orphanSeconds: Math.round((nowMs - c.orphanSinceMs) / 1000),
      newestFileAgeSeconds: Math.round((nowMs - c.record.newestMtimeMs) / 1000),
    };
  }

  /** An Event on the Node: every deletion; a dry-run finding once per pod. */
  private async event(node: NodeRef, d: Decision): Promise<void> {
    const who =
      d.evidence?.namespace != null && d.evidence.pod != null
        ? ` (was ${d.evidence.namespace}/${d.evidence.pod})`
        : "";
    try {
      await this.opts.api.createNodeEvent({
        node,
        type: d.outcome === "deleted" ? "Normal" : "Warning",
        reason: d.outcome === "deleted" ? "OrphanPodStateRemoved" : "OrphanPodStateFound",
        message:
          d.outcome === "deleted"
            ? `virtcontainers state of orphan pod ${d.podId}${who} removed`
            : `virtcontainers state of orphan pod ${d.podId}${who} would be removed (gc dry-run)`,
      });
    } catch (err: unknown) {
      this.opts.log.warn({ podId: d.podId, err: describeError(err) }, "gc: recording the Node event failed");
    }
  }
}

/** False only when the path plainly does not exist; any other answer goes to the reaper to judge. */
function mayExist(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

/** `dir` with its parent resolved to a real path (`dir` itself may be gone already). */
function realDirectory(dir: string): string {
  try {
    return join(realpathSync(dirname(dir)), basename(dir));
  } catch {
    return dir;
  }
}

function skipNull(
  skip: (podId: string, reason: SkipReason, detail: string, evidence?: Evidence | null) => void,
  podId: string,
  reason: SkipReason,
  detail: string,
  evidence: Evidence,
): null {
  skip(podId, reason, detail, evidence);
  return null;
}

function describeEntomb(out: Exclude<EntombOutcome, { kind: "entombed" }>): string {
  if (out.kind === "refused") return `refused (${out.reason}) at ${out.path}`;
  return `${out.code} at ${out.path}: ${out.message}${out.restored ? "" : " (a part could not be put back: it is a tombstone now)"}`;
}

/** Every tree root that may hold tombstones (run, config and VM roots of every tree set). */
export function tombstoneRoots(hostRoot: string): string[] {
  const roots = TREE_SETS.flatMap((t) => [t.run, t.config, ...(t.vm === null ? [] : [t.vm])]);
  return [...new Set(roots)].map((r) => join(hostRoot, r));
}

/**
 * Why the files alone do not show that no runtime uses the pod, or null when they do. Process
 * checks (rule 7, required when deleting) have passed; what else each case needs:
 * - no readable identity (a run directory without config: a Kata 1.x leftover, or a Kata 2.x
 *   sandbox whose persist.json is not written yet): the layout's lock, actually acquired;
 * - config only (after a reboot): the run directory and the VM directory absent right now
 *   (the run tree was listed readable by the scan, which the matcher requires).
 */
function missingEvidence(
  r: PodRecord,
  evidence: Evidence,
  runDir: string,
  vmDir: string | null,
): string | null {
  const readable = [r.identity, ...r.containers.map((c) => c.identity)].some((i) => i.status === "known");
  if (!readable && evidence.lock !== "held") {
    return `no readable identity and no lock acquired (lock ${evidence.lock ?? "not taken"}): it may be a sandbox being created`;
  }
  if (r.presence === "config_only") {
    for (const d of [runDir, vmDir]) {
      if (d !== null && mayExist(d))
        return `config only, but ${basename(dirname(d))}/${basename(d)} exists now`;
    }
  }
  return null;
}
