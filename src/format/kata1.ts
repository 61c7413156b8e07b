/**
 * Files of the Kata Containers 1.x layout (`/run/vc/sbs/<id>`, spec section 8) that the
 * virtcontainers-era parsers do not cover:
 *
 * - Kata 1.2+ moved devices to a sandbox-level device manager: `/run/vc/sbs/<id>/devices.json`
 *   is the typed list `[{Type, Data}]` of every device of the VM, and each container's
 *   `devices.json` became a list of references `[{ID, ContainerPath, ...}]`
 *   (kata-containers/runtime 1.2.0 virtcontainers/filesystem.go `storeDeviceIDFile`,
 *   container.go `ContainerDevice`).
 * - `Data` of a sandbox device: 1.2 `{ID, DeviceInfo, BlockDrive?}` (vfio BDFs are an
 *   unexported field, so not stored); 1.3+ `{ID, DeviceInfo, RefCount, AttachCount,
 *   BlockDrive? | VfioDevs?}` where `DeviceInfo.ContainerPath` is `json:"-"` and `Hotplugged`
 *   is gone (device/drivers/*.go, device/config/config.go at 1.2.0, 1.3.0, 1.4.0).
 * - With the built-in shim (shim v2, Kata 1.5+) `process.json` stores `"Pid":-1`
 *   (kata_builtin_shim.go), which the reference `parseProcess` rejects.
 * - QEMU's `hypervisor.json` adds `HotpluggedMemory` (MiB, 1.3+) and `VirtiofsdPid` (1.10);
 *   Cloud Hypervisor (1.10) stores `{PID, VirtiofsdPID}`.
 */
import { decodeHypervisor } from "./hypervisor.js";
import {
  arrOrNull,
  asObj,
  bool,
  int,
  isObj,
  objOrNull,
  rfc3339ToSeconds,
  str,
  uint,
  type Obj,
} from "./decode.js";
import { decodeDeviceList, deviceHotplugged, parseDevices, typedEntry } from "./devices.js";
import {
  type ContainerDevicesFile,
  type DeviceInfo,
  type DeviceRef,
  type Kata1HypervisorInfo,
  type PodConfigInfo,
  type ProcessInfo,
  type SandboxDevice,
  type SandboxDevicesInfo,
} from "./model.js";
import { SchemaError, decodeText, decodeValue, ok, parseJsonText, type Parsed } from "./result.js";

const MIB = 1024 * 1024;

/** The sandbox-level `devices.json` of Kata 1.2–1.10: every device attached to the VM, by manager ID. */
export function parseSandboxDevices(text: string): Parsed<SandboxDevicesInfo> {
  return decodeText(text, (value) => decodeDeviceList(value, "$", decodeTypedSandboxDevice));
}

/** A Kata 1.2+ container `devices.json`: `[{ID, ContainerPath, FileMode, UID, GID}]`, `null` = none. */
export function parseDeviceRefs(text: string): Parsed<readonly DeviceRef[]> {
  return decodeText(text, (value) => decodeDeviceRefs(value, "$"));
}

/**
 * A container `devices.json` of any version, told apart from one parse: an array whose
 * objects carry `Type` or `Data` is the typed list (virtcontainers, Kata <= 1.1: the same
 * result as `parseDevices`); otherwise it is the Kata 1.2+ reference list. `null` and `[]`
 * are an empty reference list (no devices whatever the version).
 */
export function parseContainerDevices(text: string): Parsed<ContainerDevicesFile> {
  const json = parseJsonText(text);
  if (!json.ok) return json;
  if (isTypedDeviceList(json.value)) {
    const typed = parseDevices(text);
    return typed.ok ? ok({ kind: "typed", devices: typed.value }) : typed;
  }
  return decodeValue(json.value, (v): ContainerDevicesFile => ({
    kind: "refs",
    refs: decodeDeviceRefs(v, "$"),
  }));
}

/** True for the pre-1.2 typed list: some element is an object with a `Type` or `Data` key. */
function isTypedDeviceList(value: unknown): boolean {
  return Array.isArray(value) && value.some((e: unknown) => isObj(e) && ("Type" in e || "Data" in e));
}

/**
 * Joins a container's device references with the sandbox's devices (pure). The container
 * path comes from the reference; IDs with no sandbox device are listed in `missing`.
 */
export function resolveDeviceRefs(
  refs: readonly DeviceRef[],
  sandboxDevices: readonly SandboxDevice[],
): { devices: DeviceInfo[]; missing: string[] } {
  const byId = new Map<string, DeviceInfo>();
  for (const d of sandboxDevices) if (!byId.has(d.id)) byId.set(d.id, d.info);
  const devices: DeviceInfo[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const info = byId.get(ref.id);
    if (info === undefined) missing.push(ref.id);
    else devices.push({ ...info, containerPath: ref.containerPath });
  }
  return { devices, missing };
}

