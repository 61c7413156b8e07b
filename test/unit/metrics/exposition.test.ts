import { describe, expect, it } from "vitest";
import { escapeLabelValue, formatValue, renderFamily } from "../../../src/metrics/exposition.js";
import type { Snapshot } from "../../../src/scan/snapshot.js";

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
});
