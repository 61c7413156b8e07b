import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseAgent } from "../../../src/format/agent.js";
import {
  DEEP_ARRAY,
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

describe("parseAgent on the example tree", () => {
  it("pod 1: cc-proxy PID and its per-pod socket", () => {
    expect(parseAgent(readText(runFile(POD1, "agent.json")))).toEqual({
      ok: true,
      value: { proxyPid: 20488, url: `unix:///run/virtcontainers/pods/${POD1}/proxy.sock` },
    });
  });

  it("pod 2", () => {
    expect(okValue(parseAgent(readText(runFile(POD2, "agent.json"))))).toEqual({
      proxyPid: 31702,
      url: `unix:///run/virtcontainers/pods/${POD2}/proxy.sock`,
    });
  });
});

describe("parseAgent: variants", () => {
  it.each([
    [
      "kata + noProxy with a vsock URL",
      fixtureText("agent-kata-noproxy-vsock.json"),
      { proxyPid: 0, url: "vsock://3:1024" },
    ],
    ["sorted keys", '{"URL":"unix:///p","ProxyPid":9}', { proxyPid: 9, url: "unix:///p" }],
    ["missing keys default", "{}", { proxyPid: 0, url: "" }],
    ["null is missing", '{"ProxyPid":null,"URL":null}', { proxyPid: 0, url: "" }],
    ["unknown keys ignored", `{"ProxyPid":1,"URL":"u","Extra":${DEEP_ARRAY}}`, { proxyPid: 1, url: "u" }],
    ["HTML escapes", '{"ProxyPid":1,"URL":"unix:///a\\u0026b"}', { proxyPid: 1, url: "unix:///a&b" }],
  ])("%s", (_label, text, expected) => {
    expect(parseAgent(text)).toEqual({ ok: true, value: expected });
  });

  it("a deeply nested value of a used field is a schema error", () => {
    expect(errorOf(parseAgent(`{"URL":${DEEP_ARRAY}}`))).toEqual({
      reason: "schema",
      message: "$.URL: expected a string",
    });
  });
});

describe("parseAgent: wrong types of every used field", () => {
  itRejectsWrongTypes(parseAgent, JSON.parse(readText(runFile(POD1, "agent.json"))) as Json, [
    ["ProxyPid", "uint", "a non-negative integer"],
    ["URL", "string", "a string"],
  ]);
});

describe("parseAgent: property (c)", () => {
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseAgent,
      fc.record({ pid: nat32, url: fc.string() }),
      (g) => dobj({ ProxyPid: g.pid, URL: g.url }),
      (v, g) => {
        expect(v).toEqual({ proxyPid: g.pid, url: g.url });
      },
      300,
    );
  });
});

describeRobustness("parseAgent", parseAgent, {
  top: "object",
  realFiles: [runFile(POD1, "agent.json"), runFile(POD2, "agent.json")],
  knownKeys: ["ProxyPid", "URL"],
});
