/** `hypervisor.json` — QemuState (spec 4.5). */
import { arrOrNull, asObj, str, type Obj } from "./decode.js";
import type { HypervisorInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseHypervisor(text: string): Parsed<HypervisorInfo> {
  return decodeText(text, (value) => decodeHypervisor(asObj(value, "$")));
}

/** The fields every generation's hypervisor.json shares (Kata 1.x adds some: kata1.ts). */
export function decodeHypervisor(o: Obj): HypervisorInfo {
  return {
    uuid: str(o, "UUID", "$"),
    hotpluggedVCPUs: arrOrNull(o, "HotpluggedVCPUs", "$")?.length ?? 0,
    bridges: arrOrNull(o, "Bridges", "$")?.length ?? 0,
  };
}
