/**
 * Collector `kubernetes` (only with the Kubernetes pod view on): how each virtcontainers pod
 * relates to the Kubernetes pods of this node, and the node's orphan count.
 */
import { MATCH_STATUSES, isCollectable } from "../../kube/match.js";
import type { Collector, Family } from "../exposition.js";

const families: Family[] = [
  {
    name: "virtcontainers_pod_kubernetes",
    help: "How the pod relates to Kubernetes (1 for the current status): matched (a pod of this node owns it), orphan (no pod owns it: a GC candidate), superseded (its pod runs in a newer sandbox: a GC candidate), unmanaged (no Kubernetes identity: plain Docker/podman, never collected) or unknown (not decidable yet).",
    type: "gauge",
    samples: (_s, ctx) =>
      (ctx.matches ?? []).flatMap((m) =>
        MATCH_STATUSES.map((status) => ({
          labels: [
            ["pod_id", m.podId],
            ["namespace", m.namespace ?? ""],
            ["pod", m.name ?? ""],
            ["status", status],
          ] as const,
          value: m.status === status ? 1 : 0,
        })),
      ),
  },
  {
    name: "virtcontainers_orphan_pods",
    help: "Pods on this node that GC may collect: no Kubernetes pod owns them (status orphan) or their pod runs in a newer sandbox (status superseded).",
    type: "gauge",
    samples: (_s, ctx) =>
      ctx.matches === null
        ? []
        : [{ labels: [], value: ctx.matches.filter((m) => isCollectable(m.status)).length }],
  },
];

export const kubernetesCollector: Collector = { name: "kubernetes", families, needsKubernetes: true };
