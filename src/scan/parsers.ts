/** Which pure parser reads which resource. */
import { parseAgent } from "../format/agent.js";
import { parseContainerConfig } from "../format/container-config.js";
import { parseDevices } from "../format/devices.js";
import { parseHypervisor } from "../format/hypervisor.js";
import type {
  AgentInfo,
  ContainerConfigInfo,
  DevicesInfo,
  HypervisorInfo,
  MountInfo,
  NetworkInfo,
  PodConfigInfo,
  ProcessInfo,
  StateInfo,
} from "../format/model.js";
import { parseMounts } from "../format/mounts.js";
import { parseNetwork } from "../format/network.js";
import { parsePodConfig } from "../format/pod-config.js";
import { parseProcess } from "../format/process.js";
import type { Parsed } from "../format/result.js";
import { parseState } from "../format/state.js";

export interface ResourceValues {
  pod_config: PodConfigInfo;
  pod_state: StateInfo;
  network: NetworkInfo;
  hypervisor: HypervisorInfo;
  agent: AgentInfo;
  container_config: ContainerConfigInfo;
  container_state: StateInfo;
  process: ProcessInfo;
  mounts: readonly MountInfo[];
  devices: DevicesInfo;
}

export const PARSERS: { readonly [R in keyof ResourceValues]: (text: string) => Parsed<ResourceValues[R]> } =
  {
    pod_config: parsePodConfig,
    pod_state: parseState,
    network: parseNetwork,
    hypervisor: parseHypervisor,
    agent: parseAgent,
    container_config: parseContainerConfig,
    container_state: parseState,
    process: parseProcess,
    mounts: parseMounts,
    devices: parseDevices,
  };
