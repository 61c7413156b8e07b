/**
 * Results and typed errors shared by every parser of the on-disk format.
 * Parsers never throw on bad input: they return `Parsed<T>`.
 */

/** Why a file could not be used. Bounded: these values become metric labels. */
export type ProblemReason =
  | "missing"
  | "empty"
  | "truncated"
  | "invalid_json"
  | "schema"
  | "too_large"
  | "not_regular_file"
  | "not_directory"
  | "symlink"
  | "permission"
  | "unknown_device_type"
  | "invalid_id"
  | "io_error"
  | "duplicate_id";

export const PROBLEM_REASONS: readonly ProblemReason[] = [
  "missing",
  "empty",
  "truncated",
  "invalid_json",
  "schema",
  "too_large",
  "not_regular_file",
  "not_directory",
  "symlink",
  "permission",
  "unknown_device_type",
  "invalid_id",
  "io_error",
  "duplicate_id",
];

export interface FormatError {
  readonly reason: ProblemReason;
  /** Human-readable detail. Never contains file contents beyond a key path. */
  readonly message: string;
}

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: FormatError };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: ProblemReason, message: string): Parsed<T> {
  return { ok: false, error: { reason, message } };
}

/** Thrown only inside decoders and always caught by `decodeText`; never escapes a parser. */
export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
  ) {
    super(`${path}: expected ${expected}`);
  }
}

/**
 * Parses JSON text, telling a file that is being rewritten (empty or cut short) from one
 * that is broken: the runtime truncates and rewrites in place, so a reader can see both.
 */
export function parseJsonText(text: string): Parsed<unknown> {
  if (text.trim() === "") return fail("empty", "file is empty");
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    return looksTruncated(text, message)
      ? fail("truncated", "JSON ends before the document is complete")
      : fail("invalid_json", sanitizeJsonError(message));
  }
}

// Only V8's own wording counts: "Unexpected token" messages quote a snippet of the input, so
// an unanchored match would let file content (e.g. the text "position 99") decide the reason.
const END_OF_INPUT = /^(Unexpected end of JSON input|Unterminated string)/;
// "... in JSON at position N" / "... after JSON at position N" (Node 20), plus
// " (line L column C)" on Node 22+.
const AT_POSITION = / JSON at position (\d+)(?: \(line \d+ column \d+\))?$/;

function errorPosition(message: string): number | null {
  const pos = AT_POSITION.exec(message)?.[1];
  return pos === undefined ? null : Number(pos);
}

function looksTruncated(text: string, message: string): boolean {
  if (END_OF_INPUT.test(message)) return true;
  // An error at the very end (ignoring JSON whitespace) means the text stops early.
  const pos = errorPosition(message);
  return pos !== null && pos >= lengthWithoutTrailingJsonSpace(text);
}

/** A loop, not a `/\s+$/` regex: that backtracks quadratically on long inner runs of spaces. */
function lengthWithoutTrailingJsonSpace(text: string): number {
  let end = text.length;
  while (end > 0 && " \t\n\r".includes(text.charAt(end - 1))) end--;
  return end;
}

/** V8 quotes a snippet of the input in its message; keep only the position, never content. */
function sanitizeJsonError(message: string): string {
  const pos = errorPosition(message);
  return pos !== null ? `invalid JSON at position ${pos}` : "invalid JSON";
}

/** Parse text, then run a decoder that may throw SchemaError; other errors propagate (bugs). */
export function decodeText<T>(text: string, decode: (value: unknown) => T): Parsed<T> {
  const json = parseJsonText(text);
  if (!json.ok) return json;
  return decodeValue(json.value, decode);
}

export function decodeValue<T>(value: unknown, decode: (value: unknown) => T): Parsed<T> {
  try {
    return ok(decode(value));
  } catch (err: unknown) {
    if (err instanceof SchemaError) return fail("schema", err.message);
    if (err instanceof RangeError) return fail("schema", "value nested too deeply");
    throw err;
  }
}
