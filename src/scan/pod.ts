/** Reads one pod (both trees) into a PodRecord. The only pod-level I/O of the scanner. */
import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { posix } from "node:path";
import { effectiveState, networkEndpoints, podMemoryBytes, podVCPUs } from "../format/derive.js";
import { unknownIdentity, type Identity } from "../format/identity.js";
import { printableName, validateId, type Tree, type TreeSet } from "../format/layout.js";
import { kata1MemoryBytes, resolveDeviceRefs } from "../format/kata1.js";
import { persistMemoryBytes, persistVCPUs } from "../format/persist.js";
import type {
  ContainerConfigInfo,
  ContainerDevicesFile,
  DeviceInfo,
  PersistContainerConfigInfo,
  PodConfigInfo,
  SandboxDevice,
} from "../format/model.js";
import { listDir, statEntry } from "./fsread.js";
import { makeProblem, type FileLoader, type Loaded, type LoadTarget } from "./loader.js";
import type { ResourceValues } from "./parsers.js";
import type { ContainerRecord, FileProblem, PodRecord, Presence } from "./snapshot.js";

export interface PodScan {
  /** null when neither tree has the pod any more. */
  readonly record: PodRecord | null;
  /** Some file was empty or cut short: read the pod once more after a short delay. */
  readonly transient: boolean;
}

interface DirView {
  readonly rel: string;
  readonly present: boolean;
  /** Known state-file names present, whatever their type. */
  readonly files: ReadonlySet<string>;
  /** The subset the listing reports as regular files. */
  readonly regular: ReadonlySet<string>;
  readonly subdirs: readonly string[];
}

class PodReader {
  readonly problems: FileProblem[] = [];
  /** What this scan found, file by file and directory by directory (see PodRecord.signature). */
  readonly sig: string[] = [];
  freshReads = 0;
  transient = false;
  newestMtimeMs = 0;

  constructor(
    private readonly loader: FileLoader,
    private readonly hostRoot: string,
    readonly podId: string,
    private readonly force: boolean,
    private readonly storeDirs: readonly string[] = [],
  ) {}

  /**
   * List a pod or container directory. `listed`: the parent's listing already said this
   * entry is a real directory (not a symlink), so it is not stat-ed again; `false`: the
   * listing did not have it (absent, nothing to do); `null`: unknown, stat it first.
   */
  dir(rel: string, containerId: string | null, listed: boolean | null): DirView {
    const absent: DirView = { rel, present: false, files: new Set(), regular: new Set(), subdirs: [] };
    if (listed === false) return absent;
    const abs = posix.join(this.hostRoot, rel);
    const subject = containerId === null ? "pod_dir" : "container_dir";
    if (listed === null) {
      const st = statEntry(abs);
      if (!st.ok) {
        if (st.reason !== "missing") this.problem(subject, rel, containerId, st.reason, st.message);
        return absent;
      }
      if (st.kind !== "dir") {
        // A pod directory that is not one is already reported by the tree listing.
        if (containerId !== null) {
          const reason = st.kind === "symlink" ? "symlink" : "not_directory";
          this.problem(subject, rel, containerId, reason, `is not a directory (${st.kind})`);
        }
        return absent;
      }
    }
    const list = listDir(abs);
    if (!list.ok) {
      if (list.reason !== "missing") this.problem(subject, rel, containerId, list.reason, list.message);
      return absent;
    }
    this.sig.push(`${rel}/[${list.entries.map((e) => e.name).join("|")}]`);
    return { rel, present: true, ...this.split(list.entries, rel, containerId === null) };
  }

