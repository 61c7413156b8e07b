/**
 * `devices.json` — []TypedDevice `{Type, Data}` (spec 4.9). An entry with an unknown
 * `Type` or a malformed `Data` is an error for that entry only; the others are kept.
 * Kata 0.2+ renamed `Data.DeviceType` to `Data.DevType`; both are accepted.
 */
import { asObj, bool, isObj, objOrNull, str, uint, type Obj } from "./decode.js";
import {
  DEVICE_TYPES,
  type DeviceEntryError,
  type DeviceInfo,
  type DeviceType,
  type DevicesInfo,
} from "./model.js";
import { SchemaError, decodeText, decodeValue, type Parsed } from "./result.js";

export function parseDevices(text: string): Parsed<DevicesInfo> {
  return decodeText(text, (value) => decodeDeviceList(value, "$", decodeDevice));
}

/**
 * Decodes a device array (`null` = none) entry by entry: an entry whose type is not vfio,
 * block or generic, or that is malformed, becomes an entry error; the others are kept. Shared
 * by every generation's device lists (Kata's sandbox-level list and persist.json's `Devices`).
 */
export function decodeDeviceList<T>(
  value: unknown,
  path: string,
  decodeOne: (entry: unknown, path: string) => T,
): { devices: T[]; entryErrors: DeviceEntryError[] } {
  if (value === null) return { devices: [], entryErrors: [] };
  if (!Array.isArray(value)) throw new SchemaError(path, "an array or null");
  const devices: T[] = [];
  const entryErrors: DeviceEntryError[] = [];
  value.forEach((entry: unknown, index) => {
    const type = isObj(entry) && typeof entry.Type === "string" ? entry.Type.slice(0, 32) : "";
    const parsed = decodeValue(entry, (v) => decodeOne(v, `${path}[${index}]`));
    if (parsed.ok) devices.push(parsed.value);
    else {
      const reason = isDeviceType(type) ? "schema" : "unknown_device_type";
      entryErrors.push({ index, reason, type, message: parsed.error.message });
    }
  });
  return { devices, entryErrors };
}

/** The parts of one `{Type, Data: {DeviceInfo, ...}}` entry, with the JSON paths for errors. */
export interface TypedEntry {
  readonly type: DeviceType;
  readonly data: Obj;
  readonly info: Obj;
  /** JSON paths of `Data` and `Data.DeviceInfo`. */
  readonly dp: string;
  readonly ip: string;
}

export function typedEntry(value: unknown, path: string): TypedEntry {
  const o = asObj(value, path);
  const type = str(o, "Type", path);
  if (!isDeviceType(type)) throw new SchemaError(`${path}.Type`, "vfio, block or generic");
  const dp = `${path}.Data`;
  const data = objOrNull(o, "Data", path);
  if (data === null) throw new SchemaError(dp, "an object");
  const ip = `${dp}.DeviceInfo`;
  return { type, data, info: objOrNull(data, "DeviceInfo", dp) ?? {}, dp, ip };
}

/**
 * Whether a device was hot-plugged into the VM, by device type, from what every runtime
 * generation does when it attaches a device (virtcontainers device.go; Kata 1.x-3.x
 * device/drivers/{vfio,block,generic}.go):
 * - `generic` (a character device such as `/dev/fuse`): never passed to the VM. Its `Attach`
 *   only counts the attachment; the agent creates the node from the container's OCI spec.
 *   Always false, whatever a file says (Kata 1.3+ counts it in `AttachCount`).
 * - `vfio` and `block`: plugged into the VM when attached. `attached` is what the file
 *   records: `Hotplugged` (virtcontainers, Kata <= 1.2), `AttachCount > 0` (Kata 1.3-1.10),
 *   `AttachCount > 0 && !ColdPlug` (persist.json; a cold-plugged VFIO device was there at boot).
 */
export function deviceHotplugged(type: DeviceType, attached: boolean): boolean {
  return type !== "generic" && attached;
}

export function isDeviceType(t: string): t is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(t);
}

function decodeDevice(value: unknown, path: string): DeviceInfo {
  const { type, data, info, dp, ip } = typedEntry(value, path);
  return {
    type,
    hostPath: str(info, "HostPath", ip),
    containerPath: str(info, "ContainerPath", ip),
    devType: str(info, "DevType", ip).slice(0, 1),
    major: uint(info, "Major", ip),
    minor: uint(info, "Minor", ip),
    hotplugged: deviceHotplugged(type, bool(info, "Hotplugged", ip)),
    id: str(info, "ID", ip),
    bdf: type === "vfio" ? str(data, "BDF", dp) : "",
    scsiAddr: type === "block" ? str(data, "SCSIAddr", dp) : "",
    virtPath: type === "block" ? str(data, "VirtPath", dp) : "",
  };
}

/**
 * A VFIO function's PCI address in sysfs form `DDDD:BB:DD.F` (lower case), whatever form the
 * runtime stored: virtcontainers and Kata up to 3.1 write `BB:DD.F` (the domain cut off, read
 * as 0000), Kata 3.2+ writes `DDDD:BB:DD.F`. Anything else is not an address: "".
 */
export function sysfsBdf(raw: string): string {
  const m = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/.exec(raw);
  if (m === null) return "";
  const [, domain = "0000", bus = "", dev = "", fn = ""] = m;
  return `${domain}:${bus}:${dev}.${fn}`.toLowerCase();
}
