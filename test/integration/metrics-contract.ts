/**
 * The metric families the alerts (charts/virtcontainers-exporter/files/alerts.yaml) and the
 * Grafana dashboard (files/dashboard.json) may use: the exporter's families with their label
 * names, as agreed for this release, plus the series that Prometheus, prom-client's process
 * metrics and kube-state-metrics add. monitoring.test.ts checks this list against the running
 * exporter's /metrics and every query against this list.
 */

export type MetricType = "counter" | "gauge" | "histogram";

export interface Family {
  readonly type: MetricType;
  /** Label names set by the exporter (or by the other source), sorted. */
  readonly labels: readonly string[];
}

const POD = ["namespace", "pod", "pod_id"];
const CONTAINER = [...POD, "container", "container_id"];

function family(type: MetricType, labels: readonly string[] = []): Family {
  return { type, labels: [...labels].sort() };
}

/** The exporter's families, before the Kubernetes pod view and the GC. */
export const EXPORTER_FAMILIES: Readonly<Record<string, Family>> = {
  virtcontainers_pod_info: family("gauge", [
    ...POD,
    "uid",
    "hypervisor",
    "agent",
    "proxy",
    "shim",
    "presence",
    "layout",
  ]),
  virtcontainers_pod_state: family("gauge", [...POD, "state"]),
  virtcontainers_pod_vcpus: family("gauge", POD),
  virtcontainers_pod_memory_bytes: family("gauge", POD),
  virtcontainers_pod_containers: family("gauge", POD),
  virtcontainers_pod_network_endpoints: family("gauge", POD),
  virtcontainers_pod_start_time_seconds: family("gauge", POD),
  virtcontainers_pods: family("gauge", ["state"]),
  virtcontainers_container_info: family("gauge", [...CONTAINER, "type", "image"]),
  virtcontainers_container_state: family("gauge", [...CONTAINER, "state"]),
  virtcontainers_container_start_time_seconds: family("gauge", CONTAINER),
  virtcontainers_container_mounts: family("gauge", CONTAINER),
  virtcontainers_device_info: family("gauge", [
    ...CONTAINER,
    "type",
    "host_path",
    "container_path",
    "bdf",
    "major",
    "minor",
  ]),
  virtcontainers_devices: family("gauge", ["type"]),
  virtcontainers_file_problems: family("gauge", ["file", "reason"]),
  virtcontainers_parse_errors_total: family("counter", ["file", "reason"]),
  virtcontainers_scan_duration_seconds: family("histogram", ["kind"]),
  virtcontainers_scans_total: family("counter", ["kind"]),
  virtcontainers_scan_errors_total: family("counter"),
  virtcontainers_files_read_total: family("counter"),
  virtcontainers_last_scan_timestamp_seconds: family("gauge"),
  virtcontainers_collector_success: family("gauge", ["collector"]),
  virtcontainers_collector_duration_seconds: family("gauge", ["collector"]),
  virtcontainers_exposition_bytes: family("gauge"),
  virtcontainers_scrapes_total: family("counter"),
  virtcontainers_watch_mode: family("gauge", ["mode"]),
  virtcontainers_state_tree_present: family("gauge", ["layout", "tree"]),
  virtcontainers_watched_directories: family("gauge"),
  virtcontainers_watch_errors_total: family("counter"),
  virtcontainers_exporter_build_info: family("gauge", ["version", "nodejs", "node"]),
};

/**
 * The families of the Kubernetes pod view and the GC, agreed before the exporter exposes them:
 * the only contract families a running exporter may still lack.
 */
export const PENDING_FAMILIES: Readonly<Record<string, Family>> = {
  virtcontainers_kubernetes_synced: family("gauge"),
  virtcontainers_kubernetes_watch_restarts_total: family("counter"),
  virtcontainers_kubernetes_last_sync_timestamp_seconds: family("gauge"),
  virtcontainers_kubernetes_node_confirmed: family("gauge"),
  virtcontainers_pod_kubernetes: family("gauge", [...POD, "status"]),
  virtcontainers_orphan_pods: family("gauge"),
  virtcontainers_gc_mode: family("gauge", ["mode"]),
  virtcontainers_gc_runs_total: family("counter"),
  virtcontainers_gc_last_run_timestamp_seconds: family("gauge"),
  virtcontainers_gc_deletions_total: family("counter", ["tree", "mode"]),
  virtcontainers_gc_skipped_total: family("counter", ["reason"]),
  virtcontainers_gc_errors_total: family("counter"),
  virtcontainers_gc_circuit_open: family("gauge"),
  virtcontainers_gc_tombstones: family("gauge"),
  virtcontainers_gc_tombstone_errors_total: family("counter", ["reason"]),
};

/**
 * The processes collector's families: exposed only where the host's PID namespace is visible
 * (hostPID), so a running exporter may lack them.
 */
export const HOST_PROCESS_FAMILIES: Readonly<Record<string, Family>> = {
  virtcontainers_pod_process_cpu_seconds_total: family("counter", [...POD, "role"]),
  virtcontainers_pod_process_resident_memory_bytes: family("gauge", [...POD, "role"]),
  virtcontainers_pod_processes: family("gauge", [...POD, "role"]),
  virtcontainers_process_scan_duration_seconds: family("histogram"),
  virtcontainers_process_errors_total: family("counter", ["reason"]),
};

/** prom-client's default process metrics that the dashboard uses. */
export const PROCESS_FAMILIES: Readonly<Record<string, Family>> = {
  process_cpu_seconds_total: family("counter"),
  process_resident_memory_bytes: family("gauge"),
};

/** Series that Prometheus itself or kube-state-metrics produce. */
export const EXTERNAL_FAMILIES: Readonly<Record<string, Family>> = {
  up: family("gauge"),
  scrape_duration_seconds: family("gauge"),
  scrape_samples_scraped: family("gauge"),
  kube_daemonset_status_number_unavailable: family("gauge", ["namespace", "daemonset"]),
  kube_pod_info: family("gauge", ["namespace", "pod", "node", "created_by_kind", "created_by_name"]),
};

/**
 * Labels every scraped series may carry besides its own: the target's job and instance, the
 * node (the chart's ServiceMonitor relabels it onto each target), and the labels
 * prometheus-operator adds to targets (the exporter's own namespace, pod, container, service,
 * endpoint), which the exporter's labels of the same names override (honorLabels).
 */
export const TARGET_LABELS: readonly string[] = [
  "container",
  "endpoint",
  "instance",
  "job",
  "namespace",
  "node",
  "pod",
  "service",
];

export const ALL_FAMILIES: Readonly<Record<string, Family>> = {
  ...EXPORTER_FAMILIES,
  ...PENDING_FAMILIES,
  ...HOST_PROCESS_FAMILIES,
  ...PROCESS_FAMILIES,
  ...EXTERNAL_FAMILIES,
};

/** The family of a series name: itself, or a histogram's _bucket/_sum/_count series. */
export function familyOf(series: string): { name: string; family: Family; bucket: boolean } | undefined {
  const own = ALL_FAMILIES[series];
  if (own !== undefined) return { name: series, family: own, bucket: false };
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  if (m?.[1] === undefined) return undefined;
  const base = ALL_FAMILIES[m[1]];
  if (base?.type !== "histogram") return undefined;
  return { name: m[1], family: base, bucket: m[2] === "bucket" };
}
