/** Collector `containers`: every container of every pod, sandbox included. */
import type { ContainerRecord, PodRecord } from "../../scan/snapshot.js";
import type { Collector, Family, Sample } from "../exposition.js";
import { containerLabels, withLabels } from "../labels.js";

function gauge(value: (c: ContainerRecord) => number | null): (p: PodRecord) => Sample[] {
  return (p) =>
    p.containers.flatMap((c) => {
      const v = value(c);
      return v === null ? [] : [{ labels: containerLabels(p, c), value: v }];
    });
}

const families: Family[] = [
  {
    name: "virtcontainers_container_info",
    help: "Information about a container: type (sandbox or container) and image.",
    type: "gauge",
    perPod: (p) =>
      p.containers.map((c) => ({
        labels: withLabels(containerLabels(p, c), ["type", c.type], ["image", c.identity.image ?? ""]),
        value: 1,
      })),
  },
  {
    name: "virtcontainers_container_state",
    help: "State of the container as stored in its state.json: one series, 1, labelled with the current state (unknown when the file is missing, unreadable or holds another state).",
    type: "gauge",
    // Only the current state, as for virtcontainers_pod_state.
    perPod: (p) =>
      p.containers.map((c) => ({ labels: withLabels(containerLabels(p, c), ["state", c.state]), value: 1 })),
  },
  {
    name: "virtcontainers_container_start_time_seconds",
    help: "Start time of the container's shim (taken at container create), Unix seconds.",
    type: "gauge",
    perPod: gauge((c) => c.startTimeSeconds),
  },
  {
    name: "virtcontainers_container_mounts",
    help: "Mounts of the container.",
    type: "gauge",
    perPod: gauge((c) => c.mounts),
  },
];

export const containersCollector: Collector = { name: "containers", families };