/** `process.json` of Kata 1.x: like `parseProcess`, but a negative `Pid` (-1 with shim v2) is kept. */
export function parseKata1Process(text: string): Parsed<ProcessInfo> {
  return decodeText(text, (value) => decodeProcess(asObj(value, "$"), "$"));
}

/** `hypervisor.json` of Kata 1.x (QEMU or Cloud Hypervisor), with hot-plugged memory and PIDs. */
export function parseKata1Hypervisor(text: string): Parsed<Kata1HypervisorInfo> {
  return decodeText(text, (value) => {
    const o = asObj(value, "$");
    return {
      ...decodeHypervisor(o),
      hotpluggedMemoryMiB: Math.max(0, int(o, "HotpluggedMemory", "$")),
      pid: positiveOrNull(int(o, "PID", "$")),
      virtiofsdPid: positiveOrNull(int(o, "VirtiofsdPid", "$") || int(o, "VirtiofsdPID", "$")),
    };
  });
}

/**
 * VM memory of a Kata 1.x sandbox: the boot memory of the sandbox config (`MemorySize` from
 * 1.3, `VMConfig.Memory`/`DefaultMemSz` before) plus `HotpluggedMemory`; MiB to bytes.
 */
export function kata1MemoryBytes(
  config: PodConfigInfo | null,
  hv: Pick<Kata1HypervisorInfo, "hotpluggedMemoryMiB"> | null,
): number | null {
  if (config === null) return null;
  const boot = config.vmMemoryMiB > 0 ? config.vmMemoryMiB : config.defaultMemMiB;
  const mib = boot + (hv?.hotpluggedMemoryMiB ?? 0);
  return mib > 0 ? mib * MIB : null;
}

// ---------------------------------------------------------------------------------------------
// Shared with persist.ts

/** A process `{Pid, StartTime}` with a signed PID (Go `int`). */
export function decodeProcess(o: Obj, path: string): ProcessInfo {
  const startTime = str(o, "StartTime", path);
  return { pid: int(o, "Pid", path), startTime, startTimeSeconds: rfc3339ToSeconds(startTime) };
}

export function positiveOrNull(n: number): number | null {
  return n > 0 ? n : null;
}

/** `[{ID, ContainerPath, ...}]` or `null`. */
export function decodeDeviceRefs(value: unknown, path: string): DeviceRef[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new SchemaError(path, "an array or null");
  return value.map((entry: unknown, i): DeviceRef => {
    const p = `${path}[${i}]`;
    const o = asObj(entry, p);
    return { id: str(o, "ID", p), containerPath: str(o, "ContainerPath", p) };
  });
}

/** The BDF of the last VFIO function of a group that has one (the reference kept the last too). */
export function lastBdf(o: Obj, key: string, path: string): string {
  const devs = arrOrNull(o, key, path) ?? [];
  let bdf = "";
  devs.forEach((d: unknown, i) => {
    if (d === null) return;
    const b = str(asObj(d, `${path}.${key}[${i}]`), "BDF", `${path}.${key}[${i}]`);
    if (b !== "") bdf = b;
  });
  return bdf;
}

// ---------------------------------------------------------------------------------------------

/** One `{Type, Data}` entry of the sandbox-level list (1.2 and 1.3+ `Data` shapes). */
function decodeTypedSandboxDevice(value: unknown, path: string): SandboxDevice {
  const { type, data, info, dp, ip } = typedEntry(value, path);
  const drive = objOrNull(data, "BlockDrive", dp);
  const bp = `${dp}.BlockDrive`;
  const id = str(data, "ID", dp) || str(info, "ID", ip);
  // 1.2 stores DeviceInfo.Hotplugged; 1.3+ only counts attachments (generic ones too).
  const attached = "Hotplugged" in info ? bool(info, "Hotplugged", ip) : uint(data, "AttachCount", dp) > 0;
  const hotplugged = deviceHotplugged(type, attached);
  return {
    id,
    info: {
      type,
      hostPath: str(info, "HostPath", ip),
      containerPath: str(info, "ContainerPath", ip),
      devType: str(info, "DevType", ip).slice(0, 1),
      major: int(info, "Major", ip),
      minor: int(info, "Minor", ip),
      hotplugged,
      id,
      bdf: type === "vfio" ? lastBdf(data, "VfioDevs", dp) || str(data, "BDF", dp) : "",
      scsiAddr:
        type === "block" ? (drive === null ? str(data, "SCSIAddr", dp) : str(drive, "SCSIAddr", bp)) : "",
      virtPath:
        type === "block" ? (drive === null ? str(data, "VirtPath", dp) : str(drive, "VirtPath", bp)) : "",
    },
  };
}
