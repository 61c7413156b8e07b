import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { effectiveState, networkEndpoints, podMemoryBytes, podVCPUs } from "../../../src/format/derive.js";
import { parseHypervisor } from "../../../src/format/hypervisor.js";
import type { HypervisorInfo, PodConfigInfo } from "../../../src/format/model.js";
import { parseNetwork } from "../../../src/format/network.js";
import { parsePodConfig } from "../../../src/format/pod-config.js";
import { parseState } from "../../../src/format/state.js";
import {
  POD1,
  POD2,
  fixtureText,
  libFile,
  okValue,
  readJson,
  readText,
  runFile,
  withPaths,
} from "./helpers.js";

const MIB = 1024 * 1024;
const pod1 = okValue(parsePodConfig(readText(libFile(POD1, "config.json"))));
const pod2 = okValue(parsePodConfig(readText(libFile(POD2, "config.json"))));
const hv1 = okValue(parseHypervisor(readText(runFile(POD1, "hypervisor.json"))));
const hv2 = okValue(parseHypervisor(readText(runFile(POD2, "hypervisor.json"))));

describe("effectiveState", () => {
  it("is the parsed state, or unknown without a state file", () => {
    expect(effectiveState(okValue(parseState(readText(runFile(POD1, "state.json")))))).toBe("running");
    expect(effectiveState(okValue(parseState('{"state":"paused"}')))).toBe("paused");
    expect(effectiveState(okValue(parseState('{"state":"creating"}')))).toBe("unknown");
    expect(effectiveState(null)).toBe("unknown");
  });
});

describe("podVCPUs", () => {
  it("pod 1: 16 boot vCPUs + 2 hot-plugged = 18", () => {
    expect(podVCPUs(pod1, hv1)).toBe(18);
  });

  it("pod 2: HotpluggedVCPUs null gives the 16 boot vCPUs", () => {
    expect(podVCPUs(pod2, hv2)).toBe(16);
  });

  it("without hypervisor.json (mock hypervisor, or not yet written) only the boot vCPUs count", () => {
    expect(podVCPUs(pod1, null)).toBe(16);
  });

  it("without a readable pod config it is unknown", () => {
    expect(podVCPUs(null, hv1)).toBeNull();
    expect(podVCPUs(null, null)).toBeNull();
  });

  // Regression: before 2018-03-06 QEMU booted with VMConfig.VCPUs when it was > 0
  // (qemu.go setCPUResources), the OCI CPU limit of the sandbox; it was ignored.
  it("cc-runtime <= 3.0.21: VMConfig.VCPUs replaces DefaultVCPUs as the boot count", () => {
    const old = withPaths(readJson(libFile(POD2, "config.json")), [
      [["VMConfig"], { VCPUs: 2, Memory: 512 }],
      [["HypervisorConfig", "DefaultVCPUs"], 1],
      [["HypervisorConfig", "DefaultMaxVCPUs"], undefined],
    ]);
    const config = okValue(parsePodConfig(JSON.stringify(old)));
    const hv = okValue(parseHypervisor(fixtureText("hypervisor-2017-11-no-hotplug.json")));
    expect(podVCPUs(config, hv)).toBe(2);
    expect(podVCPUs(config, { ...hv, hotpluggedVCPUs: 3 })).toBe(5);
    const zero = okValue(parsePodConfig(JSON.stringify(withPaths(old, [[["VMConfig", "VCPUs"], 0]]))));
    expect(podVCPUs(zero, hv)).toBe(1);
  });

  it("Kata 1.3 NumVCPUs", () => {
    const kata = okValue(parsePodConfig('{"HypervisorConfig":{"NumVCPUs":4,"MemorySize":4096}}'));
    expect(podVCPUs(kata, hv1)).toBe(6);
  });

  it("property: boot count (VMConfig.VCPUs if > 0, else DefaultVCPUs) plus hot-plugged", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 512 }),
        fc.nat({ max: 64 }),
        fc.option(fc.nat({ max: 240 })),
        (def, vm, hot) => {
          const config: PodConfigInfo = { ...pod1, defaultVCPUs: def, vmVCPUs: vm };
          const hv: HypervisorInfo | null = hot === null ? null : { ...hv1, hotpluggedVCPUs: hot };
          expect(podVCPUs(config, hv)).toBe((vm > 0 ? vm : def) + (hot ?? 0));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("podMemoryBytes", () => {
  it("pod 1: VMConfig.Memory 0, so DefaultMemSz 2048 MiB", () => {
    expect(podMemoryBytes(pod1)).toBe(2048 * MIB);
  });

  it("pod 2: VMConfig.Memory 512 MiB (docker run -m 512m)", () => {
    expect(podMemoryBytes(pod2)).toBe(512 * MIB);
  });

  it("unknown without a config or without any memory size", () => {
    expect(podMemoryBytes(null)).toBeNull();
    expect(podMemoryBytes(okValue(parsePodConfig("{}")))).toBeNull();
  });

  it("Kata 1.3 MemorySize", () => {
    expect(podMemoryBytes(okValue(parsePodConfig('{"HypervisorConfig":{"MemorySize":4096}}')))).toBe(
      4096 * MIB,
    );
  });
});

describe("networkEndpoints", () => {
  it("counts the endpoints, null without network.json", () => {
    expect(networkEndpoints(okValue(parseNetwork(readText(runFile(POD1, "network.json")))))).toBe(1);
    expect(networkEndpoints(okValue(parseNetwork('{"Endpoints":null}')))).toBe(0);
    expect(networkEndpoints(null)).toBeNull();
  });
});
