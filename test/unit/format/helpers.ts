/**
 * Shared helpers for the unit tests of src/format (this file holds no tests itself):
 * paths into the example tree, JSON editing for hand-made variants, the malformed-input
 * corpus, the every-byte truncation check, the generic fast-check robustness properties and
 * a small document model that renders JSON with shuffled key order and unknown extra keys.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { PROBLEM_REASONS, type Parsed } from "../../../src/format/result.js";

// ---------------------------------------------------------------------------------------------
// The example tree

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const HOST = `${REPO}examples/host`;
export const FIXTURES = `${REPO}test/fixtures/format`;

/** Pod 1 (CRI-O, Kubernetes pod ml-serving/resnet-infer-1684375908-7xq2p). */
export const POD1 = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
/** Pod 1 container `infer` (VFIO device, CPU limit 2). */
export const INFER = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
/** Pod 1 container `loader` (ready, block + generic device, no mounts.json). */
export const LOADER = "8c8ea9204a5e5b0bbace6b0b24c76aaa95772031a997cfe9e6c3d5855c540a18";
/** Pod 2 (plain Docker, no Kubernetes identity). */
export const POD2 = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";
export const POD_UID = "d4b0c6a2-2cf0-11e8-8a1d-fa163e4b2c7a";
export const POD_NAME = "resnet-infer-1684375908-7xq2p";

export const SECRET = "SECRET_VALUE_123";

/** A file of the run tree (`run/virtcontainers/pods/<pod>/...`). */
export function runFile(pod: string, ...rest: string[]): string {
  return [HOST, "run/virtcontainers/pods", pod, ...rest].join("/");
}

/** A file of the config tree (`var/lib/virtcontainers/pods/<pod>/...`). */
export function libFile(pod: string, ...rest: string[]): string {
  return [HOST, "var/lib/virtcontainers/pods", pod, ...rest].join("/");
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

export function readBytes(path: string): Buffer {
  return readFileSync(path);
}

export function fixtureText(name: string): string {
  return readFileSync(`${FIXTURES}/${name}`, "utf8");
}

// ---------------------------------------------------------------------------------------------
// JSON values and editing (for variants built from the real files)

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}
export type JsonPath = readonly (string | number)[];

export function isJsonObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function readJson(path: string): Json {
  return JSON.parse(readText(path)) as Json;
}

export function readJsonObject(path: string): JsonObject {
  const v = readJson(path);
  if (!isJsonObject(v)) throw new Error(`${path} is not a JSON object`);
  return v;
}

