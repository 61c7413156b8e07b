/** Which pure parser reads which resource. */
import { parseAgent } from "../format/agent.js";
import { parseContainerConfig } from "../format/container-config.js";
import { identityFromBundleConfig, type Identity } from "../format/identity.js";
import {
  parseContainerDevices,
  parseKata1Hypervisor,
  parseKata1Process,
  parseSandboxDevices,
} from "../format/kata1.js";
import type {
  AgentInfo,
  ContainerConfigInfo,
  ContainerDevicesFile,
  Kata1HypervisorInfo,
  MountInfo,
  NetworkInfo,
  PersistContainerInfo,
  PersistSandboxInfo,
  PodConfigInfo,
  ProcessInfo,
  SandboxDevicesInfo,
  StateInfo,
} from "../format/model.js";
import { parseMounts } from "../format/mounts.js";
import { parseNetwork } from "../format/network.js";
import { parsePodConfig } from "../format/pod-config.js";
import { parsePersistContainer, parsePersistSandbox } from "../format/persist.js";
import { ok, type Parsed } from "../format/result.js";
import { parseState } from "../format/state.js";

export interface ResourceValues {
  pod_config: PodConfigInfo;
  pod_state: StateInfo;
  network: NetworkInfo;
  hypervisor: Kata1HypervisorInfo;
  agent: AgentInfo;
  container_config: ContainerConfigInfo;
  container_state: StateInfo;
  process: ProcessInfo;
  mounts: readonly MountInfo[];
  devices: ContainerDevicesFile;
  sandbox_devices: SandboxDevicesInfo;
  bundle_config: Identity;
  persist: PersistSandboxInfo;
  container_persist: PersistContainerInfo;
}

export const PARSERS: { readonly [R in keyof ResourceValues]: (text: string) => Parsed<ResourceValues[R]> } =
  {
    pod_config: parsePodConfig,
    pod_state: parseState,
    network: parseNetwork,
    hypervisor: parseKata1Hypervisor,
    agent: parseAgent,
    container_config: parseContainerConfig,
    container_state: parseState,
    process: parseKata1Process,
    mounts: parseMounts,
    devices: parseContainerDevices,
    sandbox_devices: parseSandboxDevices,
    // Identity never fails the file: an unreadable bundle gives an unknown identity with a reason.
    bundle_config: (text) => ok(identityFromBundleConfig(text)),
    persist: parsePersistSandbox,
    container_persist: parsePersistContainer,
  };
