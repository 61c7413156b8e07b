/** Collector `containers`: every container of every pod, sandbox included. */
import { VC_STATES } from "../../format/model.js";
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
    help: "State of the container as stored in its state.json (1 for the current state, 0 for the others).",
    type: "gauge",
    perPod: (p) =>
      p.containers.flatMap((c) => {
        const base = containerLabels(p, c);
        return VC_STATES.map((st) => ({
          labels: withLabels(base, ["state", st]),
          value: c.state === st ? 1 : 0,
        }));
      }),
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