export function getPath(root: Json, path: JsonPath): Json | undefined {
  let cur: Json | undefined = root;
  for (const key of path) {
    if (typeof key === "number") cur = Array.isArray(cur) ? cur[key] : undefined;
    else cur = isJsonObject(cur) ? cur[key] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/**
 * A deep copy of `root` with the value at `path` replaced (`undefined` removes the key).
 * Every parent on the path must exist.
 */
export function withPath(root: Json, path: JsonPath, value: Json | undefined): Json {
  const copy = structuredClone(root);
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent = getPath(copy, parentPath);
  if (last === undefined) throw new Error("empty path");
  if (typeof last === "number") {
    if (!Array.isArray(parent)) throw new Error(`no array at ${parentPath.join(".")}`);
    if (value === undefined) parent.splice(last, 1);
    else parent[last] = value;
  } else {
    if (!isJsonObject(parent)) throw new Error(`no object at ${parentPath.join(".")}`);
    if (value === undefined) Reflect.deleteProperty(parent, last);
    else Object.defineProperty(parent, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** Several edits at once. */
export function withPaths(root: Json, edits: readonly (readonly [JsonPath, Json | undefined])[]): Json {
  return edits.reduce<Json>((acc, [path, value]) => withPath(acc, path, value), root);
}

/** JSON text with every object's keys sorted, as after a Go read/modify/write via interface{}. */
export function sortedKeysJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(sortedKeysJson).join(",")}]`;
  if (isJsonObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedKeysJson(v[k] ?? null)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** JSON text escaped the way Go's encoder writes it (`<`, `>`, `&`, U+2028, U+2029). */
export function goJson(v: Json): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// ---------------------------------------------------------------------------------------------
// Result checks

export function outcome(r: Parsed<unknown>): string {
  return r.ok ? "ok" : r.error.reason;
}

/** The value of an ok result; fails the test (with the error) otherwise. */
export function okValue<T>(r: Parsed<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.reason}: ${r.error.message}`);
  return r.value;
}

/** The error of a failed result; fails the test otherwise. */
export function errorOf(r: Parsed<unknown>): { reason: string; message: string } {
  if (r.ok) throw new Error(`expected an error, got ok: ${JSON.stringify(r.value).slice(0, 200)}`);
  return r.error;
}

/**
 * Why `r` is not exactly `{ok: true, value}` or `{ok: false, error: {reason, message}}` with a
 * reason from PROBLEM_REASONS; null when it is.
 */
export function shapeProblem(r: unknown): string | null {
  if (typeof r !== "object" || r === null) return "not an object";
  const keys = Object.keys(r).sort().join(",");
  const rec = r as Record<string, unknown>;
  if (rec.ok === true) {
    if (keys !== "ok,value") return `ok result has keys ${keys}`;
    return rec.value === undefined ? "ok result without a value" : null;
  }
  if (rec.ok !== false) return "ok is not a boolean";
  if (keys !== "error,ok") return `failed result has keys ${keys}`;
  const err = rec.error;
  if (typeof err !== "object" || err === null) return "error is not an object";
  const e = err as Record<string, unknown>;
  if (Object.keys(e).sort().join(",") !== "message,reason") return "error has other keys";
  if (typeof e.message !== "string" || e.message === "") return "error message is not a non-empty string";
  if (!(PROBLEM_REASONS as readonly unknown[]).includes(e.reason))
    return `unknown reason ${String(e.reason)}`;
  return null;
}

/** Calls the parser; a throw is reported as a value so loops can collect failures. */
export function safeCall<T>(
  parse: (text: string) => Parsed<T>,
  text: string,
): Parsed<T> | { thrown: string } {
  try {
    return parse(text);
  } catch (err: unknown) {
    return { thrown: err instanceof Error ? `${err.name}: ${err.message}` : "non-error thrown" };
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed corpus

/** Bytes that are not UTF-8, decoded the way a reader with `readFile(path, "utf8")` sees them. */
export const INVALID_UTF8_TEXT = Buffer.from([
  0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x80, 0x7d,
]).toString("utf8");
/**
 * The timeout of a heavy property or robustness case: what one takes on a 2-core machine with
 * other CPU-bound work beside it, with room to spare (vitest's 5 s default assumes an idle one).
 */
export const HEAVY_TIMEOUT_MS = 60_000;

export const DEEP = 100_000;
export const DEEP_ARRAY = "[".repeat(DEEP) + "]".repeat(DEEP);
export const DEEP_OBJECT = '{"a":'.repeat(DEEP) + "1" + "}".repeat(DEEP);
/** 4 MiB of one character, as a JSON string literal. */
export const HUGE_STRING_JSON = JSON.stringify("x".repeat(4 * 1024 * 1024));

export type TopLevel = "object" | "array";

/**
 * Inputs every parser must answer without throwing, with the expected outcome for a parser of
 * an object file (state.json, config.json, ...) or of an array file (mounts.json, devices.json).
 */
export function malformedCorpus(top: TopLevel): (readonly [name: string, text: string, expected: string])[] {
  const obj = top === "object";
  return [
    ["empty string", "", "empty"],
    ["whitespace only", " \n\t\r ", "empty"],
    ["null", "null", obj ? "schema" : "ok"],
    ["empty array", "[]", obj ? "schema" : "ok"],
    ["empty object", "{}", obj ? "ok" : "schema"],
    ["a JSON string", '"string"', "schema"],
    ["zero", "0", "schema"],
    ["negative float", "-1.5", "schema"],
    ["number beyond float range", "1e400", "schema"],
    ["huge integer", "123456789012345678901234567890", "schema"],
    ["true", "true", "schema"],
    ["false", "false", "schema"],
    ["invalid UTF-8 decoded with replacement characters", INVALID_UTF8_TEXT, "invalid_json"],
    ["a byte-order mark before the document", `\ufeff${obj ? "{}" : "[]"}`, "invalid_json"],
    ["trailing garbage", `${obj ? "{}" : "[]"} x`, "invalid_json"],
    ["single quotes", obj ? "{'a':1}" : "['a']", "invalid_json"],
    ["a NUL byte", obj ? '{"a":\u00001}' : "[\u0000]", "invalid_json"],
    ["cut short", obj ? '{"a":' : "[{", "truncated"],
    ["cut short with trailing newline", obj ? '{"a":1\n' : "[1,\n", "truncated"],
    ["valid with surrounding whitespace", obj ? "\n {} \n" : "\n [] \n", obj ? "ok" : "ok"],
    ["deeply nested arrays", DEEP_ARRAY, obj ? "schema" : "schema"],
    ["deeply nested objects", DEEP_OBJECT, obj ? "ok" : "schema"],
    ["a 4 MiB string", HUGE_STRING_JSON, "schema"],
  ];
}

// ---------------------------------------------------------------------------------------------
// Truncation at every byte offset

/**
 * Parses every prefix of `bytes` (cut at each byte offset, decoded as UTF-8 like a reader of a
 * file that is being rewritten) and returns the offsets whose outcome is not the expected one:
 * offset 0 is `empty`, every other proper prefix `truncated`, the whole file ok.
 */
export function truncationFailures<T>(parse: (text: string) => Parsed<T>, bytes: Buffer): string[] {
  const failures: string[] = [];
  for (let i = 0; i <= bytes.length; i++) {
    const r = safeCall(parse, bytes.subarray(0, i).toString("utf8"));
    const got = "thrown" in r ? `threw ${r.thrown}` : outcome(r);
    const want = i === bytes.length ? "ok" : i === 0 ? "empty" : "truncated";
    if (got !== want) failures.push(`offset ${i}/${bytes.length}: ${got}, want ${want}`);
    if (failures.length > 20) break;
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Generic robustness suite (malformed corpus, truncation, fast-check properties (a) and (b))

export interface RobustnessOptions {
  readonly top: TopLevel;
  /** Real files of the example tree this parser reads; each is truncated at every byte. */
  readonly realFiles: readonly string[];
  /** Outcomes that differ from `malformedCorpus(top)`, by corpus entry name. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** Key names the parser reads, used to build near-schema random documents. */
  readonly knownKeys: readonly string[];
  readonly numRuns?: number;
}

const jsonText = (v: unknown): string => JSON.stringify(v) ?? "null";

/** Random JSON documents whose objects use the parser's own key names at any depth. */
export function nearSchemaArbitrary(keys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 6 }));
  const tree = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.jsonValue({ maxDepth: 1 }),
      fc.dictionary(key, tie("node"), { maxKeys: 6 }),
      fc.array(tie("node"), { maxLength: 3 }),
    ),
  }));
  return tree.node.map(jsonText);
}

