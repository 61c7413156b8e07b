/**
 * The Grafana dashboard of virtcontainers-exporter, as code (grafana-foundation-sdk). `npm run
 * dashboard` writes it to charts/virtcontainers-exporter/files/dashboard.json; a test checks that
 * the committed file is what this code generates, so the JSON is never edited by hand.
 *
 * Rows in the order an admin asks: VM pods per node; orphaned and superseded pods; what the GC
 * did and why it skipped; devices; file problems; then pods, VMs, their host cost, the Kubernetes
 * view and the exporter's own health. Every query filters by the cluster, node (and for pod
 * series namespace) variables. The cluster label is written `cluster`: the chart's ConfigMap
 * replaces it by the value dashboards.clusterLabel.
 */
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as bargauge from "@grafana/grafana-foundation-sdk/bargauge";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/** The data source of every panel, query and variable: the `datasource` variable. */
export const DATASOURCE: common.DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** The cluster label as written here; the chart replaces `cluster=~"$cluster"` and the variable's label. */
export const CLUSTER_LABEL = "cluster";

/** The exporter's scrape job; the chart's ConfigMap rewrites `job="virtcontainers-exporter"` for the release. */
const JOB = 'job="virtcontainers-exporter"';

const CLUSTER = `${CLUSTER_LABEL}=~"$cluster"`;
const NODE = 'node=~"$node"';
const NAMESPACE = 'namespace=~"$namespace"';

/** A node-level series of the exporter: filtered by cluster and node. */
function n(metric: string, ...matchers: string[]): string {
  return `${metric}{${[CLUSTER, NODE, ...matchers].join(", ")}}`;
}

/** A pod, container or device series: filtered by cluster, node and namespace. */
function p(metric: string, ...matchers: string[]): string {
  return n(metric, NAMESPACE, ...matchers);
}

// virtcontainers_pod_state and virtcontainers_container_state have one series per pod or
// container, for its current state only: a sum over them has nothing where no pod is in the
// state. These three add those answers back as 0.

/** `expr` (no labels left), or 0 where the selection has pods but none counted by `expr`. */
function orNoPods(expr: string): string {
  return `${expr} or 0 * count(${p("virtcontainers_pod_info")})`;
}

/** `expr` by node, or 0 for the nodes of the selection that have pods but none counted by `expr`. */
function orNoPodsByNode(expr: string): string {
  return `${expr} or 0 * count by (node) (${p("virtcontainers_pod_info")})`;
}

/**
 * `expr` by state, or 0 for every other state: the node totals virtcontainers_pods{state} have a
 * series for each state (0 included) and share the state vocabulary with the container states.
 */
function everyState(expr: string): string {
  return `${expr} or 0 * sum by (state) (${n("virtcontainers_pods")})`;
}

/** A series of the scrape job itself (up, scrape_*, process_*): filtered by job, cluster and node. */
function j(metric: string): string {
  return `${metric}{${[JOB, CLUSTER, NODE].join(", ")}}`;
}

const POD_KEY = "node, namespace, pod, pod_id";
/** The table columns of POD_KEY, in its order. */
const POD_COLUMNS = [
  { field: "node", name: "node" },
  { field: "namespace", name: "namespace" },
  { field: "pod", name: "pod" },
  { field: "pod_id", name: "pod ID" },
] as const;
const POD_LEGEND = "{{namespace}}/{{pod}} {{pod_id}}";
const ORPHANS = 'status=~"orphan|superseded"';

interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** An instant query in table format (tables, bar gauges of a whole time range). */
  readonly table?: boolean;
}

function queries(qs: readonly Query[]): prometheus.DataqueryBuilder[] {
  return qs.map((q, i) => {
    const b = new prometheus.DataqueryBuilder()
      .refId(String.fromCharCode(65 + i))
      .datasource(DATASOURCE)
      .expr(q.expr);
    if (q.legend !== undefined) b.legendFormat(q.legend);
    if (q.table === true) b.instant().format(prometheus.PromQueryFormat.Table);
    return b;
  });
}

