/**
 * The `scan` command's outputs. The JSON shape is a documented contract (schemaVersion 1,
 * docs/layouts.md "scan JSON"); the table is for people. Both are sorted and secret-free.
 */
import type { Identity } from "../format/identity.js";
import { VC_STATES } from "../format/model.js";
import { knownPid } from "../format/process.js";
import {
  allProblems,
  type ContainerRecord,
  type FileProblem,
  type PodRecord,
  type Snapshot,
} from "./snapshot.js";

export const SCAN_JSON_SCHEMA_VERSION = 1;

function kube(i: Identity) {
  return {
    status: i.status,
    flavor: i.flavor,
    namespace: i.namespace,
    pod: i.podName,
    uid: i.podUid,
    ...(i.problem !== null ? { problem: i.problem } : {}),
  };
}

function containerJson(c: ContainerRecord) {
  return {
    id: c.id,
    type: c.type,
    state: c.state,
    name: c.identity.containerName,
    image: c.identity.image,
    startTime: c.startTimeSeconds,
    shimPid: knownPid(c.process),
    mounts: c.mounts,
    inRunTree: c.inRunTree,
    inConfigTree: c.inConfigTree,
    devices: c.devices.map((d) => ({
      type: d.type,
      hostPath: d.hostPath,
      containerPath: d.containerPath,
      major: d.major,
      minor: d.minor,
      bdf: d.bdf,
      scsiAddr: d.scsiAddr,
      virtPath: d.virtPath,
      hotplugged: d.hotplugged,
    })),
  };
}

function podJson(p: PodRecord) {
  return {
    id: p.id,
    layout: p.layout,
    presence: p.presence,
    state: p.state,
    kubernetes: kube(p.identity),
    vm: {
      hypervisor: p.config?.hypervisorType ?? null,
      agent: p.config?.agentType ?? null,
      proxy: p.config?.proxyType ?? null,
      shim: p.config?.shimType ?? null,
      uuid: p.hypervisor?.uuid ?? null,
      vcpus: p.vcpus,
      memoryBytes: p.memoryBytes,
      proxyPid: p.agent?.proxyPid ?? p.stateFile?.legacyProxyPid ?? null,
    },
    network:
      p.network === null
        ? null
        : {
            netNsPath: p.network.netNsPath,
            netNsCreated: p.network.netNsCreated,
            endpoints: p.network.endpoints,
          },
    startTime: p.startTimeSeconds,
    lockPresent: p.lockPresent,
    newestMtime: p.newestMtimeMs / 1000,
    containers: p.containers.map(containerJson),
    problems: p.problems.map(problemJson),
  };
}

function problemJson(p: FileProblem) {
  return {
    file: p.file,
    path: p.path,
    podId: p.podId,
    containerId: p.containerId,
    reason: p.reason,
    message: p.message,
    stale: p.stale,
  };
}

export function toJsonReport(s: Snapshot) {
  const podsByState = Object.fromEntries(
    VC_STATES.map((st) => [st, s.pods.filter((p) => p.state === st).length]),
  );
  return {
    schemaVersion: SCAN_JSON_SCHEMA_VERSION,
    hostRoot: s.hostRoot,
    takenAt: new Date(s.takenAt * 1000).toISOString(),
    trees: s.trees.map((t) => ({ set: t.set, tree: t.tree, path: t.path, present: t.present })),
    summary: {
      pods: s.pods.length,
      podsByState,
      containers: s.pods.reduce((n, p) => n + p.containers.length, 0),
      devices: s.pods.reduce((n, p) => n + p.containers.reduce((m, c) => m + c.devices.length, 0), 0),
      problems: allProblems(s).length,
    },
    pods: s.pods.map(podJson),
    problems: s.problems.map(problemJson),
    stats: s.stats,
  };
}

function pad(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "))
    .join("\n");
}

export function toTable(s: Snapshot): string {
  const lines: string[] = [];
  // Every tree that is there; with none, the reference trees (to say where we looked).
  const shown = s.trees.some((t) => t.present)
    ? s.trees.filter((t) => t.present)
    : s.trees.filter((t) => t.set === "pods");
  for (const t of shown) {
    lines.push(`${t.tree} tree ${t.path}: ${t.present ? "present" : "absent"}`);
  }
  const header = [
    "POD",
    "LAYOUT",
    "STATE",
    "PRESENCE",
    "NAMESPACE/NAME",
    "CONTAINERS",
    "DEVICES",
    "PROBLEMS",
  ];
  const rows = s.pods.map((p) => [
    p.id.slice(0, 12),
    p.layout,
    p.state,
    p.presence,
    p.identity.namespace !== null && p.identity.podName !== null
      ? `${p.identity.namespace}/${p.identity.podName}`
      : `(${p.identity.status})`,
    String(p.containers.length),
    String(p.containers.reduce((n, c) => n + c.devices.length, 0)),
    String(p.problems.length),
  ]);
  lines.push("", s.pods.length === 0 ? "no pods" : pad([header, ...rows]));
  const problems = allProblems(s);
  if (problems.length > 0) {
    lines.push("", `PROBLEMS (${problems.length})`);
    lines.push(
      pad([
        ["PATH", "FILE", "REASON", "DETAIL"],
        ...problems.map((p) => [
          p.path,
          p.file,
          p.reason + (p.stale ? " (stale value used)" : ""),
          p.message,
        ]),
      ]),
    );
  }
  return lines.join("\n") + "\n";
}
