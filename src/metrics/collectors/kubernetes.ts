/**
 * Collector `kubernetes` (only with the Kubernetes pod view on): how each virtcontainers pod
 * relates to the Kubernetes pods of this node, and the node's orphan count.
 */
import { MATCH_STATUSES } from "../../kube/match.js";
import type { Collector, Family } from "../exposition.js";

const families: Family[] = [
  {
    name: "virtcontainers_pod_kubernetes",
    help: "How the pod relates to Kubernetes (1 for the current status): matched (a pod of this node owns it), orphan (no pod owns it: a GC candidate), unmanaged (no Kubernetes identity: plain Docker/podman, never collected) or unknown (not decidable yet).",
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
    help: "Pods on this node that no Kubernetes pod owns (status orphan).",
    type: "gauge",
    samples: (_s, ctx) =>
      ctx.matches === null
        ? []
        : [{ labels: [], value: ctx.matches.filter((m) => m.status === "orphan").length }],
  },
];

export const kubernetesCollector: Collector = { name: "kubernetes", families, needsKubernetes: true };
