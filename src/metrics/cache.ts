/**
 * Renders the snapshot's families once per snapshot change and keeps the bytes (and, on
 * first demand, their compressed form) until the next change. A scrape appends the small,
 * fresh self-metrics part. With gzip, the cached part is a raw deflate stream ended by a
 * sync flush (not final); the scrape appends an independently compressed final deflate
 * part, and the gzip trailer's CRC-32 is chained over both. The result is one ordinary
 * gzip member, so every client (curl included) reads all of it. The sampled collectors (process
 * metrics) have a cached part of their own, rendered again at each sample, between the two.
 * One collector failing leaves its families out and sets collector_success to 0.
 */
import { constants, crc32, deflateRaw as deflateRawCb, deflateRawSync } from "node:zlib";
import { promisify } from "node:util";
import type { Snapshot } from "../scan/snapshot.js";
import {
  NO_CONTEXT,
  partsToBuffer,
  renderFamilyParts,
  type Collector,
  type MemoPass,
  type Part,
  type PodRun,
  type RenderContext,
  type RenderMemo,
} from "./exposition.js";
import type { ProcessSample } from "../scan/pod-processes.js";
import type { SelfMetrics } from "./self.js";

const deflateRaw = promisify(deflateRawCb);
const EMPTY_MEMO: RenderMemo = new Map();

/** gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

interface CompressedHead {
  readonly deflated: Buffer;
  readonly crc: number;
  readonly length: number;
}

/**
 * One gzip member from cached, sync-flushed heads (in order) and a fresh tail, as chunks
 * (nothing copied). A head's `crc` is the CRC-32 of every uncompressed byte up to its end
 * (chained over the heads before it); `length` is its own.
 */
export function gzipJoin(heads: CompressedHead | readonly CompressedHead[], tail: Buffer): Buffer[] {
  const list = "deflated" in heads ? [heads] : heads;
  const crc = list.at(-1)?.crc ?? 0;
  const length = list.reduce((n, h) => n + h.length, 0);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(tail, crc) >>> 0, 0);
  trailer.writeUInt32LE((length + tail.length) % 2 ** 32, 4);
  return [GZIP_HEADER, ...list.map((h) => h.deflated), deflateRawSync(tail, { level: 1 }), trailer];
}

