/**
 * Where each resource of a pod lives (spec section 3): config files in the lib tree,
 * everything else in the run tree. IDs are validated before they touch a path.
 */
import { posix } from "node:path";
import { fail, ok, type Parsed } from "./result.js";

export type Tree = "run" | "config";

/** The reference layout's trees (Clear Containers 3.x, early virtcontainers). */
export const TREE_DIRS: Readonly<Record<Tree, string>> = {
  run: "run/virtcontainers/pods",
  config: "var/lib/virtcontainers/pods",
};

/**
 * The generations of the state (spec sections 3, 8, 9), told apart per sandbox:
 *   virtcontainers  the reference files under .../virtcontainers/pods (and Kata 0.0.1's .../sandboxes)
 *   kata1           the same kind of files under /run/vc/sbs and /var/lib/vc/sbs (Kata 0.2-1.10)
 *   persist         one persist.json per sandbox and per container under /run/vc/sbs (Kata 1.11-3.x)
 */
export type LayoutName = "virtcontainers" | "kata1" | "persist";
export const LAYOUT_NAMES: readonly LayoutName[] = ["virtcontainers", "kata1", "persist"];

export type TreeSetId = "pods" | "sandboxes" | "sbs";

/** A pair of trees holding sandboxes side by side, and the layouts found in it. */
export interface TreeSet {
  readonly id: TreeSetId;
  readonly run: string;
  readonly config: string;
  /** Per-sandbox VM directory (QMP sockets, QEMU pid file) of Kata 1.2+, or null. */
  readonly vm: string | null;
  readonly layouts: readonly LayoutName[];
  /**
   * Sub-directories of a sandbox directory that belong to the runtime's store, not to a
   * container: Kata 1.6-1.10's `store` package creates `raw/` (and a `lock` file) in every
   * directory it manages, sandbox and container, in both trees (store/filesystem_backend.go
   * `initialize`). The store's own `raw` can never be a container's directory.
   */
  readonly storeDirs: readonly string[];
}

/** The reference trees (virtcontainers, Clear Containers 3.x). */
export const REFERENCE_SET: TreeSet = {
  id: "pods",
  run: TREE_DIRS.run,
  config: TREE_DIRS.config,
  vm: null,
  layouts: ["virtcontainers"],
  storeDirs: [],
};

export const TREE_SETS: readonly TreeSet[] = [
  REFERENCE_SET,
  {
    id: "sandboxes",
    run: "run/virtcontainers/sandboxes",
    config: "var/lib/virtcontainers/sandboxes",
    vm: null,
    layouts: ["virtcontainers"],
    storeDirs: [],
  },
  {
    id: "sbs",
    run: "run/vc/sbs",
    config: "var/lib/vc/sbs",
    vm: "run/vc/vm",
    layouts: ["kata1", "persist"],
    storeDirs: ["raw"],
  },
];

export function treeSet(id: TreeSetId): TreeSet {
  return TREE_SETS.find((t) => t.id === id) ?? REFERENCE_SET;
}

export type Resource =
  | "pod_config"
  | "pod_state"
  | "network"
  | "hypervisor"
  | "agent"
  | "lock"
  | "container_config"
  | "container_state"
  | "process"
  | "mounts"
  | "devices";

interface Location {
  readonly tree: Tree;
  readonly scope: "pod" | "container";
  readonly file: string;
}

export const RESOURCES: Readonly<Record<Resource, Location>> = {
  pod_config: { tree: "config", scope: "pod", file: "config.json" },
  pod_state: { tree: "run", scope: "pod", file: "state.json" },
  network: { tree: "run", scope: "pod", file: "network.json" },
  hypervisor: { tree: "run", scope: "pod", file: "hypervisor.json" },
  agent: { tree: "run", scope: "pod", file: "agent.json" },
  lock: { tree: "run", scope: "pod", file: "lock" },
  container_config: { tree: "config", scope: "container", file: "config.json" },
  container_state: { tree: "run", scope: "container", file: "state.json" },
  process: { tree: "run", scope: "container", file: "process.json" },
  mounts: { tree: "run", scope: "container", file: "mounts.json" },
  devices: { tree: "run", scope: "container", file: "devices.json" },
};

export const POD_RUN_RESOURCES = ["pod_state", "network", "hypervisor", "agent"] as const;
export const CONTAINER_RUN_RESOURCES = ["container_state", "process", "mounts", "devices"] as const;

export const MAX_ID_LENGTH = 128;

/**
 * An ID that is safe to join to a path: non-empty, bounded, no `/`, no NUL, no leading
 * dot (so no `.`/`..` and no hidden entries), printable ASCII without spaces.
 */
export function validateId(id: string): Parsed<string> {
  if (id.length === 0) return fail("invalid_id", "empty ID");
  if (id.length > MAX_ID_LENGTH) return fail("invalid_id", `ID longer than ${MAX_ID_LENGTH} characters`);
  if (id.startsWith(".")) return fail("invalid_id", "ID starts with a dot");
  if (!/^[\x21-\x7e]+$/.test(id) || id.includes("/")) {
    return fail("invalid_id", "ID has a slash, a space or a non-printable character");
  }
  return ok(id);
}

/** The directory of a pod (or of one of its containers) in a tree, relative to the host root. */
export function dirPath(tree: Tree, podId: string, containerId?: string): Parsed<string> {
  const pod = validateId(podId);
  if (!pod.ok) return pod;
  if (containerId === undefined) return ok(posix.join(TREE_DIRS[tree], podId));
  const ctr = validateId(containerId);
  if (!ctr.ok) return ctr;
  return ok(posix.join(TREE_DIRS[tree], podId, containerId));
}

/** The file of a resource, relative to the host root. */
export function resourcePath(resource: Resource, podId: string, containerId?: string): Parsed<string> {
  const loc = RESOURCES[resource];
  if (loc.scope === "container" && containerId === undefined) {
    return fail("invalid_id", `${resource} needs a container ID`);
  }
  const dir = dirPath(loc.tree, podId, loc.scope === "container" ? containerId : undefined);
  if (!dir.ok) return dir;
  return ok(posix.join(dir.value, loc.file));
}

/** Resolve a host-root-relative path against the configured host root. */
export function underRoot(hostRoot: string, relative: string): string {
  return posix.join(hostRoot, relative);
}

/**
 * A directory entry name as it may be shown (in a problem path, a log line, the table): every
 * character outside printable ASCII becomes a \uXXXX escape, so a name can never carry a
 * control character (C0, DEL or C1), a line break or a terminal escape into any output.
 */
export function printableName(name: string): string {
  return name.replace(/[^\x20-\x7e]|\\/g, (c) =>
    c === "\\" ? "\\\\" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
