/**
 * The Grafana dashboard (charts/virtcontainers-exporter/files/dashboard.json): the committed file
 * is what dashboards/virtcontainers.ts generates; its structure and variables; every query uses
 * only series, labels and functions of the metric contract (metrics-contract.ts), filters by the
 * $cluster and $node (and, for pod series, $namespace) variables and
 * parses as PromQL (`promtool check rules` on the queries as recording rules); the topics the
 * dashboard must cover; and the chart's ConfigMap holds the file, with the cluster label of
 * dashboards.clusterLabel.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { dumpYaml } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";

import { CLUSTER_LABEL, dashboardJson } from "../../dashboards/virtcontainers.js";
import { PROMETHEUS_LINES, toolPath } from "../support/tools.js";
import { CHART, helmRun, onlyOf, parseObjects, render } from "./helm.js";
import { TempDirs } from "./helpers.js";
import { EXTERNAL_FAMILIES, familyOf, TARGET_LABELS } from "./metrics-contract.js";
import { FUNCTIONS, promqlRefs, type PromqlRefs } from "./promql.js";

/** promtool of each pinned Prometheus line: the queries must parse on both. */
const PROMTOOLS = PROMETHEUS_LINES.map(({ line, promtool: tool }) => [line, toolPath(tool)] as const);

const FILE = join(CHART, "files", "dashboard.json");
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly datasource?: unknown;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: unknown;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly Target[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: unknown;
  readonly includeAll?: boolean;
  readonly allValue?: string;
  readonly multi?: boolean;
}
interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const text = readFileSync(FILE, "utf8");
const dashboard = JSON.parse(text) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== "row");
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

const temp = new TempDirs();
afterAll(() => {
  temp.cleanup();
});

/** What is wrong with one query, judged against the metric contract. */
function queryProblems(expr: string, legendFormat = ""): string[] {
  const problems: string[] = [];
  let refs: PromqlRefs;
  try {
    refs = promqlRefs(expr);
  } catch (err: unknown) {
    return [err instanceof Error ? err.message : String(err)];
  }
  // the cluster label of a multi-cluster Prometheus (an external or target label)
  const labels = new Set([...TARGET_LABELS, CLUSTER_LABEL]);
  for (const s of refs.selectors) {
    const fam = s.metric === undefined ? undefined : familyOf(s.metric);
    if (fam === undefined) {
      problems.push(`unknown series ${String(s.metric)}`);
      continue;
    }
    for (const l of fam.family.labels) labels.add(l);
    if (fam.bucket) labels.add("le");
    for (const l of s.labels) if (!labels.has(l)) problems.push(`${fam.name} has no label ${l}`);
    // every series of the exporter's targets (kube-state-metrics' have no node label)
    const external = fam.name in EXTERNAL_FAMILIES && !fam.name.startsWith("scrape_") && fam.name !== "up";
    if (!s.labels.includes(CLUSTER_LABEL))
      problems.push(`${fam.name} is not filtered by cluster=~"$cluster"`);
    if (!external && !s.labels.includes("node")) {
      problems.push(`${fam.name} is not filtered by node=~"$node"`);
    }
    if (fam.family.labels.includes("pod_id") && !s.labels.includes("namespace")) {
      problems.push(`${fam.name} is not filtered by namespace=~"$namespace"`);
    }
  }
  for (const l of refs.grouping) if (!labels.has(l)) problems.push(`no label ${l} to group by`);
  for (const f of refs.functions) if (!FUNCTIONS.has(f)) problems.push(`unknown function ${f}`);
  for (const m of legendFormat.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
    if (!labels.has(m[1] ?? "")) problems.push(`legend uses label ${m[1] ?? ""}`);
  }
  return problems;
}

/** A query with Grafana's variables replaced as Grafana does for "All". */
function substituted(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__range", "6h")
    .replaceAll("$cluster", ".*")
    .replaceAll("$node", ".*")
    .replaceAll("$namespace", ".*");
}

// ---------------------------------------------------------------------------------------------

