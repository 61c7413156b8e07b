import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  arrOrNull,
  asObj,
  bool,
  each,
  int,
  isObj,
  objOrNull,
  rfc3339ToSeconds,
  str,
  strOrNull,
  stringMapOrNull,
  uint,
  uintOrNull,
  type Obj,
} from "../../../src/format/decode.js";
import { SchemaError } from "../../../src/format/result.js";
import { goTime } from "./helpers.js";

/** The SchemaError thrown by `fn` (fails the test if it returns or throws anything else). */
function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
  throw new Error("expected a SchemaError");
}

describe("isObj / asObj", () => {
  it("accepts plain objects only", () => {
    expect(isObj({})).toBe(true);
    expect(isObj({ a: 1 })).toBe(true);
    expect(isObj([])).toBe(false);
    expect(isObj(null)).toBe(false);
    expect(isObj("x")).toBe(false);
    expect(isObj(1)).toBe(false);
    expect(isObj(undefined)).toBe(false);
  });

  it("asObj returns the object or throws with the path", () => {
    const o = { a: 1 };
    expect(asObj(o, "$")).toBe(o);
    const e = schemaError(() => asObj([], "$.Containers[0]"));
    expect(e.message).toBe("$.Containers[0]: expected an object");
    expect(schemaError(() => asObj(null, "$")).path).toBe("$");
  });
});

describe("objOrNull / arrOrNull", () => {
  const o: Obj = { obj: { x: 1 }, arr: [1, 2], nul: null, str: "s", num: 1 };

  it("missing and null are null", () => {
    expect(objOrNull(o, "missing", "$")).toBeNull();
    expect(objOrNull(o, "nul", "$")).toBeNull();
    expect(arrOrNull(o, "missing", "$")).toBeNull();
    expect(arrOrNull(o, "nul", "$")).toBeNull();
  });

  it("return the value of the right type", () => {
    expect(objOrNull(o, "obj", "$")).toEqual({ x: 1 });
    expect(arrOrNull(o, "arr", "$")).toEqual([1, 2]);
    expect(arrOrNull({ empty: [] }, "empty", "$")).toEqual([]);
  });

  it("a present value of another type is a schema error naming the key path", () => {
    expect(schemaError(() => objOrNull(o, "arr", "$.VMConfig")).message).toBe(
      "$.VMConfig.arr: expected an object",
    );
    expect(schemaError(() => objOrNull(o, "str", "$")).message).toBe("$.str: expected an object");
    expect(schemaError(() => arrOrNull(o, "obj", "$")).message).toBe("$.obj: expected an array");
    expect(schemaError(() => arrOrNull(o, "num", "$")).message).toBe("$.num: expected an array");
  });
});

describe("str / strOrNull / bool", () => {
  const o: Obj = { s: "v", e: "", n: null, num: 1, b: true, f: false, arr: ["v"] };

  it("str defaults missing and null to the fallback", () => {
    expect(str(o, "s", "$")).toBe("v");
    expect(str(o, "e", "$", "fb")).toBe("");
    expect(str(o, "missing", "$")).toBe("");
    expect(str(o, "n", "$")).toBe("");
    expect(str(o, "missing", "$", "fb")).toBe("fb");
  });

  it("strOrNull keeps missing/null distinct from empty", () => {
    expect(strOrNull(o, "s", "$")).toBe("v");
    expect(strOrNull(o, "e", "$")).toBe("");
    expect(strOrNull(o, "missing", "$")).toBeNull();
    expect(strOrNull(o, "n", "$")).toBeNull();
  });

  it("rejects non-strings", () => {
    expect(schemaError(() => str(o, "num", "$")).message).toBe("$.num: expected a string");
    expect(schemaError(() => str(o, "arr", "$")).message).toBe("$.arr: expected a string");
    expect(schemaError(() => strOrNull(o, "b", "$.x")).message).toBe("$.x.b: expected a string");
  });

  it("bool", () => {
    expect(bool(o, "b", "$")).toBe(true);
    expect(bool(o, "f", "$", true)).toBe(false);
    expect(bool(o, "missing", "$")).toBe(false);
    expect(bool(o, "n", "$", true)).toBe(true);
    expect(schemaError(() => bool(o, "s", "$")).message).toBe("$.s: expected a boolean");
    expect(schemaError(() => bool(o, "num", "$")).message).toBe("$.num: expected a boolean");
  });
});