let nextId = 1;
const id = (): number => nextId++;

interface Common {
  readonly title: string;
  readonly description: string;
  readonly w: number;
  readonly h: number;
  readonly unit?: string;
  readonly queries: readonly Query[];
}

function timeseriesPanel(c: Common & { readonly stack?: boolean }): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .id(id())
    .title(c.title)
    .description(c.description)
    .datasource(DATASOURCE)
    .span(c.w)
    .height(c.h)
    .targets(queries(c.queries))
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .calcs(["lastNotNull", "max"]),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  if (c.unit !== undefined) b.unit(c.unit);
  if (c.stack === true) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return b;
}

function statPanel(c: Common & { readonly red?: number }): stat.PanelBuilder {
  const b = new stat.PanelBuilder()
    .id(id())
    .title(c.title)
    .description(c.description)
    .datasource(DATASOURCE)
    .span(c.w)
    .height(c.h)
    .targets(queries(c.queries))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area);
  if (c.unit !== undefined) b.unit(c.unit);
  const steps: dashboard.Threshold[] = [{ value: null, color: "green" }];
  if (c.red !== undefined) steps.push({ value: c.red, color: "red" });
  b.thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps));
  return b;
}

/** A bar gauge of instant values, largest first (one bar per node or reason). */
function barsPanel(c: Common): bargauge.PanelBuilder {
  const b = new bargauge.PanelBuilder()
    .id(id())
    .title(c.title)
    .description(c.description)
    .datasource(DATASOURCE)
    .span(c.w)
    .height(c.h)
    .targets(queries(c.queries.map((q) => ({ ...q, table: false }))).map((q) => q.instant()))
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]));
  if (c.unit !== undefined) b.unit(c.unit);
  return b;
}

interface Column {
  /** A label, or `Value #<refId>` for a query's value. */
  readonly field: string;
  readonly name: string;
  readonly unit?: string;
}

/**
 * A table of an info metric's labels per pod: one list of [label, column name] gives both the
 * query's `by` clause (after the pod key) and the columns (after the pod columns).
 */
function labelTable(
  selector: string,
  labels: readonly (readonly [field: string, name: string])[],
): { readonly queries: readonly Query[]; readonly columns: readonly Column[] } {
  return {
    queries: [{ expr: `max by (${POD_KEY}, ${labels.map(([f]) => f).join(", ")}) (${selector})` }],
    columns: [...POD_COLUMNS, ...labels.map(([field, name]) => ({ field, name }))],
  };
}

/**
 * A table of instant queries merged on their common labels (one row per node, pod or device):
 * `columns` in their order, renamed; Time and the values not listed are hidden. Every query
 * aggregates `by` the labels it shows, so no other label column appears.
 */
function tablePanel(
  c: Common & { readonly columns: readonly Column[]; readonly sortBy: string },
): table.PanelBuilder {
  // Grafana names the value field of a lone table query "Value", else "Value #<refId>"
  const field = (f: string): string => (c.queries.length === 1 && f === "Value #A" ? "Value" : f);
  const values =
    c.queries.length === 1 ? ["Value"] : c.queries.map((_, i) => `Value #${String.fromCharCode(65 + i)}`);
  const shown = new Set(c.columns.map((col) => field(col.field)));
  const excludeByName: Record<string, boolean> = { Time: true };
  for (const v of values) if (!shown.has(v)) excludeByName[v] = true;
  const indexByName: Record<string, number> = {};
  const renameByName: Record<string, string> = {};
  c.columns.forEach((col, i) => {
    indexByName[field(col.field)] = i;
    renameByName[field(col.field)] = col.name;
  });
  const b = new table.PanelBuilder()
    .id(id())
    .title(c.title)
    .description(c.description)
    .datasource(DATASOURCE)
    .span(c.w)
    .height(c.h)
    .targets(queries(c.queries.map((q) => ({ ...q, table: true }))))
    .withTransformation({ id: "merge", options: {} })
    .withTransformation({ id: "organize", options: { excludeByName, indexByName, renameByName } })
    .filterable(true)
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(c.sortBy).desc(true)]);
  for (const col of c.columns) {
    if (col.unit !== undefined) b.overrideByName(col.name, [{ id: "unit", value: col.unit }]);
  }
  return b;
}

