/**
 * Flags of `serve` (the default command). Each flag has an environment variable; a flag
 * given on the command line wins. Validated once into a frozen object; this module and
 * scan-config.ts are the only readers of process.env.
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { COLLECTOR_NAMES } from "../metrics/collectors/index.js";
import { DEFAULT_MAX_FILE_BYTES } from "../scan/scanner.js";
import { LAYOUT_NAMES, type LayoutName } from "../format/layout.js";
import type { GcMode } from "../gc/plan.js";
import type { ProcessChecks } from "../gc/runner.js";
import type { SelfPod } from "../kube/api.js";
import type { KubeConfigSource } from "../kube/client.js";
import {
  ConfigError,
  DEFAULT_PORT,
  flagRows,
  parseBytes,
  parseDuration,
  parseEnum,
  parseFraction,
  parseInteger,
  parseListen,
  parseNodeName,
  parsePath,
  parseSelfPod,
  parseSubset,
} from "./values.js";

/** Where a pod running with a service account finds its token. */
export const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export { DEFAULT_PORT };
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

export interface ServeConfig {
  readonly hostRoot: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly nodeName: string;
  readonly resyncIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly watch: "inotify" | "polling";
  readonly kubernetes: "auto" | "off";
  /** With --kubernetes auto: where the API configuration comes from; null when none was found. */
  readonly kubeconfig: KubeConfigSource | null;
  readonly gc: GcConfig;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly maxFileBytes: number;
  readonly collectors: readonly string[];
  readonly layouts: readonly LayoutName[];
  /** The processes collector samples the pods' host processes this often. */
  readonly processIntervalMs: number;
  /** --web.config.file, absolute; null: plain HTTP without authentication. */
  readonly webConfigFile: string | null;
}

export interface GcConfig {
  readonly mode: GcMode;
  readonly intervalMs: number;
  readonly graceMs: number;
  readonly maxDeletionsPerRun: number;
  readonly maxOrphanFraction: number;
  readonly processChecks: ProcessChecks;
  readonly procRoot: string;
  /** The exporter's own pod (--pod-namespace/--pod-name/--pod-uid), or null when not given. */
  readonly self: SelfPod | null;
}

interface FlagSpec {
  readonly flag: string;
  readonly env: string;
  readonly def: string;
  readonly help: string;
}

/**
 * The exporter's own pod, from the downward API (the chart sets the variables): GC deletes only
 * when the direct list of this node's pods contains it. Shared with the gc command.
 */
export const SELF_POD_FLAGS: readonly FlagSpec[] = [
  {
    flag: "pod-namespace",
    env: "POD_NAMESPACE",
    def: "",
    help: "the namespace of the exporter's own pod (with --pod-name and --pod-uid)",
  },
  { flag: "pod-name", env: "POD_NAME", def: "", help: "the name of the exporter's own pod" },
  { flag: "pod-uid", env: "POD_UID", def: "", help: "the UID of the exporter's own pod" },
];

