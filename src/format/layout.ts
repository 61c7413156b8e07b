/**
 * Where each resource of a pod lives (spec section 3): config files in the lib tree,
 * everything else in the run tree. IDs are validated before they touch a path.
 */
import { posix } from "node:path";
import { fail, ok, type Parsed } from "./result.js";

export type Tree = "run" | "config";

export const TREE_DIRS: Readonly<Record<Tree, string>> = {
  run: "run/virtcontainers/pods",
  config: "var/lib/virtcontainers/pods",
};

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