describe("uint / uintOrNull / int", () => {
  it("uint accepts non-negative safe integers and defaults missing/null", () => {
    expect(uint({ v: 0 }, "v", "$")).toBe(0);
    expect(uint({ v: 20543 }, "v", "$")).toBe(20543);
    expect(uint({ v: Number.MAX_SAFE_INTEGER }, "v", "$")).toBe(Number.MAX_SAFE_INTEGER);
    expect(uint({}, "v", "$")).toBe(0);
    expect(uint({ v: null }, "v", "$", 7)).toBe(7);
    expect(uintOrNull({}, "v", "$")).toBeNull();
    expect(uintOrNull({ v: null }, "v", "$")).toBeNull();
    expect(uintOrNull({ v: 0 }, "v", "$")).toBe(0);
  });

  it.each([[-1], [1.5], [2 ** 53], [1e300], ["1"], [true], [[1]], [{}]])("uint rejects %j", (v) => {
    expect(schemaError(() => uint({ v }, "v", "$.P")).message).toBe("$.P.v: expected a non-negative integer");
    expect(() => uintOrNull({ v }, "v", "$")).toThrow(SchemaError);
  });

  it("int accepts negative safe integers", () => {
    expect(int({ v: -1 }, "v", "$")).toBe(-1);
    expect(int({ v: -(2 ** 53 - 1) }, "v", "$")).toBe(-(2 ** 53 - 1));
    expect(int({}, "v", "$", 5)).toBe(5);
    expect(int({ v: null }, "v", "$")).toBe(0);
  });

  it.each([[1.5], [2 ** 53], [-(2 ** 53)], ["-1"], [false], [{}]])("int rejects %j", (v) => {
    expect(schemaError(() => int({ v }, "v", "$")).message).toBe("$.v: expected an integer");
  });
});

describe("stringMapOrNull", () => {
  it("returns a map of strings, null when missing or null", () => {
    expect(stringMapOrNull({ a: { k: "v", e: "" } }, "a", "$")).toEqual({ k: "v", e: "" });
    expect(stringMapOrNull({ a: {} }, "a", "$")).toEqual({});
    expect(stringMapOrNull({}, "a", "$")).toBeNull();
    expect(stringMapOrNull({ a: null }, "a", "$")).toBeNull();
  });

  it("a non-string value names the key (quoted) in the path", () => {
    expect(schemaError(() => stringMapOrNull({ a: { "x.y": 1 } }, "a", "$")).message).toBe(
      '$.a["x.y"]: expected a string',
    );
    expect(schemaError(() => stringMapOrNull({ a: { k: null } }, "a", "$")).message).toBe(
      '$.a["k"]: expected a string',
    );
    expect(schemaError(() => stringMapOrNull({ a: ["v"] }, "a", "$")).message).toBe(
      "$.a: expected an object",
    );
  });
});

describe("each", () => {
  it("decodes every element with its index path, [] for missing/null", () => {
    const paths: string[] = [];
    const out = each({ xs: [1, 2, 3] }, "xs", "$.P", (v, p) => {
      paths.push(p);
      return Number(v) * 2;
    });
    expect(out).toEqual([2, 4, 6]);
    expect(paths).toEqual(["$.P.xs[0]", "$.P.xs[1]", "$.P.xs[2]"]);
    expect(each({}, "xs", "$", () => 1)).toEqual([]);
    expect(each({ xs: null }, "xs", "$", () => 1)).toEqual([]);
    expect(() => each({ xs: {} }, "xs", "$", () => 1)).toThrow(SchemaError);
  });
});

describe("rfc3339ToSeconds", () => {
  it("keeps the nanoseconds Go writes (Date keeps only milliseconds)", () => {
    const t = rfc3339ToSeconds("2018-03-21T09:14:07.521907514Z");
    expect(t).not.toBeNull();
    expect((t ?? 0) - 1521623647).toBeCloseTo(0.521907514, 6);
    const a = rfc3339ToSeconds("2018-03-21T09:14:13.9041Z") ?? 0;
    const b = rfc3339ToSeconds("2018-03-21T09:14:13.90412863Z") ?? 0;
    expect(b - a).toBeCloseTo(0.00002863, 6);
    expect(b).toBeGreaterThan(a);
  });

  it("whole seconds and offsets", () => {
    expect(rfc3339ToSeconds("2018-03-21T09:14:07Z")).toBe(1521623647);
    expect(rfc3339ToSeconds("2018-03-21T10:14:07+01:00")).toBe(1521623647);
    expect(rfc3339ToSeconds("2018-03-21T04:14:07-05:00")).toBe(1521623647);
    expect(rfc3339ToSeconds("1970-01-01T00:00:00Z")).toBe(0);
  });

  it.each([
    ["Go zero time", "0001-01-01T00:00:00Z"],
    ["empty", ""],
    ["garbage", "yesterday"],
    ["date only", "2018-03-21"],
    ["space separator", "2018-03-21 09:14:07Z"],
    ["no zone", "2018-03-21T09:14:07"],
    ["lower-case zone", "2018-03-21T09:14:07z"],
    ["month 13", "2018-13-21T09:14:07Z"],
    ["hour 25", "2018-03-21T25:14:07Z"],
    ["trailing text", "2018-03-21T09:14:07Z SECRET"],
    ["leading text", "x2018-03-21T09:14:07Z"],
  ])("%s gives null", (_label, text) => {
    expect(rfc3339ToSeconds(text)).toBeNull();
  });

  it("property: Go-formatted times decode to whole seconds plus the fraction", () => {
    fc.assert(
      fc.property(goTime, (text) => {
        const whole = Date.parse(`${text.slice(0, 19)}Z`) / 1000;
        const frac = /\.(\d+)Z$/.exec(text)?.[1];
        const expected = whole + (frac === undefined ? 0 : Number(`0.${frac}`));
        expect(rfc3339ToSeconds(text)).toBeCloseTo(expected, 5);
      }),
      { numRuns: 300 },
    );
  });

  it("property: never throws on any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const v = rfc3339ToSeconds(text);
        expect(v === null || Number.isFinite(v)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
