import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { knownPid, parseProcess } from "../../../src/format/process.js";
import {
  DEEP_ARRAY,
  INFER,
  LOADER,
  POD1,
  POD2,
  SECRET,
  describeRobustness,
  dobj,
  errorOf,
  goTime,
  nat32,
  okValue,
  readText,
  roundTripProperty,
  runFile,
  type Json,
  itRejectsWrongTypes,
} from "./helpers.js";

const REAL_FILES = [
  runFile(POD1, POD1, "process.json"),
  runFile(POD1, INFER, "process.json"),
  runFile(POD1, LOADER, "process.json"),
  runFile(POD2, POD2, "process.json"),
];

describe("parseProcess on the example tree", () => {
  it("pod 1 sandbox: shim PID and create time with nanoseconds", () => {
    const v = okValue(parseProcess(readText(runFile(POD1, POD1, "process.json"))));
    expect(v.pid).toBe(20543);
    expect(v.startTime).toBe("2018-03-21T09:14:07.521907514Z");
    expect((v.startTimeSeconds ?? 0) - 1521623647).toBeCloseTo(0.521907514, 6);
    expect(Object.keys(v).sort()).toEqual(["pid", "startTime", "startTimeSeconds"]);
  });

  it.each([
    [POD1, INFER, 20811, "2018-03-21T09:14:12.083615927Z", 1521623652, 0.083615927],
    [POD1, LOADER, 20907, "2018-03-21T09:14:13.90412863Z", 1521623653, 0.90412863],
    [POD2, POD2, 31744, "2018-03-21T10:02:44.31877215Z", 1521626564, 0.31877215],
  ])("%s/%s", (pod, ctr, pid, startTime, whole, frac) => {
    const v = okValue(parseProcess(readText(runFile(pod, ctr, "process.json"))));
    expect(v.pid).toBe(pid);
    expect(v.startTime).toBe(startTime);
    expect((v.startTimeSeconds ?? 0) - whole).toBeCloseTo(frac, 6);
  });

  it("drops the I/O token of every real file", () => {
    for (const file of REAL_FILES) {
      const text = readText(file);
      const token = (JSON.parse(text) as { Token: string }).Token;
      expect(token.length).toBe(44);
      expect(JSON.stringify(parseProcess(text))).not.toContain(token);
    }
  });
});

describe("parseProcess: variants", () => {
  it.each([
    [
      "Go zero time",
      '{"Token":"t","Pid":1,"StartTime":"0001-01-01T00:00:00Z"}',
      1,
      "0001-01-01T00:00:00Z",
      null,
    ],
    ["no StartTime (before 2017-05-10)", '{"Token":"t","Pid":2}', 2, "", null],
    ["junk time", '{"Pid":3,"StartTime":"yesterday"}', 3, "yesterday", null],
    [
      "whole seconds",
      '{"StartTime":"2018-03-21T09:14:07Z","Pid":4,"Token":"t"}',
      4,
      "2018-03-21T09:14:07Z",
      1521623647,
    ],
    [
      "kata exec ID as token",
      `{"Token":"${INFER}","Pid":5,"StartTime":"2018-03-21T09:14:07Z"}`,
      5,
      "2018-03-21T09:14:07Z",
      1521623647,
    ],
    ["null everywhere", '{"Token":null,"Pid":null,"StartTime":null}', 0, "", null],
  ])("%s", (_label, text, pid, startTime, seconds) => {
    expect(parseProcess(text)).toEqual({ ok: true, value: { pid, startTime, startTimeSeconds: seconds } });
  });

  it("never outputs the Token, whatever its type (it is not read)", () => {
    for (const token of [SECRET, { v: SECRET }, [SECRET], 12345]) {
      const r = parseProcess(JSON.stringify({ Token: token, Pid: 1, StartTime: "2018-03-21T09:14:07Z" }));
      expect(okValue(r).pid).toBe(1);
      expect(JSON.stringify(r)).not.toContain(SECRET);
    }
    const failed = parseProcess(JSON.stringify({ Token: SECRET, Pid: "1" }));
    expect(errorOf(failed).reason).toBe("schema");
    expect(JSON.stringify(failed)).not.toContain(SECRET);
  });

  it("a deeply nested value of a used field is a schema error", () => {
    expect(errorOf(parseProcess(`{"Pid":${DEEP_ARRAY}}`))).toEqual({
      reason: "schema",
      message: "$.Pid: expected a non-negative integer",
    });
  });
});

describe("parseProcess: wrong types of every used field", () => {
  itRejectsWrongTypes(parseProcess, JSON.parse(readText(runFile(POD1, INFER, "process.json"))) as Json, [
    ["Pid", "uint", "a non-negative integer"],
    ["StartTime", "string", "a string"],
  ]);
});

describe("parseProcess: property (c)", () => {
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseProcess,
      fc.record({ token: fc.base64String({ minLength: 44, maxLength: 44 }), pid: nat32, start: goTime }),
      (g) => dobj({ Token: g.token, Pid: g.pid, StartTime: g.start }),
      (v, g) => {
        expect(v.pid).toBe(g.pid);
        expect(v.startTime).toBe(g.start);
        expect(v.startTimeSeconds).toBeCloseTo(Date.parse(g.start) / 1000, 2);
        expect(JSON.stringify(v)).not.toContain(g.token);
      },
      300,
    );
  });
});

describeRobustness("parseProcess", parseProcess, {
  top: "object",
  realFiles: REAL_FILES,
  knownKeys: ["Token", "Pid", "StartTime"],
});

describe("knownPid", () => {
  const p = (pid: number, startTime: string) => ({ pid, startTime, startTimeSeconds: null });
  it("Pid 0 with the zero time (written before a process exists) is unknown", () => {
    // Kata 1.10.8 with the noop shim writes exactly this (test/fixtures/upstream/kata-1.10).
    const v = okValue(parseProcess('{"Token":"","Pid":0,"StartTime":"0001-01-01T00:00:00Z"}'));
    expect(v.startTimeSeconds).toBeNull();
    expect(knownPid(v)).toBeNull();
  });
  it("-1 (shim v2: no per-container shim) and a missing file are unknown", () => {
    expect(knownPid(p(-1, ""))).toBeNull();
    expect(knownPid(null)).toBeNull();
  });
  it("a positive PID is kept", () => {
    expect(knownPid(p(20811, "2018-03-21T09:14:12.08Z"))).toBe(20811);
  });
});
