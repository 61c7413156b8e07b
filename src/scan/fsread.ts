/**
 * The disk primitives of the scanner: never follow a symlink, never open anything but a
 * regular file (a FIFO must not block us), refuse files over a size cap unread, and map
 * errno to a bounded reason. Where a directory listing already says an entry is a regular
 * file, it is opened without an lstat first: the fstat on the open descriptor checks it. Synchronous on purpose: small files from the page cache are
 * read several times faster this way than through the thread pool; the scanner yields to
 * the event loop between pods.
 */
import { Buffer, isAscii } from "node:buffer";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  type Dirent,
  type Stats,
} from "node:fs";
import type { ProblemReason } from "../format/result.js";

export interface StatKey {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export interface IoError {
  readonly ok: false;
  readonly reason: ProblemReason;
  readonly message: string;
}

export type EntryKind = "file" | "dir" | "symlink" | "other";

export type StatOutcome = { readonly ok: true; readonly kind: EntryKind; readonly key: StatKey } | IoError;
/** A refused or failed read; `mtimeMs` is the open file's mtime when fstat got that far, else 0. */
export interface ReadError extends IoError {
  readonly mtimeMs: number;
}
export type ReadOutcome =
  { readonly ok: true; readonly text: string; readonly bytes: number; readonly key: StatKey } | ReadError;
export type ListOutcome = { readonly ok: true; readonly entries: readonly Dirent[] } | IoError;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export function sameKey(a: StatKey, b: StatKey): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function keyOf(st: Stats): StatKey {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

function kindOf(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  return "other";
}

export function errnoReason(err: unknown): IoError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  const reason: ProblemReason =
    code === "ENOENT" || code === "ENOTDIR"
      ? "missing"
      : code === "EACCES" || code === "EPERM"
        ? "permission"
        : code === "ELOOP"
          ? "symlink"
          : code === "EISDIR"
            ? "not_regular_file"
            : "io_error";
  return { ok: false, reason, message: code === "" ? "I/O error" : code };
}

const MISSING: IoError = { ok: false, reason: "missing", message: "ENOENT" };

/** lstat: what is at this path, without following a symlink. A missing entry throws nothing. */
export function statEntry(abs: string): StatOutcome {
  try {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return MISSING;
    return { ok: true, kind: kindOf(st), key: keyOf(st) };
  } catch (err: unknown) {
    return errnoReason(err);
  }
}

/**
 * List a directory with each entry's type. Where the filesystem reports no type (DT_UNKNOWN),
 * Node lstat-s the entry itself (`getDirent`), so `isFile()` / `isDirectory()` never guess and
 * a symlink is never reported as what it points to. The scanner opens an entry without an
 * lstat only when `isFile()` said so, and then still checks it with fstat.
 */
export function listDir(abs: string): ListOutcome {
  try {
    return { ok: true, entries: readdirSync(abs, { withFileTypes: true }) };
  } catch (err: unknown) {
    return errnoReason(err);
  }
}

/** One buffer for every read of this thread: the text is decoded from it before the next read. */
const INITIAL_BUFFER = 64 * 1024;
const MAX_KEPT_BUFFER = 1024 * 1024;
let shared = Buffer.allocUnsafe(INITIAL_BUFFER);

/**
 * Open and read a file that a directory listing or lstat has just shown to be a regular
 * file, with one open: O_NOFOLLOW (a symlink swapped in meanwhile fails with ELOOP) and
 * O_NONBLOCK (a FIFO swapped in never blocks the open). An fstat on the open descriptor then
 * checks what was opened (anything but a regular file is closed unread) and the size cap,
 * and gives the stat key of exactly the file read. The read stops at cap + 1 bytes, so a
 * file that grows meanwhile is refused without reading more than that.
 */
export function readOpen(abs: string, maxBytes: number): ReadOutcome {
  let fd: number;
  try {
    fd = openSync(abs, OPEN_FLAGS);
  } catch (err: unknown) {
    return { ...errnoReason(err), mtimeMs: 0 };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      return { ok: false, reason: "not_regular_file", message: "not a regular file", mtimeMs: 0 };
    if (st.size > maxBytes) return { ...tooLarge(maxBytes), mtimeMs: st.mtimeMs };
    const bytes = readInto(fd, st.size, maxBytes);
    if (bytes > maxBytes) return { ...tooLarge(maxBytes), mtimeMs: st.mtimeMs };
    const text = shared.toString(encodingOf(bytes), 0, bytes);
    // A rare large file does not keep its buffer for the life of the process.
    if (shared.length > MAX_KEPT_BUFFER) shared = Buffer.allocUnsafe(INITIAL_BUFFER);
    return { ok: true, text, bytes, key: keyOf(st) };
  } catch (err: unknown) {
    return { ...errnoReason(err), mtimeMs: 0 };
  } finally {
    closeSync(fd);
  }
}

/**
 * Go writes ASCII JSON: a large ASCII text decodes faster as latin1 (a one-byte copy) than
 * through the UTF-8 decoder; for a small file the check costs more than it saves (measured).
 */
function encodingOf(bytes: number): "latin1" | "utf8" {
  return bytes >= 4096 && isAscii(shared.subarray(0, bytes)) ? "latin1" : "utf8";
}

/**
 * Read the open file into the shared buffer until EOF or cap + 1 bytes; returns the count.
 * `sizeHint` (fstat's size) only sizes the buffer: a /proc file says 0 and has content.
 */
function readInto(fd: number, sizeHint: number, maxBytes: number): number {
  const limit = maxBytes + 1;
  const want = Math.min(sizeHint + 1, limit);
  if (shared.length < want) shared = Buffer.allocUnsafe(want);
  let total = 0;
  for (;;) {
    if (total === shared.length) {
      if (total >= limit) return total;
      const bigger = Buffer.allocUnsafe(Math.min(limit, shared.length * 2));
      shared.copy(bigger, 0, 0, total);
      shared = bigger;
    }
    const n = readSync(fd, shared, total, Math.min(shared.length, limit) - total, null);
    if (n === 0) return total;
    total += n;
  }
}

/** Why an lstat result may not be read (a symlink, anything but a regular file, over the cap), or null. */
export function unreadable(st: StatOutcome, maxBytes: number): IoError | null {
  if (!st.ok) return st;
  if (st.kind === "symlink") return { ok: false, reason: "symlink", message: "is a symlink" };
  if (st.kind !== "file") return { ok: false, reason: "not_regular_file", message: "not a regular file" };
  if (st.key.size > maxBytes) return tooLarge(maxBytes);
  return null;
}

/** lstat, then read only a regular file within the cap: a FIFO, device or symlink is never opened. */
export function readRegularFile(abs: string, maxBytes: number): ReadOutcome {
  const st = statEntry(abs);
  if (!st.ok) return { ...st, mtimeMs: 0 };
  const refused = unreadable(st, maxBytes);
  if (refused !== null) return { ...refused, mtimeMs: st.kind === "file" ? st.key.mtimeMs : 0 };
  return readOpen(abs, maxBytes);
}

function tooLarge(maxBytes: number): IoError {
  return { ok: false, reason: "too_large", message: `larger than ${maxBytes} bytes` };
}
