// The closing summary of a run: every figure of issue 13's table (plus idle CPU and change-to-visible latency),
// one column per size, each with its target and PASS/MISS, read from the results of the sections that ran
// on the reference (virtcontainers) tree. A figure whose section did not run, or did not measure it, reads
// "not run" / "not measured" and is not judged.
import { fmt } from "./report.mjs";

const REFERENCE_LAYOUT = "virtcontainers";

/**
 * The figures. `value(entry)` reads one size's results (undefined when not measured); `max` is the target;
 * `upToPods` limits judging to sizes up to that many pods (an absolute figure the issue set at 1,000 pods).
 */
export const FIGURES = [
  {
    label: "cold scan / find+cat",
    section: "scan",
    max: 1.0,
    format: fmt.ratio,
    unit: "×",
    value: (e) => e.scan?.coldOverBaseline,
  },
  {
    label: "cold scan / C floor",
    section: "scan",
    max: 3,
    format: fmt.ratio,
    unit: "×",
    value: (e) => e.scan?.coldOverFloor ?? undefined,
  },
  {
    label: "scrape median / node:http, 1 client",
    section: "metrics",
    max: 1.15,
    format: fmt.ratio,
    unit: "×",
    value: (e) => e.metrics?.latency?.clients1?.medianRatio,
  },
  {
    label: "scrape median / node:http, 10 clients",
    section: "metrics",
    max: 1.15,
    format: fmt.ratio,
    unit: "×",
    value: (e) => e.metrics?.latency?.clients10?.medianRatio,
  },
  {
    label: "series per pod",
    section: "metrics",
    max: 24,
    format: (n) => n.toFixed(1),
    unit: "",
    value: (e) => e.metrics?.size?.seriesPerPod,
  },
  {
    label: "exposition bytes per pod",
    section: "metrics",
    max: 6144,
    format: (n) => fmt.int(Math.round(n)),
    unit: " B",
    value: (e) => e.metrics?.size?.bytesPerPod,
  },
  {
    label: "RSS after start (first scan)",
    section: "metrics",
    max: 100,
    upToPods: 1000,
    format: (n) => n.toFixed(1),
    unit: " MiB",
    value: (e) => e.metrics?.rssAfterFirstScanMiB,
  },
  {
    label: "idle CPU",
    section: "metrics",
    max: 1,
    format: (n) => n.toFixed(2),
    unit: " %",
    value: (e) => e.metrics?.idle?.cpuPercent,
  },
  {
    label: "change to visible (median)",
    section: "metrics",
    max: 1000,
    format: (n) => n.toFixed(0),
    unit: " ms",
    value: (e) => e.metrics?.visible?.medianMs,
  },
];

/** One size's cell of a figure: the value and PASS/MISS, "-" when not judged at that size. */
export function cell(figure, entry) {
  const section = entry[figure.section];
  if (section === undefined) return { text: "not run", status: "" };
  if (section.skipped) return { text: "skipped", status: "" };
  const value = figure.value(entry);
  if (typeof value !== "number" || !Number.isFinite(value)) return { text: "not measured", status: "" };
  const judged = figure.upToPods === undefined || entry.pods <= figure.upToPods;
  const status = judged ? (value <= figure.max ? "PASS" : "MISS") : "-";
  return { text: `${figure.format(value)}${figure.unit}`, status };
}

/** The summary rows of the reference tree's sizes: { sizes, rows: [{ label, target, cells }] }. */
export function summarize(report) {
  const entries = report.layouts[REFERENCE_LAYOUT]?.sizes ?? [];
  const rows = FIGURES.map((figure) => ({
    label: figure.label,
    target: `<= ${figure.max}${figure.unit}${figure.upToPods ? ` up to ${fmt.int(figure.upToPods)} pods` : ""}`,
    cells: entries.map((entry) => cell(figure, entry)),
  }));
  return { sizes: entries.map((e) => e.pods), rows };
}

/** Prints the summary table (nothing when the reference tree was not generated). */
export function printSummary(summary) {
  if (summary.sizes.length === 0) return;
  const header = ["figure (issue 13)", "target", ...summary.sizes.map((n) => `${fmt.int(n)} pods`)];
  const lines = summary.rows.map((r) => [
    r.label,
    r.target,
    ...r.cells.map((c) => (c.status ? `${c.text} ${c.status}` : c.text)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cols) =>
    `  ${cols.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")}`.trimEnd();
  console.log(`\n== summary, layout ${REFERENCE_LAYOUT}, each figure against its baseline of the same run`);
  console.log(format(header));
  console.log(`  ${"-".repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1))}`);
  for (const l of lines) console.log(format(l));
}
