/**
 * Identity from the API where the files lack it: a pod matched by container IDs (2018
 * containerd keeps no UID, namespace or name in the files) gets its owner's UID, namespace and
 * name in every per-pod series. Records are replaced only where something is filled in, and the
 * replacement is memoised per record, so unchanged pods keep their rendered lines.
 */
import type { PodRecord, Snapshot } from "../scan/snapshot.js";
import type { PodMatch } from "./match.js";

const memo = new WeakMap<PodRecord, { key: string; record: PodRecord }>();

export function enrichSnapshot(snapshot: Snapshot, matches: readonly PodMatch[] | null): Snapshot {
  if (matches === null) return snapshot;
  let changed = false;
  const pods = snapshot.pods.map((r, i) => {
    const owner = matches[i]?.owner;
    if (owner === undefined || owner === null) return r;
    const id = r.identity;
    const fillUid = id.podUid === null;
    const fillName = id.namespace === null && id.podName === null;
    if (!fillUid && !fillName) return r;
    const key = `${owner.uid}\0${owner.namespace}\0${owner.name}`;
    const known = memo.get(r);
    if (known?.key === key) {
      changed = true;
      return known.record;
    }
    const record: PodRecord = {
      ...r,
      identity: {
        ...id,
        podUid: fillUid ? owner.uid : id.podUid,
        namespace: fillName ? owner.namespace : id.namespace,
        podName: fillName ? owner.name : id.podName,
      },
    };
    memo.set(r, { key, record });
    changed = true;
    return record;
  });
  return changed ? { ...snapshot, pods } : snapshot;
}
