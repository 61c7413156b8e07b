/**
 * `persist.json` of the Go runtime: Kata 1.11–1.12 and 2.x/3.x (spec section 9), one per
 * sandbox (`/run/vc/sbs/<id>/persist.json`, SandboxState) and one per container
 * (`/run/vc/sbs/<id>/<cid>/persist.json`, ContainerState). Read from
 * kata-containers/runtime 1.11.0/1.12.1 `virtcontainers/persist/api/*.go` and
 * kata-containers/kata-containers 2.0.0–HEAD `src/runtime/virtcontainers/persist/api/*.go`,
 * `src/runtime/pkg/hypervisors/hypervisor_state.go` (2.4+) and
 * `src/runtime/pkg/device/config/config.go` (`DeviceState`, 3.x).
 *
 * Decisions:
 * - `State` "creating" (2.x) is not a model state: it maps to `unknown` with `rawState`
 *   "creating" (the model's state set is what the metrics enumerate).
 * - Boot vCPUs of 3.3+ are `ceil(NumVCPUsF)`, as upstream `RoundUpNumVCPUs` does.
 * - Devices: `vfio`, `block`, `generic` map to the model's DeviceInfo; any other `Type`
 *   (`vhost-user-blk-pci`, `vhost-user-scsi-pci`, `virtio-net-pci`, `vhost-user-fs-pci`, ...)
 *   is an entry error `unknown_device_type` carrying the type. `DeviceState` has no host or
 *   container path: `hostPath` is the block drive's `File` (the host device) or the VFIO
 *   group's `HostPath` (3.7+), else ""; `containerPath` is "" (it comes from `DeviceMaps`);
 *   `hotplugged` is `AttachCount > 0 && !ColdPlug` for vfio and block, always false for
 *   generic devices (`deviceHotplugged`); the BDF is the last VFIO function's.
 */
import {
  arrOrNull,
  asObj,
  bool,
  each,
  int,
  isObj,
  objOrNull,
  str,
  stringMapOrNull,
  uint,
  uintOrNull,
  type Obj,
} from "./decode.js";
import {
  identityFromOciAnnotations,
  isVcAnnotationKey,
  unknownIdentity,
  vcAnnotation,
  vcContainerType,
  type Identity,
} from "./identity.js";
import { decodeDeviceList, deviceHotplugged, isDeviceType } from "./devices.js";
import { decodeDeviceRefs, decodeProcess, lastBdf, positiveOrNull } from "./kata1.js";
import type {
  EndpointInfo,
  MountInfo,
  NetworkInfo,
  PersistConfigInfo,
  PersistContainerConfigInfo,
  PersistContainerInfo,
  PersistHypervisorInfo,
  PersistSandboxInfo,
  SandboxDevice,
  StateInfo,
} from "./model.js";
import { SchemaError, decodeText, type Parsed } from "./result.js";
import { toVcState } from "./state.js";

const MIB = 1024 * 1024;

/** Reason of the identity of a container config without OCI annotations (stored only since 2.2). */
export const NO_OCI_ANNOTATIONS = "no OCI annotations (Kata < 2.2): read the bundle";

/** The sandbox `persist.json` (SandboxState) of Kata 1.11–3.x. */
export function parsePersistSandbox(text: string): Parsed<PersistSandboxInfo> {
  return decodeText(text, decodeSandbox);
}

/** A container `persist.json` (ContainerState) of Kata 1.11–3.x. */
export function parsePersistContainer(text: string): Parsed<PersistContainerInfo> {
  return decodeText(text, decodeContainer);
}

/** vCPUs of the VM now: boot vCPUs plus hot-plugged ones; null when the boot count is unknown. */
export function persistVCPUs(sandbox: PersistSandboxInfo): number | null {
  const boot = sandbox.config.vcpus;
  return boot === null ? null : boot + sandbox.hypervisor.hotpluggedVCPUs;
}

/** Memory of the VM now: `MemorySize` plus `HotpluggedMemory`, MiB to bytes; null when unknown or 0. */
export function persistMemoryBytes(sandbox: PersistSandboxInfo): number | null {
  const boot = sandbox.config.memoryMiB;
  if (boot === null) return null;
  const mib = boot + sandbox.hypervisor.hotpluggedMemoryMiB;
  return mib > 0 ? mib * MIB : null;
}

// ---------------------------------------------------------------------------------------------

function stateInfo(raw: string, fstype: string): StateInfo {
  return {
    state: toVcState(raw),
    rawState: raw.slice(0, 32),
    blockIndex: 0,
    fstype: fstype.slice(0, 32),
    hotpluggedDrive: false,
    legacyProxyPid: null,
    legacyUrl: null,
  };
}