  private split(entries: readonly Dirent[], rel: string, podLevel: boolean) {
    const files = new Set<string>();
    const regular = new Set<string>();
    const subdirs: string[] = [];
    for (const e of entries) {
      if (e.isFile()) {
        files.add(e.name);
        regular.add(e.name);
      } else if (KNOWN_FILES.has(e.name) && !(podLevel && e.isDirectory())) {
        // A symlink, FIFO, socket or directory with a state file's name: the loader
        // reports it (symlink / not_regular_file) without following or opening it.
        files.add(e.name);
      } else if (podLevel && e.isDirectory() && this.storeDirs.includes(e.name)) {
        // The runtime store's own directory (Kata 1.x `raw/`): neither a container nor a problem.
      } else if (podLevel && (e.isDirectory() || e.isSymbolicLink())) {
        const id = validateId(e.name);
        if (!id.ok)
          this.problem(
            "container_dir",
            `${rel}/${printableName(e.name)}`,
            null,
            "invalid_id",
            id.error.message,
          );
        else if (e.isDirectory()) subdirs.push(e.name);
        else
          this.problem(
            "container_dir",
            posix.join(rel, e.name),
            e.name,
            "symlink",
            "container directory is a symlink",
          );
      }
      // Sockets (proxy.sock, console.sock, mon-*, ctl-*, kata.sock...) and anything else are skipped.
    }
    return { files, regular, subdirs };
  }

  load<R extends keyof ResourceValues>(
    resource: R,
    dir: DirView,
    file: string,
    containerId: string | null,
    required: boolean,
  ): ResourceValues[R] | null {
    if (!dir.present) return null;
    const target: LoadTarget = { rel: `${dir.rel}/${file}`, podId: this.podId, containerId };
    if (!dir.files.has(file)) {
      if (required) this.problems.push(makeProblem(resource, target, "missing", "file is missing", false));
      this.sig.push(`${file}=absent`);
      return null;
    }
    const got: Loaded<ResourceValues[R]> = this.loader.load(
      resource,
      target,
      this.force,
      dir.regular.has(file),
    );
    this.sig.push(`${file}=${got.sig}`);
    if (got.fresh) this.freshReads++;
    this.seenMtime(got.mtimeMs);
    if (got.transient) this.transient = true;
    // A file that vanished between readdir and open is an expected race, not a problem.
    if (got.problem !== null && (got.problem.reason !== "missing" || required)) {
      // A required file is missing because its whole directory just went away: a race too.
      if (got.problem.reason === "missing" && this.gone(dir)) return null;
      this.problems.push(got.problem);
    }
    return got.value;
  }

  /**
   * Identity from `<bundle>/config.json` under the host root; null when the bundle is not
   * visible there (then the identity stays unknown and says why).
   */
  bundleIdentity(bundlePath: string, cid: string): Identity | null {
    const rel = bundleRel(this.hostRoot, bundlePath);
    if (rel === null) return null;
    const dir: DirView = {
      rel,
      present: true,
      files: new Set(["config.json"]),
      regular: new Set(),
      subdirs: [],
    };
    const st = statEntry(this.abs(`${rel}/config.json`));
    if (!st.ok) return null;
    return this.load("bundle_config", dir, "config.json", cid, false);
  }

  /** The directory no longer exists (deleted while we read it). */
  gone(dir: DirView): boolean {
    const st = statEntry(this.abs(dir.rel));
    if (!st.ok && st.reason === "missing") {
      this.vanished.add(dir.rel);
      return true;
    }
    return false;
  }

  readonly vanished = new Set<string>();

  /**
   * A container's run directory, listed: the listing says which files are regular, and those
   * are opened without an lstat each. A directory gone meanwhile is a vanished container; one
   * that cannot be listed (no read permission) has its four known files looked up by name.
   */
  containerRunDir(rel: string): DirView {
    const list = listDir(this.abs(rel));
    if (list.ok) {
      this.sig.push(`${rel}/[${list.entries.map((e) => e.name).join("|")}]`);
      return { rel, present: true, ...this.split(list.entries, rel, false) };
    }
    if (list.reason === "missing") {
      this.vanished.add(rel);
      return { rel, present: false, files: new Set(), regular: new Set(), subdirs: [] };
    }
    return { rel, present: true, files: CONTAINER_RUN_FILES, regular: new Set(), subdirs: [] };
  }

  abs(rel: string): string {
    return posix.join(this.hostRoot, rel);
  }

  lockPresent(run: DirView): boolean {
    if (!run.files.has("lock")) return false;
    if (run.regular.has("lock")) return true;
    const rel = `${run.rel}/lock`;
    const st = statEntry(posix.join(this.hostRoot, rel));
    if (st.ok && st.kind !== "file") {
      const reason = st.kind === "symlink" ? "symlink" : "not_regular_file";
      this.problem("lock", rel, null, reason, "lock is not a regular file");
    }
    return st.ok && st.kind === "file";
  }

