import { describe, expect, it } from "vitest";
import {
  escapeLabelValue,
  formatValue,
  partsToBuffer,
  renderFamily,
  renderFamilyParts,
  type Family,
  type Part,
  type PodSlot,
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
      const slots: PodSlot[] = [];
      const next: RenderMemo = new Map();
      renderFamilyParts(fam, snap(list), parts, { previous: memo, next, slots });
      body = partsToBuffer(parts, slots, body);
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
  });
});
