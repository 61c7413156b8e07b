/**
 * Every query of the Grafana dashboard (charts/virtcontainers-exporter/files/dashboard.json)
 * against real data: the exporter serves a copy of examples/host plus generated pods (one in
 * each state, one matched by a pod of the API, one with a truncated state.json), with the pod
 * view and GC dry-run against the test cluster as the chart's ServiceAccount; a real Prometheus
 * (the pinned 3.x release and the 2.53 LTS line, each in its own process) scrapes it every
 * second as the scrape job of docs/monitoring.md does (job `virtcontainers-exporter`,
 * honor_labels, a `node` target label; the 3.x server also a `cluster` label, the 2.53 one none). Each panel target, with the dashboard variables
 * substituted as Grafana does for one selected value, must answer its instant query and (for
 * panels that query a range) its range query with at least one series holding a number.
 * Panels that cannot have data here are listed in EMPTY_HERE with the reason, and must stay
 * empty. The templating variables' label_values() queries must offer the values used.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Scanner } from "../../src/scan/scanner.js";
import { startCluster, type Cluster } from "../cluster/cluster.js";
import { installChartRbac } from "./chart-rbac.js";
import {
  CFG,
  DOCKER_POD,
  REPO,
  RUN,
  TempDirs,
  copyExample,
  ensureBuilt,
  loadGenTree,
  pollUntil,
  startExporter,
  type Exporter,
} from "./helpers.js";
import { CLUSTER_LABEL } from "../../dashboards/virtcontainers.js";
import { PROMETHEUS_LINES } from "../support/tools.js";
import { startPrometheus, type PromSample, type PromSeries, type Prometheus } from "./prometheus.js";

// ---------------------------------------------------------------------------------------------
// The dashboard

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly instant?: boolean;
  readonly range?: boolean;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly Target[];
  /** The panels of a row (collapsed rows keep them here). */
  readonly panels?: readonly Panel[];
}
interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query?: unknown;
  readonly includeAll?: boolean;
  readonly allValue?: string;
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

const dashboard = JSON.parse(
  readFileSync(join(REPO, "charts", "virtcontainers-exporter", "files", "dashboard.json"), "utf8"),
) as Dashboard;

interface PanelQuery {
  /** "<row> / <panel title> (<panel type>, <refId>)" */
  readonly name: string;
  /** "<panel title> <refId>", the key of EMPTY_HERE */
  readonly key: string;
  readonly panel: Panel;
  readonly target: Target;
}

/** Every target of every panel, those nested in rows included, with the row it sits in. */
function panelQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  const add = (p: Panel, row: string): void => {
    for (const t of p.targets ?? []) {
      out.push({
        name: `${row} / ${p.title} (${p.type}, ${t.refId})`,
        key: `${p.title} ${t.refId}`,
        panel: p,
        target: t,
      });
    }
  };
  let row = "(top)";
  for (const p of dashboard.panels) {
    if (p.type === "row") {
      row = p.title;
      for (const inner of p.panels ?? []) add(inner, row);
    } else {
      add(p, row);
    }
  }
  return out;
}

const QUERIES = panelQueries();

/**
 * Targets that cannot return data on this setup, with why. Each must return nothing (so the
 * list stays honest: a target that starts returning data has to leave it).
 */
const EMPTY_HERE: Readonly<Record<string, string>> = {
  "Collectors failing A":
    "lists only collectors whose last render failed (== 0); no collector can be made to fail from outside",
  // The VM cost row: the example pods have no hypervisor, shim or proxy running on the test
  // host (test/integration/processes.test.ts checks these series against real processes).
  "Host CPU by pod (top 10) A": "no VM process of the example pods runs on the test host",
  "Host memory by pod (top 10) A": "no VM process of the example pods runs on the test host",
  "Hypervisor memory beside VM memory (top 10) A": "no VM process of the example pods runs on the test host",
  "Hypervisor memory beside VM memory (top 10) B": "no VM process of the example pods runs on the test host",
};

