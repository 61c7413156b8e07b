/**
 * Every generation of the state yields the same pod, container and device series: the fixture
 * trees of test/fixtures/layouts (one per layout and notable release, built from the spec and the
 * upstream sources) hold the example's Kubernetes pod, and must render exactly as the reference
 * does, except for what their format cannot carry (each fixture's expected.json says what).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { containersCollector } from "../../../src/metrics/collectors/containers.js";
import { devicesCollector } from "../../../src/metrics/collectors/devices.js";
import { podsCollector } from "../../../src/metrics/collectors/pods.js";
import { renderFamily } from "../../../src/metrics/exposition.js";
import { Scanner } from "../../../src/scan/scanner.js";
import type { Snapshot } from "../../../src/scan/snapshot.js";
import { EXAMPLE_HOST } from "../../support/temp.js";

const FIXTURES = new URL("../../fixtures/layouts", import.meta.url).pathname;
const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";

interface Expected {
  readonly layout: string;
  readonly podId: string;
  readonly unrepresentable: readonly { readonly series: string; readonly reason: string }[];
}

const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/** Labels that say which generation a pod is, not what it is. */
const ALWAYS_DROPPED: Readonly<Record<string, readonly string[]>> = {
  virtcontainers_pod_info: ["layout", "presence"],
};

/** The pod's own sample lines, labels sorted, with the labels `drop` names removed. */
function podLines(s: Snapshot, drop: (family: string, labels: Record<string, string>) => string[]): string[] {
  const pod = s.pods.find((p) => p.id === POD);
  if (pod === undefined) throw new Error(`pod ${POD} not found; pods: ${s.pods.map((p) => p.id).join(", ")}`);
  const one = { ...s, pods: [pod] };
  const lines: string[] = [];
  for (const c of [podsCollector, containersCollector, devicesCollector]) {
    for (const f of c.families) {
      if (!("perPod" in f)) continue;
      for (const line of renderFamily(f, one).split("\n")) {
        const m = /^([a-z_]+)\{(.*)\} (.*)$/.exec(line);
        if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) continue;
        const dropped = new Set([...(ALWAYS_DROPPED[m[1]] ?? [])]);
        const pairs: [string, string][] = [];
        for (const x of m[2].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) pairs.push([x[1] ?? "", x[2] ?? ""]);
        for (const name of drop(m[1], Object.fromEntries(pairs))) dropped.add(name);
        const text = pairs
          .filter(([k]) => !dropped.has(k))
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}="${v}"`)
          .join(",");
        lines.push(`${m[1]}{${text}} ${m[3]}`);
      }
    }
  }
  return lines.sort();
}

/** From expected.json: `family{label,label} (device type)` entries name labels to leave out. */
function dropper(expected: Expected): (family: string, labels: Record<string, string>) => string[] {
  const rules = expected.unrepresentable.flatMap((u) => {
    const m = /^(virtcontainers_[a-z_]+)\{([a-z_,]+)\}(?: \(([a-z]+)\))?$/.exec(u.series);
    return m?.[1] === undefined || m[2] === undefined
      ? []
      : [{ family: m[1], labels: m[2].split(","), type: m[3] }];
  });
  return (family, labels) =>
    rules
      .filter((r) => r.family === family && (r.type === undefined || labels.type === r.type))
      .flatMap((r) => r.labels);
}

describe("every layout yields the same pod, container and device series", async () => {
  const reference = await new Scanner({ hostRoot: EXAMPLE_HOST }).scan();

  it.each(fixtures)("%s", async (name) => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, name, "expected.json"), "utf8")) as Expected;
    const s = await new Scanner({ hostRoot: join(FIXTURES, name, "host") }).scan();
    const pod = s.pods.find((p) => p.id === POD);
    expect(pod?.layout).toBe(expected.layout);
    expect(s.pods.map((p) => p.id)).toEqual([POD]);
    expect(pod?.problems).toEqual([]);
    const drop = dropper(expected);
    expect(podLines(s, drop)).toEqual(podLines(reference, drop));
  });
});
