/**
 * What the parsers return: only the fields the exporter and the collector use. Secrets
 * stay out by construction: no environment values (Cmd.Envs, hook Env), no raw embedded
 * OCI spec, no I/O tokens, no annotations beyond the identity keys.
 */
import type { Identity } from "./identity.js";

export const VC_STATES = ["ready", "running", "paused", "stopped", "unknown"] as const;
export type VcState = (typeof VC_STATES)[number];

export interface StateInfo {
  readonly state: VcState;
  /** The stored text when it is not one of the known states (bounded to 32 chars). */
  readonly rawState: string;
  readonly blockIndex: number;
  readonly fstype: string;
  readonly hotpluggedDrive: boolean;
  /** Pre-2018-01-25 pod state.json kept the proxy PID and URL here (spec section 7). */
  readonly legacyProxyPid: number | null;
  readonly legacyUrl: string | null;
}

export interface ContainerConfigInfo {
  readonly id: string;
  readonly rootFs: string;
  /** From the virtcontainers container_type annotation. */
  readonly vcType: "pod_sandbox" | "pod_container" | null;
  readonly bundlePath: string | null;
  readonly identity: Identity;
  readonly mounts: number;
  readonly deviceInfos: number;
  readonly cpuQuota: number;
  readonly cpuPeriod: number;
  readonly cpuShares: number;
}

export interface PodConfigInfo {
  readonly id: string;
  readonly hostname: string;
  readonly hypervisorType: string;
  readonly agentType: string;
  readonly proxyType: string;
  readonly shimType: string;
  readonly networkModel: string;
  readonly defaultVCPUs: number;
  readonly defaultMaxVCPUs: number | null;
  readonly defaultMemMiB: number;
  /** VMConfig.Memory in MiB, 0 = use DefaultMemSz. */
  readonly vmMemoryMiB: number;
  /** VMConfig.VCPUs (files written before 2018-03-06), 0 = use DefaultVCPUs. */
  readonly vmVCPUs: number;
  readonly netNSPath: string;
  readonly containers: readonly ContainerConfigInfo[];
  /** Identity from the pod's own annotations (the sandbox container's embedded spec). */
  readonly identity: Identity;
}

export interface EndpointInfo {
  readonly type: string;
  readonly ifaceName: string;
  readonly ipv4: readonly string[];
}

export interface NetworkInfo {
  readonly netNsPath: string;
  readonly netNsCreated: boolean;
  readonly endpoints: readonly EndpointInfo[];
}

export interface HypervisorInfo {
  readonly uuid: string;
  readonly hotpluggedVCPUs: number;
  readonly bridges: number;
}

export interface AgentInfo {
  readonly proxyPid: number;
  readonly url: string;
}

export interface ProcessInfo {
  readonly pid: number;
  readonly startTime: string;
  readonly startTimeSeconds: number | null;
}

export interface MountInfo {
  readonly destination: string;
  readonly type: string;
  /** Host-side shared path (non-empty only for bind mounts shared into the VM). */
  readonly hostPath: string;
}

export type DeviceType = "vfio" | "block" | "generic";
export const DEVICE_TYPES: readonly DeviceType[] = ["block", "generic", "vfio"];

export interface DeviceInfo {
  readonly type: DeviceType;
  readonly hostPath: string;
  readonly containerPath: string;
  readonly devType: string;
  readonly major: number;
  readonly minor: number;
  readonly hotplugged: boolean;
  readonly id: string;
  /** vfio only: PCI bus:slot.func. */
  readonly bdf: string;
  /** block only. */
  readonly scsiAddr: string;
  readonly virtPath: string;
}

export interface DeviceEntryError {
  readonly index: number;
  readonly reason: "unknown_device_type" | "schema";
  readonly type: string;
  readonly message: string;
}

export interface DevicesInfo {
  readonly devices: readonly DeviceInfo[];
  /** Entries that could not be used (an unknown `Type`, a malformed entry). */
  readonly entryErrors: readonly DeviceEntryError[];
}

// ---------------------------------------------------------------------------------------------
// Kata Containers 1.x files layout (/run/vc/sbs, /var/lib/vc/sbs; spec section 8)

/** A device known to the sandbox's device manager (Kata 1.2+), keyed by its manager ID. */
export interface SandboxDevice {
  readonly id: string;
  readonly info: DeviceInfo;
}