/** Grafana's built-in interval variables, for a 1 s scrape interval and a short time range. */
const BUILTINS: Readonly<Record<string, string>> = {
  // max($__interval + scrape interval, 4 * scrape interval), with Grafana's default 15 s
  // data source scrape interval: 1m
  __rate_interval: "1m",
  __interval: "5s",
  __interval_ms: "5000",
  __range: "5m",
  __range_s: "300",
  __range_ms: "300000",
};
const STEP_S = 5; // the range queries' step: $__interval
const RANGE_S = 60;

const NODE = "node-a";
const NAMESPACE = "ml-serving";

function variable(name: string): Variable {
  const v = dashboard.templating.list.find((x) => x.name === name);
  if (v === undefined) throw new Error(`the dashboard has no variable ${name}`);
  return v;
}

/** What "All" of a variable becomes: its allValue (without one Grafana joins every value into a regex). */
function allOf(name: string): string {
  const v = variable(name);
  if (v.includeAll !== true) throw new Error(`variable ${name} offers no "All"`);
  return v.allValue ?? ".*";
}

/**
 * The cluster label (named as in the dashboard file) each Prometheus line's scrape job puts on its
 * target: the 3.x server sees the exporter as one cluster of a multi-cluster setup; the 2.53 server
 * has no cluster label, as a single-cluster setup, where "All" must match series without it.
 */
const CLUSTERS: Readonly<Record<string, string | undefined>> = { "3.x": "east", "2.53 LTS": undefined };

interface Selection {
  readonly name: string;
  readonly values: Readonly<Record<string, string>>;
}

/** The variable selections tested: all clusters or the line's one, one node, all namespaces or one. */
function selections(line: string): Selection[] {
  const all: Selection[] = [
    {
      name: `all clusters, node ${NODE}, all namespaces`,
      values: { cluster: allOf("cluster"), node: NODE, namespace: allOf("namespace") },
    },
    {
      name: `all clusters, node ${NODE}, namespace ${NAMESPACE}`,
      values: { cluster: allOf("cluster"), node: NODE, namespace: NAMESPACE },
    },
  ];
  const cluster = CLUSTERS[line];
  if (cluster !== undefined) {
    all.push({
      name: `cluster ${cluster}, node ${NODE}, namespace ${NAMESPACE}`,
      values: { cluster, node: NODE, namespace: NAMESPACE },
    });
  }
  return all;
}

/**
 * `expr` with the variables replaced as Grafana does ($name, ${name}, ${name:format} and
 * [[name]]); the values used need no regex escaping. Unknown variables are left in place.
 */
function interpolate(expr: string, values: Readonly<Record<string, string>>): string {
  const all: Readonly<Record<string, string>> = { ...BUILTINS, ...values };
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g,
    (whole: string, a?: string, b?: string, c?: string) => all[a ?? b ?? c ?? ""] ?? whole,
  );
}

/** Grafana variable references that were not substituted. */
function leftovers(expr: string): string[] {
  return [...expr.matchAll(/\$\{?[A-Za-z_]\w*\}?|\[\[\w+\]\]/g)].map((m) => m[0]);
}

const isNumber = (v: string): boolean => Number.isFinite(Number(v));
const vectorHasNumber = (r: readonly PromSample[]): boolean => r.some((s) => isNumber(s.value[1]));
const matrixHasNumber = (r: readonly PromSeries[]): boolean =>
  r.some((s) => s.values.some(([, v]) => isNumber(v)));

// ---------------------------------------------------------------------------------------------
// The setup

const temp = new TempDirs("vce-dashprom-");
let cluster: Cluster | null = null;
let exporter: Exporter | null = null;
/** One server per Prometheus line (3.x and 2.53 LTS), both scraping the same exporter. */
const proms = new Map<string, Prometheus>();

function prometheus(line: string): Prometheus {
  const p = proms.get(line);
  if (p === undefined) throw new Error(`Prometheus ${line} did not start`);
  return p;
}

const JOB = "virtcontainers-exporter";
const GC = ["--gc", "dry-run", "--gc-interval", "1s", "--gc-grace", "0s", "--gc-max-orphan-fraction", "1"];

function setPodState(hostRoot: string, podId: string, state: string): void {
  const file = join(hostRoot, RUN, podId, "state.json");
  writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, "utf8")) as object), state }));
}

