/**
 * One GC run: the pure plan (rules 1, 2, 4), then for each candidate, in order, the checks that
 * need the outside world (rule 3: a direct API read; rule 5: the runtime's lock; a re-read of
 * the pod under the lock (rule 6); rule 7: live processes; rule 8: mounts) and the deletion (rule 9).
 * `dry-run` goes through exactly the same path and stops before the deletion.
 * Every decision is logged with the pod ID and counted; nothing here throws.
 */
import { lstatSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { treeSet, type TreeSet } from "../format/layout.js";
import { describeError, type KubeApi, type NodeRef, type SelfPod } from "../kube/api.js";
import { IncompleteListError, listAllNodePods } from "../kube/list.js";
import { isCollectable, matchPods, type PodMatch } from "../kube/match.js";
import { toKubePod, type KubePod } from "../kube/pods.js";
import type { Logger } from "../log.js";
import type { GcMetrics, GcTree } from "../metrics/gc.js";
import type { PodRecord, Snapshot } from "../scan/snapshot.js";
import {
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
import { removePodDirectory, type RemoveOutcome } from "./reaper.js";

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
  readonly now?: () => number;
  /** Replaceable for tests only. */
  readonly lock?: (path: string, opts?: LockOptions) => Promise<LockOutcome>;
  readonly remove?: typeof removePodDirectory;
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

  constructor(private readonly opts: GcRunnerOptions) {
    this.now = opts.now ?? (() => Date.now());
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
    return { visible, table: visible && this.opts.processChecks !== "off" ? ProcessTable.read(src) : null };
  }

  /** Rules 5 to 9 for one candidate; null when it was skipped (already recorded). */
  private async guardedDelete(
    c: Candidate,
    evidence: Evidence,
    host: HostView,
    skip: (podId: string, reason: SkipReason, detail: string, evidence?: Evidence | null) => void,
  ): Promise<Decision | null> {
    const { hostRoot, log, metrics } = this.opts;
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
      // Rule 8: no mount point under either directory.
      const mounts = this.checkMounts(dirs, set, id, host.visible);
      if (mounts.reason !== null) return skipNull(skip, id, mounts.reason, mounts.detail, evidence);
      evidence.mounts = "none";
      if (this.opts.policy.mode !== "on") {
        const trees: GcTree[] = [];
        if (c.record.presence !== "run_only") trees.push("config");
        if (c.record.presence !== "config_only") trees.push("run");
        evidence.removed = trees;
        // Counted, logged as a warning and recorded as an Event once per pod; later runs log at info.
        const first = !this.reported.has(id);
        this.reported.add(id);
        if (first) for (const t of trees) metrics.deleted(t, "dry_run");
        log[first ? "warn" : "info"]({ podId: id, evidence }, "gc: orphan would be deleted (dry-run)");
        return { podId: id, outcome: "would_delete", reason: null, detail: "dry-run", evidence, first };
      }
      // Rule 9: the config tree's directory first, the VM directory, the run tree's (with the
      // lock) last.
      const removed: FootprintPart[] = [];
      const parts: [FootprintPart, string | null][] = [
        ["config", set.config],
        ["vm", set.vm],
        ["run", set.run],
      ];
      for (const [tree, path] of parts) {
        // A part the layout or release does not have (no VM directory before Kata 1.2, no config
        // tree for persist sandboxes) is simply not there; a symlinked root still goes to the reaper.
        if (path === null || !mayExist(join(hostRoot, path, id))) continue;
        const out = (this.opts.remove ?? removePodDirectory)({ treeRoot: join(hostRoot, path), name: id });
        if (out.kind === "removed") {
          removed.push(tree);
          if (tree !== "vm") metrics.deleted(tree, "live");
        } else if (out.kind !== "absent") {
          evidence.removed = removed;
          metrics.errors.inc();
          log.error(
            { podId: id, tree, outcome: out, evidence },
            "gc: deletion failed; the rest is left in place",
          );
          return skipNull(
            skip,
            id,
            out.kind === "refused" ? "unsafe_path" : "delete_failed",
            describeRemove(out),
            evidence,
          );
        }
      }
      evidence.removed = removed;
      log.warn({ podId: id, evidence }, "gc: orphan pod state deleted");
      return { podId: id, outcome: "deleted", reason: null, detail: "deleted", evidence, first: true };
    } finally {
      held?.release();
    }
  }

  private checkProcesses(
    r: PodRecord,
    table: ProcessTable | null,
  ): { reason: SkipReason | null; detail: string; evidence: "none_alive" | "not_visible" | "not_checked" } {
    const mode = this.opts.processChecks;
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

function describeRemove(out: RemoveOutcome): string {
  switch (out.kind) {
    case "refused":
      return `refused (${out.reason}) at ${out.path}`;
    case "failed":
      return `${out.code} at ${out.path}: ${out.message}`;
    default:
      return out.kind;
  }
}
