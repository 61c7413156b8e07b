/**
 * Collector `processes`: what each pod's VM costs the host, per role (hypervisor, shim, proxy,
 * virtiofsd), from the last process sample (scan/pod-processes.ts). Rendered at each sample,
 * never at a scrape; a pod with no live process of a role has no series for it.
 */
import { PROCESS_ROLES, type ProcessRole } from "../../format/proc.js";
import type { RoleUsage } from "../../scan/pod-processes.js";
import type { Snapshot } from "../../scan/snapshot.js";
import type { Collector, Family, RenderContext, Sample } from "../exposition.js";
import { podLabels, withLabels } from "../labels.js";

function perRole(value: (u: RoleUsage) => number): (s: Snapshot, ctx: RenderContext) => Sample[] {
  return (s, ctx) => {
    const out: Sample[] = [];
    const pods = ctx.processes?.pods;
    if (pods === undefined) return out;
    for (const p of s.pods) {
      const roles = pods.get(p.id);
      if (roles === undefined) continue;
      const base = podLabels(p);
      for (const role of PROCESS_ROLES) {
        const u = roles.get(role);
        if (u !== undefined)
          out.push({ labels: withLabels(base, ["role", role satisfies ProcessRole]), value: value(u) });
      }
    }
    return out;
  };
}

const families: Family[] = [
  {
    name: "virtcontainers_pod_process_cpu_seconds_total",
    help: "User and system CPU time of the pod's host processes with this role (hypervisor, shim, proxy, virtiofsd), seconds; processes of the role that exited while the pod exists stay counted.",
    type: "counter",
    samples: perRole((u) => u.cpuSeconds),
  },
  {
    name: "virtcontainers_pod_process_resident_memory_bytes",
    help: "Resident memory of the pod's live host processes with this role, bytes.",
    type: "gauge",
    samples: perRole((u) => u.residentBytes),
  },
  {
    name: "virtcontainers_pod_processes",
    help: "The pod's live host processes with this role.",
    type: "gauge",
    samples: perRole((u) => u.processes),
  },
];

export const processesCollector: Collector = { name: "processes", families, sampled: true };