  /** The lock file is created once with the pod and never rewritten: a start time of last resort. */
  lockMtimeSeconds(run: DirView): number | null {
    if (!run.regular.has("lock")) return null;
    const st = statEntry(posix.join(this.hostRoot, `${run.rel}/lock`));
    return st.ok && st.kind === "file" ? st.key.mtimeMs / 1000 : null;
  }

  problem(
    file: FileProblem["file"],
    rel: string,
    containerId: string | null,
    reason: FileProblem["reason"],
    message: string,
  ) {
    this.problems.push(makeProblem(file, { rel, podId: this.podId, containerId }, reason, message, false));
  }

  private seenMtime(ms: number): void {
    if (ms > this.newestMtimeMs) this.newestMtimeMs = ms;
  }
}

/**
 * A bundle path (absolute on the host) relative to the host root, or null when it is not a
 * clean absolute path. `/var/run` is a symlink to `/run` on most hosts: it is read as `run/`
 * unless the host root has a real `var/run` directory (never through the link, which would
 * point outside the host root).
 */
function bundleRel(hostRoot: string, bundlePath: string): string | null {
  if (!bundlePath.startsWith("/") || bundlePath.includes("\0") || bundlePath.length > 4096) return null;
  const rel = posix.normalize(bundlePath).replace(/^\/+/, "").replace(/\/+$/, "");
  if (rel === "" || rel.split("/").some((c) => c === ".." || c === ".")) return null;
  if (rel.startsWith("var/run/")) {
    const st = statEntry(posix.join(hostRoot, "var/run"));
    if (!(st.ok && st.kind === "dir")) return `run/${rel.slice("var/run/".length)}`;
  }
  return rel;
}

const CONTAINER_RUN_FILES: ReadonlySet<string> = new Set([
  "state.json",
  "process.json",
  "mounts.json",
  "devices.json",
]);

const KNOWN_FILES: ReadonlySet<string> = new Set([
  "persist.json",
  "config.json",
  "state.json",
  "network.json",
  "hypervisor.json",
  "agent.json",
  "lock",
  "process.json",
  "mounts.json",
  "devices.json",
]);

function treeRel(set: TreeSet, tree: Tree, podId: string): string {
  return `${tree === "run" ? set.run : set.config}/${podId}`;
}

/**
 * Whether each tree's listing had the pod as a directory; null when not known (incremental
 * scans, or a tree root that could not be listed): then the pod directory is checked by name.
 */
export interface Listed {
  readonly run: boolean | null;
  readonly config: boolean | null;
}

/**
 * `previous`: the pod's record from the last snapshot. It is returned as is (same object)
 * when this scan read no file contents and found exactly the same files, stat keys,
 * problems and directory entries: the renderer then reuses what it made for that object.
 */
export function scanPod(
  loader: FileLoader,
  hostRoot: string,
  set: TreeSet,
  podId: string,
  force: boolean,
  listed: Listed | null = null,
  previous: PodRecord | null = null,
): PodScan {
  const r = new PodReader(loader, hostRoot, podId, force, set.storeDirs);
  const run = r.dir(treeRel(set, "run", podId), null, listed === null ? null : listed.run);
  const cfg = r.dir(treeRel(set, "config", podId), null, listed === null ? null : listed.config);
  if (!run.present && !cfg.present) return { record: null, transient: false };
  // Kata 1.11+ (persist.json) shares /run/vc/sbs with Kata 1.x files: told apart per sandbox.
  if (set.id === "sbs" && run.present && run.files.has("persist.json")) {
    return finishPersist(r, set, podId, run, cfg, previous);
  }

  const config = r.load("pod_config", cfg, "config.json", null, true);
  const stateFile = r.load("pod_state", run, "state.json", null, true);
  const network = r.load("network", run, "network.json", null, false);
  const hypervisor = r.load("hypervisor", run, "hypervisor.json", null, false);
  const agent = r.load("agent", run, "agent.json", null, false);
  const lockPresent = r.lockPresent(run);
  // Kata 1.2+: the devices attached to the VM, which container devices.json files refer to.
  const sandboxDevices =
    set.id === "sbs" ? r.load("sandbox_devices", run, "devices.json", null, false) : null;
  for (const e of sandboxDevices?.entryErrors ?? []) {
    r.problem("sandbox_devices", `${run.rel}/devices.json`, null, e.reason, `entry ${e.index}: ${e.message}`);
  }

  const ids = [...new Set([...run.subdirs, ...cfg.subdirs])];
  const containers = ids
    .map((cid) => scanContainer(r, run, cfg, config, cid, sandboxDevices?.devices ?? []))
    .filter((c): c is ContainerRecord => c !== null)
    .sort(bySandboxThenId);
  const identity = podIdentity(config, containers);
  const sandbox = containers.find((c) => c.type === "sandbox");
  const presence: Presence = run.present && cfg.present ? "both" : run.present ? "run_only" : "config_only";
  const record: PodRecord = {
    id: podId,
    layout: set.id === "sbs" ? "kata1" : "virtcontainers",
    treeSet: set.id,
    presence,
    state: effectiveState(stateFile),
    identity,
    vcpus: podVCPUs(config, hypervisor),
    memoryBytes: set.id === "sbs" ? kata1MemoryBytes(config, hypervisor) : podMemoryBytes(config),
    networkEndpoints: networkEndpoints(network),
    startTimeSeconds: sandbox?.startTimeSeconds ?? r.lockMtimeSeconds(run) ?? identity.createdSeconds,
    lockPresent,
    newestMtimeMs: r.newestMtimeMs,
    config,
    stateFile,
    network,
    hypervisor,
    agent,
    containers,
    problems: r.problems,
    signature: signatureOf(r.sig),
  };
  return reuse(r, record, previous);
}

