/**
 * The metric contract of the alerts and the dashboard (metrics-contract.ts) against the built
 * exporter's /metrics on the example tree: every family it lists is exposed with its type and
 * exactly its label names; the families of the Kubernetes pod view and the GC may still be
 * missing, but when exposed they are checked the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  copyExample,
  ensureBuilt,
  httpGet,
  parseExposition,
  startExporter,
  TempDirs,
  type Exporter,
} from "./helpers.js";
import {
  EXPORTER_FAMILIES,
  familyOf,
  HOST_PROCESS_FAMILIES,
  PENDING_FAMILIES,
  PROCESS_FAMILIES,
  type MetricType,
} from "./metrics-contract.js";

const temp = new TempDirs();
let exporter: Exporter | null = null;
let text = "";

beforeAll(async () => {
  ensureBuilt();
  exporter = await startExporter(copyExample(temp));
  const r = await httpGet(`${exporter.base}/metrics`);
  expect(r.status).toBe(200);
  text = r.body.toString("utf8");
});

afterAll(async () => {
  try {
    await exporter?.child.stop();
  } finally {
    temp.cleanup();
  }
});

/** `# TYPE` lines: family name -> type. */
function types(exposition: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] ?? "", m[2] ?? "");
  return out;
}

describe("the metric contract", () => {
  it("lists families the exporter exposes, with their types", () => {
    const exposed = types(text);
    const wrong: string[] = [];
    const check = (name: string, type: MetricType, required: boolean): void => {
      const got = exposed.get(name);
      if (got === undefined) {
        if (required) wrong.push(`${name}: not exposed`);
      } else if (got !== type) {
        wrong.push(`${name}: ${got}, the contract says ${type}`);
      }
    };
    for (const [name, f] of Object.entries(EXPORTER_FAMILIES)) check(name, f.type, true);
    for (const [name, f] of Object.entries(PROCESS_FAMILIES)) check(name, f.type, true);
    for (const [name, f] of Object.entries(PENDING_FAMILIES)) check(name, f.type, false);
    for (const [name, f] of Object.entries(HOST_PROCESS_FAMILIES)) check(name, f.type, false);
    expect(wrong).toEqual([]);
  });

  it("has exactly the label names of every exposed sample of a contract family", () => {
    const samples = parseExposition(text);
    expect(samples.length).toBeGreaterThan(50);
    const wrong = new Set<string>();
    let checked = 0;
    for (const s of samples) {
      const fam = familyOf(s.name);
      if (fam === undefined) continue;
      checked++;
      const expected = [...fam.family.labels, ...(fam.bucket ? ["le"] : [])].sort();
      const got = Object.keys(s.labels).sort();
      if (got.join(",") !== expected.join(",")) {
        wrong.add(`${s.name}: {${got.join(",")}}, the contract says {${expected.join(",")}}`);
      }
    }
    expect([...wrong]).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});
