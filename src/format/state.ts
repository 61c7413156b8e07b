/** `state.json` of a pod or a container (spec 4.3 and the variants of section 7). */
import { asObj, bool, int, str, strOrNull, uintOrNull } from "./decode.js";
import { VC_STATES, type StateInfo, type VcState } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseState(text: string): Parsed<StateInfo> {
  return decodeText(text, decodeState);
}

export function toVcState(raw: string): VcState {
  return raw !== "unknown" && (VC_STATES as readonly string[]).includes(raw) ? (raw as VcState) : "unknown";
}

function decodeState(value: unknown): StateInfo {
  const o = asObj(value, "$");
  const raw = str(o, "state", "$");
  return {
    state: toVcState(raw),
    rawState: raw.slice(0, 32),
    blockIndex: int(o, "blockIndex", "$"),
    fstype: str(o, "fstype", "$").slice(0, 32),
    hotpluggedDrive: bool(o, "hotpluggedDrive", "$"),
    legacyProxyPid: uintOrNull(o, "ProxyPid", "$"),
    legacyUrl: strOrNull(o, "url", "$"),
  };
}