/**
 * A pod's signature as a SHA-256 digest of what the scan found: equal for equal findings, 44
 * characters per pod kept instead of the whole text (kilobytes of paths and stat keys per pod).
 */
function signatureOf(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("base64");
}

/** The previous record (same object) when nothing was read and nothing changed; else the new one. */
function reuse(r: PodReader, record: PodRecord, previous: PodRecord | null): PodScan {
  if (previous !== null && r.freshReads === 0 && previous.signature === record.signature) {
    return { record: previous, transient: r.transient };
  }
  return { record, transient: r.transient };
}

function scanContainer(
  r: PodReader,
  podRun: { rel: string; present: boolean; subdirs: readonly string[] },
  podCfg: { rel: string; present: boolean; subdirs: readonly string[] },
  podConfig: PodConfigInfo | null,
  cid: string,
  sandboxDevices: readonly SandboxDevice[],
): ContainerRecord | null {
  const inRun = podRun.subdirs.includes(cid);
  const inCfg = podCfg.subdirs.includes(cid);
  const run = inRun ? r.containerRunDir(`${podRun.rel}/${cid}`) : null;
  // The pod config embeds every container's config: read the container's own file only
  // when the pod config does not describe it (a container still being created).
  let config: ContainerConfigInfo | null = podConfig?.containers.find((c) => c.id === cid) ?? null;
  if (config === null && inCfg) {
    const cfg = r.dir(`${podCfg.rel}/${cid}`, cid, true);
    config = r.load("container_config", cfg, "config.json", cid, true);
  }
  const stateFile = run === null ? null : r.load("container_state", run, "state.json", cid, true);
  const process = run === null ? null : r.load("process", run, "process.json", cid, false);
  const mountList = run === null ? null : r.load("mounts", run, "mounts.json", cid, false);
  const devicesFile = run === null ? null : r.load("devices", run, "devices.json", cid, false);
  // Deleted while we read it (DeleteContainer removes the directories): not a container any more.
  if (run !== null && r.vanished.has(run.rel) && !inCfg) return null;
  const devices = containerDevices(r, devicesFile, sandboxDevices, `${podRun.rel}/${cid}/devices.json`, cid);
  const identity = containerIdentity(r, config, cid);
  const sandbox = cid === r.podId || config?.vcType === "pod_sandbox" || identity.kind === "sandbox";
  return {
    id: cid,
    type: sandbox ? "sandbox" : "container",
    state: effectiveState(stateFile),
    startTimeSeconds: process?.startTimeSeconds ?? null,
    mounts: mountList?.length ?? config?.mounts ?? 0,
    identity,
    config,
    stateFile,
    process,
    mountList,
    devices,
    inRunTree: inRun,
    inConfigTree: inCfg,
  };
}

