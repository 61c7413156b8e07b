import { describe, expect, expectTypeOf, it } from "vitest";

import {
  DEVICE_TYPES,
  VC_STATES,
  type AgentInfo,
  type ContainerConfigInfo,
  type DeviceEntryError,
  type DeviceInfo,
  type DeviceType,
  type HypervisorInfo,
  type MountInfo,
  type PodConfigInfo,
  type ProcessInfo,
  type VcState,
} from "../../../src/format/model.js";
import { PROBLEM_REASONS, type ProblemReason } from "../../../src/format/result.js";

describe("enumerations (spec section 5)", () => {
  it("VC_STATES: the four stored states plus unknown", () => {
    expect([...VC_STATES]).toEqual(["ready", "running", "paused", "stopped", "unknown"]);
    expectTypeOf<VcState>().toEqualTypeOf<"ready" | "running" | "paused" | "stopped" | "unknown">();
  });

  it("DEVICE_TYPES: vfio, block, generic (sorted, for stable metric label order)", () => {
    expect([...DEVICE_TYPES]).toEqual(["block", "generic", "vfio"]);
    expect([...DEVICE_TYPES].sort()).toEqual([...DEVICE_TYPES]);
    expectTypeOf<DeviceType>().toEqualTypeOf<"vfio" | "block" | "generic">();
  });

  it("device entry error reasons are problem reasons", () => {
    const reasons: DeviceEntryError["reason"][] = ["unknown_device_type", "schema"];
    for (const r of reasons) expect(PROBLEM_REASONS).toContain(r);
    expectTypeOf<DeviceEntryError["reason"]>().toExtend<ProblemReason>();
  });
});

describe("the model keeps secrets out by construction", () => {
  // Checked by the type checker (`tsc -p tsconfig.json --noEmit`), not at run time.
  it("has no field for tokens, environment, annotations or the raw spec", () => {
    expectTypeOf<keyof ProcessInfo>().toEqualTypeOf<"pid" | "startTime" | "startTimeSeconds">();
    expectTypeOf<keyof AgentInfo>().toEqualTypeOf<"proxyPid" | "url">();
    expectTypeOf<keyof HypervisorInfo>().toEqualTypeOf<"uuid" | "hotpluggedVCPUs" | "bridges">();
    expectTypeOf<keyof MountInfo>().toEqualTypeOf<"destination" | "type" | "hostPath">();
    expectTypeOf<keyof ContainerConfigInfo>().toEqualTypeOf<
      | "id"
      | "rootFs"
      | "vcType"
      | "bundlePath"
      | "identity"
      | "mounts"
      | "deviceInfos"
      | "cpuQuota"
      | "cpuPeriod"
      | "cpuShares"
    >();
    expectTypeOf<keyof PodConfigInfo>().toEqualTypeOf<
      | "id"
      | "hostname"
      | "hypervisorType"
      | "agentType"
      | "proxyType"
      | "shimType"
      | "networkModel"
      | "defaultVCPUs"
      | "defaultMaxVCPUs"
      | "defaultMemMiB"
      | "vmMemoryMiB"
      | "vmVCPUs"
      | "netNSPath"
      | "containers"
      | "identity"
    >();
    expectTypeOf<keyof DeviceInfo>().toEqualTypeOf<
      | "type"
      | "hostPath"
      | "containerPath"
      | "devType"
      | "major"
      | "minor"
      | "hotplugged"
      | "id"
      | "bdf"
      | "scsiAddr"
      | "virtPath"
    >();
  });
});
