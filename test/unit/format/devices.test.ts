import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { deviceHotplugged, parseDevices, sysfsBdf } from "../../../src/format/devices.js";
import type { DeviceInfo } from "../../../src/format/model.js";
import {
  DEEP_ARRAY,
  INFER,
  LOADER,
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
  withPath,
  wrongValues,
  type FieldKind,
  type Json,
} from "./helpers.js";

const VFIO_42: DeviceInfo = {
  type: "vfio",
  hostPath: "/dev/vfio/42",
  containerPath: "/dev/vfio/42",
  devType: "c",
  major: 241,
  minor: 0,
  hotplugged: false,
  id: "",
  bdf: "04:00.0",
  scsiAddr: "",
  virtPath: "",
};
const FUSE: DeviceInfo = {
  type: "generic",
  hostPath: "/dev/fuse",
  containerPath: "/dev/fuse",
  devType: "c",
  major: 10,
  minor: 229,
  hotplugged: false,
  id: "",
  bdf: "",
  scsiAddr: "",
  virtPath: "",
};

describe("parseDevices on the example tree", () => {
  it("infer: the VFIO group with BDF 04:00.0", () => {
    expect(parseDevices(readText(runFile(POD1, INFER, "devices.json")))).toEqual({
      ok: true,
      value: { devices: [VFIO_42], entryErrors: [] },
    });
  });

  it("loader: a hot-plugged block device at SCSI 0:0 and a generic /dev/fuse", () => {
    expect(okValue(parseDevices(readText(runFile(POD1, LOADER, "devices.json"))))).toEqual({
      devices: [
        {
          type: "block",
          hostPath: "/dev/sdb",
          containerPath: "/dev/block-data",
          devType: "b",
          major: 8,
          minor: 16,
          hotplugged: true,
          id: "11a9404d0c8f17cb",
          bdf: "",
          scsiAddr: "0:0",
          virtPath: "",
        },
        FUSE,
      ],
      entryErrors: [],
    });
  });

  it("the 4-byte file `null` gives no devices (pod 1 sandbox, pod 2)", () => {
    for (const f of [runFile(POD1, POD1, "devices.json"), runFile(POD2, POD2, "devices.json")]) {
      expect(readText(f)).toBe("null");
      expect(parseDevices(readText(f))).toEqual({ ok: true, value: { devices: [], entryErrors: [] } });
    }
  });
});

