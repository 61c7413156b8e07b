/**
 * Tiny decoders for the Go-written JSON. The rule of the format (spec section 7): key by
 * name, ignore unknown keys, default missing keys; `null` is the same as missing. A key
 * that is present with the wrong type is a schema error for the whole file.
 */
import { SchemaError } from "./result.js";

export type Obj = Readonly<Record<string, unknown>>;

export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asObj(value: unknown, path: string): Obj {
  if (!isObj(value)) throw new SchemaError(path, "an object");
  return value;
}

/** An object field; `null` or missing gives `null`. */
export function objOrNull(o: Obj, key: string, path: string): Obj | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  return asObj(v, `${path}.${key}`);
}

export function arrOrNull(o: Obj, key: string, path: string): readonly unknown[] | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw new SchemaError(`${path}.${key}`, "an array");
  return v as readonly unknown[];
}

export function str(o: Obj, key: string, path: string, fallback = ""): string {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "string") throw new SchemaError(`${path}.${key}`, "a string");
  return v;
}

export function strOrNull(o: Obj, key: string, path: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw new SchemaError(`${path}.${key}`, "a string");
  return v;
}

export function bool(o: Obj, key: string, path: string, fallback = false): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new SchemaError(`${path}.${key}`, "a boolean");
  return v;
}

/** A non-negative safe integer (Go uint / PIDs / counts). */
export function uint(o: Obj, key: string, path: string, fallback = 0): number {
  const v = uintOrNull(o, key, path);
  return v ?? fallback;
}

export function uintOrNull(o: Obj, key: string, path: string): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new SchemaError(`${path}.${key}`, "a non-negative integer");
  }
  return v;
}

/** A signed safe integer (Go int). */
export function int(o: Obj, key: string, path: string, fallback = 0): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new SchemaError(`${path}.${key}`, "an integer");
  return v;
}

/** A `map[string]string`: values that are not strings are a schema error. */
export function stringMapOrNull(o: Obj, key: string, path: string): Readonly<Record<string, string>> | null {
  const m = objOrNull(o, key, path);
  if (m === null) return null;
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== "string") throw new SchemaError(`${path}.${key}[${JSON.stringify(k)}]`, "a string");
  }
  return m as Readonly<Record<string, string>>;
}

/** Decode every element of an array field, or `[]` when it is null/missing. */
export function each<T>(o: Obj, key: string, path: string, decode: (v: unknown, p: string) => T): T[] {
  const arr = arrOrNull(o, key, path);
  if (arr === null) return [];
  return arr.map((v, i) => decode(v, `${path}.${key}[${i}]`));
}

/** RFC 3339 (Go time.Time) to Unix seconds; the Go zero time and junk give null. */
export function rfc3339ToSeconds(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  if (text.startsWith("0001-01-01T")) return null;
  const frac = /\.(\d+)/.exec(text)?.[1] ?? "";
  const ms = Date.parse(text.replace(/\.\d+/, ""));
  if (Number.isNaN(ms)) return null;
  return ms / 1000 + (frac === "" ? 0 : Number(`0.${frac}`));
}
