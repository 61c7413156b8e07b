/** `process.json` — the container's shim (spec 4.7). The I/O token is dropped on purpose. */
import { asObj, rfc3339ToSeconds, str, uint } from "./decode.js";
import type { ProcessInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseProcess(text: string): Parsed<ProcessInfo> {
  return decodeText(text, (value) => {
    const o = asObj(value, "$");
    const startTime = str(o, "StartTime", "$");
    return { pid: uint(o, "Pid", "$"), startTime, startTimeSeconds: rfc3339ToSeconds(startTime) };
  });
}

/**
 * The shim PID a `process.json` records, or null when it records none: Kata writes `Pid` 0
 * (with the zero time) before a process exists, and -1 with shim v2 (no per-container shim).
 */
export function knownPid(p: ProcessInfo | null): number | null {
  return p !== null && p.pid > 0 ? p.pid : null;
}