describe("parseDevices: variants", () => {
  it("Kata 0.2+: Data.DevType instead of Data.DeviceType, DriverOptions, BlockDrive", () => {
    const v = okValue(parseDevices(fixtureText("devices-kata-0.2-devtype.json")));
    expect(v.entryErrors).toEqual([]);
    expect(v.devices.map((d) => d.type)).toEqual(["vfio", "block", "generic"]);
    expect(v.devices[0]).toEqual({
      ...VFIO_42,
      hostPath: "/dev/vfio/17",
      containerPath: "/dev/vfio/17",
      minor: 1,
      hotplugged: true,
      id: "vfio-6f0a0c1d2e3f4a5b",
      bdf: "0000:81:00.1",
    });
    // The Kata device package moved SCSIAddr/VirtPath into Data.BlockDrive, which is not read.
    expect(v.devices[1]).toMatchObject({
      type: "block",
      hostPath: "/dev/sdc",
      devType: "b",
      hotplugged: true,
      scsiAddr: "",
    });
    expect(v.devices[2]).toEqual(FUSE);
  });

  it("an unknown Type is an entry error; the other entries are kept", () => {
    const v = okValue(parseDevices(fixtureText("devices-unknown-type.json")));
    expect(v.devices).toEqual([VFIO_42, FUSE]);
    expect(v.entryErrors).toEqual([
      {
        index: 1,
        reason: "unknown_device_type",
        type: "vhost-user-blk-pci",
        message: "$[1].Type: expected vfio, block or generic",
      },
    ]);
  });

  it("the entry error type is bounded to 32 characters", () => {
    const v = okValue(parseDevices(JSON.stringify([{ Type: "z".repeat(100_000), Data: {} }])));
    expect(v.entryErrors[0]?.type).toBe("z".repeat(32));
    expect(v.entryErrors[0]?.reason).toBe("unknown_device_type");
  });

  it("a malformed entry of a known Type is a schema entry error; the others are kept", () => {
    const text = JSON.stringify([
      { Type: "block", Data: { DeviceType: "block", DeviceInfo: { Major: "8" } } },
      { Type: "vfio", Data: null },
      {
        Type: "generic",
        Data: {
          DeviceInfo: {
            HostPath: "/dev/fuse",
            ContainerPath: "/dev/fuse",
            DevType: "c",
            Major: 10,
            Minor: 229,
          },
        },
      },
      { Type: "vfio" },
    ]);
    const v = okValue(parseDevices(text));
    expect(v.devices).toEqual([FUSE]);
    expect(v.entryErrors).toEqual([
      {
        index: 0,
        reason: "schema",
        type: "block",
        message: "$[0].Data.DeviceInfo.Major: expected a non-negative integer",
      },
      { index: 1, reason: "schema", type: "vfio", message: "$[1].Data: expected an object" },
      { index: 3, reason: "schema", type: "vfio", message: "$[3].Data: expected an object" },
    ]);
  });

  it("entries without a string Type (null, arrays, numbers) are reported with an empty type", () => {
    const v = okValue(parseDevices(`[null,5,${DEEP_ARRAY},{"Type":7},{"Data":{}}]`));
    expect(v.devices).toEqual([]);
    expect(v.entryErrors.map((e) => [e.index, e.type, e.reason])).toEqual([
      [0, "", "unknown_device_type"],
      [1, "", "unknown_device_type"],
      [2, "", "unknown_device_type"],
      [3, "", "unknown_device_type"],
      [4, "", "unknown_device_type"],
    ]);
  });

  it.each([
    ["[]", "[]", { devices: [], entryErrors: [] }],
    [
      "sorted keys, DeviceInfo missing (defaults), devType bounded to 1 character",
      '[{"Data":{"BDF":"81:00.1","DeviceInfo":{"DevType":"char"},"DeviceType":"vfio"},"Type":"vfio"}]',
      {
        devices: [{ ...VFIO_42, hostPath: "", containerPath: "", devType: "c", major: 0, bdf: "81:00.1" }],
        entryErrors: [],
      },
    ],
    [
      "before 2018-01-17: virtio-blk only, no SCSIAddr",
      '[{"Type":"block","Data":{"DeviceType":"block","DeviceInfo":{"HostPath":"/dev/sdb","ContainerPath":"/dev/xvdb","DevType":"b","Major":8,"Minor":16,"FileMode":0,"UID":0,"GID":0,"Hotplugged":true,"ID":"abc"},"VirtPath":"/dev/vdb"}}]',
      {
        devices: [
          {
            ...FUSE,
            type: "block",
            hostPath: "/dev/sdb",
            containerPath: "/dev/xvdb",
            devType: "b",
            major: 8,
            minor: 16,
            hotplugged: true,
            id: "abc",
            virtPath: "/dev/vdb",
          },
        ],
        entryErrors: [],
      },
    ],
    [
      "BDF is only read for vfio, SCSIAddr/VirtPath only for block",
      '[{"Type":"generic","Data":{"DeviceInfo":{},"BDF":"01:00.0","SCSIAddr":"0:1","VirtPath":"/dev/vdz"}}]',
      {
        devices: [{ ...FUSE, hostPath: "", containerPath: "", devType: "", major: 0, minor: 0 }],
        entryErrors: [],
      },
    ],
    [
      "HTML escapes",
      '[{"Type":"generic","Data":{"DeviceInfo":{"HostPath":"/dev/a\\u0026b","ContainerPath":"/dev/\\u003cx\\u003e"}}}]',
      {
        devices: [
          { ...FUSE, hostPath: "/dev/a&b", containerPath: "/dev/<x>", devType: "", major: 0, minor: 0 },
        ],
        entryErrors: [],
      },
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseDevices(text)).toEqual({ ok: true, value: expected });
  });

  it("a top-level object or string is a schema error for the whole file", () => {
    expect(errorOf(parseDevices('{"Type":"vfio"}'))).toEqual({
      reason: "schema",
      message: "$: expected an array or null",
    });
    expect(errorOf(parseDevices('"null"'))).toEqual({
      reason: "schema",
      message: "$: expected an array or null",
    });
  });
});

describe("parseDevices: wrong types of every used field (entry error, others kept)", () => {
  const base = JSON.parse(readText(runFile(POD1, LOADER, "devices.json"))) as Json;
  const fields: [string[], FieldKind, string][] = [
    [["Type"], "string", "a string"],
    [["Data"], "object", "an object"],
    [["Data", "DeviceInfo"], "object", "an object"],
    [["Data", "DeviceInfo", "HostPath"], "string", "a string"],
    [["Data", "DeviceInfo", "ContainerPath"], "string", "a string"],
    [["Data", "DeviceInfo", "DevType"], "string", "a string"],
    [["Data", "DeviceInfo", "Major"], "uint", "a non-negative integer"],
    [["Data", "DeviceInfo", "Minor"], "uint", "a non-negative integer"],
    [["Data", "DeviceInfo", "Hotplugged"], "bool", "a boolean"],
    [["Data", "DeviceInfo", "ID"], "string", "a string"],
    [["Data", "SCSIAddr"], "string", "a string"],
    [["Data", "VirtPath"], "string", "a string"],
  ];
  const cases = fields.flatMap(([path, kind, exp]) =>
    wrongValues(kind).map((v) => [path.join("."), JSON.stringify(v), path, v, exp] as const),
  );
  it.each(cases)("$[0].%s = %s", (shownPath, _shown, path, value, expected) => {
    const v = okValue(parseDevices(JSON.stringify(withPath(base, [0, ...path], value))));
    expect(v.devices).toEqual([FUSE]);
    expect(v.entryErrors).toHaveLength(1);
    const e = v.entryErrors[0];
    expect(e?.index).toBe(0);
    expect(e?.message).toBe(`$[0].${shownPath}: expected ${expected}`);
    // A Type that is not a string cannot name a known type.
    expect(e?.reason).toBe(shownPath === "Type" ? "unknown_device_type" : "schema");
  });

  it("$[0].BDF of a vfio device with a wrong type", () => {
    const vfio = JSON.parse(readText(runFile(POD1, INFER, "devices.json"))) as Json;
    for (const value of wrongValues("string")) {
      const v = okValue(parseDevices(JSON.stringify(withPath(vfio, [0, "Data", "BDF"], value))));
      expect(v.entryErrors).toEqual([
        { index: 0, reason: "schema", type: "vfio", message: "$[0].Data.BDF: expected a string" },
      ]);
    }
  });
});