const row = (title: string): dashboard.RowBuilder => new dashboard.RowBuilder(title).id(id());

// ---------------------------------------------------------------------------------------------

function variables(): (dashboard.DatasourceVariableBuilder | dashboard.QueryVariableBuilder)[] {
  const query = (
    name: string,
    label: string,
    q: string,
    description: string,
  ): dashboard.QueryVariableBuilder =>
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .description(description)
      .datasource(DATASOURCE)
      .query({ query: q, refId: name })
      .definition(q)
      .includeAll(true)
      .allValue(".*")
      .multi(true)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .current({ selected: true, text: "All", value: "$__all" });
  return [
    new dashboard.DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"),
    query(
      "cluster",
      "Cluster",
      `label_values(virtcontainers_exporter_build_info, ${CLUSTER_LABEL})`,
      "The cluster label of a multi-cluster Prometheus (chart value dashboards.clusterLabel). Without that label the list is empty and All (.*) matches every series.",
    ),
    query(
      "node",
      "Node",
      `label_values(virtcontainers_exporter_build_info{${CLUSTER}}, node)`,
      "Nodes whose exporter is scraped.",
    ),
    query(
      "namespace",
      "Namespace",
      `label_values(virtcontainers_pod_info{${CLUSTER}, ${NODE}}, namespace)`,
      "Kubernetes namespaces of the VM pods on the selected nodes (empty for pods without a Kubernetes identity).",
    ),
  ];
}