export function describeRobustness<T>(
  name: string,
  parse: (text: string) => Parsed<T>,
  opts: RobustnessOptions,
): void {
  const numRuns = opts.numRuns ?? 200;
  describe(`${name}: robustness`, () => {
    it.each(malformedCorpus(opts.top))("%s", (label, text, expected) => {
      const r = safeCall(parse, text);
      if ("thrown" in r) throw new Error(`threw on ${label}: ${r.thrown}`);
      expect(shapeProblem(r)).toBeNull();
      expect(outcome(r)).toBe(opts.overrides?.[label] ?? expected);
    });

    // One case per key (three parses of 4 MiB / 100000-deep inputs each), with a timeout for a
    // busy 2-core machine: the work is bounded per case, the time it takes is not.
    it.each(opts.knownKeys.map((k) => [k] as const))(
      "a 4 MiB string, 100000 nested arrays or objects as the value of %s",
      (key) => {
        const bad: string[] = [];
        for (const [label, value] of [
          ["string", HUGE_STRING_JSON],
          ["arrays", DEEP_ARRAY],
          ["objects", DEEP_OBJECT],
        ] as const) {
          const obj = `{${JSON.stringify(key)}:${value}}`;
          const r = safeCall(parse, opts.top === "object" ? obj : `[${obj}]`);
          const problem = "thrown" in r ? `threw ${r.thrown}` : shapeProblem(r);
          if (problem !== null) bad.push(`${key} (${label}): ${problem}`);
          else if (!("thrown" in r) && !r.ok && r.error.reason !== "schema")
            bad.push(`${key} (${label}): ${r.error.reason}`);
        }
        expect(bad).toEqual([]);
      },
      HEAVY_TIMEOUT_MS,
    );

    it.each(opts.realFiles.map((f) => [f.slice(HOST.length + 1), f] as const))(
      "every byte-prefix of %s is empty/truncated, the whole file parses",
      (_rel, file) => {
        expect(truncationFailures(parse, readBytes(file))).toEqual([]);
      },
      // quadratic in the file size: up to tens of seconds on a loaded machine
      2 * HEAVY_TIMEOUT_MS,
    );

    it(
      "(a)+(b) never throws and returns a well-formed result on any string",
      { timeout: HEAVY_TIMEOUT_MS },
      () => {
        fc.assert(
          fc.property(
            fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.json(), fc.anything().map(jsonText)),
            (text) => {
              const r = safeCall(parse, text);
              expect("thrown" in r ? r.thrown : shapeProblem(r)).toBeNull();
            },
          ),
          { numRuns },
        );
      },
    );

    it(
      "(a)+(b) never throws on near-schema documents (known keys, random values)",
      { timeout: HEAVY_TIMEOUT_MS },
      () => {
        fc.assert(
          fc.property(nearSchemaArbitrary(opts.knownKeys), (text) => {
            const r = safeCall(parse, text);
            expect("thrown" in r ? r.thrown : shapeProblem(r)).toBeNull();
          }),
          { numRuns },
        );
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Wrong types

export type FieldKind = "string" | "uint" | "int" | "bool" | "object" | "array" | "stringMap";

/** Values of every JSON type except `kind` (and except null, which means "missing"). */
export function wrongValues(kind: FieldKind): Json[] {
  const all: Record<string, Json> = {
    string: "1",
    number: 1,
    bool: true,
    object: { a: 1 },
    array: [1],
  };
  const skip: Record<FieldKind, readonly string[]> = {
    string: ["string"],
    uint: ["number"],
    int: ["number"],
    bool: ["bool"],
    object: ["object"],
    stringMap: ["object"],
    array: ["array"],
  };
  const out = Object.entries(all)
    .filter(([k]) => !skip[kind].includes(k))
    .map(([, v]) => v);
  if (kind === "uint") out.push(-1, 1.5, 2 ** 53, 1e300);
  if (kind === "int") out.push(1.5, 2 ** 53, -(2 ** 53));
  if (kind === "stringMap") out.push({ k: 1 }, { k: null }, { k: ["v"] });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Documents rendered with shuffled keys and unknown extra keys (property (c))

/** An object node; `extras` says which unknown entries may be added ("string": a map[string]string). */
export class DocObj {
  constructor(
    readonly entries: readonly (readonly [string, Doc])[],
    readonly extras: "any" | "string" | "none" = "any",
  ) {}
}
export class DocArr {
  constructor(readonly items: readonly Doc[]) {}
}
/** A document embedded as a JSON string (the OCI spec inside an annotation). */
export class DocStr {
  constructor(readonly doc: Doc) {}
}
export type Doc = DocObj | DocArr | DocStr | Json;

/** Object node from a record (declared order; values are Docs or plain JSON leaves). */
export function dobj(
  fields: Readonly<Record<string, Doc>>,
  extras: "any" | "string" | "none" = "any",
): DocObj {
  return new DocObj(Object.entries(fields), extras);
}
export function darr(items: readonly Doc[]): DocArr {
  return new DocArr(items);
}

export interface Noise {
  /** Deterministic random numbers in [0, 1). */
  readonly random: () => number;
  /** Candidate unknown keys (already free of every key a parser reads). */
  readonly keys: readonly string[];
  readonly values: readonly Json[];
}

/** A small seeded PRNG (mulberry32), so the noise is reproducible from a fast-check seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON text of a document; with `noise`, unknown keys are added and every object's keys shuffled. */
export function render(doc: Doc, noise?: Noise): string {
  if (doc instanceof DocArr) return `[${doc.items.map((d) => render(d, noise)).join(",")}]`;
  if (doc instanceof DocStr) return JSON.stringify(render(doc.doc, noise));
  if (doc instanceof DocObj) {
    const entries: [string, string][] = doc.entries.map(([k, v]) => [k, render(v, noise)]);
    if (noise !== undefined) {
      if (doc.extras !== "none" && noise.keys.length > 0) {
        const count = Math.floor(noise.random() * 4);
        for (let i = 0; i < count; i++) {
          const key = noise.keys[Math.floor(noise.random() * noise.keys.length)];
          const value = noise.values[Math.floor(noise.random() * noise.values.length)] ?? null;
          if (key === undefined || entries.some(([k]) => k === key)) continue;
          entries.push([key, JSON.stringify(doc.extras === "string" ? JSON.stringify(value) : value)]);
        }
      }
      for (let i = entries.length - 1; i > 0; i--) {
        const j = Math.floor(noise.random() * (i + 1));
        const a = entries[i];
        const b = entries[j];
        if (a !== undefined && b !== undefined) {
          entries[i] = b;
          entries[j] = a;
        }
      }
    }
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
  }
  return JSON.stringify(doc);
}

/**
 * Every key name any parser of src/format reads (including alternative spellings of other
 * versions and the identity annotation keys). Unknown extra keys are drawn outside this set.
 */
// prettier-ignore
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  // state.json
  "state", "blockIndex", "fstype", "hotpluggedDrive", "ProxyPid", "url",
  // agent.json / process.json / hypervisor.json
  "URL", "Token", "Pid", "StartTime", "UUID", "HotpluggedVCPUs", "Bridges",
  // mounts.json / devices.json
  "Source", "Destination", "Type", "HostPath", "Options", "ReadOnly", "Data", "DeviceType", "DevType",
  "DeviceInfo", "ContainerPath", "Major", "Minor", "Hotplugged", "ID", "BDF", "SCSIAddr", "VirtPath",
  // network.json
  "NetNsPath", "NetNsCreated", "Endpoints", "EndpointProperties", "Iface", "Name", "IfaceName", "Addrs", "IP",
  // container config
  "RootFs", "Annotations", "Mounts", "DeviceInfos", "Resources", "CPUQuota", "CPUPeriod", "CPUShares", "cpu",
  "quota", "period", "shares", "Cmd",
  // pod config
  "Hostname", "HypervisorType", "AgentType", "ProxyType", "ShimType", "NetworkModel", "HypervisorConfig",
  "DefaultVCPUs", "NumVCPUs", "DefaultMaxVCPUs", "DefaultMemSz", "MemorySize", "VMConfig", "Memory", "VCPUs",
  "NetworkConfig", "NetNSPath", "Containers",
  // embedded OCI spec and identity
  "annotations", "name", "uid", "namespace",
  "com.github.containers.virtcontainers.pkg.oci.config",
  "com.github.containers.virtcontainers.pkg.oci.bundle_path",
  "com.github.containers.virtcontainers.pkg.oci.container_type",
  "io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id", "io.kubernetes.cri.sandbox-name",
  "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.container-name",
  "io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID",
  "io.kubernetes.cri-o.KubeName", "io.kubernetes.cri-o.Metadata", "io.kubernetes.cri-o.ImageName",
  "io.kubernetes.cri-o.Image", "io.kubernetes.cri-o.Created", "io.kubernetes.docker.type",
  "io.kubernetes.sandbox.id", "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
  "io.kubernetes.container.name",
]);

/** Noise for property (c): a seed plus pools of unknown keys and arbitrary JSON values. */
export const noiseArbitrary: fc.Arbitrary<Noise> = fc
  .record({
    seed: fc.integer(),
    keys: fc.array(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.string({ unit: "binary", minLength: 1, maxLength: 8 }),
        fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "id", "state ", "Id"),
      ),
      { minLength: 1, maxLength: 8 },
    ),
    values: fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 5 }),
  })
  .map(({ seed, keys, values }) => ({
    random: seededRandom(seed),
    keys: keys.filter((k) => !KNOWN_KEYS.has(k)),
    values: values as Json[],
  }));

