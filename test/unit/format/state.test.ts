import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { StateInfo } from "../../../src/format/model.js";
import { parseState, toVcState } from "../../../src/format/state.js";
import {
  DEEP_ARRAY,
  DEEP_OBJECT,
  INFER,
  LOADER,
  POD1,
  POD2,
  describeRobustness,
  dobj,
  errorOf,
  fixtureText,
  nat32,
  okValue,
  readText,
  roundTripProperty,
  runFile,
  type Json,
  itRejectsWrongTypes,
} from "./helpers.js";

const RUNNING: StateInfo = {
  state: "running",
  rawState: "running",
  blockIndex: 0,
  fstype: "",
  hotpluggedDrive: false,
  legacyProxyPid: null,
  legacyUrl: null,
};

const REAL_FILES = [
  runFile(POD1, "state.json"),
  runFile(POD1, POD1, "state.json"),
  runFile(POD1, INFER, "state.json"),
  runFile(POD1, LOADER, "state.json"),
  runFile(POD2, "state.json"),
  runFile(POD2, POD2, "state.json"),
];

describe("parseState on the example tree", () => {
  it("pod 1: running, one hot-plugged block device so blockIndex 1", () => {
    expect(parseState(readText(runFile(POD1, "state.json")))).toEqual({
      ok: true,
      value: { ...RUNNING, blockIndex: 1 },
    });
  });

  it("pod 1 sandbox and infer containers are running", () => {
    expect(okValue(parseState(readText(runFile(POD1, POD1, "state.json"))))).toEqual(RUNNING);
    expect(okValue(parseState(readText(runFile(POD1, INFER, "state.json"))))).toEqual(RUNNING);
  });

  it("pod 1 loader container is ready (created, not started)", () => {
    expect(okValue(parseState(readText(runFile(POD1, LOADER, "state.json"))))).toEqual({
      ...RUNNING,
      state: "ready",
      rawState: "ready",
    });
  });

  it("pod 2 (Docker) pod and container are running", () => {
    expect(okValue(parseState(readText(runFile(POD2, "state.json"))))).toEqual(RUNNING);
    expect(okValue(parseState(readText(runFile(POD2, POD2, "state.json"))))).toEqual(RUNNING);
  });
});