/** The dashboard's rows, in order: each a row and its panels. */
function rows(): [dashboard.RowBuilder, ...cog.Builder<dashboard.Panel>[]][] {
  return [
    [
      row("VM pods per node"),
      statPanel({
        title: "Pods",
        description: "VM-isolated pods on the selected nodes and namespaces.",
        w: 4,
        h: 4,
        queries: [{ expr: `count(${p("virtcontainers_pod_info")})` }],
      }),
      statPanel({
        title: "Running pods",
        description: "Pods whose state.json says running.",
        w: 4,
        h: 4,
        queries: [{ expr: orNoPods(`sum(${p("virtcontainers_pod_state", 'state="running"')})`) }],
      }),
      statPanel({
        title: "Nodes with VM pods",
        description: "Selected nodes with at least one VM pod on disk.",
        w: 4,
        h: 4,
        queries: [{ expr: `count(count by (node) (${p("virtcontainers_pod_info")}))` }],
      }),
      statPanel({
        title: "Orphaned or superseded pods",
        description:
          "Pod state on disk that the GC may collect: its Kubernetes pod no longer exists on the node (orphan), or a newer sandbox of the same pod replaced it (superseded).",
        w: 4,
        h: 4,
        red: 1,
        queries: [{ expr: `sum(${p("virtcontainers_pod_kubernetes", ORPHANS)})` }],
      }),
      statPanel({
        title: "Kubernetes view",
        description:
          "Lowest virtcontainers_kubernetes_synced of the selected nodes: 1 when every exporter's pod view is synced and fresh.",
        w: 4,
        h: 4,
        queries: [{ expr: `min(${n("virtcontainers_kubernetes_synced")})` }],
      }),
      statPanel({
        title: "Exporters up",
        description: "Exporters Prometheus scrapes successfully.",
        w: 4,
        h: 4,
        queries: [{ expr: `sum(${j("up")})` }],
      }),
      tablePanel({
        title: "Nodes",
        description:
          "One row per node: VM pods, running pods, containers (sandboxes included), the vCPUs and memory given to its VMs, orphaned or superseded pods and devices.",
        w: 16,
        h: 9,
        sortBy: "pods",
        queries: [
          { expr: `count by (node) (${p("virtcontainers_pod_info")})` },
          { expr: orNoPodsByNode(`sum by (node) (${p("virtcontainers_pod_state", 'state="running"')})`) },
          { expr: `count by (node) (${p("virtcontainers_container_info")})` },
          { expr: `sum by (node) (${p("virtcontainers_pod_vcpus")})` },
          { expr: `sum by (node) (${p("virtcontainers_pod_memory_bytes")})` },
          { expr: `sum by (node) (${p("virtcontainers_pod_kubernetes", ORPHANS)})` },
          { expr: `count by (node) (${p("virtcontainers_device_info")})` },
        ],
        columns: [
          { field: "node", name: "node" },
          { field: "Value #A", name: "pods" },
          { field: "Value #B", name: "running" },
          { field: "Value #C", name: "containers" },
          { field: "Value #D", name: "vCPUs" },
          { field: "Value #E", name: "VM memory", unit: "bytes" },
          { field: "Value #F", name: "orphaned or superseded" },
          { field: "Value #G", name: "devices" },
        ],
      }),
      timeseriesPanel({
        title: "VM pods per node (top 20)",
        description: "VM pods on each node over time: the 20 nodes with the most.",
        w: 8,
        h: 9,
        queries: [
          { expr: `topk(20, count by (node) (${p("virtcontainers_pod_info")}))`, legend: "{{node}}" },
        ],
      }),
    ],
    [
      row("Orphaned and superseded pods"),
      tablePanel({
        title: "Orphaned and superseded pods",
        description:
          "One row per pod the GC may collect: node, namespace, pod, pod ID, status (orphan or superseded), age (since the sandbox's shim started, else the lock file's mtime, else CRI-O's creation time; empty when none is known) and the node's GC mode (off, dry_run, on): what the GC does with the pod at most. The decision for each pod (deleted, or skipped and by which rule) is not a metric (it would be a series per pod and reason): the exporter logs it with the pod ID (docs/gc.md); the Garbage collection row counts the skips by reason.",
        w: 16,
        h: 9,
        sortBy: "age",
        queries: [
          {
            expr: `max by (${POD_KEY}, status, mode) ((${p("virtcontainers_pod_kubernetes", ORPHANS)} == 1) * on (job, instance, node) group_left (mode) (${n("virtcontainers_gc_mode")} == 1))`,
          },
          {
            expr: `max by (${POD_KEY}) (time() - ${p("virtcontainers_pod_start_time_seconds")} and on (job, instance, node, pod_id) (${p("virtcontainers_pod_kubernetes", ORPHANS)} == 1))`,
          },
        ],
        columns: [
          ...POD_COLUMNS,
          { field: "status", name: "status" },
          { field: "Value #B", name: "age", unit: "s" },
          { field: "mode", name: "GC mode" },
        ],
      }),
      timeseriesPanel({
        title: "Orphaned and superseded pods by node",
        description: "Pods the GC may collect, per node and status.",
        w: 8,
        h: 9,
        queries: [
          {
            expr: `sum by (node, status) (${p("virtcontainers_pod_kubernetes", ORPHANS)})`,
            legend: "{{node}} {{status}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Pods by Kubernetes status",
        description:
          "matched: the pod exists on this node; orphan: it no longer does; superseded: a newer sandbox of the same pod replaced it; unmanaged: not a Kubernetes pod; unknown: the pod view is not synced.",
        w: 24,
        h: 7,
        queries: [{ expr: `sum by (status) (${p("virtcontainers_pod_kubernetes")})`, legend: "{{status}}" }],
      }),
    ],
    [
      row("Garbage collection"),
      barsPanel({
        title: "GC skips by reason (time range)",
        description:
          "Orphans (and whole runs) the GC held back over the dashboard's time range, by the first safety rule that stopped it (docs/gc.md).",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sort_desc(sum by (reason) (increase(${n("virtcontainers_gc_skipped_total")}[$__range])))`,
            legend: "{{reason}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "GC skips by reason",
        description: "Skips per interval, by the safety rule that stopped the GC.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (reason) (increase(${n("virtcontainers_gc_skipped_total")}[$__rate_interval]))`,
            legend: "{{reason}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "GC deletions",
        description: "Pod directories deleted (live) or that would have been (dry_run), per node and tree.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node, tree, mode) (increase(${n("virtcontainers_gc_deletions_total")}[$__rate_interval]))`,
            legend: "{{node}} {{tree}} {{mode}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "GC mode",
        description: "Nodes in each GC mode: off, dry_run or on.",
        w: 8,
        h: 8,
        queries: [{ expr: `count by (mode) (${n("virtcontainers_gc_mode")} == 1)`, legend: "{{mode}}" }],
      }),
      timeseriesPanel({
        title: "GC runs, errors and circuit",
        description:
          "GC runs and failed deletions per interval; circuit open (1) means the GC deletes nothing because too many pods looked orphaned.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node) (increase(${n("virtcontainers_gc_runs_total")}[$__rate_interval]))`,
            legend: "{{node}} runs",
          },
          {
            expr: `sum by (node) (increase(${n("virtcontainers_gc_errors_total")}[$__rate_interval]))`,
            legend: "{{node}} errors",
          },
          { expr: `max by (node) (${n("virtcontainers_gc_circuit_open")})`, legend: "{{node}} circuit open" },
        ],
      }),
      timeseriesPanel({
        title: "Since the last GC run",
        description: "Seconds since each node's GC last ran.",
        w: 8,
        h: 8,
        unit: "s",
        queries: [
          {
            expr: `time() - max by (node) (${n("virtcontainers_gc_last_run_timestamp_seconds")})`,
            legend: "{{node}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Tombstones",
        description:
          "Deleted pod directories renamed to tombstones and not removed yet, per node, and tombstones a sweep could not remove, by reason.",
        w: 24,
        h: 7,
        queries: [
          { expr: `sum by (node) (${n("virtcontainers_gc_tombstones")})`, legend: "{{node}} tombstones" },
          {
            expr: `sum by (reason) (increase(${n("virtcontainers_gc_tombstone_errors_total")}[$__rate_interval]))`,
            legend: "{{reason}} not removed",
          },
        ],
      }),
    ],
    [
      row("Devices"),
      tablePanel({
        title: "VFIO devices by pod",
        description:
          "PCI devices passed through to a pod (VFIO, e.g. GPUs): node, namespace, pod, pod ID, Kubernetes container, PCI address (BDF) and host path.",
        w: 16,
        h: 8,
        sortBy: "node",
        ...labelTable(p("virtcontainers_device_info", 'type="vfio"'), [
          ["container", "container"],
          ["bdf", "BDF"],
          ["host_path", "host path"],
        ]),
      }),
      timeseriesPanel({
        title: "Devices by node and type",
        description: "Devices passed to the pods' containers, per node and type: vfio, block or generic.",
        w: 8,
        h: 8,
        queries: [
          { expr: `count by (node, type) (${p("virtcontainers_device_info")})`, legend: "{{node}} {{type}}" },
        ],
      }),
      tablePanel({
        title: "All devices",
        description:
          "One row per device of a container: type, host and container paths, PCI address (vfio), major and minor.",
        w: 24,
        h: 8,
        sortBy: "node",
        ...labelTable(p("virtcontainers_device_info"), [
          ["container", "container"],
          ["type", "type"],
          ["host_path", "host path"],
          ["container_path", "container path"],
          ["bdf", "BDF"],
          ["major", "major"],
          ["minor", "minor"],
        ]),
      }),
    ],
    [
      row("State files"),
      tablePanel({
        title: "File problems by node",
        description:
          "Files with a problem in the current snapshot, per node, file and reason (docs/metrics.md lists the reasons); the exporter logs the path.",
        w: 8,
        h: 8,
        sortBy: "files",
        queries: [{ expr: `sum by (node, file, reason) (${n("virtcontainers_file_problems")} > 0)` }],
        columns: [
          { field: "node", name: "node" },
          { field: "file", name: "file" },
          { field: "reason", name: "reason" },
          { field: "Value #A", name: "files" },
        ],
      }),
      timeseriesPanel({
        title: "File problems",
        description: "Files with a problem in the current snapshot, per node and reason.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node, reason) (${n("virtcontainers_file_problems")})`,
            legend: "{{node}} {{reason}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "New file problems",
        description:
          "Problems newly seen per interval, per node, file and reason (a problem that stays is counted once).",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node, file, reason) (increase(${n("virtcontainers_parse_errors_total")}[$__rate_interval]))`,
            legend: "{{node}} {{file}} {{reason}}",
          },
        ],
      }),
    ],
    [
      row("Pods and containers"),
      timeseriesPanel({
        title: "Pods by state",
        description:
          "The state in each pod's state.json: ready, running, paused, stopped, or unknown when it cannot be read.",
        w: 12,
        h: 8,
        queries: [
          { expr: everyState(`sum by (state) (${p("virtcontainers_pod_state")})`), legend: "{{state}}" },
        ],
      }),
      timeseriesPanel({
        title: "Containers by state",
        description: "The state in each container's state.json.",
        w: 12,
        h: 8,
        queries: [
          {
            expr: everyState(`sum by (state) (${p("virtcontainers_container_state")})`),
            legend: "{{state}}",
          },
        ],
      }),
      tablePanel({
        title: "All pods",
        description:
          "One row per pod: its Kubernetes identity, runtime components and which trees hold it (presence).",
        w: 24,
        h: 8,
        sortBy: "node",
        ...labelTable(p("virtcontainers_pod_info"), [
          ["uid", "UID"],
          ["hypervisor", "hypervisor"],
          ["agent", "agent"],
          ["proxy", "proxy"],
          ["shim", "shim"],
          ["presence", "presence"],
        ]),
      }),
    ],
    [
      row("VMs"),
      timeseriesPanel({
        title: "vCPUs per pod (top 10)",
        description: "Boot vCPUs plus hot-plugged ones: the ten pods with the most.",
        w: 8,
        h: 8,
        queries: [
          { expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_vcpus")}))`, legend: POD_LEGEND },
        ],
      }),
      timeseriesPanel({
        title: "Memory per pod (top 10)",
        description: "VM memory: the ten pods with the most.",
        w: 8,
        h: 8,
        unit: "bytes",
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_memory_bytes")}))`,
            legend: POD_LEGEND,
          },
        ],
      }),
      timeseriesPanel({
        title: "Containers per pod (top 10)",
        description: "Containers of each pod, sandbox included: the ten pods with the most.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_containers")}))`,
            legend: POD_LEGEND,
          },
        ],
      }),
      timeseriesPanel({
        title: "vCPUs and memory by node",
        description: "What the VMs of each node were given.",
        w: 12,
        h: 8,
        queries: [
          { expr: `sum by (node) (${p("virtcontainers_pod_vcpus")})`, legend: "{{node}} vCPUs" },
          { expr: `sum by (node) (${p("virtcontainers_pod_memory_bytes")})`, legend: "{{node}} memory" },
        ],
      }),
      timeseriesPanel({
        title: "Network endpoints per pod (top 10)",
        description: "Endpoints in each pod's network.json: the ten pods with the most.",
        w: 12,
        h: 8,
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_network_endpoints")}))`,
            legend: POD_LEGEND,
          },
        ],
      }),
    ],
    [
      row("VM cost"),
      timeseriesPanel({
        title: "Host CPU by pod (top 10)",
        description:
          "CPU of each pod's VM processes on the host (hypervisor, shims, proxy, virtiofsd), in cores: the ten busiest pods. Needs the processes collector (hostPID).",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (rate(${p("virtcontainers_pod_process_cpu_seconds_total")}[$__rate_interval])))`,
            legend: POD_LEGEND,
          },
        ],
      }),
      timeseriesPanel({
        title: "Host memory by pod (top 10)",
        description:
          "Resident memory of each pod's VM processes on the host: the ten largest pods. Needs the processes collector (hostPID).",
        w: 8,
        h: 8,
        unit: "bytes",
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_process_resident_memory_bytes")}))`,
            legend: POD_LEGEND,
          },
        ],
      }),
      timeseriesPanel({
        title: "Hypervisor memory beside VM memory (top 10)",
        description:
          "For the ten pods whose hypervisor is largest on the host, its resident memory next to the memory its VM was given: above it is the VM's overhead; below, guest memory not touched yet. Needs the processes collector (hostPID).",
        w: 8,
        h: 8,
        unit: "bytes",
        queries: [
          {
            expr: `topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_process_resident_memory_bytes", 'role="hypervisor"')}))`,
            legend: `${POD_LEGEND} hypervisor resident`,
          },
          {
            expr: `sum by (${POD_KEY}) (${p("virtcontainers_pod_memory_bytes")}) and on (node, pod_id) topk(10, sum by (${POD_KEY}) (${p("virtcontainers_pod_process_resident_memory_bytes", 'role="hypervisor"')}))`,
            legend: `${POD_LEGEND} VM memory`,
          },
        ],
      }),
    ],
    [
      row("Kubernetes view"),
      timeseriesPanel({
        title: "Kubernetes view synced",
        description: "1 when the exporter's pod view is synced and fresh, and when its Node was confirmed.",
        w: 8,
        h: 8,
        queries: [
          { expr: `min by (node) (${n("virtcontainers_kubernetes_synced")})`, legend: "{{node}} synced" },
          {
            expr: `min by (node) (${n("virtcontainers_kubernetes_node_confirmed")})`,
            legend: "{{node}} node confirmed",
          },
        ],
      }),
      timeseriesPanel({
        title: "Since the last Kubernetes sync",
        description: "Seconds since each pod view last synced.",
        w: 8,
        h: 8,
        unit: "s",
        queries: [
          {
            expr: `time() - max by (node) (${n("virtcontainers_kubernetes_last_sync_timestamp_seconds")})`,
            legend: "{{node}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Pod view watch restarts",
        description: "Restarts of the pod view's list/watch, per interval.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node) (increase(${n("virtcontainers_kubernetes_watch_restarts_total")}[$__rate_interval]))`,
            legend: "{{node}}",
          },
        ],
      }),
    ],
    [
      row("Exporter health"),
      timeseriesPanel({
        title: "Scan duration",
        description:
          "Median and 99th percentile of scan durations over the last 10 minutes, by kind (full or incremental). The window spans several full rescans (every --resync-interval, 2m by default), so a quiet node still shows data.",
        w: 8,
        h: 8,
        unit: "s",
        queries: [
          {
            expr: `histogram_quantile(0.5, sum by (le, kind) (rate(${n("virtcontainers_scan_duration_seconds_bucket")}[10m])))`,
            legend: "p50 {{kind}}",
          },
          {
            expr: `histogram_quantile(0.99, sum by (le, kind) (rate(${n("virtcontainers_scan_duration_seconds_bucket")}[10m])))`,
            legend: "p99 {{kind}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Scans and scan errors",
        description: "Scans per second by kind, and scans that failed as a whole.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (kind) (rate(${n("virtcontainers_scans_total")}[$__rate_interval]))`,
            legend: "{{kind}}",
          },
          {
            expr: `sum (rate(${n("virtcontainers_scan_errors_total")}[$__rate_interval]))`,
            legend: "errors",
          },
        ],
      }),
      timeseriesPanel({
        title: "Since the last scan",
        description: "Seconds since each exporter finished a scan.",
        w: 8,
        h: 8,
        unit: "s",
        queries: [
          {
            expr: `time() - max by (node) (${n("virtcontainers_last_scan_timestamp_seconds")})`,
            legend: "{{node}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Scrape duration",
        description:
          "How long Prometheus' scrape of each exporter took, and what each collector took to render the snapshot.",
        w: 8,
        h: 8,
        unit: "s",
        queries: [
          { expr: `max by (node) (${j("scrape_duration_seconds")})`, legend: "{{node}} scrape" },
          {
            expr: `max by (collector) (${n("virtcontainers_collector_duration_seconds")})`,
            legend: "{{collector}} collector",
          },
        ],
      }),
      timeseriesPanel({
        title: "Scrape size",
        description: "Size of the cached exposition and samples per scrape.",
        w: 8,
        h: 8,
        queries: [
          { expr: `max by (node) (${n("virtcontainers_exposition_bytes")})`, legend: "{{node}} bytes" },
          { expr: `max by (node) (${j("scrape_samples_scraped")})`, legend: "{{node}} samples" },
        ],
      }),
      timeseriesPanel({
        title: "Collectors failing",
        description:
          "Collectors that failed to render the current snapshot (their families are missing from the scrape).",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `count by (collector) (${n("virtcontainers_collector_success")} == 0)`,
            legend: "{{collector}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Exporter CPU",
        description: "CPU seconds per second of each exporter.",
        w: 8,
        h: 8,
        queries: [
          {
            expr: `sum by (node) (rate(${j("process_cpu_seconds_total")}[$__rate_interval]))`,
            legend: "{{node}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "Exporter memory",
        description: "Resident memory of each exporter.",
        w: 8,
        h: 8,
        unit: "bytes",
        queries: [{ expr: `max by (node) (${j("process_resident_memory_bytes")})`, legend: "{{node}}" }],
      }),
      timeseriesPanel({
        title: "File watching",
        description:
          "Nodes in each watch mode (inotify, or polling after a watch failure), watcher errors per interval, and watched directories.",
        w: 8,
        h: 8,
        queries: [
          { expr: `count by (mode) (${n("virtcontainers_watch_mode")} == 1)`, legend: "{{mode}}" },
          {
            expr: `sum (increase(${n("virtcontainers_watch_errors_total")}[$__rate_interval]))`,
            legend: "watch errors",
          },
          { expr: `sum (${n("virtcontainers_watched_directories")})`, legend: "watched directories" },
        ],
      }),
      tablePanel({
        title: "State trees present",
        description:
          "Per node, each state tree the enabled layouts expect and whether it could be listed (1) or not (0): a node where every tree is 0 has no runtime state to read.",
        w: 24,
        h: 8,
        sortBy: "present",
        queries: [{ expr: `max by (node, layout, tree) (${n("virtcontainers_state_tree_present")})` }],
        columns: [
          { field: "node", name: "node" },
          { field: "layout", name: "layout" },
          { field: "tree", name: "tree" },
          { field: "Value #A", name: "present" },
        ],
      }),
    ],
  ];
}

/**
 * The dashboard, built. The classic (v1) dashboard model on purpose, though the SDK marks it
 * deprecated for dashboardv2: the v1 JSON is what the Grafana sidecar, the import page and
 * Grafana releases before 12 read.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated
export function buildDashboard(): dashboard.Dashboard {
  nextId = 1;
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const b = new dashboard.DashboardBuilder("virtcontainers")
    .uid("virtcontainers-exporter")
    .description(
      "VM-isolated pods of virtcontainers runtimes (Clear Containers 3.x, Kata Containers) per node: pods per node, orphaned and superseded pods and their garbage collection, devices, state-file problems, VMs and their host cost, and exporter health. Metrics of virtcontainers-exporter.",
    )
    .tags(["virtcontainers", "kata-containers", "kubernetes"])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh("1m")
    .time({ from: "now-6h", to: "now" })
    .timezone("");
  for (const v of variables()) b.withVariable(v);
  for (const [r, ...panels] of rows()) {
    b.withRow(r);
    for (const panel of panels) b.withPanel(panel);
  }
  return b.build();
}

/** The JSON text of files/dashboard.json. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
