import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVE_FLAGS } from "../../../src/config/serve-config.js";
import { COLLECTOR_NAMES, SAMPLED_COLLECTORS } from "../../../src/metrics/collectors/index.js";
import { renderFamily } from "../../../src/metrics/exposition.js";
import { GcMetrics } from "../../../src/metrics/gc.js";
import { KubeMetrics } from "../../../src/metrics/kube.js";
import { ProcessSamplingMetrics } from "../../../src/metrics/process-sampling.js";
import { SelfMetrics } from "../../../src/metrics/self.js";
import { WebMetrics } from "../../../src/metrics/web.js";
import { EXAMPLE_HOST, renderSnapshot, scanTree } from "./helpers.js";

const REPO = new URL("../../../", import.meta.url).pathname;
const page = (name: string) => readFileSync(join(REPO, name), "utf8");
/** The reference pages' table rows with cells trimmed (Prettier pads them). */
const METRIC_ROWS = tableRows(page("docs/metrics.md"));
const FLAG_ROWS = tableRows(page("docs/configuration.md"));

function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("|"))
    .map((l) =>
      l
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

function familyNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
}

/** Every family the exporter can expose: Kubernetes, GC and the processes collector on. */
async function exposedFamilies(): Promise<string[]> {
  const self = new SelfMetrics("node-a");
  new GcMetrics(self.registry, "dry-run");
  new KubeMetrics(self.registry, () => ({ usable: true, lastContactMs: 1, nodeConfirmed: true }));
  new ProcessSamplingMetrics(self.registry);
  const snapshot = await scanTree(EXAMPLE_HOST);
  const sampled = SAMPLED_COLLECTORS.flatMap((c) => c.families.map((f) => renderFamily(f, snapshot)));
  new WebMetrics(self.registry);
  return [
    ...familyNames(renderSnapshot(snapshot, { matches: [] })),
    ...familyNames(sampled.join("")),
    ...familyNames(await self.registry.metrics()),
  ];
}

describe("docs/metrics.md and docs/configuration.md document what the exporter exposes", () => {
  it("names every virtcontainers_* metric family in the metrics table", async () => {
    const names = await exposedFamilies();
    const ours = names.filter((n) => n.startsWith("virtcontainers_"));
    expect(ours.length).toBeGreaterThan(25);
    const undocumented = ours.filter((n) => !METRIC_ROWS.some((r) => r[0] === `\`${n}\``));
    expect(undocumented).toEqual([]);
  });

  it("names every process_* and nodejs_* family in a table, and documents none that is not exposed", async () => {
    const names = await exposedFamilies();
    const own = names.filter((n) => /^(process|nodejs)_/.test(n));
    expect(own).toContain("process_cpu_seconds_total");
    const undocumented = own.filter((n) => !METRIC_ROWS.some((r) => r[0] === `\`${n}\``));
    expect(undocumented).toEqual([]);
    const documented = METRIC_ROWS.map((r) => /^`((?:process|nodejs)_\w+)`$/.exec(r[0] ?? "")?.[1]).filter(
      (n) => n !== undefined,
    );
    expect(documented.filter((n) => !own.includes(n))).toEqual([]);
  });

  it("documents no virtcontainers_* metric that is not exposed", async () => {
    const exposed = new Set(await exposedFamilies());
    const documented = METRIC_ROWS.map((r) => /^`(virtcontainers_[a-z_]+)`$/.exec(r[0] ?? "")?.[1]).filter(
      (n): n is string => n !== undefined,
    );
    expect(documented.filter((n) => !exposed.has(n))).toEqual([]);
  });

  it("documents every serve flag with its environment variable, and every collector flag", () => {
    const row = (cell: (c: string) => boolean) => FLAG_ROWS.find((r) => cell(r[0] ?? ""));
    for (const f of SERVE_FLAGS) {
      const r = row((c) => c.startsWith(`\`--${f.flag} `) || c === `\`--${f.flag}\``);
      expect(r?.[1], `--${f.flag}`).toBe(`\`${f.env}\``);
    }
    for (const c of COLLECTOR_NAMES) {
      expect(row((x) => x === `\`--[no-]collector.${c}\``)?.[1]).toBe(`\`VCE_COLLECTOR_${c.toUpperCase()}\``);
    }
  });
});
