/**
 * Flags of the one-shot `gc` command: the same GC rules as `serve --gc`, from a shell (for
 * example `kubectl debug node/...`). Each flag has the environment variable of its `serve`
 * twin; a flag on the command line wins.
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { KubeConfigSource } from "../kube/client.js";
import { DEFAULT_MAX_FILE_BYTES } from "../scan/scanner.js";
import { LOG_LEVELS, SELF_POD_FLAGS, kubeConfigSource, loadGcConfig, type GcConfig } from "./serve-config.js";
import { LAYOUT_NAMES, type LayoutName } from "../format/layout.js";
import {
  ConfigError,
  flagRows,
  parseBytes,
  parseEnum,
  parseNodeName,
  parsePath,
  parseSubset,
} from "./values.js";

export interface GcCommandConfig {
  readonly hostRoot: string;
  readonly nodeName: string;
  readonly kubeconfig: KubeConfigSource;
  readonly gc: GcConfig;
  readonly maxFileBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly output: "text" | "json";
  readonly layouts: readonly LayoutName[];
}

interface Flag {
  readonly flag: string;
  readonly env: string;
  readonly def: string;
  readonly help: string;
}

export const GC_FLAGS: readonly Flag[] = [
  {
    flag: "host-root",
    env: "VCE_HOST_ROOT",
    def: "/",
    help: "host filesystem root holding run/ and var/lib/",
  },
  { flag: "node-name", env: "NODE_NAME", def: "(hostname)", help: "this node's Kubernetes name" },
  {
    flag: "kubeconfig",
    env: "VCE_KUBECONFIG",
    def: "(in-cluster, else KUBECONFIG)",
    help: "kubeconfig file",
  },
  { flag: "gc-interval", env: "VCE_GC_INTERVAL", def: "10s", help: "time between the passes" },
  { flag: "gc-grace", env: "VCE_GC_GRACE", def: "10m", help: "orphan for this long, newest file this old" },
  {
    flag: "gc-max-deletions-per-run",
    env: "VCE_GC_MAX_DELETIONS_PER_RUN",
    def: "5",
    help: "deletions per pass at most",
  },
  {
    flag: "gc-max-orphan-fraction",
    env: "VCE_GC_MAX_ORPHAN_FRACTION",
    def: "0.5",
    help: "delete nothing above this orphans / Kubernetes pods",
  },
  {
    flag: "gc-process-checks",
    env: "VCE_GC_PROCESS_CHECKS",
    def: "auto",
    help: "auto (required unless --dry-run), required or off (--dry-run only): check the pod's processes in the host's /proc",
  },
  { flag: "proc-root", env: "VCE_PROC_ROOT", def: "/proc", help: "the proc filesystem to read" },
  // In a pod (not `kubectl debug node`, whose pod has no downward API variables): its own pod,
  // which the direct list must contain; without it the orphan-fraction breaker applies.
  ...SELF_POD_FLAGS,
  { flag: "max-file-size", env: "VCE_MAX_FILE_SIZE", def: "16Mi", help: "refuse larger state files unread" },
  { flag: "log-level", env: "VCE_LOG_LEVEL", def: "error", help: "JSON logs on stderr at this level" },
  {
    flag: "layouts",
    env: "VCE_LAYOUTS",
    def: LAYOUT_NAMES.join(","),
    help: "generations to read: virtcontainers, kata1, persist",
  },
  { flag: "output", env: "", def: "text", help: "text (one line per decision) or json" },
];

export const GC_USAGE = [
  "Usage: virtcontainers-exporter gc [--dry-run] [flags]",
  "",
  "Runs garbage collection of orphan virtcontainers pod state from a shell, with the rules of",
  "`serve --gc on`: passes --gc-interval apart until no orphan is waiting for its grace period,",
  "then prints every decision with its reason. Needs the Kubernetes API (this node's pods).",
  ...flagRows([
    ["--dry-run", "decide and report; delete nothing"],
    ...GC_FLAGS.map(
      (f) =>
        [
          `--${f.flag}`,
          `${f.help} (${f.env === "" ? "" : `env ${f.env}, `}default ${f.def === "" ? "none" : f.def})`,
        ] as const,
    ),
  ]),
].join("\n");

export function loadGcCommandConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GcCommandConfig {
  const options: Record<string, { type: "string" } | { type: "boolean" }> = {
    "dry-run": { type: "boolean" },
  };
  for (const f of GC_FLAGS) options[f.flag] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true }));
  } catch (err: unknown) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const val = (flag: string): string => {
    const f = GC_FLAGS.find((g) => g.flag === flag);
    if (f === undefined) throw new Error(`no flag ${flag}`);
    const v = values[flag];
    return typeof v === "string" ? v : ((f.env === "" ? undefined : env[f.env]) ?? f.def);
  };
  const nodeName = parseNodeName(
    "--node-name",
    typeof values["node-name"] === "string" ? values["node-name"] : (env.NODE_NAME ?? ""),
    hostname(),
  );
  const kubeconfigFlag =
    typeof values.kubeconfig === "string" ? values.kubeconfig : (env.VCE_KUBECONFIG ?? "");
  const kubeconfig = kubeConfigSource(kubeconfigFlag, env);
  if (kubeconfig === null) {
    throw new ConfigError(
      "gc needs the Kubernetes API: pass --kubeconfig PATH (or run in a pod with a service account, or set KUBECONFIG)",
    );
  }
  return Object.freeze({
    hostRoot: resolve(parsePath("--host-root", val("host-root"))),
    nodeName,
    kubeconfig,
    gc: loadGcConfig(val, values["dry-run"] === true ? "dry-run" : "on"),
    maxFileBytes: parseBytes(
      "--max-file-size",
      val("max-file-size").replace(/^16Mi$/, String(DEFAULT_MAX_FILE_BYTES)),
    ),
    logLevel: parseEnum("--log-level", val("log-level"), LOG_LEVELS),
    output: parseEnum("--output", val("output"), ["text", "json"] as const),
    layouts: Object.freeze(parseSubset("--layouts", val("layouts"), LAYOUT_NAMES)),
  });
}