describe("parseDevices: property (c)", () => {
  const info = fc.record({
    hostPath: fc.string(),
    containerPath: fc.string(),
    devType: fc.constantFrom("c", "b", "u", "p"),
    major: fc.nat({ max: 4095 }),
    minor: fc.nat({ max: 1_048_575 }),
    hotplugged: fc.boolean(),
    id: fc.string(),
  });
  const device = fc.record({
    type: fc.constantFrom("vfio", "block", "generic"),
    kataKey: fc.boolean(),
    info,
    bdf: fc.string(),
    scsiAddr: fc.string(),
    virtPath: fc.string(),
  });
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseDevices,
      fc.option(fc.array(device, { maxLength: 5 })),
      (g) =>
        g === null
          ? null
          : darr(
              g.map((d) =>
                dobj({
                  Type: d.type,
                  Data: dobj({
                    [d.kataKey ? "DevType" : "DeviceType"]: d.type,
                    DeviceInfo: dobj({
                      HostPath: d.info.hostPath,
                      ContainerPath: d.info.containerPath,
                      DevType: d.info.devType,
                      Major: d.info.major,
                      Minor: d.info.minor,
                      FileMode: 8630,
                      UID: 0,
                      GID: 0,
                      Hotplugged: d.info.hotplugged,
                      ID: d.info.id,
                    }),
                    ...(d.type === "vfio" ? { BDF: d.bdf } : {}),
                    ...(d.type === "block" ? { SCSIAddr: d.scsiAddr, VirtPath: d.virtPath } : {}),
                  }),
                }),
              ),
            ),
      (v, g) => {
        expect(v.entryErrors).toEqual([]);
        expect(v.devices).toEqual(
          (g ?? []).map((d) => ({
            type: d.type,
            ...d.info,
            hotplugged: d.type !== "generic" && d.info.hotplugged,
            bdf: d.type === "vfio" ? d.bdf : "",
            scsiAddr: d.type === "block" ? d.scsiAddr : "",
            virtPath: d.type === "block" ? d.virtPath : "",
          })),
        );
      },
    );
  });
});

describeRobustness("parseDevices", parseDevices, {
  top: "array",
  realFiles: [
    runFile(POD1, INFER, "devices.json"),
    runFile(POD1, LOADER, "devices.json"),
    runFile(POD1, POD1, "devices.json"),
  ],
  overrides: { "deeply nested arrays": "ok" },
  knownKeys: [
    "Type",
    "Data",
    "DeviceType",
    "DevType",
    "DeviceInfo",
    "HostPath",
    "ContainerPath",
    "Major",
    "Minor",
    "Hotplugged",
    "ID",
    "BDF",
    "SCSIAddr",
    "VirtPath",
  ],
});

describe("sysfsBdf", () => {
  it.each([
    ["04:00.0", "0000:04:00.0"], // virtcontainers, Kata up to 3.1
    ["0000:04:00.0", "0000:04:00.0"], // Kata 3.2+
    ["0001:3B:1f.7", "0001:3b:1f.7"], // another PCI domain, upper case
    ["", ""],
    ["04:00", ""],
    ["4:00.0", ""],
    ["04:20.0", ""], // device number over 0x1f
    ["04:00.8", ""], // function over 7
    ["00000:04:00.0", ""],
    ['04:00.0"} 1\nx', ""],
  ])("%j -> %j", (raw, want) => {
    expect(sysfsBdf(raw)).toBe(want);
  });
});

describe("deviceHotplugged", () => {
  it("a generic device is never hot-plugged; vfio and block follow what the file records", () => {
    expect(deviceHotplugged("generic", true)).toBe(false);
    expect(deviceHotplugged("vfio", true)).toBe(true);
    expect(deviceHotplugged("block", true)).toBe(true);
    expect(deviceHotplugged("block", false)).toBe(false);
  });
  it("a generic entry stored with Hotplugged true reads as not hot-plugged", () => {
    const v = okValue(
      parseDevices(
        '[{"Type":"generic","Data":{"DeviceType":"generic","DeviceInfo":{"HostPath":"/dev/fuse","DevType":"c","Major":10,"Minor":229,"Hotplugged":true}}}]',
      ),
    );
    expect(v.devices.map((d) => d.hotplugged)).toEqual([false]);
  });
});
