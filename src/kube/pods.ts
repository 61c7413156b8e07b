/**
 * What the exporter keeps of a Kubernetes Pod: identity (its UID and, for the mirror pod of a
 * static pod, the static pod's own UID) and the IDs of its containers, current and previous.
 * Converted from the API's JSON (`unknown`, narrowed here); nothing else is kept.
 */
import { isObj } from "../format/decode.js";

/** The annotation of a mirror pod: the static pod's UID (the kubelet's hash of its manifest). */
export const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

export interface KubePod {
  readonly uid: string;
  /**
   * A mirror pod's `kubernetes.io/config.mirror` annotation: the UID the kubelet gave the static
   * pod, which is the UID in its sandbox's files. Null for other pods.
   */
  readonly mirrorUid: string | null;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  /** Pending, Running, Succeeded, Failed, Unknown (or "" when absent). */
  readonly phase: string;
  /**
   * CRI container IDs of every container, init and ephemeral ones included, current and previous
   * (`lastState.terminated.containerID`), without the `<runtime>://` prefix.
   */
  readonly containerIds: readonly string[];
  /** Containers of the spec (init, regular, ephemeral) that have no container ID in the status yet. */
  readonly containersWithoutId: number;
  readonly resourceVersion: string;
}

/** `cri-o://abc` → `abc`; an ID without a scheme is kept as it is. Empty → null. */
export function stripContainerScheme(id: string): string | null {
  const at = id.indexOf("://");
  const bare = at >= 0 ? id.slice(at + 3) : id;
  return bare === "" ? null : bare;
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  return typeof v === "string" ? v : "";
}

function list(o: Record<string, unknown> | undefined, k: string): unknown[] {
  const v = o?.[k];
  return Array.isArray(v) ? (v as unknown[]) : [];
}

/** A Pod from the API, or null when it lacks a UID, namespace or name. */
export function toKubePod(raw: unknown): KubePod | null {
  if (!isObj(raw) || !isObj(raw.metadata)) return null;
  const meta = raw.metadata;
  const spec = isObj(raw.spec) ? raw.spec : undefined;
  const status = isObj(raw.status) ? raw.status : undefined;
  const uid = str(meta, "uid");
  const namespace = str(meta, "namespace");
  const name = str(meta, "name");
  if (uid === "" || namespace === "" || name === "") return null;
  const ids: string[] = [];
  let current = 0;
  for (const key of ["initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"]) {
    for (const s of list(status, key)) {
      if (!isObj(s)) continue;
      const id = stripContainerScheme(str(s, "containerID"));
      if (id !== null) {
        ids.push(id);
        current++;
      }
      const last = isObj(s.lastState) && isObj(s.lastState.terminated) ? s.lastState.terminated : null;
      const previous = last === null ? null : stripContainerScheme(str(last, "containerID"));
      if (previous !== null && previous !== id) ids.push(previous);
    }
  }
  const specCount =
    list(spec, "initContainers").length +
    list(spec, "containers").length +
    list(spec, "ephemeralContainers").length;
  const annotations = isObj(meta.annotations) ? meta.annotations : undefined;
  const mirror = annotations === undefined ? "" : str(annotations, MIRROR_ANNOTATION);
  return {
    uid,
    mirrorUid: mirror === "" ? null : mirror,
    namespace,
    name,
    nodeName: spec === undefined ? "" : str(spec, "nodeName"),
    phase: status === undefined ? "" : str(status, "phase"),
    containerIds: ids,
    containersWithoutId: Math.max(0, specCount - current),
    resourceVersion: str(meta, "resourceVersion"),
  };
}
