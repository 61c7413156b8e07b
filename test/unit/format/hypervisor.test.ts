import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseHypervisor } from "../../../src/format/hypervisor.js";
import {
  DEEP_ARRAY,
  POD1,
  POD2,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  fixtureText,
  okValue,
  readText,
  roundTripProperty,
  runFile,
  type Json,
  itRejectsWrongTypes,
} from "./helpers.js";

describe("parseHypervisor on the example tree", () => {
  it("pod 1: one PCI bridge, 2 hot-plugged vCPUs (container CPU limit 2)", () => {
    expect(parseHypervisor(readText(runFile(POD1, "hypervisor.json")))).toEqual({
      ok: true,
      value: { uuid: "9a746c47-1e81-42ee-9a42-f80a33309555", hotpluggedVCPUs: 2, bridges: 1 },
    });
  });

  it("pod 2: HotpluggedVCPUs null is no hot-plugged vCPU", () => {
    expect(okValue(parseHypervisor(readText(runFile(POD2, "hypervisor.json"))))).toEqual({
      uuid: "837acc0c-c386-4f1f-a706-b6565f3858b8",
      hotpluggedVCPUs: 0,
      bridges: 1,
    });
  });
});

describe("parseHypervisor: variants", () => {
  it.each([
    [
      "before 2017-12-13: no HotpluggedVCPUs key",
      fixtureText("hypervisor-2017-11-no-hotplug.json"),
      { uuid: "5c3f3d2e-4b8a-4b41-9d1e-2a7c6f0e9b13", hotpluggedVCPUs: 0, bridges: 1 },
    ],
    [
      "pc-lite: Bridges null",
      '{"Bridges":null,"HotpluggedVCPUs":[],"UUID":"u"}',
      { uuid: "u", hotpluggedVCPUs: 0, bridges: 0 },
    ],
    [
      "[] vs null for HotpluggedVCPUs",
      '{"Bridges":[],"HotpluggedVCPUs":[{"ID":"cpu-0"}],"UUID":"u"}',
      { uuid: "u", hotpluggedVCPUs: 1, bridges: 0 },
    ],
    [
      "sorted keys, two bridges, hot-plugged drives",
      '{"Bridges":[{"Address":{"1":"drive-a","2":"drive-b"},"ID":"pci-bridge-0","Type":"pci"},{"Address":{},"ID":"pci-bridge-1","Type":"pcie"}],"HotpluggedVCPUs":[{"ID":"cpu-0"},{"ID":"cpu-1"},{"ID":"cpu-2"}],"UUID":"x"}',
      { uuid: "x", hotpluggedVCPUs: 3, bridges: 2 },
    ],
    ["empty object", "{}", { uuid: "", hotpluggedVCPUs: 0, bridges: 0 }],
    [
      "entries are only counted",
      `{"HotpluggedVCPUs":[1,null,"x",${DEEP_ARRAY}]}`,
      { uuid: "", hotpluggedVCPUs: 4, bridges: 0 },
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseHypervisor(text)).toEqual({ ok: true, value: expected });
  });

  it("a deeply nested value of a used field is a schema error", () => {
    expect(errorOf(parseHypervisor(`{"UUID":${DEEP_ARRAY}}`))).toEqual({
      reason: "schema",
      message: "$.UUID: expected a string",
    });
  });
});

describe("parseHypervisor: wrong types of every used field", () => {
  itRejectsWrongTypes(parseHypervisor, JSON.parse(readText(runFile(POD1, "hypervisor.json"))) as Json, [
    ["UUID", "string", "a string"],
    ["HotpluggedVCPUs", "array", "an array"],
    ["Bridges", "array", "an array"],
  ]);
});

describe("parseHypervisor: property (c)", () => {
  const bridge = fc.record({
    slots: fc.dictionary(fc.integer({ min: 1, max: 30 }).map(String), fc.string()),
    pcie: fc.boolean(),
  });
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseHypervisor,
      fc.record({
        uuid: fc.uuid(),
        bridges: fc.option(fc.array(bridge, { maxLength: 3 })),
        cpus: fc.option(fc.nat({ max: 8 })),
        hasCpuKey: fc.boolean(),
      }),
      (g) =>
        dobj({
          Bridges:
            g.bridges === null
              ? null
              : darr(
                  g.bridges.map((b, i) =>
                    dobj({
                      Address: dobj(b.slots, "string"),
                      Type: b.pcie ? "pcie" : "pci",
                      ID: `pci-bridge-${i}`,
                    }),
                  ),
                ),
          ...(g.hasCpuKey
            ? {
                HotpluggedVCPUs:
                  g.cpus === null
                    ? null
                    : darr(Array.from({ length: g.cpus }, (_, i) => dobj({ ID: `cpu-${i}` }))),
              }
            : {}),
          UUID: g.uuid,
        }),
      (v, g) => {
        expect(v).toEqual({
          uuid: g.uuid,
          hotpluggedVCPUs: g.hasCpuKey ? (g.cpus ?? 0) : 0,
          bridges: g.bridges?.length ?? 0,
        });
      },
    );
  });
});

describeRobustness("parseHypervisor", parseHypervisor, {
  top: "object",
  realFiles: [runFile(POD1, "hypervisor.json"), runFile(POD2, "hypervisor.json")],
  knownKeys: ["UUID", "HotpluggedVCPUs", "Bridges", "ID", "Address", "Type"],
});
