import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  PROBLEM_REASONS,
  SchemaError,
  decodeText,
  decodeValue,
  fail,
  ok,
  parseJsonText,
  type Parsed,
} from "../../../src/format/result.js";
import {
  HOST,
  INVALID_UTF8_TEXT,
  SECRET,
  errorOf,
  okValue,
  outcome,
  readBytes,
  shapeProblem,
} from "./helpers.js";

describe("PROBLEM_REASONS", () => {
  it("lists exactly the bounded set of reasons (they become metric labels)", () => {
    expect([...PROBLEM_REASONS]).toEqual([
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
    ]);
    expect(new Set(PROBLEM_REASONS).size).toBe(PROBLEM_REASONS.length);
  });
});

describe("ok / fail", () => {
  it("build the two result shapes", () => {
    expect(ok(42)).toEqual({ ok: true, value: 42 });
    expect(fail("schema", "$.x: expected a string")).toEqual({
      ok: false,
      error: { reason: "schema", message: "$.x: expected a string" },
    });
  });
});

describe("SchemaError", () => {
  it("carries the key path and the expectation, and names them in its message", () => {
    const e = new SchemaError("$.Containers[2].ID", "a string");
    expect(e).toBeInstanceOf(Error);
    expect(e.path).toBe("$.Containers[2].ID");
    expect(e.expected).toBe("a string");
    expect(e.message).toBe("$.Containers[2].ID: expected a string");
  });
});

describe("parseJsonText", () => {
  it("parses compact Go JSON, including HTML-escaped characters", () => {
    expect(okValue(parseJsonText('{"a":"x \\u0026\\u0026 y \\u003cz\\u003e \\u2028"}'))).toEqual({
      a: "x && y <z> \u2028",
    });
    expect(okValue(parseJsonText("null"))).toBeNull();
    expect(okValue(parseJsonText(" [1] \n"))).toEqual([1]);
  });

  it.each([
    ["", "empty"],
    [" ", "empty"],
    ["\n\t\r ", "empty"],
  ])("%j is an empty file", (text, reason) => {
    expect(parseJsonText(text)).toEqual({ ok: false, error: { reason, message: "file is empty" } });
  });

  it.each([
    '{"a":',
    '{"a"',
    '{"a":1',
    '{"a":1,',
    '{"a":"abc',
    '{"a":"ab\\',
    '{"a":"\\u00',
    '{"a":-',
    '{"a":1.',
    '{"a":1e',
    '{"a":1e+',
    '{"a":t',
    '{"a":tru',
    '{"a":n',
    '{"a":[1,',
    "[",
    "[{",
    "nul",
    '{"a":1 \n\t\r',
  ])("%j stops early: truncated", (text) => {
    expect(parseJsonText(text)).toEqual({
      ok: false,
      error: { reason: "truncated", message: "JSON ends before the document is complete" },
    });
  });

  it.each([
    ['{"a":1}}', "invalid JSON at position 7"],
    ['{"a":1} x', "invalid JSON at position 8"],
    ['{"a":"\\u00zz"}', "invalid JSON at position 10"],
    ['{"a":"b\u0001"}', "invalid JSON at position 7"],
    ["{'a':1}", "invalid JSON at position 1"],
    ['{"a":1,}', "invalid JSON at position 7"],
    ["undefined", "invalid JSON"],
    [INVALID_UTF8_TEXT, "invalid JSON"],
    ["\ufeff{}", "invalid JSON"],
  ])("%j is broken, not cut short: invalid_json (%s)", (text, message) => {
    expect(parseJsonText(text)).toEqual({ ok: false, error: { reason: "invalid_json", message } });
  });

  it("never quotes file content in the error message", () => {
    const cases = [
      `{"password": ${SECRET}}`,
      SECRET,
      `["${SECRET}" x]`,
      `{"k":"${SECRET}","x":}`,
      `{"k":"${SECRET}\u0001"}`,
      `{"${SECRET}" 1}`,
    ];
    for (const text of cases) {
      const e = errorOf(parseJsonText(text));
      expect(e.reason).toBe("invalid_json");
      expect(e.message).not.toContain(SECRET);
      expect(e.message).not.toContain("SECRET");
      expect(e.message).toMatch(/^invalid JSON( at position \d+)?$/);
    }
  });

  // Regression: V8's "Unexpected token" message quotes the input; matching "position N" or
  // "Unterminated string" anywhere in it let the file content choose the reason and the
  // reported position.
  it.each([
    ["xposition 99999", "invalid JSON"],
    ["position 5", "invalid JSON"],
    ["xUnterminated string", "invalid JSON"],
    ["Unexpected end of JSON input", "invalid JSON"],
    ["{x: in JSON at position 999}", "invalid JSON at position 1"],
  ])("content %j cannot make a broken file look truncated (%s)", (text, message) => {
    expect(parseJsonText(text)).toEqual({ ok: false, error: { reason: "invalid_json", message } });
  });

  // Regression: only JSON whitespace may follow the end of a cut-short document; a trailing
  // U+00A0 (which String#trimEnd removed) is a stray character, not a truncation.
  it("treats a non-JSON space after the last value as invalid, not truncated", () => {
    expect(outcome(parseJsonText('{"a":1\u00a0'))).toBe("invalid_json");
    expect(outcome(parseJsonText('{"a":1\u2028'))).toBe("invalid_json");
    expect(outcome(parseJsonText('{"a":1 '))).toBe("truncated");
  });

  it("classifies long inner runs of spaces followed by junk as invalid", () => {
    expect(outcome(parseJsonText(`{"a":1${" ".repeat(200_000)}x`))).toBe("invalid_json");
    expect(outcome(parseJsonText(`{"a":1${" ".repeat(200_000)}`))).toBe("truncated");
  });

  it("parses 100000 nested arrays", () => {
    const v = okValue(parseJsonText("[".repeat(100_000) + "]".repeat(100_000)));
    expect(Array.isArray(v)).toBe(true);
  });

  it("property: valid JSON parses to JSON.parse's value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        expect(parseJsonText(text)).toEqual({ ok: true, value: JSON.parse(text) as unknown });
      }),
      { numRuns: 200 },
    );
  });

  it("property: every proper prefix of an object or array is empty or truncated (UTF-16 and UTF-8 cuts)", () => {
    const container = fc.oneof(
      fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 4 }),
      fc.dictionary(fc.string({ unit: "binary", maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), {
        minKeys: 1,
        maxKeys: 4,
      }),
    );
    fc.assert(
      fc.property(container, (v) => {
        const text = JSON.stringify(v);
        const bytes = Buffer.from(text, "utf8");
        const bad: string[] = [];
        for (let i = 0; i < text.length; i++) {
          const got = outcome(parseJsonText(text.slice(0, i)));
          if (got !== (i === 0 ? "empty" : "truncated")) bad.push(`char ${i}: ${got}`);
        }
        for (let i = 0; i < bytes.length; i++) {
          const got = outcome(parseJsonText(bytes.subarray(0, i).toString("utf8")));
          if (got !== (i === 0 ? "empty" : "truncated")) bad.push(`byte ${i}: ${got}`);
        }
        expect(bad).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it("property: never throws and always returns a well-formed result", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.json()), (text) => {
        const r = parseJsonText(text);
        expect(shapeProblem(r)).toBeNull();
        expect(["ok", "empty", "truncated", "invalid_json"]).toContain(outcome(r));
      }),
      { numRuns: 500 },
    );
  });

  it("reads a real example file", () => {
    const bytes = readBytes(
      `${HOST}/run/virtcontainers/pods/b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901/state.json`,
    );
    expect(okValue(parseJsonText(bytes.toString("utf8")))).toEqual({
      state: "running",
      blockIndex: 0,
      fstype: "",
      hotpluggedDrive: false,
    });
  });
});

