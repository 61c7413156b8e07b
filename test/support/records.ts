/** Synthetic PodRecords and KubePods for pure tests of matching and GC planning. */
import type { Identity } from "../../src/format/identity.js";
import type { KubePod } from "../../src/kube/pods.js";
import type { ContainerRecord, PodRecord, Presence, Snapshot, TreeStatus } from "../../src/scan/snapshot.js";

export function hexId(n: number): string {
  return n.toString(16).padStart(64, "0");
}

export function identity(over: Partial<Identity> = {}): Identity {
  return {
    status: "known",
    flavor: "cri-o",
    kind: "sandbox",
    sandboxId: null,
    namespace: null,
    podName: null,
    podUid: null,
    containerName: null,
    image: null,
    createdSeconds: null,
    problem: null,
    ...over,
  };
}

export const NO_IDENTITY: Identity = identity({ status: "none", flavor: "none", kind: null });
export const UNKNOWN_IDENTITY: Identity = identity({
  status: "unknown",
  flavor: "none",
  kind: null,
  problem: "no embedded OCI spec",
});

export function container(id: string, ident: Identity, pid: number | null = null): ContainerRecord {
  return {
    id,
    type: ident.kind === "sandbox" ? "sandbox" : "container",
    state: "running",
    startTimeSeconds: null,
    mounts: 0,
    identity: ident,
    config: null,
    stateFile: null,
    process: pid === null ? null : { pid, startTime: "", startTimeSeconds: null },
    mountList: null,
    devices: [],
    inRunTree: true,
    inConfigTree: true,
  };
}

export interface RecordSpec {
  readonly id: string;
  readonly identity?: Identity;
  readonly containers?: readonly ContainerRecord[];
  readonly presence?: Presence;
  readonly newestMtimeMs?: number;
  /** Leave the pod config out (unreadable or absent). */
  readonly noConfig?: boolean;
  readonly signature?: string;
}

export function record(spec: RecordSpec): PodRecord {
  const ident = spec.identity ?? UNKNOWN_IDENTITY;
  const presence = spec.presence ?? "both";
  const hasConfig = presence !== "run_only" && spec.noConfig !== true;
  return {
    id: spec.id,
    layout: "virtcontainers",
    treeSet: "pods",
    presence,
    state: "running",
    identity: ident,
    vcpus: null,
    memoryBytes: null,
    networkEndpoints: null,
    startTimeSeconds: null,
    lockPresent: presence !== "config_only",
    newestMtimeMs: spec.newestMtimeMs ?? 0,
    config: hasConfig
      ? {
          id: spec.id,
          hostname: "",
          hypervisorType: "qemu",
          agentType: "kata",
          proxyType: "kataProxy",
          shimType: "kataShim",
          networkModel: "",
          defaultVCPUs: 1,
          defaultMaxVCPUs: null,
          defaultMemMiB: 2048,
          vmMemoryMiB: 0,
          vmVCPUs: 0,
          netNSPath: "",
          containers: [],
          identity: ident,
        }
      : null,
    stateFile: null,
    network: null,
    hypervisor: null,
    agent: null,
    containers: spec.containers ?? [container(spec.id, ident)],
    problems: [],
    signature: spec.signature ?? `sig-${spec.id}`,
  };
}

export function trees(over: { run?: Partial<TreeStatus>; config?: Partial<TreeStatus> } = {}): TreeStatus[] {
  return [
    { set: "pods", tree: "run", path: "run/virtcontainers/pods", present: true, problem: null, ...over.run },
    {
      set: "pods",
      tree: "config",
      path: "var/lib/virtcontainers/pods",
      present: true,
      problem: null,
      ...over.config,
    },
  ] as TreeStatus[];
}

export function snapshot(pods: readonly PodRecord[], t: TreeStatus[] = trees()): Snapshot {
  return {
    hostRoot: "/host",
    takenAt: 0,
    trees: t,
    pods,
    problems: [],
    stats: {
      kind: "full",
      filesRead: 0,
      bytesRead: 0,
      filesStatted: 0,
      filesReused: 0,
      retried: 0,
      durationSeconds: 0,
    },
  };
}

export function kubePod(over: Partial<KubePod> & { uid: string }): KubePod {
  return {
    mirrorUid: null,
    namespace: "default",
    name: `pod-${over.uid}`,
    nodeName: "node-a",
    phase: "Running",
    containerIds: [],
    containersWithoutId: 0,
    resourceVersion: "1",
    ...over,
  };
}