/** Replaces `from` by `to` in the text of every file under `dir`. */
function replaceInFiles(dir: string, from: string, to: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) replaceInFiles(p, from, to);
    else if (e.isFile()) writeFileSync(p, readFileSync(p, "utf8").replaceAll(from, to));
  }
}

/**
 * A copy of examples/host (its CRI-O pod is an orphan, its Docker pod unmanaged and set stopped,
 * the only pod without a namespace) plus five generated pods: one owned by a pod of the API (its
 * UID rewritten to that pod's), and one each ready, paused, stopped, and with a truncated pod
 * state.json (state unknown, a file problem).
 */
async function buildTree(c: Cluster): Promise<string> {
  const root = copyExample(temp);
  const gen = await loadGenTree();
  const { podIds } = await gen.generateTree(root, 5, { seed: 6, template: await gen.loadTemplate() });
  const [matched, ready, paused, stopped, truncated] = podIds;
  if (matched === undefined || ready === undefined || paused === undefined || stopped === undefined) {
    throw new Error(`generated ${podIds.length} pods, not 5`);
  }
  if (truncated === undefined) throw new Error("no fifth pod");

  const snapshot = await new Scanner({ hostRoot: root }).scan();
  const identity = snapshot.pods.find((p) => p.id === matched)?.identity;
  if (identity?.podUid == null || identity.podName == null || identity.namespace !== NAMESPACE) {
    throw new Error(
      `the generated pod has no Kubernetes identity in ${NAMESPACE}: ${JSON.stringify(identity)}`,
    );
  }
  await c.createNamespace(NAMESPACE);
  const apiPod = await c.createPod({ namespace: NAMESPACE, name: identity.podName, nodeName: NODE });
  const uid = apiPod.metadata?.uid;
  if (uid === undefined) throw new Error("the API pod has no UID");
  for (const tree of [RUN, CFG]) replaceInFiles(join(root, tree, matched), identity.podUid, uid);

  setPodState(root, matched, "running");
  setPodState(root, ready, "ready");
  setPodState(root, paused, "paused");
  setPodState(root, stopped, "stopped");
  // no running pod without a namespace: the state panels must say 0 there, not nothing
  setPodState(root, DOCKER_POD, "stopped");
  const state = join(root, RUN, truncated, "state.json");
  writeFileSync(state, readFileSync(state, "utf8").slice(0, 12));
  return root;
}

beforeAll(async () => {
  ensureBuilt();
  cluster = await startCluster();
  await cluster.createNode(NODE);
  const { kubeconfigPath } = await installChartRbac(cluster);
  const root = await buildTree(cluster);
  // --resync-interval 1s: a scan every second, so the scan rates and durations have data
  exporter = await startExporter(root, ["--kubeconfig", kubeconfigPath, ...GC, "--resync-interval", "1s"]);
  for (const { line, prometheus: tool } of PROMETHEUS_LINES) {
    proms.set(
      line,
      await startPrometheus(
        temp.make("vce-dashprom-prom-"),
        [
          {
            job_name: JOB,
            honor_labels: true,
            static_configs: [
              {
                targets: [`127.0.0.1:${exporter.port}`],
                labels: {
                  node: NODE,
                  ...(CLUSTERS[line] === undefined ? {} : { [CLUSTER_LABEL]: CLUSTERS[line] }),
                },
              },
            ],
          },
        ],
        { tool },
      ),
    );
  }
  const e = exporter;
  // a few scrapes (so rate() and increase() have samples), two GC runs, the dry-run deletions
  for (const p of proms.values()) {
    await pollUntil(
      `Prometheus ${p.version} to have 4 scrapes, 2 GC runs and the dry-run deletions`,
      async () => {
        const ok = await Promise.all([
          p.query(`count_over_time(up{job="${JOB}", node="${NODE}"}[1m]) >= 4`),
          p.query(`virtcontainers_gc_runs_total{job="${JOB}", node="${NODE}"} >= 2`),
          p.query(`virtcontainers_gc_deletions_total{job="${JOB}", mode="dry_run"} > 0`),
        ]);
        return ok.every((r) => r.length > 0) ? true : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        describe: () => `${p.child.describe()} exporter: ${e.child.describe()}`,
      },
    );
  }
}, 120_000);

