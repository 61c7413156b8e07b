/** The Snapshot: one typed, secret-free view of a node's virtcontainers trees. */
import type { Identity } from "../format/identity.js";
import type { LayoutName, Resource, Tree, TreeSetId } from "../format/layout.js";
import type {
  AgentInfo,
  ContainerConfigInfo,
  DeviceInfo,
  Kata1HypervisorInfo,
  MountInfo,
  NetworkInfo,
  PodConfigInfo,
  ProcessInfo,
  StateInfo,
  VcState,
} from "../format/model.js";
import type { ProblemReason } from "../format/result.js";

/** What a problem is about: a resource file, a directory, or a tree root. Bounded (a metric label). */
export type ProblemSubject =
  | Resource
  | "sandbox_devices"
  | "bundle_config"
  | "persist"
  | "container_persist"
  | "pod_dir"
  | "container_dir"
  | "tree";

export interface FileProblem {
  readonly file: ProblemSubject;
  /** Path relative to the host root. */
  readonly path: string;
  readonly podId: string | null;
  readonly containerId: string | null;
  readonly reason: ProblemReason;
  readonly message: string;
  /** A last good value of this file is being used instead. */
  readonly stale: boolean;
}

export type Presence = "both" | "run_only" | "config_only";

export interface ContainerRecord {
  readonly id: string;
  readonly type: "sandbox" | "container";
  readonly state: VcState;
  readonly startTimeSeconds: number | null;
  readonly mounts: number;
  readonly identity: Identity;
  readonly config: ContainerConfigInfo | null;
  readonly stateFile: StateInfo | null;
  readonly process: ProcessInfo | null;
  readonly mountList: readonly MountInfo[] | null;
  readonly devices: readonly DeviceInfo[];
  readonly inRunTree: boolean;
  readonly inConfigTree: boolean;
}

export interface PodRecord {
  readonly id: string;
  /** The generation of the state this pod was read as. */
  readonly layout: LayoutName;
  /** The pair of trees it lives in. */
  readonly treeSet: TreeSetId;
  readonly presence: Presence;
  readonly state: VcState;
  readonly identity: Identity;
  readonly vcpus: number | null;
  readonly memoryBytes: number | null;
  readonly networkEndpoints: number | null;
  readonly startTimeSeconds: number | null;
  readonly lockPresent: boolean;
  /**
   * Newest mtime of the state files this scan read (ms since epoch). Directories and files at any
   * depth are checked again by the GC, under the pod's lock, before it deletes anything.
   */
  readonly newestMtimeMs: number;
  readonly config: PodConfigInfo | null;
  readonly stateFile: StateInfo | null;
  readonly network: NetworkInfo | null;
  readonly hypervisor: Kata1HypervisorInfo | null;
  readonly agent: AgentInfo | null;
  readonly containers: readonly ContainerRecord[];
  readonly problems: readonly FileProblem[];
  /**
   * Everything this scan found for the pod (file stat keys, problems, directory entries), as
   * a SHA-256 digest: two scans with equal signatures and no fresh read give the same record.
   * Internal; not part of any output.
   */
  readonly signature: string;
}

export interface TreeStatus {
  readonly set: TreeSetId;
  readonly tree: Tree;
  readonly path: string;
  readonly present: boolean;
  readonly problem: FileProblem | null;
}

export interface ScanStats {
  readonly kind: "full" | "incremental";
  readonly filesRead: number;
  readonly bytesRead: number;
  readonly filesStatted: number;
  readonly filesReused: number;
  readonly retried: number;
  readonly durationSeconds: number;
}

export interface Snapshot {
  readonly hostRoot: string;
  /** Unix seconds at the end of the scan. */
  readonly takenAt: number;
  readonly trees: readonly TreeStatus[];
  /** Sorted by pod ID. */
  readonly pods: readonly PodRecord[];
  /** Problems not tied to one pod (tree roots, invalid pod directory names). */
  readonly problems: readonly FileProblem[];
  readonly stats: ScanStats;
}

export function allProblems(s: Snapshot): FileProblem[] {
  return [...s.problems, ...s.pods.flatMap((p) => p.problems)];
}
