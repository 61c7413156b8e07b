/**
 * The disk primitives of the scanner: never follow a symlink, never open anything but a
 * regular file (a FIFO must not block us), refuse files over a size cap unread, and map
 * errno to a bounded reason. Synchronous on purpose: small files from the page cache are
 * read several times faster this way than through the thread pool; the scanner yields to
 * the event loop between pods.
 */
import { constants, lstatSync, readFileSync, readdirSync, type Dirent, type Stats } from "node:fs";
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

export function listDir(abs: string): ListOutcome {
  try {
    return { ok: true, entries: readdirSync(abs, { withFileTypes: true }) };
  } catch (err: unknown) {
    return errnoReason(err);
  }
}

/**
 * Read a file that lstat has just shown to be a regular file within the cap, in one call:
 * open with O_NOFOLLOW (a symlink swapped in meanwhile fails with ELOOP) and O_NONBLOCK (a
 * FIFO swapped in reads as empty or fails with EAGAIN: it never blocks), read, close. A file
 * that grew past the cap since the lstat is refused.
 */
export function readChecked(abs: string, key: StatKey, maxBytes: number): ReadOutcome {
  let text: string;
  try {
    // Node takes numeric open flags here (stringToFlags passes numbers through); its types
    // only list strings, and no string form has O_NOFOLLOW or O_NONBLOCK.
    text = readFileSync(abs, { encoding: "utf8", flag: OPEN_FLAGS as unknown as string });
  } catch (err: unknown) {
    return errnoReason(err);
  }
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) return tooLarge(maxBytes);
  return { ok: true, text, bytes, key };
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
  return unreadable(st, maxBytes) ?? (st.ok ? readChecked(abs, st.key, maxBytes) : st);
}

function tooLarge(maxBytes: number): IoError {
  return { ok: false, reason: "too_large", message: `larger than ${maxBytes} bytes` };
}