/**
 * Property (c): a valid-shaped document parses to `expected`, and to the same value once unknown
 * keys are added at every level and every object's keys are shuffled.
 */
export function roundTripProperty<T, G>(
  parse: (text: string) => Parsed<T>,
  gen: fc.Arbitrary<G>,
  toDoc: (g: G) => Doc,
  check: (value: T, g: G) => void,
  numRuns = 100,
): void {
  fc.assert(
    fc.property(gen, noiseArbitrary, (g, noise) => {
      const doc = toDoc(g);
      const plain = parse(render(doc));
      const value = okValue(plain);
      check(value, g);
      const noisy = parse(render(doc, noise));
      expect(noisy).toEqual(plain);
    }),
    { numRuns },
  );
}

// ---------------------------------------------------------------------------------------------
// Shared arbitraries

/** Printable strings without anything JSON or Go would escape. */
export const plainString = fc.string({ maxLength: 20 });
export const nat32 = fc.nat({ max: 2 ** 31 - 1 });

/** An RFC 3339 UTC time as Go writes it (nanoseconds, trailing zeros removed). */
export const goTime: fc.Arbitrary<string> = fc
  .record({
    ms: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }),
    nanos: fc.integer({ min: 0, max: 999_999_999 }),
  })
  .map(({ ms, nanos }) => {
    const base = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
    const frac = String(nanos).padStart(9, "0").replace(/0+$/, "");
    return `${base}${frac === "" ? "" : `.${frac}`}Z`;
  });

/**
 * Each used top-level field of `base`, set to every value of a wrong type, makes `parse`
 * fail with a schema error naming the field and the type it expects.
 */
export function itRejectsWrongTypes(
  parse: (text: string) => unknown,
  base: Json,
  fields: readonly (readonly [key: string, kind: FieldKind, expected: string])[],
): void {
  const cases = fields.flatMap(([key, kind, expected]) =>
    wrongValues(kind).map((v) => [key, JSON.stringify(v), v, expected] as const),
  );
  it.each(cases)("%s = %s", (key, _shown, value, expected) => {
    expect(parse(JSON.stringify(withPath(base, [key], value)))).toEqual({
      ok: false,
      error: { reason: "schema", message: `$.${key}: expected ${expected}` },
    });
  });
}
