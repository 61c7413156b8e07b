/**
 * /metrics of the built exporter, plain and gzip, checked by `promtool check metrics` (the
 * Prometheus project's parser and linter): on the example tree and on a generated tree of 20
 * pods with problems. Also checks that the gzip body is one ordinary gzip member holding the
 * whole exposition, as a single-member decoder (curl, Python's zlib) reads it.
 */
import { spawnSync } from "node:child_process";
import { rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32, gunzipSync, inflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROMETHEUS_LINES, toolPath } from "../support/tools.js";
import {
  copyExample,
  ensureBuilt,
  httpGet,
  loadGenTree,
  parseExposition,
  RUN,
  select,
  startExporter,
  TempDirs,
  typeLines,
  valueOf,
  type Exporter,
} from "./helpers.js";

/** promtool of each pinned Prometheus line: the exposition must pass both linters. */
const PROMTOOLS = PROMETHEUS_LINES.map(({ line, promtool: tool }) => [line, toolPath(tool)] as const);

const temp = new TempDirs();
const exporters: Exporter[] = [];
let example: Exporter;
let generated: Exporter;
let generatedIds: readonly string[] = [];

beforeAll(async () => {
  ensureBuilt();
  example = await startExporter(copyExample(temp));
  exporters.push(example);

  const { generateTree } = await loadGenTree();
  const root = temp.make("vce-gen-");
  const tree = await generateTree(root, 20, { seed: 4242 });
  generatedIds = tree.podIds;
  const [bad, linked] = tree.podIds;
  if (bad === undefined || linked === undefined) throw new Error("generateTree made fewer than 2 pods");
  // A pod state file that is not JSON, and a pod file replaced by a symlink to a real file.
  writeFileSync(join(root, RUN, bad, "state.json"), "{oops");
  const target = join(root, "elsewhere.json");
  writeFileSync(target, '{"state":"running"}');
  rmSync(join(root, RUN, linked, "network.json"));
  symlinkSync(target, join(root, RUN, linked, "network.json"));
  generated = await startExporter(root);
  exporters.push(generated);
});

afterAll(async () => {
  try {
    await Promise.all(exporters.map((e) => e.child.stop()));
  } finally {
    temp.cleanup();
  }
});

async function scrape(e: Exporter, gzip: boolean): Promise<{ text: string; raw: Buffer }> {
  const r = await httpGet(`${e.base}/metrics`, { "Accept-Encoding": gzip ? "gzip" : "identity" });
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  expect(r.headers["content-encoding"]).toBe(gzip ? "gzip" : undefined);
  return { text: (gzip ? gunzipSync(r.body) : r.body).toString("utf8"), raw: r.body };
}

function promtool(bin: string, text: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, ["check", "metrics"], {
    input: text,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each([
  ["the example tree", () => example],
  ["a generated tree of 20 pods with problems", () => generated],
])("promtool check metrics on %s", (_name, target) => {
  it.each(
    PROMTOOLS.flatMap(([line, bin]) => [
      ["plain", false, line, bin] as const,
      ["gzip", true, line, bin] as const,
    ]),
  )("%s /metrics passes promtool %s with no lint output", async (_enc, gzip, _line, bin) => {
    const { text } = await scrape(target(), gzip);
    expect(text).toContain("# TYPE virtcontainers_pod_info gauge\n");
    expect(promtool(bin, text)).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it("gzip and plain bodies hold the same metric families", async () => {
    const plain = await scrape(target(), false);
    const gz = await scrape(target(), true);
    const types = typeLines(plain.text);
    expect(types.length).toBeGreaterThan(40);
    expect(typeLines(gz.text)).toEqual(types);
    // The snapshot part (everything before the exporter's own metrics) is byte for byte the same.
    const cut = (t: string) => t.slice(0, t.indexOf("# HELP virtcontainers_scan_duration_seconds "));
    expect(cut(plain.text).length).toBeGreaterThan(1000);
    expect(cut(gz.text)).toBe(cut(plain.text));
  });

  it("the gzip body is one gzip member that a single-member decoder reads in full", async () => {
    const { raw, text } = await scrape(target(), true);
    // Header: magic, deflate, no flags. Trailer: CRC-32 and length of the whole text.
    expect([...raw.subarray(0, 4)]).toEqual([0x1f, 0x8b, 8, 0]);
    const textBytes = Buffer.from(text, "utf8");
    expect(raw.readUInt32LE(raw.length - 8)).toBe(crc32(textBytes) >>> 0);
    expect(raw.readUInt32LE(raw.length - 4)).toBe(textBytes.length);
    // The deflate stream between header and trailer alone decodes to the full text (a second
    // member, or a final block before the self metrics, would leave text out).
    const single = inflateRawSync(raw.subarray(10, raw.length - 8));
    expect(single.toString("utf8")).toBe(text);
    expect(text).toMatch(/^# HELP virtcontainers_pod_info /);
    expect(text).toMatch(/\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total [0-9.e-]+\n/);
    expect(text).toContain("\n# TYPE virtcontainers_scan_duration_seconds histogram\n");
    expect(text).not.toContain("nodejs_active_handles");
    expect(text.endsWith("\n")).toBe(true);
  });
});

describe("the generated tree's problems are exported", () => {
  it("has 20 pods, an invalid_json and a symlink problem", async () => {
    const samples = parseExposition((await scrape(generated, false)).text);
    expect(select(samples, "virtcontainers_pod_info")).toHaveLength(20);
    expect(new Set(select(samples, "virtcontainers_pod_info").map((s) => s.labels.pod_id))).toEqual(
      new Set(generatedIds),
    );
    expect(
      valueOf(samples, "virtcontainers_file_problems", { file: "pod_state", reason: "invalid_json" }),
    ).toBe(1);
    expect(valueOf(samples, "virtcontainers_file_problems", { file: "network", reason: "symlink" })).toBe(1);
    expect(select(samples, "virtcontainers_file_problems")).toHaveLength(2);
    expect(
      valueOf(samples, "virtcontainers_parse_errors_total", { file: "pod_state", reason: "invalid_json" }),
    ).toBe(1);
    expect(
      valueOf(samples, "virtcontainers_pod_state", { pod_id: generatedIds[0] ?? "", state: "unknown" }),
    ).toBe(1);
  });
});
