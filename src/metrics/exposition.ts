/**
 * Metric families as data (kube-state-metrics style): a name, help, type and a pure
 * generator of samples from a Snapshot. Rendered to Prometheus text format 0.0.4.
 */
import type { PodMatch } from "../kube/match.js";
import type { ProcessSample } from "../scan/pod-processes.js";
import type { PodRecord, Snapshot } from "../scan/snapshot.js";

export type MetricType = "gauge" | "counter";

/** Label pairs in output order. Values are escaped at render time. */
export type Labels = readonly (readonly [string, string])[];

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

interface FamilyBase {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
}

/** A family whose samples come pod by pod: rendered per pod and reused while the pod's record is. */
export interface PodFamily extends FamilyBase {
  readonly perPod: (p: PodRecord) => Iterable<Sample>;
}

/** What a render sees besides the snapshot: the Kubernetes matches, when the pod view is on. */
export interface RenderContext {
  /** One per snapshot pod, in snapshot order; null when Kubernetes is off. */
  readonly matches: readonly PodMatch[] | null;
  /** The last process sample, for the sampled collectors; null or absent before the first. */
  readonly processes?: ProcessSample | null;
}

export const NO_CONTEXT: RenderContext = { matches: null };

/** A family computed from the whole snapshot (node totals), or from the render context. */
export interface NodeFamily extends FamilyBase {
  readonly samples: (s: Snapshot, ctx: RenderContext) => Iterable<Sample>;
}

export type Family = PodFamily | NodeFamily;

/**
 * Where the rendered lines of one pod family for each pod record (records are reused while a
 * pod is unchanged) are in the body they were last written to: no second copy of the text, and
 * no object per pod and family (a number: start × SPAN_LIMIT + length, see span()). A new map
 * per render, holding only the rendered snapshot's records (a Map: WeakMap.set costs about 1 µs,
 * tens of thousands of times per render).
 */
export type RenderMemo = Map<PodRecord, number>;

/** A pod family's text longer than this, or starting this far into a body, is not memoized. */
const SPAN_LIMIT = 2 ** 24;

/** A packed (start, length) of the previous body, or -1 when it cannot be packed. */
function span(start: number, length: number): number {
  return length < SPAN_LIMIT && start < 2 ** 53 / SPAN_LIMIT ? start * SPAN_LIMIT + length : -1;
}

/** A piece of the exposition: fresh text, or a span of the previous body (see span()). */
export type Part = string | number;

/**
 * One render's memo pass: `previous` is read, and each pod part pushed is recorded in `slots`
 * so that `next` can point into the new body once it is built (see partsToBuffer).
 */
export interface MemoPass {
  readonly previous: RenderMemo;
  readonly next: RenderMemo;
  readonly slots: PodSlot[];
}

export interface PodSlot {
  readonly next: RenderMemo;
  readonly pod: PodRecord;
  /** Index of the pod's part in the parts list. */
  readonly index: number;
}

export interface Collector {
  /** One word: the collector's flag (--collector.<name>) and its `collector` label. */
  readonly name: string;
  readonly families: readonly Family[];
  /** Rendered only when the Kubernetes pod view is on. */
  readonly needsKubernetes?: boolean;
  /** Rendered from the timed process sample, in a cached part of its own, not with each snapshot. */
  readonly sampled?: boolean;
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

function renderSamples(name: string, samples: Iterable<Sample>): string {
  let out = "";
  for (const sample of samples) out += `${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}\n`;
  return out;
}

/**
 * Append one family's text to `out` as parts (a pod family: one part per pod, taken from the
 * memo pass's previous render when the pod's record was rendered before). Throws only on a bug
 * in a generator (caught per collector by the caller).
 */
export function renderFamilyParts(
  f: Family,
  s: Snapshot,
  out: Part[],
  memo?: MemoPass,
  ctx: RenderContext = NO_CONTEXT,
): void {
  out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
  if (!("perPod" in f)) {
    out.push(renderSamples(f.name, f.samples(s, ctx)));
    return;
  }
  for (const p of s.pods) {
    if (memo !== undefined) memo.slots.push({ next: memo.next, pod: p, index: out.length });
    const reused = memo?.previous.get(p);
    out.push(reused !== undefined && reused >= 0 ? reused : renderSamples(f.name, f.perPod(p)));
  }
}

/** One family's text. */
export function renderFamily(f: Family, s: Snapshot, ctx?: RenderContext): string {
  const out: Part[] = [];
  renderFamilyParts(f, s, out, undefined, ctx);
  return out.join(""); // no memo: only strings
}

/**
 * Parts written into one buffer of the exact size: no intermediate string of the whole text.
 * A numeric part is a span of `previous` (the body the memos pointed into), copied over. Each
 * slot's memo then gets the span of its pod's bytes in the new buffer, so nothing refers to
 * `previous` afterwards once every memo is replaced.
 */
export function partsToBuffer(
  parts: readonly Part[],
  slots: readonly PodSlot[] = [],
  previous: Buffer = EMPTY,
): Buffer {
  let total = 0;
  const ends = slots.length > 0 ? new Float64Array(parts.length) : null;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    total += typeof p === "string" ? Buffer.byteLength(p, "utf8") : p % SPAN_LIMIT;
    if (ends !== null) ends[i] = total;
  }
  const buf = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const p of parts) {
    if (typeof p === "string") at += buf.write(p, at, "utf8");
    else {
      const start = Math.floor(p / SPAN_LIMIT);
      at += previous.copy(buf, at, start, start + (p % SPAN_LIMIT));
    }
  }
  if (at !== total) throw new Error(`exposition parts wrote ${at} of ${total} bytes`);
  if (ends !== null)
    for (const slot of slots) {
      const end = ends[slot.index] ?? 0;
      const start = slot.index > 0 ? (ends[slot.index - 1] ?? 0) : 0;
      slot.next.set(slot.pod, span(start, end - start));
    }
  return buf;
}

const EMPTY = Buffer.alloc(0);