describe("the dashboard", () => {
  it("is the JSON dashboards/virtcontainers.ts generates (npm run dashboard writes it)", () => {
    expect(text === dashboardJson(), "files/dashboard.json was edited by hand: run npm run dashboard").toBe(
      true,
    );
  });

  it("is a Grafana dashboard with a stable uid and the data source, cluster, node and namespace variables", () => {
    expect(dashboard.title).toBe("virtcontainers");
    expect(dashboard.uid).toBe("virtcontainers-exporter");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const vars = dashboard.templating.list;
    expect(vars.map((v) => v.name)).toEqual(["datasource", "cluster", "node", "namespace"]);
    expect(vars[0]).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const v of vars.slice(1)) {
      expect(v).toMatchObject({ type: "query", includeAll: true, allValue: ".*", multi: true });
    }
    expect(vars[1]?.query).toEqual({
      query: "label_values(virtcontainers_exporter_build_info, cluster)",
      refId: "cluster",
    });
    expect(vars[2]?.query).toEqual({
      query: 'label_values(virtcontainers_exporter_build_info{cluster=~"$cluster"}, node)',
      refId: "node",
    });
    expect(vars[3]?.query).toEqual({
      query: 'label_values(virtcontainers_pod_info{cluster=~"$cluster", node=~"$node"}, namespace)',
      refId: "namespace",
    });
  });

  it("has panels with unique ids, titles and descriptions, on the 24-column grid without overlaps", () => {
    expect(panels.length).toBeGreaterThanOrEqual(20);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.title.length, `panel ${p.id}`).toBeGreaterThan(2);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), `${p.title} overlaps another panel at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
    for (const p of panels) {
      expect(p.description?.length ?? 0, p.title).toBeGreaterThan(10);
      expect(p.datasource, p.title).toEqual(DATASOURCE);
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(DATASOURCE);
    }
  });

  it("queries only series, labels and functions of the metric contract, each filtered by $node (and $namespace)", () => {
    const problems = queries.flatMap(({ panel, target }) =>
      queryProblems(target.expr, target.legendFormat).map((p) => `${panel.title} ${target.refId}: ${p}`),
    );
    for (const v of dashboard.templating.list.slice(1)) {
      const q = (v.query as { query: string }).query;
      const m = /^label_values\((.*), (\w+)\)$/.exec(q);
      if (m?.[1] === undefined || m[2] === undefined) {
        problems.push(`variable ${v.name}: not label_values(selector, label)`);
        continue;
      }
      const fam = familyOf(promqlRefs(m[1]).selectors[0]?.metric ?? "");
      if (fam === undefined || !(fam.family.labels.includes(m[2]) || m[2] === CLUSTER_LABEL)) {
        problems.push(`variable ${v.name}: no label ${m[2]} on ${m[1]}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("the query check finds a misspelt series, a missing label, a missing filter and a misplaced variable", () => {
    expect(
      queryProblems(
        'sum(virtcontainers_pod_vcpu{cluster=~"$cluster", node=~"$node", namespace=~"$namespace"})',
      ),
    ).toEqual(["unknown series virtcontainers_pod_vcpu"]);
    expect(
      queryProblems('sum by (reason) (virtcontainers_orphan_pods{cluster=~"$cluster", node=~"$node"})'),
    ).toEqual(["no label reason to group by"]);
    expect(
      queryProblems('virtcontainers_devices{cluster=~"$cluster", node=~"$node", kind="vfio"}', "{{type}}"),
    ).toEqual(["virtcontainers_devices has no label kind"]);
    expect(queryProblems('virtcontainers_pod_vcpus{cluster=~"$cluster", node=~"$node"}')).toEqual([
      'virtcontainers_pod_vcpus is not filtered by namespace=~"$namespace"',
    ]);
    expect(queryProblems("virtcontainers_orphan_pods")).toEqual([
      'virtcontainers_orphan_pods is not filtered by cluster=~"$cluster"',
      'virtcontainers_orphan_pods is not filtered by node=~"$node"',
    ]);
    expect(
      queryProblems('rate(virtcontainers_scans_total{cluster=~"$cluster", node=~"$node"}[5m]) * $factor')[0],
    ).toMatch(/Grafana variable outside/);
  });

  it.each(PROMTOOLS)(
    "parses as PromQL: promtool %s check rules on every query as a recording rule",
    (_line, bin) => {
      const rules = queries.map(({ panel, target }) => ({
        record: `dashboard:panel_${panel.id}_${target.refId}`,
        expr: substituted(target.expr),
      }));
      const file = join(temp.make("vce-dashboard-"), "queries.yaml");
      writeFileSync(file, dumpYaml({ groups: [{ name: "dashboard", rules }] }));
      const r = spawnSync(bin, ["check", "rules", file], { encoding: "utf8" });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);

      // and promtool does reject a broken one
      writeFileSync(
        file,
        dumpYaml({ groups: [{ name: "d", rules: [{ record: "x:y", expr: "sum by (" }] }] }),
      );
      expect(spawnSync(bin, ["check", "rules", file]).status).not.toBe(0);
    },
  );

  it("covers pods, VMs, their host cost, devices, Kubernetes, the GC, file problems and the exporter's own health", () => {
    const used = new Set(
      queries.flatMap(({ target }) =>
        promqlRefs(target.expr).selectors.map((s) => familyOf(s.metric ?? "")?.name),
      ),
    );
    for (const name of [
      "virtcontainers_pod_state",
      "virtcontainers_pod_info",
      "virtcontainers_pod_vcpus",
      "virtcontainers_pod_memory_bytes",
      "virtcontainers_pod_containers",
      "virtcontainers_pod_process_cpu_seconds_total",
      "virtcontainers_pod_process_resident_memory_bytes",
      "virtcontainers_container_state",
      // node totals without a namespace label (virtcontainers_devices, virtcontainers_orphan_pods)
      // are not counted: the panels count the per-pod series, so the namespace variable applies
      // (virtcontainers_pods only lists the states, times 0, beside the per-pod state series)
      "virtcontainers_device_info",
      "virtcontainers_pod_kubernetes",
      "virtcontainers_gc_mode",
      "virtcontainers_gc_deletions_total",
      "virtcontainers_gc_skipped_total",
      "virtcontainers_gc_errors_total",
      "virtcontainers_gc_circuit_open",
      "virtcontainers_kubernetes_synced",
      "virtcontainers_kubernetes_last_sync_timestamp_seconds",
      "virtcontainers_kubernetes_watch_restarts_total",
      "virtcontainers_file_problems",
      "virtcontainers_parse_errors_total",
      "virtcontainers_scan_duration_seconds",
      "virtcontainers_collector_duration_seconds",
      "scrape_duration_seconds",
      "virtcontainers_watch_mode",
      "virtcontainers_state_tree_present",
      "virtcontainers_pod_start_time_seconds",
      "virtcontainers_gc_tombstones",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });
});

