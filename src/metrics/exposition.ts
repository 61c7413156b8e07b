/**
 * Metric families as data (kube-state-metrics style): a name, help, type and a pure
 * generator of samples from a Snapshot. Rendered to Prometheus text format 0.0.4.
 */
import type { Snapshot } from "../scan/snapshot.js";

export type MetricType = "gauge" | "counter";

/** Label pairs in output order. Values are escaped at render time. */
export type Labels = readonly (readonly [string, string])[];

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: (s: Snapshot) => Iterable<Sample>;
}

export interface Collector {
  /** One word: the collector's flag (--collector.<name>) and its `collector` label. */
  readonly name: string;
  readonly families: readonly Family[];
}

export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : v;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return "";
  let out = "{";
  for (let i = 0; i < labels.length; i++) {
    const pair = labels[i];
    if (pair === undefined) continue;
    out += `${i > 0 ? "," : ""}${pair[0]}="${escapeLabelValue(pair[1])}"`;
  }
  return out + "}";
}

/** Render one family; throws only on a bug in a generator (caught per collector by the caller). */
export function renderFamily(f: Family, s: Snapshot): string {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const sample of f.samples(s)) {
    lines.push(`${f.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  return lines.join("\n") + "\n";
}
