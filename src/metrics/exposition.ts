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
 * One render's memo pass: `previous` is read, and each pod family's run of parts is recorded in
 * `runs` so that `next` can point into the new body once it is built (see partsToBuffer).
 */
export interface MemoPass {
  readonly previous: RenderMemo;
  readonly next: RenderMemo;
  readonly runs: PodRun[];
}

/** One pod family's parts: one per pod of `pods`, in order, from index `first` of the parts list. */
export interface PodRun {
  readonly next: RenderMemo;
  readonly pods: readonly PodRecord[];
  readonly first: number;
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

/** A character that label values escape (one regular expression object, not one per call). */
const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : v;
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

/**
 * The pieces of one renderSamples call, reused from call to call: a sample's text is put in as the
 * strings it is made of and the pod's text is made by one join, so no intermediate string is
 * made per label or per sample (a full render of 1,000 pods made about 60 MiB of them for a 10 MB
 * body). The array is filled from index 0 and its length set to the pieces used before the join,
 * never to 0 (which drops its backing store, so every call would grow a new one). `scratchInUse`
 * guards against a generator that renders from inside a render: it gets an array of its own.
 */
const scratch: string[] = [];
let scratchInUse = false;

/**
 * The text before a label's value, with what closes the previous one: `{name="` for the first
 * label, `",name="` for the others (one piece instead of four). Label names are the collectors'
 * constants, so these stay few; past MAX_PREFIXES they are made per call, not kept.
 */
const firstPrefixes = new Map<string, string>();
const nextPrefixes = new Map<string, string>();
const MAX_PREFIXES = 1024;

function labelPrefix(cache: Map<string, string>, before: string, name: string): string {
  let prefix = cache.get(name);
  if (prefix === undefined) {
    prefix = `${before}${name}="`;
    if (cache.size < MAX_PREFIXES) cache.set(name, prefix);
  }
  return prefix;
}

/** Puts one sample's pieces into `out` from index `n`; returns the next index. */
function putSample(out: string[], n: number, name: string, sample: Sample): number {
  out[n++] = name;
  const labels = sample.labels;
  let open = false;
  for (let i = 0; i < labels.length; i++) {
    const pair = labels[i];
    if (pair === undefined) continue;
    out[n++] = open ? labelPrefix(nextPrefixes, '",', pair[0]) : labelPrefix(firstPrefixes, "{", pair[0]);
    out[n++] = escapeLabelValue(pair[1]);
    open = true;
  }
  out[n++] = open ? '"} ' : labels.length > 0 ? "{} " : " ";
  out[n++] = formatValue(sample.value);
  out[n++] = "\n";
  return n;
}

function renderSamples(name: string, samples: Iterable<Sample>): string {
  const own = scratchInUse;
  const out = own ? [] : scratch;
  scratchInUse = true;
  try {
    let n = 0;
    for (const sample of samples) n = putSample(out, n, name, sample);
    if (n === 0) return "";
    out.length = n;
    return out.join("");
  } finally {
    if (!own) scratchInUse = false;
  }
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
  if (memo !== undefined) memo.runs.push({ next: memo.next, pods: s.pods, first: out.length });
  for (let i = 0; i < s.pods.length; i++) {
    const p = s.pods[i];
    if (p === undefined) {
      out.push(""); // (never: one part per pod keeps the run's indexes right)
      continue;
    }
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
 * A numeric part is a span of `previous` (the body the memos pointed into), copied over; spans
 * that follow each other in `previous` (the unchanged pods of a family, in order) are copied in
 * one go. Each run's memo then gets the span of each of its pods' bytes in the new buffer, so
 * nothing refers to `previous` afterwards once every memo is replaced.
 */
export function partsToBuffer(
  parts: readonly Part[],
  runs: readonly PodRun[] = [],
  previous: Buffer = EMPTY,
): Buffer {
  let total = 0;
  const ends = runs.length > 0 ? new Float64Array(parts.length) : null;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    total += typeof p === "string" ? Buffer.byteLength(p, "utf8") : p % SPAN_LIMIT;
    if (ends !== null) ends[i] = total;
  }
  const buf = Buffer.allocUnsafeSlow(total);
  let at = 0;
  // the pending copy from `previous`: [copyStart, copyEnd)
  let copyStart = 0;
  let copyEnd = 0;
  // Indexed loops: a for-of loop in code V8 has not optimized (this runs once per render) makes an
  // iterator result object per part.
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    if (typeof p === "number") {
      const start = Math.floor(p / SPAN_LIMIT);
      if (start !== copyEnd) {
        if (copyEnd > copyStart) at += previous.copy(buf, at, copyStart, copyEnd);
        copyStart = start;
      }
      copyEnd = start + (p % SPAN_LIMIT);
      continue;
    }
    if (copyEnd > copyStart) at += previous.copy(buf, at, copyStart, copyEnd);
    copyStart = copyEnd = 0;
    at += buf.write(p, at, "utf8");
  }
  if (copyEnd > copyStart) at += previous.copy(buf, at, copyStart, copyEnd);
  if (at !== total) throw new Error(`exposition parts wrote ${at} of ${total} bytes`);
  if (ends !== null)
    for (const run of runs)
      for (let k = 0; k < run.pods.length; k++) {
        const index = run.first + k;
        const end = ends[index] ?? 0;
        const start = index > 0 ? (ends[index - 1] ?? 0) : 0;
        const pod = run.pods[k];
        if (pod !== undefined) run.next.set(pod, span(start, end - start));
      }
  return buf;
}

const EMPTY = Buffer.alloc(0);
