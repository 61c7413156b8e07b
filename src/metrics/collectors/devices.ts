/** Collector `devices`: devices passed to containers (vfio, block, generic). */
import { sysfsBdf } from "../../format/devices.js";
import { DEVICE_TYPES } from "../../format/model.js";
import type { Collector, Family } from "../exposition.js";
import { containerLabels, withLabels } from "../labels.js";

/** Device nodes only: a host path that is not under /dev is not used as a label value. */
function devicePath(p: string): string {
  return /^\/dev\/[\x21-\x7e]{1,200}$/.test(p) ? p : "";
}

const families: Family[] = [
  {
    name: "virtcontainers_device_info",
    help: "A device of a container (1 per device): type, host and container paths, PCI BDF (vfio), major and minor.",
    type: "gauge",
    perPod: (p) =>
      p.containers.flatMap((c) => {
        const base = containerLabels(p, c);
        return c.devices.map((d) => ({
          labels: withLabels(
            base,
            ["type", d.type],
            ["host_path", devicePath(d.hostPath)],
            ["container_path", devicePath(d.containerPath)],
            ["bdf", sysfsBdf(d.bdf)],
            ["major", String(d.major)],
            ["minor", String(d.minor)],
          ),
          value: 1,
        }));
      }),
  },
  {
    name: "virtcontainers_devices",
    help: "Devices on this node by type.",
    type: "gauge",
    samples(s) {
      const counts = new Map<string, number>(DEVICE_TYPES.map((t) => [t, 0]));
      for (const p of s.pods) {
        for (const c of p.containers)
          for (const d of c.devices) counts.set(d.type, (counts.get(d.type) ?? 0) + 1);
      }
      return [...counts].map(([type, n]) => ({ labels: [["type", type]], value: n }));
    },
  },
];

export const devicesCollector: Collector = { name: "devices", families };
