/**
 * Kata Containers 1.x files layout (/run/vc/sbs, /var/lib/vc/sbs). Inputs are built from the
 * upstream structs, cited per release (kata-containers/runtime at the named tag).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseAgent } from "../../../src/format/agent.js";
import { parseDevices } from "../../../src/format/devices.js";
import {
  BUNDLE_PATH_KEY,
  CONTAINER_TYPE_KEY,
  OCI_CONFIG_KEY,
  identityFromBundleConfig,
  identityFromVcAnnotations,
  isVcAnnotationKey,
  vcAnnotation,
  vcContainerType,
} from "../../../src/format/identity.js";
import {
  kata1MemoryBytes,
  parseContainerDevices,
  parseDeviceRefs,
  parseKata1Hypervisor,
  parseKata1Process,
  parseSandboxDevices,
  resolveDeviceRefs,
} from "../../../src/format/kata1.js";
import type { DeviceInfo, SandboxDevice } from "../../../src/format/model.js";
import { parsePodConfig } from "../../../src/format/pod-config.js";
import { parseProcess } from "../../../src/format/process.js";
import { parseState } from "../../../src/format/state.js";
import {
  DEEP_ARRAY,
  POD_NAME,
  POD_UID,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  goJson,
  okValue,
  outcome,
  render,
  seededRandom,
  truncationFailures,
  type Doc,
  type Json,
} from "./helpers.js";

const SB = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const CID = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
const VFIO_ID = "5d6f2b9e0c1a3e47";
const BLOCK_ID = "11a9404d0c8f17cb";
const GENERIC_ID = "c3e1a7f09b2d4658";

// ---------------------------------------------------------------------------------------------
// Sandbox-level devices.json

/** 1.2.0 device/config/config.go DeviceInfo (ContainerPath and Hotplugged still stored). */
function info12(
  hostPath: string,
  cpath: string,
  devType: string,
  major: number,
  minor: number,
  id: string,
): Json {
  return {
    HostPath: hostPath,
    ContainerPath: cpath,
    DevType: devType,
    Major: major,
    Minor: minor,
    FileMode: 8630,
    UID: 0,
    GID: 0,
    Hotplugged: true,
    ID: id,
    DriverOptions: null,
  };
}

/** 1.3.0+ DeviceInfo: `ContainerPath` is `json:"-"`, `Hotplugged` removed. */
function info13(
  hostPath: string,
  devType: string,
  major: number,
  minor: number,
  id: string,
  opts: Json,
): Json {
  return {
    HostPath: hostPath,
    DevType: devType,
    Major: major,
    Minor: minor,
    FileMode: 8576,
    UID: 0,
    GID: 0,
    ID: id,
    DriverOptions: opts,
  };
}

/**
 * kata-containers/runtime 1.2.0 virtcontainers/filesystem.go storeDeviceFile + device/drivers:
 * VFIODevice {ID, DeviceInfo, vfioDevs (unexported: no BDF)}, BlockDevice {ID, DeviceInfo,
 * BlockDrive}, GenericDevice {ID, DeviceInfo}.
 */
const SANDBOX_DEVICES_12: Json = [
  {
    Type: "vfio",
    Data: { ID: VFIO_ID, DeviceInfo: info12("/dev/vfio/42", "/dev/vfio/42", "c", 241, 0, VFIO_ID) },
  },
  {
    Type: "block",
    Data: {
      ID: BLOCK_ID,
      DeviceInfo: info12("/dev/sdb", "/dev/block-data", "b", 8, 16, BLOCK_ID),
      BlockDrive: {
        File: "/dev/sdb",
        Format: "raw",
        ID: `drive-${BLOCK_ID}`,
        Index: 0,
        PCIAddr: "",
        SCSIAddr: "0:0",
        VirtPath: "",
      },
    },
  },
  {
    Type: "generic",
    Data: { ID: GENERIC_ID, DeviceInfo: info12("/dev/fuse", "/dev/fuse", "c", 10, 229, GENERIC_ID) },
  },
];

/**
 * 1.7.0 (same as 1.4–1.10): drivers embed *GenericDevice {ID, DeviceInfo, RefCount,
 * AttachCount}; VFIODevice adds VfioDevs [{ID, Type, BDF, SysfsDev}] (config.go VFIODev),
 * BlockDevice adds BlockDrive (1.10 adds MmioAddr, NvdimmID, DevNo, ShareRW).
 */
