/** `mounts.json` — []Mount with the host-side shared paths (spec 4.8). `null` is no mounts. */
import { asObj, str } from "./decode.js";
import type { MountInfo } from "./model.js";
import { SchemaError, decodeText, type Parsed } from "./result.js";

export function parseMounts(text: string): Parsed<readonly MountInfo[]> {
  return decodeText(text, (value) => {
    if (value === null) return [];
    if (!Array.isArray(value)) throw new SchemaError("$", "an array or null");
    return value.map((entry: unknown, i): MountInfo => {
      const p = `$[${i}]`;
      const o = asObj(entry, p);
      return {
        destination: str(o, "Destination", p),
        type: str(o, "Type", p),
        hostPath: str(o, "HostPath", p),
      };
    });
  });
}
