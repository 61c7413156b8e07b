/** The exporter's version, read once from package.json beside dist/ or src/. */
import { readFileSync } from "node:fs";

function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    const v = typeof pkg === "object" && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
    return typeof v === "string" ? v : "unknown";
  } catch {
    return "unknown";
  }
}

export const VERSION = readVersion();
