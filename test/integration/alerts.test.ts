/**
 * The alerting rules (charts/virtcontainers-exporter/files/alerts.yaml): `promtool check
 * rules`; `promtool test rules` with test/integration/alerts/alerts.promtool.yaml, where each
 * alert has an evaluation that fires and one that does not, and two broken copies of the rules
 * prove that every one of those evaluations can fail; the annotations and runbook links; every
 * series and label they use is in the metric contract; and the chart's PrometheusRule is the
 * same file.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { dumpYaml, loadYaml } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";

import { PROMETHEUS_LINES, toolPath } from "../support/tools.js";
import { CHART, onlyOf, parseObjects, render, type KubeObject } from "./helm.js";
import { REPO, TempDirs } from "./helpers.js";
import { familyOf, TARGET_LABELS } from "./metrics-contract.js";
import { promqlRefs, FUNCTIONS } from "./promql.js";

/** promtool of each pinned Prometheus line (3.x and 2.53 LTS): the rules must work on both. */
const PROMTOOLS = PROMETHEUS_LINES.map(({ line, promtool: tool }) => ({ line, bin: toolPath(tool) }));

const RULES_FILE = join(CHART, "files", "alerts.yaml");
const TESTS_FILE = join(REPO, "test", "integration", "alerts", "alerts.promtool.yaml");
const SEVERITIES = ["critical", "warning", "info"];
/** The chart's default runbook page; files/alerts.yaml links to it. */
const RUNBOOK_PAGE = (() => {
  const values = loadYaml<{ prometheusRule: { runbookBaseUrl: string } }>(
    readFileSync(join(CHART, "values.yaml"), "utf8"),
  );
  return values.prometheusRule.runbookBaseUrl;
})();
/** Anchors of the headings of docs/monitoring.md, as GitHub makes them. */
const RUNBOOK_ANCHORS = new Set(
  [...readFileSync(join(REPO, "docs", "monitoring.md"), "utf8").matchAll(/^#+ (.+)$/gm)].map((m) =>
    (m[1] ?? "")
      .toLowerCase()
      .replace(/[^\w\- ]/g, "")
      .replace(/ /g, "-"),
  ),
);

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface RulesFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[];
}
interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly unknown[];
}
interface PromtoolTests {
  rule_files: string[];
  readonly tests: readonly { readonly name: string; readonly alert_rule_test: readonly AlertTest[] }[];
}

const rulesText = readFileSync(RULES_FILE, "utf8");
const rules = loadYaml<RulesFile>(rulesText);
const alerts: readonly Rule[] = rules.groups.flatMap((g) => g.rules);
const promtoolTests = loadYaml<PromtoolTests>(readFileSync(TESTS_FILE, "utf8"));

const temp = new TempDirs();
afterAll(() => {
  temp.cleanup();
});