const SANDBOX_DEVICES_17: Json = [
  {
    Type: "vfio",
    Data: {
      ID: VFIO_ID,
      DeviceInfo: info13("/dev/vfio/42", "c", 241, 0, VFIO_ID, null),
      RefCount: 1,
      AttachCount: 1,
      VfioDevs: [
        {
          ID: "vfio-5d6f2b9e0c1a3e470",
          Type: 1,
          BDF: "04:00.0",
          SysfsDev: "/sys/bus/pci/devices/0000:04:00.0",
        },
      ],
    },
  },
  {
    Type: "block",
    Data: {
      ID: BLOCK_ID,
      DeviceInfo: info13("/dev/sdb", "b", 8, 16, BLOCK_ID, { "block-driver": "virtio-blk" }),
      RefCount: 1,
      AttachCount: 1,
      BlockDrive: {
        File: "/dev/sdb",
        Format: "raw",
        ID: `drive-${BLOCK_ID}`,
        Index: 0,
        MmioAddr: "",
        PCIAddr: "02/01",
        SCSIAddr: "",
        NvdimmID: "",
        VirtPath: "/dev/vda",
        DevNo: "",
        ShareRW: false,
      },
    },
  },
  {
    Type: "generic",
    Data: {
      ID: GENERIC_ID,
      DeviceInfo: info13("/dev/fuse", "c", 10, 229, GENERIC_ID, null),
      RefCount: 1,
      AttachCount: 0,
    },
  },
];

const dev = (over: Partial<DeviceInfo>): DeviceInfo => ({
  type: "generic",
  hostPath: "",
  containerPath: "",
  devType: "c",
  major: 0,
  minor: 0,
  hotplugged: false,
  id: "",
  bdf: "",
  scsiAddr: "",
  virtPath: "",
  ...over,
});