export const SERVE_FLAGS: readonly FlagSpec[] = [
  {
    flag: "host-root",
    env: "VCE_HOST_ROOT",
    def: "/",
    help: "host filesystem root holding run/ and var/lib/",
  },
  { flag: "listen", env: "VCE_LISTEN", def: `:${DEFAULT_PORT}`, help: "HOST:PORT to serve /metrics on" },
  { flag: "node-name", env: "NODE_NAME", def: "(hostname)", help: "this node's Kubernetes name" },
  {
    flag: "resync-interval",
    env: "VCE_RESYNC_INTERVAL",
    def: "2m",
    help: "full rescan (safety net behind file events)",
  },
  {
    flag: "poll-interval",
    env: "VCE_POLL_INTERVAL",
    def: "5s",
    help: "rescan period when file watching is off or failed",
  },
  {
    flag: "watch",
    env: "VCE_WATCH",
    def: "inotify",
    help: "inotify (file events) or polling (periodic rescans only)",
  },
  {
    flag: "kubernetes",
    env: "VCE_KUBERNETES",
    def: "auto",
    help: "auto or off: the Kubernetes pod view (auto: --kubeconfig, else in-cluster, else KUBECONFIG)",
  },
  {
    flag: "kubeconfig",
    env: "VCE_KUBECONFIG",
    def: "(none)",
    help: "kubeconfig file for the Kubernetes API",
  },
  {
    flag: "gc",
    env: "VCE_GC",
    def: "off",
    help: "off, dry-run or on: garbage collection of orphan pod state",
  },
  { flag: "gc-interval", env: "VCE_GC_INTERVAL", def: "1m", help: "time between GC runs" },
  {
    flag: "gc-grace",
    env: "VCE_GC_GRACE",
    def: "10m",
    help: "an orphan must be one, and its newest file this old, before GC deletes it",
  },
  {
    flag: "gc-max-deletions-per-run",
    env: "VCE_GC_MAX_DELETIONS_PER_RUN",
    def: "5",
    help: "GC deletes at most this many pods per run",
  },
  {
    flag: "gc-max-orphan-fraction",
    env: "VCE_GC_MAX_ORPHAN_FRACTION",
    def: "0.5",
    help: "GC deletes nothing when orphans / Kubernetes pods is above this",
  },
  {
    flag: "gc-process-checks",
    env: "VCE_GC_PROCESS_CHECKS",
    def: "auto",
    help: "auto (required with --gc on), required or off (not with --gc on): GC checks the pod's processes in the host's /proc (hostPID)",
  },
  {
    flag: "proc-root",
    env: "VCE_PROC_ROOT",
    def: "/proc",
    help: "the proc filesystem GC and the processes collector read",
  },
  {
    flag: "process-interval",
    env: "VCE_PROCESS_INTERVAL",
    def: "15s",
    help: "the processes collector samples the pods' host processes this often",
  },
  ...SELF_POD_FLAGS,
  { flag: "log-level", env: "VCE_LOG_LEVEL", def: "info", help: "debug, info, warn or error" },
  { flag: "max-file-size", env: "VCE_MAX_FILE_SIZE", def: "16Mi", help: "refuse larger state files unread" },
  {
    flag: "layouts",
    env: "VCE_LAYOUTS",
    def: LAYOUT_NAMES.join(","),
    help: "the generations of the state to read: virtcontainers, kata1, persist",
  },
  {
    flag: "web.config.file",
    env: "VCE_WEB_CONFIG_FILE",
    def: "(none)",
    help: "exporter-toolkit web configuration file: TLS, basic auth, response headers",
  },
];

export const SERVE_USAGE = [
  "Usage: virtcontainers-exporter [serve] [flags]",
  "",
  "Serves Prometheus metrics for the virtcontainers pods, containers and devices of this node.",
  ...flagRows([
    ...SERVE_FLAGS.map(
      (f) => [`--${f.flag}`, `${f.help} (env ${f.env}, default ${f.def === "" ? "none" : f.def})`] as const,
    ),
    ...COLLECTOR_NAMES.map(
      (c) =>
        [
          `--[no-]collector.${c}`,
          `${c} families on or off (env VCE_COLLECTOR_${c.toUpperCase()}=true|false, default on)`,
        ] as const,
    ),
  ]),
].join("\n");

/** `--no-collector.x` becomes `--collector.x=false` (parseArgs on Node 20 has no negation). */
function normaliseArgv(argv: readonly string[]): string[] {
  return argv.map((a) => (a.startsWith("--no-collector.") ? `--collector.${a.slice(15)}=false` : a));
}

function parseBool(flag: string, text: string): boolean {
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new ConfigError(`${flag}: "${text}" is not true or false`);
}

export function loadServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  const options: Record<string, { type: "string" }> = {};
  for (const f of SERVE_FLAGS) options[f.flag] = { type: "string" };
  for (const c of COLLECTOR_NAMES) options[`collector.${c}`] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: normaliseArgv(argv).map(bareCollectorFlag), options, strict: true }));
  } catch (err: unknown) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const get = (flag: string, envName: string, def: string): string => {
    const v = values[flag];
    return typeof v === "string" ? v : (env[envName] ?? def);
  };
  const spec = (flag: string): FlagSpec => {
    const f = SERVE_FLAGS.find((s) => s.flag === flag);
    if (f === undefined) throw new Error(`no flag ${flag}`);
    return f;
  };
  const val = (flag: string) => get(flag, spec(flag).env, spec(flag).def);
  const collectors = COLLECTOR_NAMES.filter((c) =>
    parseBool(`--collector.${c}`, get(`collector.${c}`, `VCE_COLLECTOR_${c.toUpperCase()}`, "true")),
  );
  const resyncIntervalMs = parseDuration("--resync-interval", val("resync-interval"));
  const pollIntervalMs = parseDuration("--poll-interval", val("poll-interval"));
  if (resyncIntervalMs < 1000) throw new ConfigError("--resync-interval: must be at least 1s");
  if (pollIntervalMs < 100) throw new ConfigError("--poll-interval: must be at least 100ms");
  const processIntervalMs = parseDuration("--process-interval", val("process-interval"));
  if (processIntervalMs < 1000) throw new ConfigError("--process-interval: must be at least 1s");
  const nodeName = parseNodeName("--node-name", get("node-name", "NODE_NAME", ""), hostname());
  const kubernetes = parseEnum("--kubernetes", val("kubernetes"), ["auto", "off"] as const);
  const kubeconfigFlag = get("kubeconfig", "VCE_KUBECONFIG", "");
  const kubeconfig = kubernetes === "off" ? null : kubeConfigSource(kubeconfigFlag, env);
  const gc = loadGcConfig(val);
  if (gc.mode !== "off" && kubeconfig === null) {
    throw new ConfigError(
      `--gc ${gc.mode}: garbage collection needs the Kubernetes pod view (--kubernetes auto with --kubeconfig, in-cluster config or KUBECONFIG)${kubernetes === "off" ? "" : "; none was found"}`,
    );
  }
  return Object.freeze({
    hostRoot: resolve(parsePath("--host-root", val("host-root"))),
    listen: Object.freeze(parseListen("--listen", val("listen"))),
    nodeName,
    resyncIntervalMs,
    pollIntervalMs,
    watch: parseEnum("--watch", val("watch"), ["inotify", "polling"] as const),
    kubernetes,
    kubeconfig,
    gc,
    logLevel: parseEnum("--log-level", val("log-level"), LOG_LEVELS),
    maxFileBytes: parseBytes(
      "--max-file-size",
      val("max-file-size").replace(/^16Mi$/, String(DEFAULT_MAX_FILE_BYTES)),
    ),
    collectors: Object.freeze(collectors),
    layouts: Object.freeze(parseSubset("--layouts", val("layouts"), LAYOUT_NAMES)),
    processIntervalMs,
    webConfigFile: webConfigFile(get("web.config.file", "VCE_WEB_CONFIG_FILE", "")),
  });
}

