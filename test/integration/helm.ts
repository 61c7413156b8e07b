/**
 * Helm for the chart tests: the pinned helm binary (test/cluster/build-testbin.sh, or
 * $VCE_HELM_BIN), `helm template` of charts/virtcontainers-exporter with values, and the
 * rendered YAML as objects. Helm runs with a throwaway HOME, so no user configuration or
 * kubeconfig is read. YAML is parsed with loadAllYaml of @kubernetes/client-node (a
 * dependency already), which gives typed Kubernetes objects.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import {
  loadAllYaml,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1ConfigMap,
  type V1DaemonSet,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1Service,
  type V1ServiceAccount,
} from "@kubernetes/client-node";

import { testBinaryPaths } from "../cluster/cluster.js";
import { REPO, childEnv } from "./helpers.js";

const execFileAsync = promisify(execFile);

export const CHART = join(REPO, "charts", "virtcontainers-exporter");
export const RELEASE = "virtcontainers-exporter";
export const NAMESPACE = "virtcontainers-exporter";

export const HELM = (await testBinaryPaths()).helm;
if (!existsSync(HELM)) {
  throw new Error(
    `helm not found at ${HELM}: set VCE_HELM_BIN to a helm v3 binary, ` +
      `or build the pinned one with: bash test/cluster/build-testbin.sh helm`,
  );
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in the repository; a non-zero exit is a result, not an exception. */
export async function run(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = REPO,
): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, {
      cwd,
      env: childEnv(env),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code?: unknown; stdout?: unknown; stderr?: unknown };
    if (typeof e.code !== "number") throw err;
    return {
      code: e.code,
      stdout: typeof e.stdout === "string" ? e.stdout : "",
      stderr: typeof e.stderr === "string" ? e.stderr : "",
    };
  }
}

/** Helm in a throwaway HOME; `env` adds variables (KUBECONFIG for commands that need a cluster). */
export async function helmRun(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const home = mkdtempSync(join(tmpdir(), "vce-helm-home-"));
  try {
    return await run(HELM, args, { HOME: home, ...env });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export async function helm(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await helmRun(args, env);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  readonly chart?: string;
  readonly extra?: readonly string[];
}

/** The arguments of `helm template` (or install) for `values`, written as a values file (JSON is YAML). */
export function valuesArgs(values: Readonly<Record<string, unknown>>, dir: string): string[] {
  if (Object.keys(values).length === 0) return [];
  const file = join(dir, "values.json");
  writeFileSync(file, JSON.stringify(values));
  return ["--values", file];
}

/** `helm template` of the chart. */
export async function render(
  values: Readonly<Record<string, unknown>> = {},
  opts: RenderOptions = {},
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "vce-values-"));
  try {
    return await helm([
      "template",
      opts.release ?? RELEASE,
      opts.chart ?? CHART,
      "--namespace",
      opts.namespace ?? NAMESPACE,
      ...valuesArgs(values, dir),
      ...(opts.extra ?? []),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
}

export function parseObjects(text: string): KubeObject[] {
  const docs: unknown[] = loadAllYaml(text);
  return docs.filter((d): d is KubeObject => typeof d === "object" && d !== null);
}

export interface ServiceMonitor extends KubeObject {
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly namespaceSelector: { readonly matchNames: string[] };
    readonly endpoints: readonly Record<string, unknown>[];
    readonly sampleLimit?: number;
  };
}

export interface PodMonitor extends KubeObject {
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly namespaceSelector: { readonly matchNames: string[] };
    readonly podMetricsEndpoints: readonly Record<string, unknown>[];
    readonly sampleLimit?: number;
  };
}

export interface PrometheusRule extends KubeObject {
  readonly spec: unknown;
}

/** The kinds the chart renders, as the types of their objects. */
export interface Kinds {
  Namespace: V1Namespace;
  ServiceAccount: V1ServiceAccount;
  ClusterRole: V1ClusterRole;
  ClusterRoleBinding: V1ClusterRoleBinding;
  Service: V1Service;
  DaemonSet: V1DaemonSet;
  ConfigMap: V1ConfigMap;
  ServiceMonitor: ServiceMonitor;
  PrometheusRule: PrometheusRule;
  PodMonitor: PodMonitor;
  NetworkPolicy: V1NetworkPolicy;
}

/** The one object of `kind` in `objs`. */
export function onlyOf<K extends keyof Kinds>(objs: readonly KubeObject[], kind: K): Kinds[K] {
  const found = objs.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}, expected 1`);
  return found[0] as unknown as Kinds[K];
}

export function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`missing: ${what}`);
  return v;
}
