/** Every snapshot collector, in output order. */
import type { Collector } from "../exposition.js";
import { containersCollector } from "./containers.js";
import { devicesCollector } from "./devices.js";
import { kubernetesCollector } from "./kubernetes.js";
import { podsCollector } from "./pods.js";
import { problemsCollector } from "./problems.js";

export const SNAPSHOT_COLLECTORS: readonly Collector[] = [
  podsCollector,
  containersCollector,
  devicesCollector,
  problemsCollector,
  kubernetesCollector,
];
export const COLLECTOR_NAMES: readonly string[] = SNAPSHOT_COLLECTORS.map((c) => c.name);