/** A Kata 1.11-3.x sandbox: /run/vc/sbs/<id>/persist.json and <id>/<cid>/persist.json. */
function finishPersist(
  r: PodReader,
  set: TreeSet,
  podId: string,
  run: DirView,
  cfg: DirView,
  previous: PodRecord | null,
): PodScan {
  const sandbox = r.load("persist", run, "persist.json", null, true);
  for (const e of sandbox?.entryErrors ?? []) {
    r.problem("persist", `${run.rel}/persist.json`, null, e.reason, `device entry ${e.index}: ${e.message}`);
  }
  const configs = sandbox?.config.containers ?? [];
  const containers = run.subdirs
    .map((cid) =>
      persistContainer(r, run, cid, configs.find((c) => c.id === cid) ?? null, sandbox?.devices ?? []),
    )
    .filter((c): c is ContainerRecord => c !== null)
    .sort(bySandboxThenId);
  const config: PodConfigInfo | null =
    sandbox === null
      ? null
      : {
          id: podId,
          hostname: "",
          hypervisorType: sandbox.config.hypervisorType || sandbox.hypervisor.type,
          agentType: sandbox.config.agentType,
          proxyType: sandbox.config.proxyType,
          shimType: sandbox.config.shimType,
          networkModel: "",
          defaultVCPUs: sandbox.config.vcpus ?? 0,
          defaultMaxVCPUs: sandbox.config.defaultMaxVCPUs,
          defaultMemMiB: sandbox.config.memoryMiB ?? 0,
          vmMemoryMiB: 0,
          vmVCPUs: 0,
          netNSPath: sandbox.network?.netNsPath ?? "",
          containers: containers.flatMap((c) => (c.config === null ? [] : [c.config])),
          identity:
            containers.find((c) => c.type === "sandbox")?.identity ?? unknownIdentity("no sandbox container"),
        };
  const identity = podIdentity(config, containers);
  const sandboxContainer = containers.find((c) => c.type === "sandbox");
  const record: PodRecord = {
    id: podId,
    layout: "persist",
    treeSet: set.id,
    presence: cfg.present ? "both" : "run_only",
    state: effectiveState(sandbox?.state ?? null),
    identity,
    vcpus: sandbox === null ? null : persistVCPUs(sandbox),
    memoryBytes: sandbox === null ? null : persistMemoryBytes(sandbox),
    networkEndpoints: networkEndpoints(sandbox?.network ?? null),
    startTimeSeconds: sandboxContainer?.startTimeSeconds ?? identity.createdSeconds,
    // The lock is the sandbox directory itself.
    lockPresent: true,
    newestMtimeMs: r.newestMtimeMs,
    config,
    stateFile: sandbox?.state ?? null,
    network: sandbox?.network ?? null,
    hypervisor:
      sandbox === null
        ? null
        : {
            uuid: sandbox.hypervisor.uuid,
            hotpluggedVCPUs: sandbox.hypervisor.hotpluggedVCPUs,
            bridges: 0,
            hotpluggedMemoryMiB: sandbox.hypervisor.hotpluggedMemoryMiB,
            pid: sandbox.hypervisor.pid,
            virtiofsdPid: sandbox.hypervisor.virtiofsdPid,
          },
    agent: sandbox === null ? null : { proxyPid: sandbox.proxyPid ?? 0, url: sandbox.agentUrl ?? "" },
    containers,
    problems: r.problems,
    signature: signatureOf(r.sig),
  };
  return reuse(r, record, previous);
}