describe("decodeText / decodeValue", () => {
  const decodeName = (v: unknown): string => {
    if (typeof v !== "object" || v === null || !("name" in v) || typeof v.name !== "string") {
      throw new SchemaError("$.name", "a string");
    }
    return v.name;
  };

  it("returns the decoded value", () => {
    expect(decodeText('{"name":"x"}', decodeName)).toEqual({ ok: true, value: "x" });
    expect(decodeValue({ name: "y" }, decodeName)).toEqual({ ok: true, value: "y" });
  });

  it("passes JSON problems through without running the decoder", () => {
    let calls = 0;
    const counting = (v: unknown): unknown => {
      calls++;
      return v;
    };
    expect(outcome(decodeText("", counting))).toBe("empty");
    expect(outcome(decodeText('{"a', counting))).toBe("truncated");
    expect(outcome(decodeText("{]", counting))).toBe("invalid_json");
    expect(calls).toBe(0);
  });

  it("turns a SchemaError into a schema problem with the path", () => {
    expect(decodeText('{"name":1}', decodeName)).toEqual({
      ok: false,
      error: { reason: "schema", message: "$.name: expected a string" },
    });
  });

  it("turns a RangeError (stack exhaustion) into a schema problem", () => {
    const r: Parsed<never> = decodeValue(null, () => {
      throw new RangeError("Maximum call stack size exceeded");
    });
    expect(r).toEqual({ ok: false, error: { reason: "schema", message: "value nested too deeply" } });
  });

  it("lets other errors (bugs) propagate", () => {
    expect(() =>
      decodeText("{}", () => {
        throw new TypeError("bug");
      }),
    ).toThrow(TypeError);
  });
});
