/**
 * The matcher (pure): which Kubernetes pod of this node, if any, owns each virtcontainers pod.
 *
 *   matched    a pod of this node owns it: ANY evidence ties them (the directory's pod UID is the
 *              pod's UID or, for the mirror pod of a static pod, its kubernetes.io/config.mirror
 *              annotation; or one of its container IDs is in the pod's statuses, current or
 *              previous); namespace/name only for a directory without a UID
 *   orphan     it belongs to Kubernetes (or is a run-only leftover) and no pod of this node owns it
 *   superseded a pod of this node owns it, but it is not that pod's current sandbox: it is dead
 *              (config-only, as after a reboot, or stopped) while exactly one newer sibling of the
 *              same pod runs; a GC candidate like an orphan
 *   unmanaged  its files are readable and carry no Kubernetes identity (plain Docker, podman)
 *   unknown    not decidable: the pod view is not synced and fresh, the identity is unreadable,
 *              a tree is unreadable, or a pod of this node still has containers without IDs
 *              that could be this one
 */
import type { Identity } from "../format/identity.js";
import type { PodRecord, Snapshot } from "../scan/snapshot.js";
import type { KubePod } from "./pods.js";

export type MatchStatus = "matched" | "orphan" | "superseded" | "unmanaged" | "unknown";
export const MATCH_STATUSES: readonly MatchStatus[] = [
  "matched",
  "orphan",
  "superseded",
  "unmanaged",
  "unknown",
];

/** The statuses GC collects: no pod owns the directory, or its pod runs in a newer sandbox. */
export function isCollectable(status: MatchStatus): boolean {
  return status === "orphan" || status === "superseded";
}

/** Why: a bounded code, logged and used in GC evidence. */
export type MatchReason =
  | "uid"
  | "mirror_uid"
  | "container_id"
  | "name"
  | "uid_not_found"
  | "no_owner"
  | "no_config"
  | "no_kubernetes_identity"
  | "view_not_synced"
  | "identity_unreadable"
  | "tree_unreadable"
  | "pods_without_container_ids"
  | "newer_sandbox_running";

export interface PodMatch {
  readonly podId: string;
  readonly status: MatchStatus;
  readonly reason: MatchReason;
  /** The owning pod when matched. */
  readonly owner: KubePod | null;
  /** Kubernetes identity from the files (any container's, the sandbox's first). */
  readonly namespace: string | null;
  readonly name: string | null;
  readonly uid: string | null;
}

export interface PodIndex {
  /** By `metadata.uid`, and by the static pod UID a mirror pod carries. */
  readonly byUid: ReadonlyMap<string, { readonly pod: KubePod; readonly reason: "uid" | "mirror_uid" }>;
  readonly byContainerId: ReadonlyMap<string, KubePod>;
  readonly byName: ReadonlyMap<string, KubePod>;
  readonly pods: readonly KubePod[];
}

export function indexPods(pods: readonly KubePod[]): PodIndex {
  const byUid = new Map<string, { pod: KubePod; reason: "uid" | "mirror_uid" }>();
  const byContainerId = new Map<string, KubePod>();
  const byName = new Map<string, KubePod>();
  for (const p of pods) {
    if (p.mirrorUid !== null && !byUid.has(p.mirrorUid))
      byUid.set(p.mirrorUid, { pod: p, reason: "mirror_uid" });
  }
  for (const p of pods) {
    byUid.set(p.uid, { pod: p, reason: "uid" });
    byName.set(`${p.namespace}/${p.name}`, p);
    for (const id of p.containerIds) byContainerId.set(id, p);
  }
  return { byUid, byContainerId, byName, pods };
}

interface FileIdentity {
  readonly uid: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly known: boolean;
  readonly none: boolean;
  readonly unknown: boolean;
}

function fileIdentity(r: PodRecord): FileIdentity {
  const all: Identity[] = [r.identity, ...r.containers.map((c) => c.identity)];
  const named = all.find((i) => i.namespace !== null && i.podName !== null);
  return {
    uid: all.find((i) => i.podUid !== null)?.podUid ?? null,
    namespace: named?.namespace ?? null,
    name: named?.podName ?? null,
    known: all.some((i) => i.status === "known"),
    none: all.some((i) => i.status === "none"),
    unknown: r.config === null || all.some((i) => i.status === "unknown"),
  };
}

export interface MatchInput {
  readonly snapshot: Pick<Snapshot, "pods" | "trees">;
  /** This node's pods, or null when the view is not synced and fresh. */
  readonly pods: readonly KubePod[] | null;
}

