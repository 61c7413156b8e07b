import { describe, expect, it } from "vitest";
import {
  escapeLabelValue,
  formatValue,
  partsToBuffer,
  renderFamily,
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

  it("writes parts into one buffer and points each slot's memo at its bytes there", () => {
    const old = Buffer.from("xx reused ünï line\nyy");
    const reused = old.subarray(3, old.length - 2);
    const parts = ["# HELP a\n", reused, "fresh é line\n", ""];
    const next: RenderMemo = new WeakMap();
    const pods = [{}, {}, {}] as unknown as PodRecord[];
    const slots: PodSlot[] = [1, 2, 3].map((index, i) => ({ next, pod: pods[i] as PodRecord, index }));
    const buf = partsToBuffer(parts, slots);
    expect(buf.toString()).toBe("# HELP a\nreused ünï line\nfresh é line\n");
    expect(next.get(pods[0] as PodRecord)?.toString()).toBe("reused ünï line\n");
    expect(next.get(pods[1] as PodRecord)?.toString()).toBe("fresh é line\n");
    expect(next.get(pods[2] as PodRecord)?.length).toBe(0);
    expect(next.get(pods[0] as PodRecord)?.buffer).toBe(buf.buffer);
  });
});