/**
 * --kubeconfig PATH when given, else the in-cluster service account, else KUBECONFIG (its first
 * existing file); null when there is none.
 */
export function kubeConfigSource(flag: string, env: NodeJS.ProcessEnv): KubeConfigSource | null {
  if (flag !== "") {
    if (!existsSync(flag)) throw new ConfigError(`--kubeconfig: ${flag} does not exist`);
    return { kind: "file", path: flag };
  }
  if (
    (env.KUBERNETES_SERVICE_HOST ?? "") !== "" &&
    (env.KUBERNETES_SERVICE_PORT ?? "") !== "" &&
    existsSync(IN_CLUSTER_TOKEN)
  ) {
    return { kind: "in-cluster" };
  }
  const fromEnv = (env.KUBECONFIG ?? "").split(":").find((p) => p !== "" && existsSync(p));
  return fromEnv === undefined ? null : { kind: "file", path: fromEnv };
}

/** The GC flags; `mode` given (the gc command's --dry-run) replaces --gc. */
export function loadGcConfig(val: (flag: string) => string, mode?: GcMode): GcConfig {
  const intervalMs = parseDuration("--gc-interval", val("gc-interval"));
  if (intervalMs < 1000) throw new ConfigError("--gc-interval: must be at least 1s");
  const gcMode = mode ?? parseEnum("--gc", val("gc"), ["off", "dry-run", "on"] as const);
  const processChecks = parseEnum("--gc-process-checks", val("gc-process-checks"), [
    "auto",
    "required",
    "off",
  ] as const);
  // Deleting needs evidence that no process uses the pod: it cannot be switched off.
  if (gcMode === "on" && processChecks === "off")
    throw new ConfigError(
      "--gc-process-checks off: not allowed when GC deletes (the processes are the evidence that a pod is dead); use dry-run, or run where the host's PIDs are visible",
    );
  return Object.freeze({
    mode: gcMode,
    intervalMs,
    graceMs: parseDuration("--gc-grace", val("gc-grace").replace(/^0$/, "0s")),
    maxDeletionsPerRun: parseInteger(
      "--gc-max-deletions-per-run",
      val("gc-max-deletions-per-run"),
      1,
      10_000,
    ),
    maxOrphanFraction: parseFraction("--gc-max-orphan-fraction", val("gc-max-orphan-fraction")),
    processChecks,
    procRoot: resolve(parsePath("--proc-root", val("proc-root"))),
    self: selfPod(val),
  });
}

function selfPod(val: (flag: string) => string): SelfPod | null {
  const pod = parseSelfPod(
    { namespace: "--pod-namespace", name: "--pod-name", uid: "--pod-uid" },
    { namespace: val("pod-namespace"), name: val("pod-name"), uid: val("pod-uid") },
  );
  return pod === null ? null : Object.freeze(pod);
}

/** --web.config.file: a path (its contents are checked when the server starts), or none. */
function webConfigFile(text: string): string | null {
  if (text === "") return null;
  return resolve(parsePath("--web.config.file", text));
}

/** `--collector.x` alone means on. */
function bareCollectorFlag(a: string): string {
  return /^--collector\.[a-z]+$/.test(a) ? `${a}=true` : a;
}
