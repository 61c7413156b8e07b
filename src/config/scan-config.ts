/** Flags of the `scan` command. Kept apart from the server's so `scan` loads nothing heavy. */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { DEFAULT_MAX_FILE_BYTES } from "../scan/scanner.js";
import { LAYOUT_NAMES, type LayoutName } from "../format/layout.js";
import { ConfigError, flagRows, parseBytes, parseEnum, parsePath, parseSubset } from "./values.js";

export interface ScanConfig {
  readonly hostRoot: string;
  readonly output: "table" | "json";
  readonly maxFileBytes: number;
  readonly layouts: readonly LayoutName[];
}

export const SCAN_USAGE = [
  "Usage: virtcontainers-exporter scan [--host-root DIR] [--output table|json] [--max-file-size BYTES] [--layouts LIST]",
  "",
  "Reads the virtcontainers state trees under DIR and prints one snapshot.",
  ...flagRows([
    ["--host-root DIR", "host filesystem root holding run/ and var/lib/ (env VCE_HOST_ROOT, default /)"],
    ["--output table|json", "readable table (default) or stable JSON (schemaVersion 1)"],
    ["--max-file-size BYTES", "refuse larger state files unread (env VCE_MAX_FILE_SIZE, default 16Mi)"],
    ["--layouts LIST", "generations to read: virtcontainers, kata1, persist (env VCE_LAYOUTS, default all)"],
  ]),
].join("\n");

export function loadScanConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ScanConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "host-root": { type: "string" },
        output: { type: "string", short: "o" },
        "max-file-size": { type: "string" },
        layouts: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err: unknown) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const str = (k: string) => (typeof values[k] === "string" ? values[k] : undefined);
  return Object.freeze({
    hostRoot: resolve(parsePath("--host-root", str("host-root") ?? env.VCE_HOST_ROOT ?? "/")),
    output: parseEnum("--output", str("output") ?? "table", ["table", "json"] as const),
    maxFileBytes: parseBytes(
      "--max-file-size",
      str("max-file-size") ?? env.VCE_MAX_FILE_SIZE ?? String(DEFAULT_MAX_FILE_BYTES),
    ),
    layouts: Object.freeze(
      parseSubset("--layouts", str("layouts") ?? env.VCE_LAYOUTS ?? LAYOUT_NAMES.join(","), LAYOUT_NAMES),
    ),
  });
}