describe("parseState: variants of spec section 7 and later Kata", () => {
  it("2017-11 .. 2018-01: legacy url and ProxyPid in the pod state", () => {
    expect(okValue(parseState(fixtureText("state-2018-01-url-proxypid.json")))).toEqual({
      ...RUNNING,
      legacyProxyPid: 4711,
      legacyUrl:
        "unix:///run/virtcontainers/pods/3b0c5bb1a6a3c5e8f3a2d4e6b8c0d2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6/proxy.sock",
    });
  });

  it("before 2017-11-09: url before blockIndex and an extra rootfsBlockChecked", () => {
    expect(okValue(parseState(fixtureText("state-2017-10-rootfsblockchecked.json")))).toEqual({
      ...RUNNING,
      legacyUrl: "unix:///var/run/cc-oci-runtime/proxy.sock",
    });
  });

  it("url omitted (omitempty) and ProxyPid 0", () => {
    expect(
      okValue(
        parseState('{"state":"stopped","blockIndex":2,"fstype":"","hotpluggedDrive":false,"ProxyPid":0}'),
      ),
    ).toEqual({ ...RUNNING, state: "stopped", rawState: "stopped", blockIndex: 2, legacyProxyPid: 0 });
  });

  it.each([
    [
      "Kata 0.2 container (rootfsPCIAddr)",
      '{"state":"running","blockIndex":3,"fstype":"ext4","hotpluggedDrive":true,"rootfsPCIAddr":"02/01"}',
      { ...RUNNING, blockIndex: 3, fstype: "ext4", hotpluggedDrive: true },
    ],
    [
      "Kata 1.1 sandbox (pid)",
      '{"state":"paused","blockIndex":0,"fstype":"","hotpluggedDrive":false,"rootfsPCIAddr":"","pid":5123}',
      { ...RUNNING, state: "paused", rawState: "paused" },
    ],
    [
      "Kata 1.3 (BlockDeviceID, guestMemoryBlockSize, no hotpluggedDrive)",
      '{"state":"ready","blockIndex":1,"BlockDeviceID":"drive-1","fstype":"xfs","pid":0,"guestMemoryBlockSize":134217728}',
      { ...RUNNING, state: "ready", rawState: "ready", blockIndex: 1, fstype: "xfs" },
    ],
    [
      "Kata 1.7 sandbox (cgroupPath)",
      '{"state":"running","blockIndex":2,"guestMemoryBlockSize":134217728,"guestMemoryHotplugProbe":false,"cgroupPath":"/kata_x"}',
      { ...RUNNING, blockIndex: 2 },
    ],
    ["only the state", '{"state":"stopped"}', { ...RUNNING, state: "stopped", rawState: "stopped" }],
    ["empty object: every key defaulted", "{}", { ...RUNNING, state: "unknown", rawState: "" }],
    [
      "null is the same as missing",
      '{"state":null,"blockIndex":null,"fstype":null,"hotpluggedDrive":null,"ProxyPid":null,"url":null}',
      { ...RUNNING, state: "unknown", rawState: "" },
    ],
    [
      "sorted key order",
      '{"ProxyPid":7,"blockIndex":1,"fstype":"","hotpluggedDrive":true,"state":"running","url":"unix:///x"}',
      { ...RUNNING, blockIndex: 1, hotpluggedDrive: true, legacyProxyPid: 7, legacyUrl: "unix:///x" },
    ],
    [
      "HTML-escaped strings",
      '{"state":"running","fstype":"a\\u0026b\\u003cc\\u003e","url":"unix:///p?a=1\\u0026b=2"}',
      { ...RUNNING, fstype: "a&b<c>", legacyUrl: "unix:///p?a=1&b=2" },
    ],
    [
      "unknown key with a deep value",
      `{"state":"ready","x":${DEEP_ARRAY}}`,
      { ...RUNNING, state: "ready", rawState: "ready" },
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseState(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["", "unknown", ""],
    ["creating", "unknown", "creating"],
    ["RUNNING", "unknown", "RUNNING"],
    ["unknown", "unknown", "unknown"],
    ["__proto__", "unknown", "__proto__"],
  ])("state %j is %s", (raw, state, rawState) => {
    const v = okValue(parseState(JSON.stringify({ state: raw })));
    expect(v.state).toBe(state);
    expect(v.rawState).toBe(rawState);
  });

  it("bounds the raw state and fstype to 32 characters", () => {
    const long = "s".repeat(4 * 1024 * 1024);
    const v = okValue(parseState(JSON.stringify({ state: long, fstype: long })));
    expect(v.state).toBe("unknown");
    expect(v.rawState).toBe("s".repeat(32));
    expect(v.fstype).toBe("s".repeat(32));
  });

  it("a deeply nested value of a used field is a schema error", () => {
    expect(errorOf(parseState(`{"state":${DEEP_ARRAY}}`))).toEqual({
      reason: "schema",
      message: "$.state: expected a string",
    });
    expect(errorOf(parseState(`{"blockIndex":${DEEP_OBJECT}}`))).toEqual({
      reason: "schema",
      message: "$.blockIndex: expected an integer",
    });
  });
});

describe("parseState: wrong types of every used field", () => {
  itRejectsWrongTypes(parseState, JSON.parse(readText(runFile(POD1, "state.json"))) as Json, [
    ["state", "string", "a string"],
    ["blockIndex", "int", "an integer"],
    ["fstype", "string", "a string"],
    ["hotpluggedDrive", "bool", "a boolean"],
    ["ProxyPid", "uint", "a non-negative integer"],
    ["url", "string", "a string"],
  ]);
});

describe("toVcState", () => {
  it("maps the four stored states and everything else to unknown", () => {
    expect(["ready", "running", "paused", "stopped"].map(toVcState)).toEqual([
      "ready",
      "running",
      "paused",
      "stopped",
    ]);
    expect(["", "unknown", "Running", " ready", "constructor", "created"].map(toVcState)).toEqual(
      Array(6).fill("unknown"),
    );
  });
});

describe("parseState: property (c) extra unknown keys and shuffled key order", () => {
  const known = ["ready", "running", "paused", "stopped"];
  const gen = fc.record({
    state: fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 40 })),
    blockIndex: fc.integer({ min: -5, max: 1_000_000 }),
    fstype: fc.oneof(fc.constantFrom("", "ext4", "xfs"), fc.string({ maxLength: 40 })),
    hotpluggedDrive: fc.boolean(),
    url: fc.option(fc.string({ maxLength: 30 })),
    proxyPid: fc.option(nat32),
  });
  it("parses to the generated values either way", () => {
    roundTripProperty(
      parseState,
      gen,
      (g) =>
        dobj({
          state: g.state,
          blockIndex: g.blockIndex,
          fstype: g.fstype,
          hotpluggedDrive: g.hotpluggedDrive,
          ...(g.url === null ? {} : { url: g.url }),
          ...(g.proxyPid === null ? {} : { ProxyPid: g.proxyPid }),
        }),
      (v, g) => {
        expect(v).toEqual({
          state: known.includes(g.state) ? g.state : "unknown",
          rawState: g.state.slice(0, 32),
          blockIndex: g.blockIndex,
          fstype: g.fstype.slice(0, 32),
          hotpluggedDrive: g.hotpluggedDrive,
          legacyProxyPid: g.proxyPid,
          legacyUrl: g.url,
        });
      },
      300,
    );
  });
});

describeRobustness("parseState", parseState, {
  top: "object",
  realFiles: REAL_FILES,
  knownKeys: ["state", "blockIndex", "fstype", "hotpluggedDrive", "ProxyPid", "url"],
});