afterAll(async () => {
  // Each step runs even when an earlier one failed.
  try {
    for (const p of proms.values()) await p.stop();
  } finally {
    try {
      await exporter?.child.stop();
    } finally {
      try {
        await cluster?.stop();
      } finally {
        temp.cleanup();
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------

for (const { line } of PROMETHEUS_LINES) {
  describe(`Prometheus ${line}`, () => {
    describe("the setup", () => {
      it("has pods in every state, matched, orphan and unmanaged pods, a file problem, GC dry-run", async () => {
        const p = prometheus(line);
        const byLabel = async (promql: string, label: string): Promise<Record<string, number>> =>
          Object.fromEntries(
            (await p.query(promql)).map((s): [string, number] => [s.metric[label] ?? "", Number(s.value[1])]),
          );
        expect(await byLabel(`sum by (state) (virtcontainers_pod_state{node="${NODE}"})`, "state")).toEqual({
          ready: 1,
          running: 2,
          paused: 1,
          stopped: 2,
          unknown: 1,
        });
        expect(
          await byLabel(`sum by (status) (virtcontainers_pod_kubernetes{node="${NODE}"})`, "status"),
        ).toEqual({
          matched: 1,
          orphan: 5,
          superseded: 0,
          unmanaged: 1,
          unknown: 0,
        });
        expect(await byLabel(`virtcontainers_file_problems{node="${NODE}"}`, "reason")).toEqual({
          truncated: 1,
        });
        expect(await byLabel(`virtcontainers_gc_mode{node="${NODE}"} == 1`, "mode")).toEqual({ dry_run: 1 });
        // the exporter's own node label (honor_labels) agrees with the target's
        expect(await p.labelValues("node", [`{job="${JOB}"}`])).toEqual([NODE]);
        expect(exporter?.child.output).not.toMatch(/forbidden/i);
      });

      it("the allowlist names existing panel targets", () => {
        const keys = QUERIES.map((q) => q.key);
        for (const k of Object.keys(EMPTY_HERE))
          expect(
            keys.filter((x) => x === k),
            k,
          ).toHaveLength(1);
      });

      it("finds the panels nested in rows too", () => {
        // every panel with targets is listed, whether at the top level or in a row
        const withTargets = (ps: readonly Panel[]): number =>
          ps.reduce((n, x) => n + (x.targets?.length ?? 0) + withTargets(x.panels ?? []), 0);
        expect(QUERIES).toHaveLength(withTargets(dashboard.panels));
        expect(QUERIES.length).toBeGreaterThanOrEqual(20);
      });
    });

    describe("the tables answer", () => {
      const ALL = { cluster: allOf("cluster"), node: allOf("node"), namespace: allOf("namespace") };
      /** The instant result of one target of the panel titled `title`. */
      const table = async (title: string, refId: string): Promise<readonly PromSample[]> => {
        const q = QUERIES.find((x) => x.panel.title === title && x.target.refId === refId);
        if (q === undefined) throw new Error(`no panel ${title} with a target ${refId}`);
        expect(q.target.range, `${title} ${refId} is an instant query`).toBe(false);
        return prometheus(line).query(interpolate(q.target.expr, ALL));
      };
      const podIds = (r: readonly PromSample[]): string[] => r.map((x) => x.metric.pod_id ?? "").sort();

      it("the orphan table lists every orphaned or superseded pod with its status and the node's GC mode, and their ages", async () => {
        const want = await prometheus(line).query(
          `virtcontainers_pod_kubernetes{node="${NODE}", status=~"orphan|superseded"} == 1`,
        );
        expect(want.length).toBe(5);
        const rows = await table("Orphaned and superseded pods", "A");
        expect(podIds(rows)).toEqual(podIds(want));
        for (const r of rows) {
          expect(r.metric).toMatchObject({ node: NODE, status: "orphan", mode: "dry_run" });
          expect(r.metric.namespace, JSON.stringify(r.metric)).toBeDefined();
        }
        // ages: only for those pods, each a positive number of seconds
        const ages = await table("Orphaned and superseded pods", "B");
        expect(ages.length).toBeGreaterThan(0);
        for (const a of ages) {
          expect(podIds(want)).toContain(a.metric.pod_id);
          expect(Number(a.value[1])).toBeGreaterThan(0);
        }
      });

      it("the VFIO table names the pod and PCI address of each VFIO device, the example's among them", async () => {
        const rows = await table("VFIO devices by pod", "A");
        const vfio = await prometheus(line).query(`virtcontainers_device_info{node="${NODE}", type="vfio"}`);
        expect(rows.length).toBe(vfio.length);
        expect(
          rows.map((r) => [r.metric.pod_id, r.metric.bdf, r.metric.host_path]),
          JSON.stringify(rows.map((r) => r.metric)),
        ).toContainEqual([
          "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e",
          "0000:04:00.0",
          "/dev/vfio/42",
        ]);
        for (const r of rows) {
          // the devices.json BDF "04:00.0", with the PCI domain the exporter adds
          expect(r.metric.bdf, JSON.stringify(r.metric)).toMatch(
            /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/,
          );
          expect(r.metric.pod, JSON.stringify(r.metric)).toBeTruthy();
        }
      });

      it("the node table counts the node's pods", async () => {
        const [pods] = await table("Nodes", "A");
        expect(pods?.metric).toEqual({ node: NODE });
        expect(Number(pods?.value[1])).toBe(7);
      });
    });

    describe("the state panels (one state series per pod: what no pod is in must read 0)", () => {
      /** One target's instant answer, by `label`, for the given namespace selection. */
      const answer = async (
        title: string,
        refId: string,
        namespace: string,
        label: string,
      ): Promise<Record<string, number>> => {
        const q = QUERIES.find((x) => x.panel.title === title && x.target.refId === refId);
        if (q === undefined) throw new Error(`no panel ${title} with a target ${refId}`);
        const expr = interpolate(q.target.expr, { cluster: allOf("cluster"), node: NODE, namespace });
        return Object.fromEntries(
          (await prometheus(line).query(expr)).map((x): [string, number] => [
            x.metric[label] ?? "",
            Number(x.value[1]),
          ]),
        );
      };
      const ALL_STATES = { ready: 0, running: 0, paused: 0, stopped: 0, unknown: 0 };

      it("all namespaces: the counts of the node, every state listed", async () => {
        const totals = await answer("Pods by state", "A", allOf("namespace"), "state");
        expect(totals).toEqual({ ready: 1, running: 2, paused: 1, stopped: 2, unknown: 1 });
        // the node totals, a full set, agree
        const node = Object.fromEntries(
          (await prometheus(line).query(`virtcontainers_pods{node="${NODE}"}`)).map((x): [string, number] => [
            x.metric.state ?? "",
            Number(x.value[1]),
          ]),
        );
        expect(totals).toEqual(node);
        expect(await answer("Running pods", "A", allOf("namespace"), "")).toEqual({ "": 2 });
        expect(await answer("Nodes", "B", allOf("namespace"), "node")).toEqual({ [NODE]: 2 });
        // every state listed, with the number of container series in it (0 when none)
        const containers = await answer("Containers by state", "A", allOf("namespace"), "state");
        expect(Object.keys(containers).sort()).toEqual(Object.keys(ALL_STATES).sort());
        const byState = Object.fromEntries(
          (
            await prometheus(line).query(`count by (state) (virtcontainers_container_state{node="${NODE}"})`)
          ).map((x): [string, number] => [x.metric.state ?? "", Number(x.value[1])]),
        );
        expect(containers).toEqual({ ...ALL_STATES, ...byState });
      });

      it("a selection with pods but none running (the Docker pod, stopped): 0, not nothing", async () => {
        // namespace "" selects the series whose namespace is empty: the Docker pod only
        expect(await answer("Running pods", "A", "", "")).toEqual({ "": 0 });
        expect(await answer("Nodes", "B", "", "node")).toEqual({ [NODE]: 0 });
        expect(await answer("Pods by state", "A", "", "state")).toEqual({ ...ALL_STATES, stopped: 1 });
        expect(await answer("Containers by state", "A", "", "state")).toEqual({ ...ALL_STATES, running: 1 });
      });

      it("a selection without pods: no data for the counts, as the Pods panel; every state 0 by state", async () => {
        expect(await answer("Pods", "A", "no-such-namespace", "")).toEqual({});
        expect(await answer("Running pods", "A", "no-such-namespace", "")).toEqual({});
        expect(await answer("Nodes", "B", "no-such-namespace", "node")).toEqual({});
        expect(await answer("Pods by state", "A", "no-such-namespace", "state")).toEqual(ALL_STATES);
      });
    });

    describe("the dashboard's variables", () => {
      // without a cluster label the cluster variable offers nothing (and "All" is tested)
      const expected: Readonly<Record<string, string | undefined>> = {
        cluster: CLUSTERS[line],
        node: NODE,
        namespace: NAMESPACE,
      };
      const queryVars = dashboard.templating.list.filter((v) => v.type === "query");

      it("are the cluster, node and namespace query variables", () => {
        expect(queryVars.map((v) => v.name).sort()).toEqual(Object.keys(expected).sort());
      });

      it.each(queryVars.map((v) => [v.name, v] as const))("%s offers the value tested", async (_, v) => {
        const q = typeof v.query === "string" ? v.query : (v.query as { query?: unknown } | undefined)?.query;
        if (typeof q !== "string") throw new Error(`variable ${v.name}: no query`);
        // label_values(label) or label_values(selector, label), as Grafana's Prometheus data source
        const m = /^label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)$/.exec(q);
        if (m?.[2] === undefined) throw new Error(`variable ${v.name}: not label_values(): ${q}`);
        const selector =
          m[1] === undefined ? undefined : interpolate(m[1], { cluster: allOf("cluster"), node: NODE });
        if (selector !== undefined) expect(leftovers(selector)).toEqual([]);
        const values = await prometheus(line).labelValues(m[2], selector === undefined ? [] : [selector]);
        const want = expected[v.name];
        if (want === undefined) expect(values).toEqual([]);
        else expect(values).toContain(want);
      });

      it("a cluster no series has selects nothing", async () => {
        const q = QUERIES.find((x) => x.key === "Pods A");
        if (q === undefined) throw new Error("no panel Pods");
        const values = { node: allOf("node"), namespace: allOf("namespace") };
        const p = prometheus(line);
        expect(await p.query(interpolate(q.target.expr, { ...values, cluster: "west" }))).toEqual([]);
        expect(
          (await p.query(interpolate(q.target.expr, { ...values, cluster: allOf("cluster") }))).length,
        ).toBe(1);
      });
    });

    for (const { name, values } of selections(line)) {
      describe(`every panel's query returns data (${name})`, () => {
        for (const { name: panelName, key, target } of QUERIES) {
          it(panelName, async () => {
            const p = prometheus(line);
            const expr = interpolate(target.expr, values);
            expect(leftovers(expr), `variables left in ${expr}`).toEqual([]);
            const instant = await p.query(expr);
            const end = Math.floor(Date.now() / 1000);
            const range =
              target.range === false
                ? null
                : await p.queryRange(expr, { start: end - RANGE_S, end, step: STEP_S });

            const reason = EMPTY_HERE[key];
            if (reason !== undefined) {
              // allowlisted: must stay empty, or it leaves the list
              const why = `"${key}" is in EMPTY_HERE (${reason}) but ${expr} returns data: take it off the list`;
              expect(instant, why).toEqual([]);
              expect(range ?? [], why).toEqual([]);
              return;
            }
            expect(instant.length, `instant query ${expr} returned no series`).toBeGreaterThan(0);
            expect(
              vectorHasNumber(instant),
              `instant query ${expr}: no number in ${JSON.stringify(instant)}`,
            ).toBe(true);
            if (range !== null) {
              expect(range.length, `range query ${expr} returned no series`).toBeGreaterThan(0);
              expect(
                matrixHasNumber(range),
                `range query ${expr}: no number in ${JSON.stringify(range)}`,
              ).toBe(true);
            }
          });
        }
      });
    }
  });
}
