/**
 * Loads one resource file through a stat-keyed cache: a file whose (inode, size, mtime,
 * ctime) is unchanged is not read again. Keeps the last good value of every file so that a
 * file caught mid-rewrite (empty or cut short) can be served stale instead of vanishing.
 */
import type { Parsed, ProblemReason } from "../format/result.js";
import { readOpen, sameKey, statEntry, unreadable, type StatKey } from "./fsread.js";
import { PARSERS, type ResourceValues } from "./parsers.js";
import type { FileProblem } from "./snapshot.js";

interface CacheEntry {
  readonly key: StatKey;
  readonly result: Parsed<unknown>;
  readonly lastGood: unknown;
}

export interface Loaded<T> {
  readonly value: T | null;
  readonly problem: FileProblem | null;
  readonly mtimeMs: number;
  /** Empty or truncated content that was just read: worth one more read after a short delay. */
  readonly transient: boolean;
  /** The contents were read in this call (not reused from the cache). */
  readonly fresh: boolean;
  /** What was found, in one string: the stat key, or the problem. Equal strings, equal outcome (unless fresh). */
  readonly sig: string;
}

export interface LoadTarget {
  readonly rel: string;
  readonly podId: string;
  readonly containerId: string | null;
}

export interface LoaderCounters {
  filesRead: number;
  bytesRead: number;
  filesStatted: number;
  filesReused: number;
}

const TRANSIENT: ReadonlySet<ProblemReason> = new Set(["empty", "truncated"]);

export class FileLoader {
  private readonly cache = new Map<string, CacheEntry>();
  /** Paths a full scan has seen so far; null outside a full scan (no second copy of every path kept). */
  private seen: Set<string> | null = null;
  readonly counters: LoaderCounters = { filesRead: 0, bytesRead: 0, filesStatted: 0, filesReused: 0 };

  /** The host root with one trailing slash: paths are joined by concatenation (hot path). */
  private readonly base: string;

  constructor(
    hostRoot: string,
    private readonly maxFileBytes: number,
  ) {
    this.base = hostRoot.endsWith("/") ? hostRoot : `${hostRoot}/`;
  }

  /** Start tracking which cached paths a full scan still sees. */
  beginSweep(): void {
    this.seen = new Set();
  }

  /** Drop cache entries of files a full scan no longer saw. */
  endSweep(): void {
    const seen = this.seen;
    this.seen = null;
    if (seen === null) return;
    for (const path of this.cache.keys()) if (!seen.has(path)) this.cache.delete(path);
  }

  /** Drop every cache entry below a directory (a pod that disappeared). */
  forgetUnder(relDir: string): void {
    const prefix = `${relDir}/`;
    for (const path of this.cache.keys()) if (path.startsWith(prefix)) this.cache.delete(path);
  }

  resetCounters(): void {
    Object.assign(this.counters, { filesRead: 0, bytesRead: 0, filesStatted: 0, filesReused: 0 });
  }

  /**
   * Load one file. `regular`: the directory listing just said this name is a regular file.
   * Then a first read opens it straight away (no lstat: the fstat on the open descriptor
   * checks type, cap and stat key); otherwise, and whenever a cached value may be reused,
   * one lstat comes first and only a regular file within the cap is opened. A FIFO, device
   * or symlink is never opened (a FIFO swapped in after the listing is opened non-blocking
   * and closed unread).
   */
  load<R extends keyof ResourceValues>(
    resource: R,
    t: LoadTarget,
    force: boolean,
    regular = false,
  ): Loaded<ResourceValues[R]> {
    this.seen?.add(t.rel);
    const abs = this.base + t.rel;
    const cached = this.cache.get(t.rel);
    this.counters.filesStatted++;
    if (!regular || (!force && cached !== undefined)) {
      const st = statEntry(abs);
      if (!st.ok) {
        this.cache.delete(t.rel);
        return this.problem(resource, t, st.reason, st.message, 0);
      }
      const refused = unreadable(st, this.maxFileBytes);
      if (refused !== null) {
        const mtimeMs = st.kind === "file" ? st.key.mtimeMs : 0;
        return this.problem(resource, t, refused.reason, refused.message, mtimeMs);
      }
      if (!force && cached !== undefined && sameKey(cached.key, st.key)) {
        this.counters.filesReused++;
        return this.outcome(resource, t, cached, st.key.mtimeMs, false);
      }
    }
    const read = readOpen(abs, this.maxFileBytes);
    if (!read.ok) {
      if (read.reason === "missing") this.cache.delete(t.rel);
      return this.problem(resource, t, read.reason, read.message, read.mtimeMs);
    }
    this.counters.filesRead++;
    this.counters.bytesRead += read.bytes;
    const result = (PARSERS[resource] as (text: string) => Parsed<unknown>)(read.text);
    const entry: CacheEntry = {
      key: read.key,
      result,
      lastGood: result.ok ? result.value : cached?.lastGood,
    };
    this.cache.set(t.rel, entry);
    return this.outcome(resource, t, entry, read.key.mtimeMs, true);
  }

  private outcome<R extends keyof ResourceValues>(
    resource: R,
    t: LoadTarget,
    entry: CacheEntry,
    mtimeMs: number,
    fresh: boolean,
  ): Loaded<ResourceValues[R]> {
    const sig = `${entry.key.ino}:${entry.key.size}:${entry.key.mtimeMs}:${entry.key.ctimeMs}`;
    if (entry.result.ok) {
      return {
        value: entry.result.value as ResourceValues[R],
        problem: null,
        mtimeMs,
        transient: false,
        fresh,
        sig,
      };
    }
    const { reason, message } = entry.result.error;
    // Only a file caught mid-rewrite is served from its last good value; a file that is
    // plainly broken shows as unknown rather than as a number that may be long out of date.
    const stale = TRANSIENT.has(reason) && entry.lastGood !== undefined;
    return {
      value: stale ? (entry.lastGood as ResourceValues[R]) : null,
      problem: makeProblem(resource, t, reason, message, stale),
      mtimeMs,
      transient: fresh && TRANSIENT.has(reason),
      fresh,
      sig: `${sig}!${reason}`,
    };
  }

  private problem<T>(
    resource: FileProblem["file"],
    t: LoadTarget,
    reason: ProblemReason,
    message: string,
    mtimeMs: number,
  ): Loaded<T> {
    return {
      value: null,
      problem: makeProblem(resource, t, reason, message, false),
      mtimeMs,
      transient: false,
      fresh: false,
      sig: `!${reason}`,
    };
  }
}

export function makeProblem(
  file: FileProblem["file"],
  t: LoadTarget,
  reason: ProblemReason,
  message: string,
  stale: boolean,
): FileProblem {
  return { file, path: t.rel, podId: t.podId, containerId: t.containerId, reason, message, stale };
}