function decodeSandbox(value: unknown): PersistSandboxInfo {
  const o = asObj(value, "$");
  const agent = objOrNull(o, "AgentState", "$");
  const net = objOrNull(o, "Network", "$");
  const devices = decodeDeviceList(o.Devices ?? null, "$.Devices", decodeDeviceState);
  return {
    state: stateInfo(str(o, "State", "$"), ""),
    sandboxContainer: str(o, "SandboxContainer", "$"),
    hypervisor: decodeHypervisor(objOrNull(o, "HypervisorState", "$") ?? {}, "$.HypervisorState"),
    agentUrl: agent === null ? null : str(agent, "URL", "$.AgentState") || null,
    proxyPid: agent === null ? null : positiveOrNull(int(agent, "ProxyPid", "$.AgentState")),
    network: net === null ? null : decodeNetwork(net, "$.Network"),
    config: decodeConfig(objOrNull(o, "Config", "$") ?? {}, "$.Config"),
    devices: devices.devices,
    entryErrors: devices.entryErrors,
  };
}

function decodeHypervisor(h: Obj, path: string): PersistHypervisorInfo {
  return {
    type: str(h, "Type", path).slice(0, 32),
    uuid: str(h, "UUID", path),
    pid: positiveOrNull(int(h, "Pid", path)),
    // 1.11–2.3 "VirtiofsdPid", 2.4+ "VirtiofsDaemonPid".
    virtiofsdPid: positiveOrNull(int(h, "VirtiofsDaemonPid", path) || int(h, "VirtiofsdPid", path)),
    hotpluggedVCPUs: arrOrNull(h, "HotpluggedVCPUs", path)?.length ?? 0,
    hotpluggedMemoryMiB: Math.max(0, int(h, "HotpluggedMemory", path)),
  };
}

/** 2.4+ `{NetworkID, Endpoints, NetworkCreated}`; 1.11–2.3 `{NetNsPath, NetmonPID, NetNsCreated, Endpoints}`. */
function decodeNetwork(n: Obj, path: string): NetworkInfo {
  return {
    netNsPath: str(n, "NetworkID", path) || str(n, "NetNsPath", path),
    netNsCreated: bool(n, "NetworkCreated", path) || bool(n, "NetNsCreated", path),
    endpoints: each(n, "Endpoints", path, decodeEndpoint),
  };
}

/** Endpoint kinds whose interface sits in a `NetPair` (its `VirtIface` is the netns side). */
const NET_PAIR_KINDS = ["Veth", "Macvlan", "BridgedMacvlan", "IPVlan"] as const;

/** `{Type, <Kind>: {...}}` with exactly one kind set; persist keeps no IPs besides `VirtIface.Addrs`. */
function decodeEndpoint(value: unknown, path: string): EndpointInfo {
  const o = asObj(value, path);
  const type = str(o, "Type", path).slice(0, 32);
  for (const kind of NET_PAIR_KINDS) {
    const ep = objOrNull(o, kind, path);
    const pair = ep === null ? null : objOrNull(ep, "NetPair", `${path}.${kind}`);
    if (pair === null) continue;
    const vp = `${path}.${kind}.NetPair.VirtIface`;
    const virt = objOrNull(pair, "VirtIface", `${path}.${kind}.NetPair`) ?? {};
    return { type, ifaceName: str(virt, "Name", vp), ipv4: ipv4Addrs(virt, vp) };
  }
  for (const kind of ["VhostUser", "Vfio"]) {
    const ep = objOrNull(o, kind, path);
    if (ep !== null) return { type, ifaceName: str(ep, "IfaceName", `${path}.${kind}`), ipv4: [] };
  }
  const tap = objOrNull(o, "Tap", path);
  const tapIf = tap === null ? null : objOrNull(tap, "TapInterface", `${path}.Tap`);
  if (tapIf !== null) return { type, ifaceName: str(tapIf, "Name", `${path}.Tap.TapInterface`), ipv4: [] };
  const tuntap = objOrNull(o, "Tuntap", path);
  const tunIf = tuntap === null ? null : objOrNull(tuntap, "TuntapInterface", `${path}.Tuntap`);
  if (tunIf !== null)
    return { type, ifaceName: str(tunIf, "Name", `${path}.Tuntap.TuntapInterface`), ipv4: [] };
  return { type, ifaceName: "", ipv4: [] };
}

/** netlink `Addr` embeds `*net.IPNet`, so each address is `{"IP": "...", "Mask": base64, ...}`. */
function ipv4Addrs(iface: Obj, path: string): string[] {
  return each(iface, "Addrs", path, (v, p) => (isObj(v) ? str(v, "IP", p) : "")).filter((ip) =>
    /^\d{1,3}(\.\d{1,3}){3}$/.test(ip),
  );
}