function persistContainer(
  r: PodReader,
  run: DirView,
  cid: string,
  config: PersistContainerConfigInfo | null,
  sandboxDevices: readonly SandboxDevice[],
): ContainerRecord | null {
  const rel = `${run.rel}/${cid}`;
  const dir: DirView = { rel, present: true, files: PERSIST_FILES, regular: new Set(), subdirs: [] };
  const state = r.load("container_persist", dir, "persist.json", cid, true);
  if (r.vanished.has(rel)) return null;
  const { devices, missing } = resolveDeviceRefs(state?.deviceMaps ?? [], sandboxDevices);
  for (const id of missing) {
    r.problem(
      "container_persist",
      `${rel}/persist.json`,
      cid,
      "schema",
      `device ${printableName(id).slice(0, 64)} is not in the sandbox's persist.json`,
    );
  }
  const bundlePath = config?.bundlePath ?? state?.bundlePath ?? null;
  const own = config?.identity ?? unknownIdentity("not in the sandbox's persist.json");
  const identity =
    own.status !== "unknown" || bundlePath === null || bundlePath === ""
      ? own
      : (r.bundleIdentity(bundlePath, cid) ?? own);
  const sandbox = cid === r.podId || config?.vcType === "pod_sandbox" || identity.kind === "sandbox";
  const info: ContainerConfigInfo | null =
    config === null
      ? null
      : {
          id: cid,
          rootFs: "",
          vcType: config.vcType,
          bundlePath,
          identity,
          mounts: state?.mounts.length ?? 0,
          deviceInfos: state?.deviceMaps.length ?? 0,
          cpuQuota: 0,
          cpuPeriod: 0,
          cpuShares: 0,
        };
  return {
    id: cid,
    type: sandbox ? "sandbox" : "container",
    state: effectiveState(state?.state ?? null),
    startTimeSeconds: state?.process?.startTimeSeconds ?? null,
    mounts: state?.mounts.length ?? 0,
    identity,
    config: info,
    stateFile: state?.state ?? null,
    process: state?.process ?? null,
    mountList: state?.mounts ?? null,
    devices,
    inRunTree: true,
    inConfigTree: false,
  };
}

const PERSIST_FILES: ReadonlySet<string> = new Set(["persist.json"]);

/** The typed list (every layout up to Kata 1.1), or references into the sandbox's list (1.2+). */
function containerDevices(
  r: PodReader,
  file: ContainerDevicesFile | null,
  sandboxDevices: readonly SandboxDevice[],
  rel: string,
  cid: string,
): readonly DeviceInfo[] {
  if (file === null) return [];
  if (file.kind === "typed") {
    for (const e of file.devices.entryErrors)
      r.problem("devices", rel, cid, e.reason, `entry ${e.index}: ${e.message}`);
    return file.devices.devices;
  }
  const { devices, missing } = resolveDeviceRefs(file.refs, sandboxDevices);
  for (const id of missing) {
    r.problem(
      "devices",
      rel,
      cid,
      "schema",
      `device ${printableName(id).slice(0, 64)} is not in the sandbox's devices.json`,
    );
  }
  return devices;
}

/**
 * The identity in the container's config (the embedded OCI spec), else, from Kata 1.9 on where
 * the spec is no longer embedded, the OCI bundle's config.json when its path is visible under
 * the host root.
 */
function containerIdentity(r: PodReader, config: ContainerConfigInfo | null, cid: string): Identity {
  const own = config?.identity ?? unknownIdentity("no container config");
  if (own.status !== "unknown" || config?.bundlePath == null) return own;
  return r.bundleIdentity(config.bundlePath, cid) ?? own;
}

function bySandboxThenId(a: ContainerRecord, b: ContainerRecord): number {
  if (a.type !== b.type) return a.type === "sandbox" ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The pod's identity: its own annotations, else the sandbox's, else any container's. */
function podIdentity(config: PodConfigInfo | null, containers: readonly ContainerRecord[]): Identity {
  const candidates: Identity[] = [
    ...(config !== null ? [config.identity] : []),
    ...containers.filter((c) => c.type === "sandbox").map((c) => c.identity),
    ...containers.map((c) => c.identity),
  ];
  const known = candidates.find((i) => i.status === "known" && i.namespace !== null && i.podName !== null);
  if (known !== undefined) return known;
  const anyKnown = candidates.find((i) => i.status === "known");
  if (anyKnown !== undefined) return anyKnown;
  // Kata 1.9+ no longer embeds the spec, so the pod config's own identity is unknown; a sandbox
  // whose readable spec (its OCI bundle) has no Kubernetes key says "not Kubernetes".
  const sandboxNone = containers.find((c) => c.type === "sandbox" && c.identity.status === "none");
  if (sandboxNone !== undefined) return sandboxNone.identity;
  if (candidates.length > 0 && candidates.every((i) => i.status === "none"))
    return candidates[0] ?? unknownIdentity("");
  return unknownIdentity(
    candidates.find((i) => i.problem !== null)?.problem ?? "no readable container config",
  );
}