describe("the chart's dashboard ConfigMap", () => {
  it('holds files/dashboard.json unchanged, labelled grafana_dashboard: "1"', async () => {
    const cm = onlyOf(
      parseObjects(
        await render({
          dashboards: {
            enabled: true,
            namespace: "grafana",
            additionalLabels: { team: "runtime" },
            annotations: { grafana_folder: "Kubernetes" },
          },
        }),
      ),
      "ConfigMap",
    );
    expect(cm.metadata?.name).toBe("virtcontainers-exporter-dashboard");
    expect(cm.metadata?.namespace).toBe("grafana");
    expect(cm.metadata?.labels?.grafana_dashboard).toBe("1");
    expect(cm.metadata?.labels?.team).toBe("runtime");
    expect(cm.metadata?.annotations).toEqual({ grafana_folder: "Kubernetes" });
    expect(Object.keys(cm.data ?? {})).toEqual(["virtcontainers-exporter.json"]);
    expect(cm.data?.["virtcontainers-exporter.json"]).toBe(text.trimEnd());
  });

  it("filters on the cluster label of dashboards.clusterLabel, and the schema takes only a label name", async () => {
    const cm = onlyOf(
      parseObjects(await render({ dashboards: { enabled: true, clusterLabel: "k8s_cluster" } })),
      "ConfigMap",
    );
    const json = cm.data?.["virtcontainers-exporter.json"] ?? "";
    const filters = text.split('cluster=~\\"$cluster\\"').length - 1;
    expect(filters).toBeGreaterThanOrEqual(queries.length);
    expect(json.split('k8s_cluster=~\\"$cluster\\"').length - 1).toBe(filters);
    const got = JSON.parse(json) as Dashboard;
    const vars = got.templating.list;
    expect(vars[1]?.query).toEqual({
      query: "label_values(virtcontainers_exporter_build_info, k8s_cluster)",
      refId: "cluster",
    });
    // nothing else changed: the chart's text with the label put back is the file
    expect(
      json
        .replaceAll('k8s_cluster=~\\"$cluster\\"', 'cluster=~\\"$cluster\\"')
        .replaceAll("build_info, k8s_cluster)", "build_info, cluster)"),
    ).toBe(text.trimEnd());

    const bad = await helmRun([
      "template",
      "r",
      CHART,
      "--set",
      "dashboards.enabled=true",
      "--set-string",
      'dashboards.clusterLabel=a"b',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/clusterLabel/);
  });
});
