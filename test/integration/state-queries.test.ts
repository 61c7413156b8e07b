/**
 * The PromQL that docs/metrics.md and CHANGELOG.md give for the state families, proven with
 * `promtool test rules` of each pinned Prometheus line on test/integration/alerts/states.promtool.yaml:
 * series written as Prometheus stores them across a state change (a stale marker on the old
 * state's series), a pod going away, a state alert with `for`, and old and new exporters side by
 * side. Every query those pages give is one of the tested expressions.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { loadYaml } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";

import { PROMETHEUS_LINES, toolPath } from "../support/tools.js";
import { REPO } from "./helpers.js";

const DIR = join(REPO, "test", "integration", "alerts");
const TESTS_FILE = join(DIR, "states.promtool.yaml");
const RULES_FILE = join(DIR, "states.rules.yaml");

interface PromtoolTests {
  readonly rule_files: readonly string[];
  readonly tests: readonly {
    readonly name: string;
    readonly promql_expr_test?: readonly { readonly expr: string }[];
    readonly alert_rule_test?: readonly {
      readonly alertname: string;
      readonly exp_alerts: readonly unknown[];
    }[];
  }[];
}
interface RulesFile {
  readonly groups: readonly {
    readonly rules: readonly { readonly alert: string; readonly expr: string }[];
  }[];
}

const tests = loadYaml<PromtoolTests>(readFileSync(TESTS_FILE, "utf8"));
const rules = loadYaml<RulesFile>(readFileSync(RULES_FILE, "utf8"));
const TESTED = new Set([
  ...tests.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr)),
  ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
]);

function promtool(bin: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The code spans naming a virtcontainers_ series in cell `cell` of the table rows of `text`. */
function queriesInColumn(text: string, cell: number): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .flatMap((l) => {
      const c = l.split(/(?<!\\)\|/).slice(1, -1)[cell] ?? "";
      return [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "");
    })
    .filter((q) => q.includes("virtcontainers_"));
}

/** The part of `text` from the heading `start` to the next heading of the same level. */
function section(text: string, start: string): string {
  const from = text.indexOf(start);
  if (from < 0) throw new Error(`no section ${start}`);
  const level = /^#+ /.exec(start)?.[0] ?? "## ";
  const next = text.indexOf(`\n${level}`, from + start.length);
  return text.slice(from, next < 0 ? undefined : next);
}

for (const { line, promtool: tool } of PROMETHEUS_LINES) {
  describe(`the state queries with promtool ${line}`, () => {
    it("the example rule passes promtool check rules", () => {
      const r = promtool(toolPath(tool), ["check", "rules", RULES_FILE]);
      expect(r.status, r.out).toBe(0);
    });

    it("answer as expected across state changes, a pod going away and an upgrade", () => {
      const r = promtool(toolPath(tool), ["test", "rules", TESTS_FILE]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain("SUCCESS");
    });
  });
}

describe("the state queries of the docs", () => {
  it("cover a state change, a pod going away, an alert that fires and one that does not, and a mixed fleet", () => {
    expect(tests.tests.map((t) => t.name)).toHaveLength(3);
    const alerts = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    expect(alerts.some((a) => a.exp_alerts.length > 0)).toBe(true);
    expect(alerts.some((a) => a.exp_alerts.length === 0)).toBe(true);
  });

  it("docs/metrics.md: every query of the state table is tested", () => {
    const text = section(readFileSync(join(REPO, "docs", "metrics.md"), "utf8"), "## Metrics");
    const table = text.slice(text.indexOf("| question"), text.indexOf("\n\n", text.indexOf("| question")));
    const queries = queriesInColumn(table, 1);
    expect(queries.length).toBeGreaterThanOrEqual(7);
    expect(queries.filter((q) => !TESTED.has(q))).toEqual([]);
  });

  it("CHANGELOG.md: every rewritten query (the after column) is tested", () => {
    const text = section(
      readFileSync(join(REPO, "CHANGELOG.md"), "utf8"),
      "### State families: only the current state",
    );
    // a query with a placeholder (pod_id="…") is a pattern, not a query
    const queries = queriesInColumn(text, 1).filter((q) => !q.includes("…"));
    expect(queries.length).toBeGreaterThanOrEqual(8);
    expect(queries.filter((q) => !TESTED.has(q))).toEqual([]);
  });
});