/** One match per snapshot pod, in snapshot order. */
export function matchPods(input: MatchInput): PodMatch[] {
  const { snapshot } = input;
  // Per tree set: the other tree of a pod found in only one must be readable to call it a leftover.
  const configTreeOk = (r: PodRecord) =>
    snapshot.trees.some((t) => t.set === r.treeSet && t.tree === "config" && t.present && t.problem === null);
  const runTreeUnreadable = (r: PodRecord) =>
    snapshot.trees.some((t) => t.set === r.treeSet && t.tree === "run" && t.problem !== null);
  if (input.pods === null) {
    return snapshot.pods.map((r) => result(r, fileIdentity(r), "unknown", "view_not_synced", null));
  }
  const index = indexPods(input.pods);
  const first = snapshot.pods.map((r) => {
    const id = fileIdentity(r);
    return { r, id, m: ownerOf(r, id, index) };
  });
  // Pods of this node that own no directory yet but have containers without IDs could own any
  // directory that can only be matched by container ID.
  const owned = new Set(first.flatMap((x) => (x.m === null ? [] : [x.m.owner.uid])));
  const unaccounted = index.pods.some(
    (p) => !owned.has(p.uid) && p.containersWithoutId > 0 && p.phase !== "Succeeded" && p.phase !== "Failed",
  );
  const matches = first.map(({ r, id, m }) => {
    if (m !== null) return result(r, id, "matched", m.reason, m.owner);
    // persist sandboxes keep nothing in the config tree: run-only is their normal state
    if (r.presence === "run_only" && r.layout !== "persist" && !configTreeOk(r))
      return result(r, id, "unknown", "tree_unreadable", null);
    if (r.presence === "config_only" && runTreeUnreadable(r))
      return result(r, id, "unknown", "tree_unreadable", null);
    if (id.uid !== null) return result(r, id, "orphan", "uid_not_found", null);
    const byIdOnly = id.namespace === null || id.name === null;
    if ((r.presence === "run_only" && r.layout !== "persist") || id.known) {
      if (byIdOnly && unaccounted) return result(r, id, "unknown", "pods_without_container_ids", null);
      return result(r, id, "orphan", r.presence === "run_only" ? "no_config" : "no_owner", null);
    }
    if (id.none && !id.unknown) return result(r, id, "unmanaged", "no_kubernetes_identity", null);
    return result(r, id, "unknown", "identity_unreadable", null);
  });
  return markSuperseded(snapshot.pods, matches);
}

/** How a sandbox directory looks: it may be the pod's current sandbox, it cannot be, or unclear. */
function liveness(r: PodRecord): "current" | "dead" | "unclear" {
  // No run directory (after a reboot /run is empty): the runtime cannot be using it.
  if (r.presence === "config_only" || r.state === "stopped") return "dead";
  if (r.state === "running" || r.state === "ready" || r.state === "paused") return "current";
  return "unclear";
}

/**
 * Superseded sandboxes. A pod has one current sandbox; a re-created one (after a reboot, or after
 * its VM died) gets a new ID and the same pod UID, and the old directory stays matched forever.
 * Among the sandbox directories one pod owns, the dead ones (config-only or stopped) are
 * `superseded` when exactly one sibling may be current (running, ready or paused), no sibling is
 * unclear (a run directory without a readable state), and that sibling is newer: created after the
 * dead one was created, or, when the dead one's creation time is unknown, after its newest change.
 * Anything else (two running, none running, no creation time) supersedes nothing.
 */
function markSuperseded(pods: readonly PodRecord[], matches: readonly PodMatch[]): PodMatch[] {
  const byOwner = new Map<string, number[]>();
  pods.forEach((r, i) => {
    const m = matches[i];
    // Sandboxes only: a dockershim pod's containers are VMs of their own, all owned by the pod.
    if (m?.status !== "matched" || m.owner === null || r.identity.kind !== "sandbox") return;
    const group = byOwner.get(m.owner.uid) ?? [];
    group.push(i);
    byOwner.set(m.owner.uid, group);
  });
  const out = [...matches];
  for (const group of byOwner.values()) {
    if (group.length < 2) continue;
    const looks = group.map((i) => ({ i, r: pods[i] as PodRecord, live: liveness(pods[i] as PodRecord) }));
    const current = looks.filter((x) => x.live === "current");
    const only = current[0];
    if (current.length !== 1 || only === undefined || looks.some((x) => x.live === "unclear")) continue;
    const since = createdMs(only.r);
    if (since === null) continue;
    for (const old of looks) {
      const m = matches[old.i];
      if (old.live !== "dead" || m === undefined) continue;
      if (since <= (createdMs(old.r) ?? old.r.newestMtimeMs)) continue;
      out[old.i] = { ...m, status: "superseded", reason: "newer_sandbox_running" };
    }
  }
  return out;
}

/** When the sandbox was created (its sandbox process's start, its lock file, CRI-O's Created), ms. */
function createdMs(r: PodRecord): number | null {
  return r.startTimeSeconds === null ? null : r.startTimeSeconds * 1000;
}

function ownerOf(
  r: PodRecord,
  id: FileIdentity,
  index: PodIndex,
): { owner: KubePod; reason: MatchReason } | null {
  // Any evidence is enough: the UID (the pod's own or, for a static pod, its mirror's
  // annotation), else any container ID in any pod's statuses.
  if (id.uid !== null) {
    const byUid = index.byUid.get(id.uid);
    if (byUid !== undefined) return { owner: byUid.pod, reason: byUid.reason };
  }
  for (const cid of [r.id, ...r.containers.map((c) => c.id)]) {
    const owner = index.byContainerId.get(cid);
    if (owner !== undefined) return { owner, reason: "container_id" };
  }
  // A name is evidence only without a UID: a pod re-created with the same name has a new UID.
  if (id.uid === null && id.namespace !== null && id.name !== null) {
    const owner = index.byName.get(`${id.namespace}/${id.name}`);
    if (owner !== undefined) return { owner, reason: "name" };
  }
  return null;
}

function result(
  r: PodRecord,
  id: FileIdentity,
  status: MatchStatus,
  reason: MatchReason,
  owner: KubePod | null,
): PodMatch {
  return {
    podId: r.id,
    status,
    reason,
    owner,
    namespace: owner?.namespace ?? id.namespace,
    name: owner?.name ?? id.name,
    uid: owner?.uid ?? id.uid,
  };
}