async function compressHead(body: Buffer): Promise<Omit<CompressedHead, "crc">> {
  // Level 3: a 10 MB exposition (1,000 pods) compresses in about a third of level 6's time for
  // 5% more bytes, and it is compressed again after every change.
  const deflated = await deflateRaw(body, { level: 3, finishFlush: constants.Z_SYNC_FLUSH });
  return { deflated, length: body.length };
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface CollectorFailure {
  readonly collector: string;
  readonly error: unknown;
}

/** A rendered part of the exposition and, on first demand, its compressed form. */
interface Segment {
  body: Buffer;
  compressed: Promise<Omit<CompressedHead, "crc">> | null;
  /** CRC-32 of the body chained after `base` (the parts before it), once asked for. */
  crc: { readonly base: number; readonly value: number } | null;
}

export class ExpositionCache {
  private readonly snapshotPart: Segment = { body: Buffer.alloc(0), compressed: null, crc: null };
  /** The sampled collectors' part (process metrics), rendered after the snapshot's. */
  private readonly sampledPart: Segment = { body: Buffer.alloc(0), compressed: null, crc: null };
  private generation = 0;
  private rendered: Snapshot | null = null;
  private renderedContext: RenderContext | null = null;
  /**
   * Per family, where the lines rendered for each pod record are in the part's body (unchanged
   * pods keep their record): replaced at every render, as the body is.
   */
  private readonly memos = new Map<string, RenderMemo>();
  private readonly snapshotCollectors: readonly Collector[];
  private readonly sampledCollectors: readonly Collector[];
  private sample: ProcessSample | null = null;

  constructor(
    collectors: readonly Collector[],
    private readonly self: SelfMetrics,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.snapshotCollectors = collectors.filter((c) => c.sampled !== true);
    this.sampledCollectors = collectors.filter((c) => c.sampled === true);
  }

  /**
   * Render a new snapshot (and context: a new context object means new content). Returns the
   * collectors that failed (already reported in metrics).
   */
  update(snapshot: Snapshot, ctx: RenderContext = NO_CONTEXT): CollectorFailure[] {
    if (this.rendered !== null && ctx === this.renderedContext && sameContent(this.rendered, snapshot))
      return [];
    this.rendered = snapshot;
    this.renderedContext = ctx;
    const failures = this.renderPart(this.snapshotPart, this.snapshotCollectors, snapshot, ctx);
    failures.push(...this.renderSampled());
    return failures;
  }

  /** A new process sample: only the sampled collectors' part is rendered again. */
  updateSample(sample: ProcessSample): CollectorFailure[] {
    this.sample = sample;
    return this.renderSampled();
  }

  private renderSampled(): CollectorFailure[] {
    // Nothing at all before the first sample (never one without the host's PID namespace).
    if (this.sampledCollectors.length === 0 || this.rendered === null || this.sample === null) return [];
    const ctx = { ...(this.renderedContext ?? NO_CONTEXT), processes: this.sample };
    return this.renderPart(this.sampledPart, this.sampledCollectors, this.rendered, ctx);
  }

  private renderPart(
    part: Segment,
    collectors: readonly Collector[],
    snapshot: Snapshot,
    ctx: RenderContext,
  ): CollectorFailure[] {
    const parts: Part[] = [];
    const runs: PodRun[] = [];
    const failures: CollectorFailure[] = [];
    const nextMemos = new Map<string, RenderMemo>();
    for (const c of collectors) {
      const started = this.now();
      const partsBefore = parts.length;
      const runsBefore = runs.length;
      try {
        for (const f of c.families) {
          const previous = this.memos.get(f.name) ?? EMPTY_MEMO;
          const pass: MemoPass = { previous, next: new Map(), runs };
          renderFamilyParts(f, snapshot, parts, pass, ctx);
          nextMemos.set(f.name, pass.next);
        }
        this.self.collectorSuccess.set({ collector: c.name }, 1);
      } catch (error: unknown) {
        // Its families go, and their memos with the previous body.
        parts.length = partsBefore;
        runs.length = runsBefore;
        for (const f of c.families) nextMemos.set(f.name, new Map());
        failures.push({ collector: c.name, error });
        this.self.collectorSuccess.set({ collector: c.name }, 0);
      }
      this.self.collectorDuration.set({ collector: c.name }, (this.now() - started) / 1000);
    }
    part.body = partsToBuffer(parts, runs, part.body);
    for (const [name, memo] of nextMemos) this.memos.set(name, memo);
    part.compressed = null;
    part.crc = null;
    this.self.expositionBytes.set(this.snapshotPart.body.length + this.sampledPart.body.length);
    this.generation++;
    return failures;
  }

  get version(): number {
    return this.generation;
  }

  get snapshotBytes(): number {
    return this.snapshotPart.body.length + this.sampledPart.body.length;
  }

  /** The exposition as chunks to write in order: the cached parts are shared, never copied. */
  async render(acceptGzip: boolean): Promise<Buffer[]> {
    const head = this.snapshotPart.body;
    const sampled = this.sampledPart.body;
    if (!acceptGzip) {
      const selfText = await this.self.registry.metrics();
      return [head, ...(sampled.length > 0 ? [sampled] : []), Buffer.from(selfText, "utf8")];
    }
    const headCrc = chainedCrc(this.snapshotPart, 0);
    const bothCrc = chainedCrc(this.sampledPart, headCrc);
    const [h, s, selfText] = await Promise.all([
      compressed(this.snapshotPart),
      compressed(this.sampledPart),
      this.self.registry.metrics(),
    ]);
    const heads = [{ ...h, crc: headCrc }, ...(s.length > 0 ? [{ ...s, crc: bothCrc }] : [])];
    return gzipJoin(heads, Buffer.from(selfText, "utf8"));
  }
}

function chainedCrc(part: Segment, base: number): number {
  if (part.crc?.base !== base) part.crc = { base, value: crc32(part.body, base) };
  return part.crc.value;
}

function compressed(part: Segment): Promise<Omit<CompressedHead, "crc">> {
  part.compressed ??= compressHead(part.body);
  return part.compressed;
}

/**
 * Nothing to render again: the same pod records (a rescan keeps a record object while the pod
 * is unchanged) and the same tree-level problems.
 */
function sameContent(a: Snapshot, b: Snapshot): boolean {
  if (a.pods.length !== b.pods.length || a.problems.length !== b.problems.length) return false;
  for (let i = 0; i < a.pods.length; i++) if (a.pods[i] !== b.pods[i]) return false;
  return a.problems.every((p, i) => {
    const q = b.problems[i];
    return q !== undefined && p.path === q.path && p.reason === q.reason && p.file === q.file;
  });
}
