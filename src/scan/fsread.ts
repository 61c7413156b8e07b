/**
 * The disk primitives of the scanner: never follow a symlink, never open anything but a
 * regular file (a FIFO must not block us), refuse files over a size cap unread, and map
 * errno to a bounded reason. Synchronous on purpose: small files from the page cache are
 * read several times faster this way than through the thread pool; the scanner yields to
 * the event loop between pods.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
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
export type ReadOutcome =
  { readonly ok: true; readonly text: string; readonly bytes: number; readonly key: StatKey } | IoError;
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

/** lstat: what is at this path, without following a symlink. */
export function statEntry(abs: string): StatOutcome {
  try {
    const st = lstatSync(abs);
    return { ok: true, kind: kindOf(st), key: keyOf(st) };
  } catch (err: unknown) {
    return errnoReason(err);
  }
}

export function listDir(abs: string): ListOutcome {
  try {
    return { ok: true, entries: readdirSync(abs, { withFileTypes: true }) };
  } catch (err: unknown) {
    return errnoReason(err);
  }
}

/**
 * Read a regular file as UTF-8. O_NOFOLLOW refuses a symlink swapped in after the lstat,
 * O_NONBLOCK keeps a FIFO from blocking the open, and fstat on the open descriptor decides.
 */
export function readRegularFile(abs: string, maxBytes: number): ReadOutcome {
  let fd: number;
  try {
    fd = openSync(abs, OPEN_FLAGS);
  } catch (err: unknown) {
    return errnoReason(err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, reason: "not_regular_file", message: "not a regular file" };
    if (st.size > maxBytes) return tooLarge(maxBytes);
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) {
        if (n > maxBytes) return tooLarge(maxBytes); // grew past the cap while we read
        return readRegularFileGrown(fd, buf, n, maxBytes, keyOf(st));
      }
    }
    return { ok: true, text: buf.toString("utf8", 0, n), bytes: n, key: keyOf(st) };
  } catch (err: unknown) {
    return errnoReason(err);
  } finally {
    closeSync(fd);
  }
}

/** The file grew between fstat and read (it is being rewritten): keep reading up to the cap. */
function readRegularFileGrown(
  fd: number,
  first: Buffer,
  n: number,
  maxBytes: number,
  key: StatKey,
): ReadOutcome {
  const buf = Buffer.allocUnsafe(maxBytes + 1);
  first.copy(buf, 0, 0, n);
  let len = n;
  for (;;) {
    const got = readSync(fd, buf, len, buf.length - len, null);
    if (got === 0) break;
    len += got;
    if (len > maxBytes) return tooLarge(maxBytes);
  }
  return { ok: true, text: buf.toString("utf8", 0, len), bytes: len, key };
}

function tooLarge(maxBytes: number): IoError {
  return { ok: false, reason: "too_large", message: `larger than ${maxBytes} bytes` };
}