function decodeConfig(c: Obj, path: string): PersistConfigInfo {
  const hp = `${path}.HypervisorConfig`;
  const hv = objOrNull(c, "HypervisorConfig", path) ?? {};
  return {
    hypervisorType: str(c, "HypervisorType", path).slice(0, 32),
    vcpus: bootVCPUs(hv, hp),
    memoryMiB: uintOrNull(hv, "MemorySize", hp),
    defaultMaxVCPUs: uintOrNull(hv, "DefaultMaxVCPUs", hp),
    agentType: str(c, "AgentType", path).slice(0, 32),
    proxyType: str(c, "ProxyType", path).slice(0, 32),
    shimType: str(c, "ShimType", path).slice(0, 32),
    containers: each(c, "ContainerConfigs", path, decodeContainerConfig),
  };
}

/** `NumVCPUsF` (float32, 3.3+) rounded up as upstream `RoundUpNumVCPUs` does, else `NumVCPUs`. */
function bootVCPUs(hv: Obj, path: string): number | null {
  const f = hv.NumVCPUsF;
  if (f !== undefined && f !== null) {
    if (typeof f !== "number" || !Number.isFinite(f) || f < 0 || f > 2 ** 32)
      throw new SchemaError(`${path}.NumVCPUsF`, "a non-negative number");
    return Math.ceil(f);
  }
  return uintOrNull(hv, "NumVCPUs", path);
}

function decodeContainerConfig(value: unknown, path: string): PersistContainerConfigInfo {
  const o = asObj(value, path);
  const annotations = stringMapOrNull(o, "Annotations", path);
  return {
    id: str(o, "ID", path),
    identity: containerIdentity(annotations),
    bundlePath: vcAnnotation(annotations, "bundle_path") ?? null,
    vcType: vcContainerType(annotations),
  };
}

/**
 * Kata 2.2+ stores the container's whole OCI annotations (plus the runtime's own keys);
 * before, only `bundle_path` and `container_type`. Annotations holding nothing but the
 * runtime's keys cannot tell "no Kubernetes keys" from "not stored": unknown, read the bundle.
 */
function containerIdentity(annotations: Readonly<Record<string, string>> | null): Identity {
  if (annotations === null || Object.keys(annotations).every(isVcAnnotationKey))
    return unknownIdentity(NO_OCI_ANNOTATIONS);
  return identityFromOciAnnotations(annotations);
}

/** `DeviceState` (1.11+; key order differs by version). */
function decodeDeviceState(value: unknown, path: string): SandboxDevice {
  const o = asObj(value, path);
  const type = str(o, "Type", path);
  if (!isDeviceType(type)) throw new SchemaError(`${path}.Type`, "vfio, block or generic");
  const id = str(o, "ID", path);
  const drive = type === "block" ? objOrNull(o, "BlockDrive", path) : null;
  const bp = `${path}.BlockDrive`;
  return {
    id,
    info: {
      type,
      hostPath: drive !== null ? str(drive, "File", bp) : type === "vfio" ? lastVfioHostPath(o, path) : "",
      containerPath: "",
      devType: str(o, "DevType", path).slice(0, 1),
      major: int(o, "Major", path),
      minor: int(o, "Minor", path),
      hotplugged: deviceHotplugged(type, uint(o, "AttachCount", path) > 0 && !bool(o, "ColdPlug", path)),
      id,
      bdf: type === "vfio" ? lastBdf(o, "VFIODevs", path) : "",
      scsiAddr: drive === null ? "" : str(drive, "SCSIAddr", bp),
      virtPath: drive === null ? "" : str(drive, "VirtPath", bp),
    },
  };
}

/** `VFIODevs[].HostPath` (3.7+): the VFIO group node, e.g. `/dev/vfio/42`. */
function lastVfioHostPath(o: Obj, path: string): string {
  let hostPath = "";
  each(o, "VFIODevs", path, (d, p) => (d === null ? "" : str(asObj(d, p), "HostPath", p))).forEach((h) => {
    if (h !== "") hostPath = h;
  });
  return hostPath;
}

function decodeContainer(value: unknown): PersistContainerInfo {
  const o = asObj(value, "$");
  const rootfs = objOrNull(o, "Rootfs", "$") ?? {};
  const proc = objOrNull(o, "Process", "$");
  return {
    state: stateInfo(str(o, "State", "$"), str(rootfs, "FsType", "$.Rootfs")),
    bundlePath: str(o, "BundlePath", "$") || null,
    process: proc === null ? null : decodeProcess(proc, "$.Process"),
    deviceMaps: decodeDeviceRefs(o.DeviceMaps ?? null, "$.DeviceMaps"),
    mounts: each(o, "Mounts", "$", (v, p): MountInfo => {
      const m = asObj(v, p);
      return {
        destination: str(m, "Destination", p),
        type: str(m, "Type", p),
        hostPath: str(m, "HostPath", p),
      };
    }),
  };
}
