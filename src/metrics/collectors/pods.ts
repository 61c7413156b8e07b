/** Collector `pods`: one VM per virtcontainers pod. */
import { VC_STATES } from "../../format/model.js";
import type { PodRecord } from "../../scan/snapshot.js";
import type { Collector, Family, Sample } from "../exposition.js";
import { podLabels, withLabels } from "../labels.js";

function gauge(value: (p: PodRecord) => number | null): (p: PodRecord) => Sample[] {
  return (p) => {
    const v = value(p);
    return v === null ? [] : [{ labels: podLabels(p), value: v }];
  };
}

const families: Family[] = [
  {
    name: "virtcontainers_pod_info",
    help: "Information about a virtcontainers pod (one VM): its Kubernetes identity and runtime components.",
    type: "gauge",
    perPod: (p) => [
      {
        labels: withLabels(
          podLabels(p),
          ["uid", p.identity.podUid ?? ""],
          ["hypervisor", p.config?.hypervisorType ?? ""],
          ["agent", p.config?.agentType ?? ""],
          ["proxy", p.config?.proxyType ?? ""],
          ["shim", p.config?.shimType ?? ""],
          ["presence", p.presence],
          ["layout", p.layout],
        ),
        value: 1,
      },
    ],
  },
  {
    name: "virtcontainers_pod_state",
    help: "State of the pod as stored in its state.json: one series, 1, labelled with the current state (unknown when the file is missing, unreadable or holds another state).",
    type: "gauge",
    // Only the current state (as kube-state-metrics does for waiting reasons): a state change
    // ends one series and starts another. A pod on disk always has one, `unknown` included.
    perPod: (p) => [{ labels: withLabels(podLabels(p), ["state", p.state]), value: 1 }],
  },
  {
    name: "virtcontainers_pod_vcpus",
    help: "vCPUs of the pod's VM: boot vCPUs plus hot-plugged ones.",
    type: "gauge",
    perPod: gauge((p) => p.vcpus),
  },
  {
    name: "virtcontainers_pod_memory_bytes",
    help: "Memory of the pod's VM in bytes.",
    type: "gauge",
    perPod: gauge((p) => p.memoryBytes),
  },
  {
    name: "virtcontainers_pod_containers",
    help: "Containers of the pod, sandbox container included.",
    type: "gauge",
    perPod: gauge((p) => p.containers.length),
  },
  {
    name: "virtcontainers_pod_network_endpoints",
    help: "Network endpoints of the pod (from network.json).",
    type: "gauge",
    perPod: gauge((p) => p.networkEndpoints),
  },
  {
    name: "virtcontainers_pod_start_time_seconds",
    help: "Start time of the pod (its sandbox container's shim), Unix seconds.",
    type: "gauge",
    perPod: gauge((p) => p.startTimeSeconds),
  },
  {
    name: "virtcontainers_pods",
    help: "Pods on this node by state.",
    type: "gauge",
    samples: (s) =>
      VC_STATES.map((st) => ({
        labels: [["state", st]],
        value: s.pods.filter((p) => p.state === st).length,
      })),
  },
];

export const podsCollector: Collector = { name: "pods", families };
