/** The one place identity labels are built (pod_id, namespace, pod, container_id, container). */
import type { ContainerRecord, PodRecord } from "../scan/snapshot.js";
import type { Labels } from "./exposition.js";

export function podLabels(p: PodRecord): Labels {
  return [
    ["pod_id", p.id],
    ["namespace", p.identity.namespace ?? ""],
    ["pod", p.identity.podName ?? ""],
  ];
}

export function containerLabels(p: PodRecord, c: ContainerRecord): Labels {
  return [
    ["pod_id", p.id],
    ["container_id", c.id],
    ["namespace", p.identity.namespace ?? ""],
    ["pod", p.identity.podName ?? ""],
    ["container", c.identity.containerName ?? ""],
  ];
}

export function withLabels(base: Labels, ...extra: (readonly [string, string])[]): Labels {
  // concat: one array of the exact size (a spread grows its array as it goes)
  return base.concat(extra);
}