describe("parseSandboxDevices", () => {
  it("Kata 1.2: ContainerPath and Hotplugged stored, no VFIO BDF", () => {
    expect(parseSandboxDevices(goJson(SANDBOX_DEVICES_12))).toEqual({
      ok: true,
      value: {
        devices: [
          {
            id: VFIO_ID,
            info: dev({
              type: "vfio",
              hostPath: "/dev/vfio/42",
              containerPath: "/dev/vfio/42",
              major: 241,
              hotplugged: true,
              id: VFIO_ID,
            }),
          },
          {
            id: BLOCK_ID,
            info: dev({
              type: "block",
              hostPath: "/dev/sdb",
              containerPath: "/dev/block-data",
              devType: "b",
              major: 8,
              minor: 16,
              hotplugged: true,
              id: BLOCK_ID,
              scsiAddr: "0:0",
            }),
          },
          {
            id: GENERIC_ID,
            info: dev({
              hostPath: "/dev/fuse",
              containerPath: "/dev/fuse",
              major: 10,
              minor: 229,
              // Stored as true, but a generic device never reaches the VM.
              hotplugged: false,
              id: GENERIC_ID,
            }),
          },
        ],
        entryErrors: [],
      },
    });
  });

  it("Kata 1.7/1.10: VfioDevs BDF, BlockDrive virtio-blk path, attach count as hotplugged", () => {
    const v = okValue(parseSandboxDevices(goJson(SANDBOX_DEVICES_17)));
    expect(v.entryErrors).toEqual([]);
    expect(v.devices).toEqual([
      {
        id: VFIO_ID,
        info: dev({
          type: "vfio",
          hostPath: "/dev/vfio/42",
          major: 241,
          hotplugged: true,
          id: VFIO_ID,
          bdf: "04:00.0",
        }),
      },
      {
        id: BLOCK_ID,
        info: dev({
          type: "block",
          hostPath: "/dev/sdb",
          devType: "b",
          major: 8,
          minor: 16,
          hotplugged: true,
          id: BLOCK_ID,
          virtPath: "/dev/vda",
        }),
      },
      {
        id: GENERIC_ID,
        info: dev({ hostPath: "/dev/fuse", major: 10, minor: 229, id: GENERIC_ID }),
      },
    ]);
  });

  it("a VFIO group of several functions keeps the last BDF (as the reference did)", () => {
    const text = JSON.stringify([
      {
        Type: "vfio",
        Data: { ID: "a", VfioDevs: [{ BDF: "04:00.0" }, null, { BDF: "04:00.1" }, { BDF: "" }] },
      },
    ]);
    expect(okValue(parseSandboxDevices(text)).devices[0]?.info.bdf).toBe("04:00.1");
  });

  it("a vhost-user device (stored by 1.2+, refused by its own loader) is an entry error", () => {
    const text = JSON.stringify([
      {
        Type: "vhost-user-blk-pci",
        Data: { ID: "vu", SocketPath: "/tmp/vhost.sock", Type: "vhost-user-blk-pci" },
      },
      ...SANDBOX_DEVICES_17.slice(2),
    ]);
    const v = okValue(parseSandboxDevices(text));
    expect(v.devices.map((d) => d.id)).toEqual([GENERIC_ID]);
    expect(v.entryErrors).toEqual([
      {
        index: 0,
        reason: "unknown_device_type",
        type: "vhost-user-blk-pci",
        message: "$[0].Type: expected vfio, block or generic",
      },
    ]);
  });

  it("a malformed known entry is a schema entry error; the others are kept", () => {
    const text = JSON.stringify([
      { Type: "block", Data: { ID: 7 } },
      { Type: "generic", Data: { ID: "g" } },
    ]);
    const v = okValue(parseSandboxDevices(text));
    expect(v.devices.map((d) => d.id)).toEqual(["g"]);
    expect(v.entryErrors).toEqual([
      { index: 0, reason: "schema", type: "block", message: "$[0].Data.ID: expected a string" },
    ]);
  });

  it("the manager ID falls back to DeviceInfo.ID; null is no devices", () => {
    const text = JSON.stringify([{ Type: "generic", Data: { DeviceInfo: { ID: "x" } } }]);
    expect(okValue(parseSandboxDevices(text)).devices[0]?.id).toBe("x");
    expect(parseSandboxDevices("null")).toEqual({ ok: true, value: { devices: [], entryErrors: [] } });
  });

  it("key order and unknown keys do not matter", () => {
    const docs = SANDBOX_DEVICES_17.map(toDoc);
    const plain = okValue(parseSandboxDevices(render(darr(docs))));
    fc.assert(
      fc.property(noise, (n) => {
        expect(okValue(parseSandboxDevices(render(darr(docs), n)))).toEqual(plain);
      }),
      { numRuns: 100 },
    );
  });

  it("every byte-prefix of a real-shaped file is empty/truncated", () => {
    expect(truncationFailures(parseSandboxDevices, Buffer.from(goJson(SANDBOX_DEVICES_17)))).toEqual([]);
  });
});

describeRobustness("parseSandboxDevices", parseSandboxDevices, {
  top: "array",
  realFiles: [],
  overrides: { "deeply nested arrays": "ok" },
  knownKeys: [
    "Type",
    "Data",
    "ID",
    "DeviceInfo",
    "HostPath",
    "ContainerPath",
    "DevType",
    "Major",
    "Minor",
    "Hotplugged",
    "AttachCount",
    "BlockDrive",
    "SCSIAddr",
    "VirtPath",
    "VfioDevs",
    "BDF",
  ],
});

// ---------------------------------------------------------------------------------------------
// Container devices.json (references) and the combined parser

/** 1.2.0 container.go ContainerDevice {ID, ContainerPath}; 1.7.0 adds FileMode, UID, GID. */
const REFS_12 = `[{"ID":"${VFIO_ID}","ContainerPath":"/dev/vfio/42"}]`;
const REFS_17 = `[{"ID":"${BLOCK_ID}","ContainerPath":"/dev/block-data","FileMode":25008,"UID":0,"GID":6},{"ID":"${GENERIC_ID}","ContainerPath":"/dev/fuse","FileMode":8630,"UID":0,"GID":0}]`;

