/**
 * `devices.json` — []TypedDevice `{Type, Data}` (spec 4.9). An entry with an unknown
 * `Type` or a malformed `Data` is an error for that entry only; the others are kept.
 * Kata 0.2+ renamed `Data.DeviceType` to `Data.DevType`; both are accepted.
 */
import { asObj, bool, isObj, objOrNull, str, uint } from "./decode.js";
import {
  DEVICE_TYPES,
  type DeviceEntryError,
  type DeviceInfo,
  type DeviceType,
  type DevicesInfo,
} from "./model.js";
import { SchemaError, decodeText, decodeValue, type Parsed } from "./result.js";

export function parseDevices(text: string): Parsed<DevicesInfo> {
  return decodeText(text, (value) => {
    if (value === null) return { devices: [], entryErrors: [] };
    if (!Array.isArray(value)) throw new SchemaError("$", "an array or null");
    const devices: DeviceInfo[] = [];
    const entryErrors: DeviceEntryError[] = [];
    value.forEach((entry: unknown, index) => {
      const type = isObj(entry) && typeof entry.Type === "string" ? entry.Type.slice(0, 32) : "";
      const parsed = decodeValue(entry, (v) => decodeDevice(v, `$[${index}]`));
      if (parsed.ok) devices.push(parsed.value);
      else {
        const reason = isDeviceType(type) ? "schema" : "unknown_device_type";
        entryErrors.push({ index, reason, type, message: parsed.error.message });
      }
    });
    return { devices, entryErrors };
  });
}

function isDeviceType(t: string): t is DeviceType {
  return (DEVICE_TYPES as readonly string[]).includes(t);
}

function decodeDevice(value: unknown, path: string): DeviceInfo {
  const o = asObj(value, path);
  const type = str(o, "Type", path);
  if (!isDeviceType(type)) throw new SchemaError(`${path}.Type`, "vfio, block or generic");
  const dp = `${path}.Data`;
  const data = objOrNull(o, "Data", path);
  if (data === null) throw new SchemaError(dp, "an object");
  const ip = `${dp}.DeviceInfo`;
  const info = objOrNull(data, "DeviceInfo", dp) ?? {};
  return {
    type,
    hostPath: str(info, "HostPath", ip),
    containerPath: str(info, "ContainerPath", ip),
    devType: str(info, "DevType", ip).slice(0, 1),
    major: uint(info, "Major", ip),
    minor: uint(info, "Minor", ip),
    hotplugged: bool(info, "Hotplugged", ip),
    id: str(info, "ID", ip),
    bdf: type === "vfio" ? str(data, "BDF", dp) : "",
    scsiAddr: type === "block" ? str(data, "SCSIAddr", dp) : "",
    virtPath: type === "block" ? str(data, "VirtPath", dp) : "",
  };
}
