/** `/var/lib/virtcontainers/pods/<podID>/config.json` — PodConfig (spec 4.1). */
import { decodeContainerConfig } from "./container-config.js";
import { asObj, each, objOrNull, str, stringMapOrNull, uint, uintOrNull } from "./decode.js";
import { identityFromVcAnnotations, type IdentityMemo } from "./identity.js";
import type { PodConfigInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parsePodConfig(text: string): Parsed<PodConfigInfo> {
  return decodeText(text, decodePodConfig);
}

function decodePodConfig(value: unknown): PodConfigInfo {
  const o = asObj(value, "$");
  const hv = objOrNull(o, "HypervisorConfig", "$") ?? {};
  const vm = objOrNull(o, "VMConfig", "$") ?? {};
  const net = objOrNull(o, "NetworkConfig", "$") ?? {};
  const hp = "$.HypervisorConfig";
  const memo: IdentityMemo = [];
  return {
    id: str(o, "ID", "$"),
    hostname: str(o, "Hostname", "$"),
    hypervisorType: str(o, "HypervisorType", "$"),
    agentType: str(o, "AgentType", "$"),
    proxyType: str(o, "ProxyType", "$"),
    shimType: str(o, "ShimType", "$"),
    networkModel: str(o, "NetworkModel", "$"),
    // Kata 1.3+ renamed DefaultVCPUs/DefaultMemSz to NumVCPUs/MemorySize.
    defaultVCPUs: uintOrNull(hv, "DefaultVCPUs", hp) ?? uint(hv, "NumVCPUs", hp),
    defaultMaxVCPUs: uintOrNull(hv, "DefaultMaxVCPUs", hp),
    defaultMemMiB: uintOrNull(hv, "DefaultMemSz", hp) ?? uint(hv, "MemorySize", hp),
    vmMemoryMiB: uint(vm, "Memory", "$.VMConfig"),
    // Until 2018-03-06 the OCI CPU limit was stored here and QEMU booted with it.
    vmVCPUs: uint(vm, "VCPUs", "$.VMConfig"),
    netNSPath: str(net, "NetNSPath", "$.NetworkConfig"),
    containers: each(o, "Containers", "$", (v, p) => decodeContainerConfig(v, p, memo)),
    identity: identityFromVcAnnotations(stringMapOrNull(o, "Annotations", "$"), memo),
  };
}