describe("parseDeviceRefs", () => {
  it.each([
    ["Kata 1.2", REFS_12, [{ id: VFIO_ID, containerPath: "/dev/vfio/42" }]],
    [
      "Kata 1.7",
      REFS_17,
      [
        { id: BLOCK_ID, containerPath: "/dev/block-data" },
        { id: GENERIC_ID, containerPath: "/dev/fuse" },
      ],
    ],
    ["null (no devices)", "null", []],
    ["empty", "[]", []],
    [
      "sorted keys and unknown keys",
      `[{"ContainerPath":"/dev/x","Extra":${DEEP_ARRAY},"ID":"i"}]`,
      [{ id: "i", containerPath: "/dev/x" }],
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseDeviceRefs(text)).toEqual({ ok: true, value: expected });
  });

  it("a wrong type is a schema error naming the entry", () => {
    expect(errorOf(parseDeviceRefs('[{"ID":1}]'))).toEqual({
      reason: "schema",
      message: "$[0].ID: expected a string",
    });
    expect(errorOf(parseDeviceRefs('{"ID":"x"}'))).toEqual({
      reason: "schema",
      message: "$: expected an array or null",
    });
  });

  it("every byte-prefix of a real-shaped file is empty/truncated", () => {
    expect(truncationFailures(parseDeviceRefs, Buffer.from(REFS_17))).toEqual([]);
  });
});

describeRobustness("parseDeviceRefs", parseDeviceRefs, {
  top: "array",
  realFiles: [],
  overrides: { "deeply nested arrays": "schema" },
  knownKeys: ["ID", "ContainerPath"],
});

/** Kata 0.2–1.1 container devices.json: the typed list, `Data.DevType` (device/drivers at 1.0.0). */
const TYPED_10 = goJson([
  {
    Type: "block",
    Data: {
      DevType: "block",
      DeviceInfo: {
        ...(info12("/dev/sdb", "/dev/block-data", "b", 8, 16, BLOCK_ID) as Record<string, Json>),
      },
      SCSIAddr: "0:0",
      VirtPath: "",
      PCIAddr: "",
      BlockDrive: { File: "/dev/sdb", Format: "raw", ID: `drive-${BLOCK_ID}`, Index: 0, PCIAddr: "" },
    },
  },
]);

describe("parseContainerDevices", () => {
  it("Kata 1.0 typed list: the same value as parseDevices", () => {
    const typed = okValue(parseDevices(TYPED_10));
    expect(typed.devices[0]?.scsiAddr).toBe("0:0");
    expect(parseContainerDevices(TYPED_10)).toEqual({ ok: true, value: { kind: "typed", devices: typed } });
  });

  it("Kata 1.2+ reference list", () => {
    expect(parseContainerDevices(REFS_17)).toEqual({
      ok: true,
      value: { kind: "refs", refs: okValue(parseDeviceRefs(REFS_17)) },
    });
  });

  it.each([["null"], ["[]"], [" null\n"]])("%j is an empty reference list", (text) => {
    expect(parseContainerDevices(text)).toEqual({ ok: true, value: { kind: "refs", refs: [] } });
  });

  it("a typed list with an unknown type keeps parseDevices' entry errors", () => {
    const text = '[{"Type":"mystery","Data":{}}]';
    expect(okValue(parseContainerDevices(text))).toEqual({
      kind: "typed",
      devices: okValue(parseDevices(text)),
    });
  });

  it("errors: empty, truncated, not an array", () => {
    expect(outcome(parseContainerDevices(""))).toBe("empty");
    expect(outcome(parseContainerDevices('[{"ID":'))).toBe("truncated");
    expect(outcome(parseContainerDevices("{}"))).toBe("schema");
    expect(truncationFailures(parseContainerDevices, Buffer.from(TYPED_10))).toEqual([]);
  });
});

describeRobustness("parseContainerDevices", parseContainerDevices, {
  top: "array",
  realFiles: [],
  overrides: { "deeply nested arrays": "schema" },
  knownKeys: ["Type", "Data", "ID", "ContainerPath", "DeviceInfo"],
});

