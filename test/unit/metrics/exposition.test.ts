import { describe, expect, it } from "vitest";
import {
  escapeLabelValue,
  formatValue,
  partsToBuffer,
  renderFamily,
  renderFamilyParts,
  type Family,
  type Part,
  type PodRun,
  type RenderMemo,
} from "../../../src/metrics/exposition.js";
import type { PodRecord, Snapshot } from "../../../src/scan/snapshot.js";

describe("exposition", () => {
  it("escapes backslash, double quote and newline in label values", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue("plain")).toBe("plain");
  });

  it("formats special values the Prometheus way", () => {
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatValue(Infinity)).toBe("+Inf");
    expect(formatValue(-Infinity)).toBe("-Inf");
    expect(formatValue(1.5)).toBe("1.5");
  });

  it("renders HELP, TYPE and samples with labels in the declared order", () => {
    const text = renderFamily(
      {
        name: "x_total",
        help: "line1\nline2",
        type: "counter",
        samples: () => [
          {
            labels: [
              ["b", "2"],
              ["a", '"'],
            ],
            value: 3,
          },
        ],
      },
      {} as Snapshot,
    );
    expect(text).toBe('# HELP x_total line1\\nline2\n# TYPE x_total counter\nx_total{b="2",a="\\""} 3\n');
  });

  it("renders samples without labels, with an empty label list, and values with every escape", () => {
    const text = renderFamily(
      {
        name: "y",
        help: "h",
        type: "gauge",
        samples: () => [
          { labels: [], value: 1 },
          { labels: [["a", 'x\\y"z\nw']], value: Number.NaN },
          {
            labels: [
              ["a", ""],
              ["b", "ü"],
              ["c", "3"],
            ],
            value: -0.5,
          },
        ],
      },
      {} as Snapshot,
    );
    expect(text).toBe(
      '# HELP y h\n# TYPE y gauge\ny 1\ny{a="x\\\\y\\"z\\nw"} NaN\ny{a="",b="ü",c="3"} -0.5\n',
    );
  });

  it("renders a family from inside another family's generator, and after a generator that threw", () => {
    const inner: Family = {
      name: "inner",
      help: "h",
      type: "gauge",
      samples: () => [{ labels: [["k", "v"]], value: 2 }],
    };
    let nested = "";
    const outer: Family = {
      name: "outer",
      help: "h",
      type: "gauge",
      *samples() {
        yield { labels: [["a", "1"]], value: 1 };
        nested = renderFamily(inner, {} as Snapshot);
        yield { labels: [["a", "2"]], value: 2 };
      },
    };
    expect(renderFamily(outer, {} as Snapshot)).toBe(
      '# HELP outer h\n# TYPE outer gauge\nouter{a="1"} 1\nouter{a="2"} 2\n',
    );
    expect(nested).toBe('# HELP inner h\n# TYPE inner gauge\ninner{k="v"} 2\n');
    const failing: Family = {
      name: "failing",
      help: "h",
      type: "gauge",
      *samples() {
        yield { labels: [["a", "1"]], value: 1 };
        throw new Error("bug in a generator");
      },
    };
    expect(() => renderFamily(failing, {} as Snapshot)).toThrow("bug in a generator");
    // nothing of the failed render leaks into the next one
    expect(renderFamily(inner, {} as Snapshot)).toBe('# HELP inner h\n# TYPE inner gauge\ninner{k="v"} 2\n');
  });

  it("writes parts into one buffer, copying spans of the previous one, and records each pod's span", () => {
    const fam: Family = {
      name: "x_info",
      help: "h",
      type: "gauge",
      perPod: (p) => [{ labels: [["pod_id", p.id]], value: 1 }],
    };
    const pods = ["ä", "b", "c"].map((id) => ({ id }) as unknown as PodRecord);
    const snap = (list: PodRecord[]) => ({ pods: list }) as unknown as Snapshot;
    // First body: every pod rendered.
    let memo: RenderMemo = new Map();
    let body: Buffer = Buffer.alloc(0);
    const render = (list: PodRecord[]): string => {
      const parts: Part[] = [];
      const runs: PodRun[] = [];
      const next: RenderMemo = new Map();
      renderFamilyParts(fam, snap(list), parts, { previous: memo, next, runs });
      body = partsToBuffer(parts, runs, body);
      memo = next;
      return body.toString();
    };
    const want = (list: PodRecord[]) => renderFamily(fam, snap(list));
    const [a, b, c] = pods as [PodRecord, PodRecord, PodRecord];
    expect(render([a, b])).toBe(want([a, b]));
    // Reused spans of the previous body, in a new order, with a fresh pod between them.
    expect(render([b, c, a])).toBe(want([b, c, a]));
    expect(render([a])).toBe(want([a]));
    expect(render([c, a, b])).toBe(want([c, a, b]));
    expect(memo.get(a)).toBeGreaterThan(0);
    // adjacent spans copied together, a pod dropped from the middle, then one rendered anew
    const more = ["d", "e", "f", "g"].map((id) => ({ id }) as unknown as PodRecord);
    const all = [a, b, c, ...more];
    expect(render(all)).toBe(want(all));
    expect(render(all)).toBe(want(all));
    const withoutE = all.filter((p) => p.id !== "e");
    expect(render(withoutE)).toBe(want(withoutE));
    const changed = [...withoutE.slice(0, 3), { id: "c2" } as unknown as PodRecord, ...withoutE.slice(3)];
    expect(render(changed)).toBe(want(changed));
  });
});