/** The sandbox-level `devices.json` of Kata 1.2–1.10, or `persist.json` `Devices`. */
export interface SandboxDevicesInfo {
  readonly devices: readonly SandboxDevice[];
  readonly entryErrors: readonly DeviceEntryError[];
}

/** One entry of a Kata 1.2+ container `devices.json` (or persist `DeviceMaps`). */
export interface DeviceRef {
  readonly id: string;
  readonly containerPath: string;
}

/**
 * A container `devices.json` parsed once: the typed list of virtcontainers and Kata <= 1.1
 * (`[{Type, Data}]`) or the Kata 1.2+ reference list (`[{ID, ContainerPath}]`).
 */
export type ContainerDevicesFile =
  | { readonly kind: "typed"; readonly devices: DevicesInfo }
  | { readonly kind: "refs"; readonly refs: readonly DeviceRef[] };

/** `hypervisor.json` of Kata 1.x: QemuState (1.3+ adds memory, 1.10 virtiofsd) or CLH state. */
export interface Kata1HypervisorInfo extends HypervisorInfo {
  /** `HotpluggedMemory` (QEMU, Kata 1.3+), MiB; 0 when absent. */
  readonly hotpluggedMemoryMiB: number;
  /** Cloud Hypervisor `PID` (Kata 1.10+); null when absent or not positive. */
  readonly pid: number | null;
  /** QEMU `VirtiofsdPid` / CLH `VirtiofsdPID` (Kata 1.10+); null when absent or not positive. */
  readonly virtiofsdPid: number | null;
}

// ---------------------------------------------------------------------------------------------
// persist.json (Kata 1.11–1.12, 2.x, 3.x Go runtime; spec section 9)

export interface PersistHypervisorInfo {
  /** `HypervisorState.Type`: "qemu", "clh", "firecracker", "acrn", ... ("" when absent). */
  readonly type: string;
  readonly uuid: string;
  /** The hypervisor's host PID; null when absent or not positive. */
  readonly pid: number | null;
  /** `VirtiofsdPid` (1.11–2.3) / `VirtiofsDaemonPid` (2.4+); null when absent or not positive. */
  readonly virtiofsdPid: number | null;
  /** Number of `HotpluggedVCPUs` entries. */
  readonly hotpluggedVCPUs: number;
  /** `HotpluggedMemory`, MiB. */
  readonly hotpluggedMemoryMiB: number;
}

export interface PersistContainerConfigInfo {
  readonly id: string;
  /** From the container's annotations (Kata 2.2+); unknown before, with the reason. */
  readonly identity: Identity;
  readonly bundlePath: string | null;
  readonly vcType: "pod_sandbox" | "pod_container" | null;
}

export interface PersistConfigInfo {
  readonly hypervisorType: string;
  /** Boot vCPUs: `NumVCPUs` (<= 3.2) or `ceil(NumVCPUsF)` (3.3+); null when absent. */
  readonly vcpus: number | null;
  /** Boot memory `MemorySize`, MiB; null when absent. */
  readonly memoryMiB: number | null;
  readonly defaultMaxVCPUs: number | null;
  /** Kata 1.x only; "" in 2.x/3.x. */
  readonly agentType: string;
  readonly proxyType: string;
  /** Kata 1.x and 2.0–2.1; "" later. */
  readonly shimType: string;
  readonly containers: readonly PersistContainerConfigInfo[];
}

export interface PersistSandboxInfo {
  readonly state: StateInfo;
  readonly sandboxContainer: string;
  readonly hypervisor: PersistHypervisorInfo;
  readonly agentUrl: string | null;
  /** Kata 1.11–1.12 `AgentState.ProxyPid`; null when absent or not positive. */
  readonly proxyPid: number | null;
  readonly network: NetworkInfo | null;
  readonly config: PersistConfigInfo;
  readonly devices: readonly SandboxDevice[];
  readonly entryErrors: readonly DeviceEntryError[];
}

export interface PersistContainerInfo {
  readonly state: StateInfo;
  readonly bundlePath: string | null;
  /** `Pid` is kept as stored: Kata 2.x writes -1 (no per-container shim). */
  readonly process: ProcessInfo | null;
  readonly deviceMaps: readonly DeviceRef[];
  readonly mounts: readonly MountInfo[];
}
