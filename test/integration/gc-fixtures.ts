/**
 * Fixtures of the GC integration tests (gc-cluster.test.ts): generated host trees whose pods
 * are read back with the real scanner, edited the way the runtime would have written them
 * (another pod UID, no Kubernetes identity at all, a new sandbox ID), and listed afterwards.
 */
import { randomBytes } from "node:crypto";
import { cpSync, lstatSync, readFileSync, readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { isObj } from "../../src/format/decode.js";
import { OCI_CONFIG_KEY } from "../../src/format/identity.js";
import { Scanner } from "../../src/scan/scanner.js";
import type { PolicyRule } from "../cluster/cluster.js";
import { CFG, RUN } from "./helpers.js";

/** Exactly the chart's ClusterRole (charts/virtcontainers-exporter/templates/rbac.yaml). */
export const EXPORTER_RULES: PolicyRule[] = [
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];

/** A virtcontainers pod of a tree, as the scanner reads it. */
export interface VcPod {
  readonly id: string;
  readonly uid: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  /** The IDs of the pod's containers other than the sandbox (whose ID is the pod's). */
  readonly containerIds: readonly string[];
}

/** Every pod of the tree under `hostRoot`, sorted by ID. */
export async function readPods(hostRoot: string): Promise<VcPod[]> {
  const snapshot = await new Scanner({ hostRoot }).scan();
  return snapshot.pods.map((p) => ({
    id: p.id,
    uid: p.identity.podUid,
    namespace: p.identity.namespace,
    name: p.identity.podName,
    containerIds: p.containers.map((c) => c.id).filter((id) => id !== p.id),
  }));
}

export function runDir(hostRoot: string, podId: string): string {
  return join(hostRoot, RUN, podId);
}

export function configDir(hostRoot: string, podId: string): string {
  return join(hostRoot, CFG, podId);
}

/** The entries of both tree roots, sorted (symlinks and stray files included). */
export function listTrees(hostRoot: string): { run: string[]; config: string[] } {
  return {
    run: readdirSync(join(hostRoot, RUN)).sort(),
    config: readdirSync(join(hostRoot, CFG)).sort(),
  };
}

/** Regular files under `dir`, recursively; symlinks are neither followed nor listed. */
export function regularFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Set the access and modification times of `dir` and of everything under it (symlinks skipped). */
export function setTimes(dir: string, when: Date): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) setTimes(p, when);
    else if (e.isFile()) utimesSync(p, when, when);
  }
  utimesSync(dir, when, when);
}

/** Replace every occurrence of `from` by `to` in every file of the pod's two directories. */
export function replaceInPod(hostRoot: string, podId: string, from: string, to: string): number {
  let changed = 0;
  for (const dir of [runDir(hostRoot, podId), configDir(hostRoot, podId)]) {
    for (const file of regularFiles(dir)) {
      const text = readFileSync(file, "utf8");
      if (!text.includes(from)) continue;
      writeFileSync(file, text.split(from).join(to));
      changed++;
    }
  }
  return changed;
}

/**
 * Give the pod's files another Kubernetes pod UID (the one the API server gave the pod we
 * created for it), so that pod owns the directory.
 */
export function rewriteUid(hostRoot: string, pod: VcPod, uid: string): void {
  if (pod.uid === null) throw new Error(`pod ${pod.id} carries no UID to rewrite`);
  if (replaceInPod(hostRoot, pod.id, pod.uid, uid) === 0) throw new Error(`UID of ${pod.id} not found`);
}

/** The keys that name the Kubernetes pod: without them only container IDs can match. */
const IDENTITY_KEYS = [
  "io.kubernetes.pod.uid",
  "io.kubernetes.pod.namespace",
  "io.kubernetes.pod.name",
  "io.kubernetes.cri-o.Metadata",
  "io.kubernetes.cri-o.KubeName",
];

function stripSpec(value: unknown): { value: unknown; changed: boolean } {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v: unknown) => {
      const r = stripSpec(v);
      changed ||= r.changed;
      return r.value;
    });
    return { value: out, changed };
  }
  if (!isObj(value)) return { value, changed: false };
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === OCI_CONFIG_KEY && typeof v === "string") {
      const spec = JSON.parse(v) as unknown;
      if (isObj(spec) && isObj(spec.annotations)) {
        const annotations = Object.fromEntries(
          Object.entries(spec.annotations).filter(([key]) => !IDENTITY_KEYS.includes(key)),
        );
        out[k] = JSON.stringify({ ...spec, annotations });
        changed = true;
      } else out[k] = v;
      continue;
    }
    const r = stripSpec(v);
    changed ||= r.changed;
    out[k] = r.value;
  }
  return { value: out, changed };
}

/**
 * Remove the pod UID, namespace and name from every embedded OCI spec of the pod (as a 2018
 * containerd would have written it: it kept none of them), leaving the CRI keys.
 */
export function stripIdentity(hostRoot: string, podId: string): void {
  let specs = 0;
  for (const file of regularFiles(configDir(hostRoot, podId))) {
    if (!file.endsWith(".json")) continue;
    const r = stripSpec(JSON.parse(readFileSync(file, "utf8")) as unknown);
    if (!r.changed) continue;
    writeFileSync(file, JSON.stringify(r.value));
    specs++;
  }
  if (specs === 0) throw new Error(`no embedded OCI spec found in ${podId}`);
}

/**
 * A copy of pod `fromId` under the ID `newId` in both trees (its sandbox container directory
 * renamed too, and the old ID replaced in every file): another sandbox of the same pod.
 */
export function clonePod(hostRoot: string, fromId: string, newId: string): void {
  for (const [from, to] of [
    [runDir(hostRoot, fromId), runDir(hostRoot, newId)],
    [configDir(hostRoot, fromId), configDir(hostRoot, newId)],
  ] as const) {
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    if (lstatSync(join(to, fromId), { throwIfNoEntry: false })?.isDirectory() === true)
      renameSync(join(to, fromId), join(to, newId));
  }
  replaceInPod(hostRoot, newId, fromId, newId);
}

/** A fresh 64-hex-digit ID (a CRI sandbox or container ID). */
export function randomId(): string {
  return randomBytes(32).toString("hex");
}
