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
