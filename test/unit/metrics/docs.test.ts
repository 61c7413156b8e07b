import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SERVE_FLAGS } from "../../../src/config/serve-config.js";
import { COLLECTOR_NAMES } from "../../../src/metrics/collectors/index.js";
import { SelfMetrics } from "../../../src/metrics/self.js";
import { EXAMPLE_HOST, renderSnapshot, scanTree } from "./helpers.js";

const README = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

function familyNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
}

describe("README documents what the exporter exposes", () => {
  it("names every virtcontainers_* metric family in the metrics table", async () => {
    const self = new SelfMetrics("node-a");
    const names = [
      ...familyNames(renderSnapshot(await scanTree(EXAMPLE_HOST))),
      ...familyNames(await self.registry.metrics()),
    ];
    const ours = names.filter((n) => n.startsWith("virtcontainers_"));
    expect(ours.length).toBeGreaterThan(25);
    const undocumented = ours.filter((n) => !README.includes(`| \`${n}\` |`));
    expect(undocumented).toEqual([]);
  });

  it("documents no virtcontainers_* metric that is not exposed", async () => {
    const self = new SelfMetrics("node-a");
    const exposed = new Set([
      ...familyNames(renderSnapshot(await scanTree(EXAMPLE_HOST))),
      ...familyNames(await self.registry.metrics()),
    ]);
    const documented = [...README.matchAll(/^\| `(virtcontainers_[a-z_]+)` \|/gm)].map((m) => m[1] ?? "");
    expect(documented.filter((n) => !exposed.has(n))).toEqual([]);
  });

  it("documents every serve flag with its environment variable, and every collector flag", () => {
    for (const f of SERVE_FLAGS) {
      expect(README, `--${f.flag}`).toMatch(new RegExp(`\\| \`--${f.flag}[ \`][^\\n]*\\| \`${f.env}\` \\|`));
    }
    for (const c of COLLECTOR_NAMES)
      expect(README).toContain(`| \`--[no-]collector.${c}\` | \`VCE_COLLECTOR_${c.toUpperCase()}\` |`);
  });
});
