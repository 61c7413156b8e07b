/** Every snapshot collector, in output order. */
import type { Collector } from "../exposition.js";
import { containersCollector } from "./containers.js";
import { devicesCollector } from "./devices.js";
import { kubernetesCollector } from "./kubernetes.js";
import { podsCollector } from "./pods.js";
import { problemsCollector } from "./problems.js";
import { processesCollector } from "./processes.js";

export const SNAPSHOT_COLLECTORS: readonly Collector[] = [
  podsCollector,
  containersCollector,
  devicesCollector,
  problemsCollector,
  kubernetesCollector,
];
/** Collectors rendered from the timed process sample (need the host's PID namespace). */
export const SAMPLED_COLLECTORS: readonly Collector[] = [processesCollector];
export const ALL_COLLECTORS: readonly Collector[] = [...SNAPSHOT_COLLECTORS, ...SAMPLED_COLLECTORS];
export const COLLECTOR_NAMES: readonly string[] = ALL_COLLECTORS.map((c) => c.name);