function promtool(bin: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The (alertname, eval time) pairs promtool reports as failed. */
function failures(out: string): string[] {
  return [...out.matchAll(/alertname: (\w+), time: (\S+?),/g)]
    .map((m) => `${m[1] ?? ""}@${m[2] ?? ""}`)
    .sort();
}

/** Runs the promtool tests against a changed copy of the rules. */
function testWithRules(bin: string, change: (r: Rule) => Rule): { status: number | null; out: string } {
  const dir = temp.make("vce-alerts-");
  const changed = { groups: rules.groups.map((g) => ({ ...g, rules: g.rules.map(change) })) };
  writeFileSync(join(dir, "alerts.yaml"), dumpYaml(changed));
  const tests = { ...promtoolTests, rule_files: ["alerts.yaml"] };
  writeFileSync(join(dir, "tests.yaml"), dumpYaml(tests));
  return promtool(bin, ["test", "rules", join(dir, "tests.yaml")]);
}

function evalTimes(pick: (t: AlertTest) => boolean): string[] {
  return promtoolTests.tests
    .flatMap((t) => t.alert_rule_test.filter(pick).map((a) => `${a.alertname}@${a.eval_time}`))
    .sort();
}

// ---------------------------------------------------------------------------------------------

for (const { line, bin } of PROMTOOLS) {
  describe(`alert rules with promtool ${line}`, () => {
    it("pass promtool check rules", () => {
      const r = promtool(bin, ["check", "rules", RULES_FILE]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain(`SUCCESS: ${alerts.length} rules found`);
    });

    it("pass promtool test rules", () => {
      const r = promtool(bin, ["test", "rules", TESTS_FILE]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain("SUCCESS");
    });

    it("every firing evaluation fails when the alerts cannot fire", () => {
      const r = testWithRules(bin, (a) => ({ ...a, expr: "vector(1) == 0" }));
      expect(r.status).not.toBe(0);
      expect(failures(r.out)).toEqual(evalTimes((t) => t.exp_alerts.length > 0));
    });

    it("every quiet evaluation fails when the alerts fire at once (their `for` is what keeps them quiet)", () => {
      const r = testWithRules(bin, (a) => ({ ...a, for: "0s" }));
      expect(r.status).not.toBe(0);
      expect(failures(r.out)).toEqual(evalTimes((t) => t.exp_alerts.length === 0));
    });
  });
}

describe("alert rules", () => {
  it("have a promtool test for every alert with an evaluation that fires and one that does not", () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      "VirtcontainersExporterDown",
      "VirtcontainersExporterNotReady",
      "VirtcontainersExporterNotScraped",
      "VirtcontainersGCCircuitOpen",
      "VirtcontainersGCErrors",
      "VirtcontainersKubernetesViewNotSynced",
      "VirtcontainersOrphanPodsFound",
      "VirtcontainersOrphanPodsNotCollected",
      "VirtcontainersParseErrorsRising",
      "VirtcontainersStateTreesMissing",
      "VirtcontainersWatchFellBackToPolling",
    ]);
    const evals = promtoolTests.tests.flatMap((t) => t.alert_rule_test);
    for (const a of alerts) {
      const mine = evals.filter((e) => e.alertname === a.alert);
      expect(
        mine.some((e) => e.exp_alerts.length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((e) => e.exp_alerts.length === 0),
        `${a.alert} does not fire in a test`,
      ).toBe(true);
    }
    expect(new Set(evals.map((e) => e.alertname))).toEqual(new Set(alerts.map((a) => a.alert)));
  });

  it("have a severity, a summary, a description and an absolute runbook link to their section of docs/monitoring.md", () => {
    expect(RUNBOOK_PAGE).toMatch(/^https:\/\/[^#\s]+\/docs\/monitoring\.md$/);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^Virtcontainers[A-Za-z]+$/);
      expect(SEVERITIES, a.alert).toContain(a.labels?.severity);
      expect(Object.keys(a.labels ?? {}), a.alert).toEqual(["severity"]);
      expect(Object.keys(a.annotations ?? {}).sort(), a.alert).toEqual([
        "description",
        "runbook_url",
        "summary",
      ]);
      expect(a.annotations?.runbook_url).toBe(`${RUNBOOK_PAGE}#${a.alert.toLowerCase()}`);
      expect(RUNBOOK_ANCHORS, a.alert).toContain(a.alert.toLowerCase());
      expect(a.annotations?.summary?.length ?? 0).toBeGreaterThan(20);
      expect(a.annotations?.description?.length ?? 0).toBeGreaterThan(a.annotations?.summary?.length ?? 0);
      expect(a.for, a.alert).toMatch(/^[0-9]+[mh]$/);
    }
  });

  it("use only series, labels and functions of the metric contract", () => {
    const problems: string[] = [];
    for (const a of alerts) {
      const refs = promqlRefs(a.expr);
      const labels = new Set(TARGET_LABELS);
      for (const s of refs.selectors) {
        const fam = s.metric === undefined ? undefined : familyOf(s.metric);
        if (fam === undefined) {
          problems.push(`${a.alert}: unknown series ${String(s.metric)}`);
          continue;
        }
        for (const l of fam.family.labels) labels.add(l);
        for (const l of s.labels) {
          if (!labels.has(l)) problems.push(`${a.alert}: ${s.metric ?? ""} has no label ${l}`);
        }
      }
      for (const l of refs.grouping)
        if (!labels.has(l)) problems.push(`${a.alert}: no label ${l} to group by`);
      for (const f of refs.functions)
        if (!FUNCTIONS.has(f)) problems.push(`${a.alert}: unknown function ${f}`);
      // annotations may only name labels the alert's series carry
      const text = Object.values(a.annotations ?? {}).join(" ");
      for (const m of text.matchAll(/\$labels\.(\w+)/g)) {
        if (!labels.has(m[1] ?? "")) problems.push(`${a.alert}: annotation uses label ${m[1] ?? ""}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/** The chart's defaults leave these out: kube-prometheus-stack's TargetDown and KubeDaemonSetRolloutStuck say the same. */
const DISABLED_BY_DEFAULT = ["VirtcontainersExporterDown", "VirtcontainersExporterNotReady"];

/** The file's rules with the selectors of a release: its job, and its DaemonSet's namespace and name. */
function forRelease(
  file: RulesFile,
  r: { job: string; namespace: string; daemonset: string; without: readonly string[] },
): RulesFile {
  const expr = (e: string) =>
    e
      .replaceAll('job="virtcontainers-exporter"', `job="${r.job}"`)
      .replaceAll(
        'daemonset="virtcontainers-exporter"',
        `namespace="${r.namespace}", daemonset="${r.daemonset}"`,
      )
      .replaceAll(
        'created_by_name="virtcontainers-exporter"',
        `namespace="${r.namespace}", created_by_name="${r.daemonset}"`,
      );
  return {
    groups: file.groups.map((g) => ({
      ...g,
      rules: g.rules.filter((x) => !r.without.includes(x.alert)).map((x) => ({ ...x, expr: expr(x.expr) })),
    })),
  };
}

describe("the chart's PrometheusRule", () => {
  it("has the rules of files/alerts.yaml, but for the two kube-prometheus-stack already has, as its spec", async () => {
    const objs = parseObjects(
      await render({ prometheusRule: { enabled: true, additionalLabels: { release: "kps" } } }),
    );
    const rule = onlyOf(objs, "PrometheusRule");
    expect(rule.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule.metadata?.namespace).toBe("virtcontainers-exporter");
    expect(rule.metadata?.labels?.release).toBe("kps");
    expect(rule.spec).toEqual(
      forRelease(rules, {
        job: "virtcontainers-exporter",
        namespace: "virtcontainers-exporter",
        daemonset: "virtcontainers-exporter",
        without: DISABLED_BY_DEFAULT,
      }),
    );
  });

  it("selects the release's job and DaemonSet (fullnameOverride, another namespace, the job value), and prometheusRule.disabled chooses the alerts", async () => {
    const named = async (values: Record<string, unknown>, release: string, namespace: string) =>
      parseObjects(
        await render(
          {
            prometheusRule: {
              enabled: true,
              disabled: { VirtcontainersExporterDown: false, VirtcontainersExporterNotReady: false },
            },
            serviceMonitor: { enabled: true },
            dashboards: { enabled: true },
            ...values,
          },
          { release, namespace },
        ),
      );
    const jobOf = (objs: readonly KubeObject[]) =>
      (
        onlyOf(objs, "ServiceMonitor").spec.endpoints[0]?.relabelings as {
          targetLabel: string;
          replacement?: string;
        }[]
      ).find((x) => x.targetLabel === "job")?.replacement;
    const dashboardJobs = (objs: readonly KubeObject[]) => {
      const text = Object.values(onlyOf(objs, "ConfigMap").data ?? {}).join("");
      return [...new Set([...text.matchAll(/job=\\"([^\\]+)\\"/g)].map((m) => m[1]))];
    };

    const byRelease = await named({}, "vce", "mon");
    expect(onlyOf(byRelease, "PrometheusRule").spec).toEqual(
      forRelease(rules, {
        job: "vce-virtcontainers-exporter",
        namespace: "mon",
        daemonset: "vce-virtcontainers-exporter",
        without: [],
      }),
    );
    expect(jobOf(byRelease)).toBe("vce-virtcontainers-exporter");
    expect(dashboardJobs(byRelease)).toEqual(["vce-virtcontainers-exporter"]);

    const byValues = await named(
      {
        fullnameOverride: "vm-exporter",
        job: "vm-metrics",
        prometheusRule: {
          enabled: true,
          disabled: {
            VirtcontainersExporterDown: false,
            VirtcontainersExporterNotReady: false,
            VirtcontainersParseErrorsRising: true,
          },
        },
      },
      "vce",
      "mon",
    );
    expect(onlyOf(byValues, "PrometheusRule").spec).toEqual(
      forRelease(rules, {
        job: "vm-metrics",
        namespace: "mon",
        daemonset: "vm-exporter",
        without: ["VirtcontainersParseErrorsRising"],
      }),
    );
    expect(jobOf(byValues)).toBe("vm-metrics");
    expect(dashboardJobs(byValues)).toEqual(["vm-metrics"]);
    // nothing else in the rules names the default job or DaemonSet
    expect(JSON.stringify(onlyOf(byValues, "PrometheusRule").spec)).not.toMatch(
      /(job|daemonset|created_by_name)=\\"virtcontainers-exporter/,
    );
  });

  it("links every runbook to prometheusRule.runbookBaseUrl, and changes nothing else", async () => {
    const base = "https://git.example.com/ops/virtcontainers-exporter/-/blob/v0.1.0/docs/monitoring.md";
    const rule = onlyOf(
      parseObjects(
        await render({ prometheusRule: { enabled: true, runbookBaseUrl: base, namespace: "mon" } }),
      ),
      "PrometheusRule",
    );
    expect(rule.metadata?.namespace).toBe("mon");
    const own = forRelease(rules, {
      job: "virtcontainers-exporter",
      namespace: "virtcontainers-exporter",
      daemonset: "virtcontainers-exporter",
      without: DISABLED_BY_DEFAULT,
    });
    const expected = {
      groups: own.groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => ({
          ...r,
          annotations: {
            ...r.annotations,
            runbook_url: (r.annotations?.runbook_url ?? "").replace(`${RUNBOOK_PAGE}#`, `${base}#`),
          },
        })),
      })),
    };
    expect(rule.spec).toEqual(expected);
  });
});
