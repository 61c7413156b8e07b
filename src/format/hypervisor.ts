/** `hypervisor.json` — QemuState (spec 4.5). */
import { arrOrNull, asObj, str } from "./decode.js";
import type { HypervisorInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseHypervisor(text: string): Parsed<HypervisorInfo> {
  return decodeText(text, (value) => {
    const o = asObj(value, "$");
    return {
      uuid: str(o, "UUID", "$"),
      hotpluggedVCPUs: arrOrNull(o, "HotpluggedVCPUs", "$")?.length ?? 0,
      bridges: arrOrNull(o, "Bridges", "$")?.length ?? 0,
    };
  });
}
