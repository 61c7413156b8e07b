/** Values the metrics need, derived from parsed files (spec section 6). Pure. */
import type { HypervisorInfo, NetworkInfo, PodConfigInfo, StateInfo, VcState } from "./model.js";

const MIB = 1024 * 1024;

export function effectiveState(state: StateInfo | null): VcState {
  return state?.state ?? "unknown";
}

/**
 * Boot vCPUs (`VMConfig.VCPUs` when set, else `DefaultVCPUs`) plus hot-plugged ones; null
 * when the pod config is unreadable.
 */
export function podVCPUs(config: PodConfigInfo | null, hv: HypervisorInfo | null): number | null {
  if (config === null) return null;
  const boot = config.vmVCPUs > 0 ? config.vmVCPUs : config.defaultVCPUs;
  return boot + (hv?.hotpluggedVCPUs ?? 0);
}

/** `VMConfig.Memory` when set, else `DefaultMemSz`; MiB to bytes. */
export function podMemoryBytes(config: PodConfigInfo | null): number | null {
  if (config === null) return null;
  const mib = config.vmMemoryMiB > 0 ? config.vmMemoryMiB : config.defaultMemMiB;
  return mib > 0 ? mib * MIB : null;
}

export function networkEndpoints(net: NetworkInfo | null): number | null {
  return net === null ? null : net.endpoints.length;
}
