/**
 * The one place tests find the external tools they run: the pinned builds that
 * `npm run provision` (scripts/provision.mjs, run by `npm test` first) puts into the cache,
 * or the VCE_<TOOL>_BIN / KUBEBUILDER_ASSETS overrides. Never whatever is on PATH. A missing
 * tool is one line naming the command that provides it.
 *
 *   const promtool = toolPath("promtool");
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const PROVISION_SCRIPT = fileURLToPath(new URL("../../scripts/provision.mjs", import.meta.url));

export const TOOLS = [
  "etcd",
  "kube-apiserver",
  "helm",
  "prometheus",
  "promtool",
  "prometheus-lts",
  "promtool-lts",
  "hadolint",
] as const;
export type ToolName = (typeof TOOLS)[number];

export interface ToolEntry {
  readonly path: string;
  readonly present: boolean;
  readonly overridden: boolean;
}

let table: Readonly<Record<ToolName, ToolEntry>> | undefined;

/** Every tool's path and whether it is there (scripts/provision.mjs --print; read once). */
export function toolTable(): Readonly<Record<ToolName, ToolEntry>> {
  table ??= JSON.parse(
    execFileSync(process.execPath, [PROVISION_SCRIPT, "--print"], { encoding: "utf8" }),
  ) as Record<ToolName, ToolEntry>;
  for (const t of TOOLS) {
    if (table[t] === undefined) throw new Error(`${PROVISION_SCRIPT} --print does not name ${t}`);
  }
  return table;
}

/** The one-line message for a missing tool. */
export function missingMessage(tool: ToolName, entry: ToolEntry): string {
  const env = `VCE_${tool.toUpperCase().replace(/-/g, "_")}_BIN`;
  return entry.overridden
    ? `${tool} not found at ${entry.path} (set by ${env} or KUBEBUILDER_ASSETS): point it at a ${tool} binary`
    : `${tool} not found at ${entry.path}: run \`npm run provision\` (npm test does it first), or set ${env}`;
}

export class ToolMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolMissingError";
    // One line: the stack of this helper says nothing the message does not.
    this.stack = message;
  }
}

/** The path of a provisioned tool; throws ToolMissingError (one line) when it is not there. */
export function toolPath(tool: ToolName): string {
  const entry = toolTable()[tool];
  if (!entry.present) throw new ToolMissingError(missingMessage(tool, entry));
  return entry.path;
}

/** The messages of every missing tool among `tools` (empty when all are there). */
export function missingTools(tools: readonly ToolName[] = TOOLS): string[] {
  const t = toolTable();
  return tools.filter((name) => !t[name].present).map((name) => missingMessage(name, t[name]));
}

/** The two Prometheus lines the real-Prometheus tests run against. */
export const PROMETHEUS_LINES = [
  { line: "3.x", prometheus: "prometheus", promtool: "promtool" },
  { line: "2.53 LTS", prometheus: "prometheus-lts", promtool: "promtool-lts" },
] as const satisfies readonly { line: string; prometheus: ToolName; promtool: ToolName }[];