describe("resolveDeviceRefs", () => {
  const sandbox = okValue(parseSandboxDevices(goJson(SANDBOX_DEVICES_17))).devices;

  it("joins by ID; the container path comes from the reference", () => {
    const refs = okValue(parseDeviceRefs(REFS_17));
    const r = resolveDeviceRefs([...refs, { id: "gone", containerPath: "/dev/x" }], sandbox);
    expect(r.missing).toEqual(["gone"]);
    expect(r.devices.map((d) => [d.type, d.id, d.hostPath, d.containerPath])).toEqual([
      ["block", BLOCK_ID, "/dev/sdb", "/dev/block-data"],
      ["generic", GENERIC_ID, "/dev/fuse", "/dev/fuse"],
    ]);
  });

  it("is pure: the inputs are not modified; no refs gives nothing", () => {
    const before = structuredClone(sandbox);
    resolveDeviceRefs([{ id: VFIO_ID, containerPath: "/dev/gpu" }], sandbox);
    expect(sandbox).toEqual(before);
    expect(resolveDeviceRefs([], sandbox)).toEqual({ devices: [], missing: [] });
  });

  it("property: every ref resolves or is missing, in order", () => {
    const ids = ["a", "b", "c", "d"];
    fc.assert(
      fc.property(
        fc.subarray(ids),
        fc.array(fc.record({ id: fc.constantFrom(...ids, "z"), containerPath: fc.string() })),
        (have, refs) => {
          const devs: SandboxDevice[] = have.map((id) => ({ id, info: dev({ id }) }));
          const r = resolveDeviceRefs(refs, devs);
          expect(r.devices.length + r.missing.length).toBe(refs.length);
          expect(r.devices.map((d) => [d.id, d.containerPath])).toEqual(
            refs.filter((x) => have.includes(x.id)).map((x) => [x.id, x.containerPath]),
          );
          expect(r.missing).toEqual(refs.filter((x) => !have.includes(x.id)).map((x) => x.id));
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// process.json, hypervisor.json, memory

describe("parseKata1Process", () => {
  // 1.5+ with shim v2: kata_builtin_shim.go start() returns -1, stored as Process.Pid.
  const SHIMV2 = `{"Token":"${CID}","Pid":-1,"StartTime":"2019-05-15T10:00:01.123456789Z"}`;

  it("keeps Pid -1 of the built-in shim (parseProcess rejects it)", () => {
    expect(outcome(parseProcess(SHIMV2))).toBe("schema");
    expect(parseKata1Process(SHIMV2)).toEqual({
      ok: true,
      value: {
        pid: -1,
        startTime: "2019-05-15T10:00:01.123456789Z",
        startTimeSeconds: 1557914401 + 0.123456789,
      },
    });
  });

  it("a kata-shim PID (1.0–1.4) is the same as parseProcess", () => {
    const text = `{"Token":"${CID}","Pid":20811,"StartTime":"2018-05-21T09:14:12.083615927Z"}`;
    expect(parseKata1Process(text)).toEqual(parseProcess(text));
  });

  it("wrong types are schema errors", () => {
    expect(errorOf(parseKata1Process('{"Pid":1.5}'))).toEqual({
      reason: "schema",
      message: "$.Pid: expected an integer",
    });
    expect(truncationFailures(parseKata1Process, Buffer.from(SHIMV2))).toEqual([]);
  });
});

describeRobustness("parseKata1Process", parseKata1Process, {
  top: "object",
  realFiles: [],
  knownKeys: ["Pid", "StartTime", "Token"],
});

describe("parseKata1Hypervisor", () => {
  // 1.3.0 qemu.go QemuState {Bridges, HotpluggedVCPUs, HotpluggedMemory, UUID, HotplugVFIOOnRootBus}
  const QEMU_13 =
    '{"Bridges":[{"DeviceAddr":{"1":"drive-11a9404d0c8f17cb"},"Type":"pci","ID":"pci-bridge-0","Addr":2}],' +
    '"HotpluggedVCPUs":[{"ID":"cpu-0"},{"ID":"cpu-1"}],"HotpluggedMemory":1024,' +
    '"UUID":"9a746c47-1e81-42ee-9a42-f80a33309555","HotplugVFIOOnRootBus":false}';
  // 1.10.0 adds VirtiofsdPid; clh.go CloudHypervisorState {PID, VirtiofsdPID} (state, apiSocket unexported).
  const QEMU_110 =
    '{"Bridges":null,"HotpluggedVCPUs":null,"HotpluggedMemory":0,"UUID":"u","HotplugVFIOOnRootBus":false,"VirtiofsdPid":4242}';
  const CLH_110 = '{"PID":5151,"VirtiofsdPID":5150}';

  it.each([
    [
      "QEMU 1.0 (no memory key)",
      '{"Bridges":null,"HotpluggedVCPUs":null,"UUID":"u"}',
      { uuid: "u", hotpluggedVCPUs: 0, bridges: 0, hotpluggedMemoryMiB: 0, pid: null, virtiofsdPid: null },
    ],
    [
      "QEMU 1.3",
      QEMU_13,
      {
        uuid: "9a746c47-1e81-42ee-9a42-f80a33309555",
        hotpluggedVCPUs: 2,
        bridges: 1,
        hotpluggedMemoryMiB: 1024,
        pid: null,
        virtiofsdPid: null,
      },
    ],
    [
      "QEMU 1.10",
      QEMU_110,
      { uuid: "u", hotpluggedVCPUs: 0, bridges: 0, hotpluggedMemoryMiB: 0, pid: null, virtiofsdPid: 4242 },
    ],
    [
      "Cloud Hypervisor 1.10",
      CLH_110,
      { uuid: "", hotpluggedVCPUs: 0, bridges: 0, hotpluggedMemoryMiB: 0, pid: 5151, virtiofsdPid: 5150 },
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseKata1Hypervisor(text)).toEqual({ ok: true, value: expected });
  });

  it("truncation and wrong types", () => {
    expect(truncationFailures(parseKata1Hypervisor, Buffer.from(QEMU_13))).toEqual([]);
    expect(errorOf(parseKata1Hypervisor('{"HotpluggedMemory":"1G"}'))).toEqual({
      reason: "schema",
      message: "$.HotpluggedMemory: expected an integer",
    });
  });
});

describeRobustness("parseKata1Hypervisor", parseKata1Hypervisor, {
  top: "object",
  realFiles: [],
  knownKeys: [
    "UUID",
    "HotpluggedVCPUs",
    "Bridges",
    "HotpluggedMemory",
    "PID",
    "VirtiofsdPid",
    "VirtiofsdPID",
  ],
});

// ---------------------------------------------------------------------------------------------
// The existing parsers on Kata 1.x files (nothing to add: checked here)

/** 1.3.0 sandbox.go SandboxConfig: HypervisorConfig NumVCPUs/MemorySize, no Hooks/VMConfig. */
function sandboxConfig13(annotationsKeyPrefix: string, containerAnnotations: Json): string {
  return goJson({
    ID: SB,
    Hostname: POD_NAME,
    HypervisorType: "qemu",
    HypervisorConfig: {
      NumVCPUs: 1,
      DefaultMaxVCPUs: 240,
      MemorySize: 2048,
      DefaultBridges: 1,
      KernelPath: "/usr/share/kata-containers/vmlinuz-4.14.67-16.container",
      ImagePath: "/usr/share/kata-containers/kata-containers.img",
    },
    AgentType: "kata",
    AgentConfig: { LongLiveConn: true, UseVSock: false },
    ProxyType: "kataProxy",
    ProxyConfig: { Path: "/usr/libexec/kata-containers/kata-proxy", Debug: false },
    ShimType: "kataShim",
    ShimConfig: { Path: "/usr/libexec/kata-containers/kata-shim", Debug: false },
    NetworkConfig: {
      NetNSPath: "/var/run/netns/cni-1",
      NetNsCreated: false,
      DisableNewNetNs: false,
      InterworkingModel: 2,
    },
    Volumes: null,
    Containers: [
      {
        ID: SB,
        RootFs: `/run/kata-containers/shared/sandboxes/${SB}/rootfs`,
        ReadonlyRootfs: false,
        Cmd: { Args: ["/pause"] },
        Annotations: containerAnnotations,
        Mounts: [],
        DeviceInfos: null,
        // 1.5.0+: the OCI LinuxResources object.
        Resources: { cpu: { shares: 2, quota: 200000, period: 100000 }, memory: { limit: 536870912 } },
      },
    ],
    Annotations: { [`${annotationsKeyPrefix}bundle_path`]: "/run/containers/x" },
    ShmSize: 67108864,
    SharePidNs: false,
    Stateful: false,
    SystemdCgroup: false,
    SandboxCgroupOnly: false,
    DisableGuestSeccomp: true,
    Experimental: [{ Name: "newstore", Description: "", ExpRelease: "2.0" }],
  });
}

describe("existing parsers accept Kata 1.x files", () => {
  it.each([
    // 1.1.0: "pid" (sandbox); 1.3.0: BlockDeviceID, guestMemoryBlockSize; no hotpluggedDrive
    [
      "1.3 sandbox state.json",
      '{"state":"running","BlockDeviceID":"","blockIndex":1,"fstype":"","pid":20543,"guestMemoryBlockSize":128}',
      "running",
      1,
    ],
    // 1.7.0 types/sandbox.go SandboxState
    [
      "1.7 sandbox state.json",
      '{"state":"ready","blockIndex":2,"guestMemoryBlockSize":128,"guestMemoryHotplugProbe":false,"cgroupPath":"/kata/x"}',
      "ready",
      2,
    ],
    // 1.7.0 types/container.go ContainerState
    ["1.7 container state.json", '{"state":"paused","BlockDeviceID":"d","fstype":"ext4"}', "paused", 0],
  ])("parseState: %s", (_label, text, state, blockIndex) => {
    const v = okValue(parseState(text));
    expect([v.state, v.blockIndex]).toEqual([state, blockIndex]);
  });

  it("parsePodConfig: 1.3+ NumVCPUs/MemorySize, OCI Resources (1.5+), no VMConfig", () => {
    const v = okValue(parsePodConfig(sandboxConfig13("io.katacontainers.pkg.oci.", null)));
    expect([v.defaultVCPUs, v.defaultMemMiB, v.defaultMaxVCPUs, v.vmMemoryMiB]).toEqual([1, 2048, 240, 0]);
    expect(v.containers[0]).toMatchObject({ cpuQuota: 200000, cpuPeriod: 100000, cpuShares: 2 });
    expect(kata1MemoryBytes(v, { hotpluggedMemoryMiB: 1024 })).toBe(3072 * 1024 * 1024);
    expect(kata1MemoryBytes(v, null)).toBe(2048 * 1024 * 1024);
    expect(kata1MemoryBytes(null, { hotpluggedMemoryMiB: 1 })).toBeNull();
  });

  it("parseAgent: 1.x agent.json with the built-in proxy (ProxyPid = hypervisor PID)", () => {
    expect(okValue(parseAgent(`{"ProxyPid":20462,"URL":"vsock://3:1024"}`))).toEqual({
      proxyPid: 20462,
      url: "vsock://3:1024",
    });
  });

  it("parseDevices: the 1.0 typed list with DevType, SCSIAddr at the top of Data", () => {
    expect(okValue(parseDevices(TYPED_10)).devices[0]).toMatchObject({
      type: "block",
      scsiAddr: "0:0",
      containerPath: "/dev/block-data",
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Identity: annotation prefixes of 1.9 and 1.10+, the bundle's config.json

const K8S_ANNOTATIONS = {
  "io.kubernetes.cri-o.ContainerType": "container",
  "io.kubernetes.cri-o.SandboxID": SB,
  "io.kubernetes.pod.name": POD_NAME,
  "io.kubernetes.pod.namespace": "ml-serving",
  "io.kubernetes.pod.uid": POD_UID,
  "io.kubernetes.container.name": "infer",
};

describe("identity: runtime annotation prefixes", () => {
  const P19 = "io.kata-containers.pkg.oci."; // 1.9.x pkg/annotations/annotations.go
  const P110 = "io.katacontainers.pkg.oci."; // 1.10.0+ (commit 91bd095e)

  it.each([
    ["<= 1.8", "com.github.containers.virtcontainers.pkg.oci."],
    ["1.9", P19],
    ["1.10+", P110],
  ])("%s: bundle_path and container_type", (_label, prefix) => {
    const a = { [`${prefix}bundle_path`]: "/b", [`${prefix}container_type`]: "pod_container" };
    expect(vcAnnotation(a, "bundle_path")).toBe("/b");
    expect(vcContainerType(a)).toBe("pod_container");
    expect(Object.keys(a).every(isVcAnnotationKey)).toBe(true);
  });

  it("the reference keys are unchanged and win over newer prefixes", () => {
    const a = { [BUNDLE_PATH_KEY]: "/old", [`${P110}bundle_path`]: "/new", [CONTAINER_TYPE_KEY]: "nonsense" };
    expect(vcAnnotation(a, "bundle_path")).toBe("/old");
    expect(vcContainerType(a)).toBeNull();
    expect(vcAnnotation(null, "config")).toBeUndefined();
    expect(isVcAnnotationKey("io.kubernetes.pod.name")).toBe(false);
  });

  it("identityFromVcAnnotations reads an embedded spec under any prefix; none in 1.9+ is unknown", () => {
    const spec = JSON.stringify({ ociVersion: "1.0.1", annotations: K8S_ANNOTATIONS });
    const old = identityFromVcAnnotations({ [OCI_CONFIG_KEY]: spec });
    expect(old).toMatchObject({ status: "known", podName: POD_NAME, containerName: "infer" });
    expect(identityFromVcAnnotations({ [`${P110}config`]: spec })).toEqual(old);
    expect(identityFromVcAnnotations({ [`${P110}bundle_path`]: "/b" })).toMatchObject({
      status: "unknown",
      problem: "no embedded OCI spec",
    });
  });

  it("parsePodConfig of 1.10: no embedded spec, so the identity is unknown (read the bundle)", () => {
    const text = sandboxConfig13(P110, {
      [`${P110}bundle_path`]: "/b",
      [`${P110}container_type`]: "pod_sandbox",
    });
    const v = okValue(parsePodConfig(text));
    expect(v.identity.status).toBe("unknown");
    expect(v.containers[0]?.identity.problem).toBe("no embedded OCI spec");
  });
});

describe("identityFromBundleConfig", () => {
  const bundle = (annotations: Json): string =>
    goJson({
      ociVersion: "1.0.1-dev",
      process: { args: ["/bin/sh"], env: ["SECRET=1"] },
      annotations,
      linux: { namespaces: [] },
    });

  it("CRI-O bundle config.json (Kata 1.9+)", () => {
    expect(identityFromBundleConfig(bundle(K8S_ANNOTATIONS))).toMatchObject({
      status: "known",
      flavor: "cri-o",
      kind: "container",
      sandboxId: SB,
      namespace: "ml-serving",
      podName: POD_NAME,
      podUid: POD_UID,
      containerName: "infer",
    });
  });

  it("no annotations: none; bad input: unknown with a reason", () => {
    expect(identityFromBundleConfig(bundle(null))).toMatchObject({ status: "none", problem: null });
    expect(identityFromBundleConfig("")).toMatchObject({
      status: "unknown",
      problem: "bundle config.json: file is empty",
    });
    expect(identityFromBundleConfig('{"annotations":')).toMatchObject({ status: "unknown" });
    expect(identityFromBundleConfig("[]")).toMatchObject({
      status: "unknown",
      problem: "bundle config.json: spec is not an object",
    });
  });

  it("never throws", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.anything().map((v) => JSON.stringify(v) ?? ""),
        ),
        (text) => {
          expect(["known", "none", "unknown"]).toContain(identityFromBundleConfig(text).status);
        },
      ),
      { numRuns: 300 },
    );
    expect(identityFromBundleConfig(DEEP_ARRAY).status).toBe("unknown");
    expect(identityFromBundleConfig(`{"annotations":${DEEP_ARRAY}}`).status).toBe("none");
  });
});

// ---------------------------------------------------------------------------------------------
// Local helpers

/** A plain JSON value as a Doc (objects shuffle and take unknown keys; maps of strings take none). */
function toDoc(v: Json): Doc {
  if (Array.isArray(v)) return darr(v.map(toDoc));
  if (typeof v === "object" && v !== null) {
    const isMap = Object.values(v).every((x) => typeof x === "string");
    return dobj(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toDoc(x)])), isMap ? "none" : "any");
  }
  return v;
}

/** Unknown keys that no parser here reads. */
const noise = fc
  .record({
    seed: fc.integer(),
    values: fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 4 }),
  })
  .map(({ seed, values }) => ({
    random: seededRandom(seed),
    keys: ["Extra", "zz", "NUMANode", "__proto__x"],
    values: values as Json[],
  }));
