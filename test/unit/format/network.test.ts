import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseNetwork } from "../../../src/format/network.js";
import {
  DEEP_ARRAY,
  POD1,
  POD2,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  getPath,
  okValue,
  readJson,
  readText,
  roundTripProperty,
  runFile,
  sortedKeysJson,
  withPath,
  wrongValues,
  type FieldKind,
  type JsonPath,
} from "./helpers.js";

const POD1_NET = runFile(POD1, "network.json");
const POD2_NET = runFile(POD2, "network.json");
const EP: JsonPath = ["Endpoints", 0];
const DATA: JsonPath = [...EP, "Data"];
const PROPS: JsonPath = [...DATA, "EndpointProperties"];

describe("parseNetwork on the example tree", () => {
  it("pod 1: CRI-O netns, one virtual endpoint eth0 with IPv4 10.88.0.5 (the IPv6 one is left out)", () => {
    expect(parseNetwork(readText(POD1_NET))).toEqual({
      ok: true,
      value: {
        netNsPath:
          "/var/run/netns/k8s_resnet-infer-1684375908-7xq2p_ml-serving_d4b0c6a2-2cf0-11e8-8a1d-fa163e4b2c7a_0-83297995",
        netNsCreated: false,
        endpoints: [{ type: "virtual", ifaceName: "eth0", ipv4: ["10.88.0.5"] }],
      },
    });
  });

  it("pod 2: netns created by the runtime", () => {
    expect(okValue(parseNetwork(readText(POD2_NET)))).toEqual({
      netNsPath: "/var/run/netns/cni-bd88f576-12a9-e6dc-f610-483fa9956ec7",
      netNsCreated: true,
      endpoints: [{ type: "virtual", ifaceName: "eth0", ipv4: ["172.17.0.2"] }],
    });
  });

  it("the same file with every object's keys sorted parses identically", () => {
    const json = readJson(POD1_NET);
    expect(parseNetwork(sortedKeysJson(json))).toEqual(parseNetwork(readText(POD1_NET)));
  });
});

describe("parseNetwork: variants", () => {
  const physical = {
    Type: "physical",
    Data: {
      IfaceName: "ens1f0",
      HardAddr: "3c:fd:fe:00:00:01",
      EndpointProperties: { Iface: null, Addrs: [{ IP: "192.168.7.20" }], Routes: null, DNS: null },
      EndpointType: "physical",
      BDF: "0000:05:00.0",
      Driver: "ixgbe",
      VendorDeviceID: "8086 10fb",
    },
  };
  const vhost = {
    Type: "vhost-user",
    Data: {
      SocketPath: "/tmp/vhost",
      HardAddr: "",
      IfaceName: "vhost0",
      EndpointProperties: {},
      EndpointType: "vhost-user",
    },
  };

  it.each([
    [
      "Endpoints null",
      '{"NetNsPath":"/n","NetNsCreated":true,"Endpoints":null}',
      { netNsPath: "/n", netNsCreated: true, endpoints: [] },
    ],
    [
      "Endpoints []",
      '{"NetNsPath":"","NetNsCreated":false,"Endpoints":[]}',
      { netNsPath: "", netNsCreated: false, endpoints: [] },
    ],
    ["empty object", "{}", { netNsPath: "", netNsCreated: false, endpoints: [] }],
    [
      "physical endpoint: name from IfaceName when Iface is null",
      JSON.stringify({ NetNsPath: "/n", NetNsCreated: false, Endpoints: [physical] }),
      {
        netNsPath: "/n",
        netNsCreated: false,
        endpoints: [{ type: "physical", ifaceName: "ens1f0", ipv4: ["192.168.7.20"] }],
      },
    ],
    [
      "vhost-user endpoint without addresses",
      JSON.stringify({ Endpoints: [vhost] }),
      {
        netNsPath: "",
        netNsCreated: false,
        endpoints: [{ type: "vhost-user", ifaceName: "vhost0", ipv4: [] }],
      },
    ],
    [
      "endpoint without Data",
      '{"Endpoints":[{"Type":"virtual"},{"Type":"virtual","Data":null}]}',
      {
        netNsPath: "",
        netNsCreated: false,
        endpoints: [
          { type: "virtual", ifaceName: "", ipv4: [] },
          { type: "virtual", ifaceName: "", ipv4: [] },
        ],
      },
    ],
    [
      "only dotted-quad IPv4 addresses are kept, in order",
      '{"Endpoints":[{"Type":"virtual","Data":{"EndpointProperties":{"Iface":{"Name":"eth0"},"Addrs":[{"IP":"fe80::1"},{"IP":"10.0.0.2"},{"IP":""},{"IP":"10.0.0.3"},{"IP":"10.0.0.4\\n"},{"IP":"::ffff:10.0.0.5"},{"IP":"10.0.0"}]}}}]}',
      {
        netNsPath: "",
        netNsCreated: false,
        endpoints: [{ type: "virtual", ifaceName: "eth0", ipv4: ["10.0.0.2", "10.0.0.3"] }],
      },
    ],
    [
      "HTML escapes",
      '{"NetNsPath":"/var/run/netns/a\\u0026b","Endpoints":[{"Type":"virtual","Data":{"EndpointProperties":{"Iface":{"Name":"e\\u003c0\\u003e"}}}}]}',
      {
        netNsPath: "/var/run/netns/a&b",
        netNsCreated: false,
        endpoints: [{ type: "virtual", ifaceName: "e<0>", ipv4: [] }],
      },
    ],
    [
      "a deep value in a field that is not read",
      `{"Endpoints":[{"Type":"virtual","Data":{"NetPair":${DEEP_ARRAY}}}]}`,
      { netNsPath: "", netNsCreated: false, endpoints: [{ type: "virtual", ifaceName: "", ipv4: [] }] },
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseNetwork(text)).toEqual({ ok: true, value: expected });
  });

  it("a deeply nested value of a used field is a schema error", () => {
    expect(errorOf(parseNetwork(`{"Endpoints":[{"Type":${DEEP_ARRAY}}]}`))).toEqual({
      reason: "schema",
      message: "$.Endpoints[0].Type: expected a string",
    });
  });
});

describe("parseNetwork: wrong types of every used field", () => {
  const base = readJson(POD1_NET);
  const fields: [JsonPath, FieldKind, string, string][] = [
    [["NetNsPath"], "string", "$.NetNsPath", "a string"],
    [["NetNsCreated"], "bool", "$.NetNsCreated", "a boolean"],
    [["Endpoints"], "array", "$.Endpoints", "an array"],
    [EP, "object", "$.Endpoints[0]", "an object"],
    [[...EP, "Type"], "string", "$.Endpoints[0].Type", "a string"],
    [DATA, "object", "$.Endpoints[0].Data", "an object"],
    [PROPS, "object", "$.Endpoints[0].Data.EndpointProperties", "an object"],
    [[...PROPS, "Iface"], "object", "$.Endpoints[0].Data.EndpointProperties.Iface", "an object"],
    [[...PROPS, "Iface", "Name"], "string", "$.Endpoints[0].Data.EndpointProperties.Iface.Name", "a string"],
    [[...PROPS, "Addrs"], "array", "$.Endpoints[0].Data.EndpointProperties.Addrs", "an array"],
    [[...PROPS, "Addrs", 1], "object", "$.Endpoints[0].Data.EndpointProperties.Addrs[1]", "an object"],
    [[...PROPS, "Addrs", 1, "IP"], "string", "$.Endpoints[0].Data.EndpointProperties.Addrs[1]", "a string"],
  ];
  const cases = fields.flatMap(([path, kind, shown, exp]) =>
    wrongValues(kind).map((v) => [shown, JSON.stringify(v), path, v, exp] as const),
  );
  it.each(cases)("%s = %s", (shown, _s, path, value, expected) => {
    const r = parseNetwork(JSON.stringify(withPath(base, path, value)));
    const message =
      path[path.length - 1] === "IP" ? `${shown}.IP: expected ${expected}` : `${shown}: expected ${expected}`;
    expect(r).toEqual({ ok: false, error: { reason: "schema", message } });
  });

  it("Data.IfaceName is checked when the netlink name is empty", () => {
    const noName = withPath(base, [...PROPS, "Iface", "Name"], "");
    expect(
      okValue(parseNetwork(JSON.stringify(withPath(noName, [...DATA, "IfaceName"], "ens3")))).endpoints[0]
        ?.ifaceName,
    ).toBe("ens3");
    expect(errorOf(parseNetwork(JSON.stringify(withPath(noName, [...DATA, "IfaceName"], 3))))).toEqual({
      reason: "schema",
      message: "$.Endpoints[0].Data.IfaceName: expected a string",
    });
  });

  it("the example endpoint really has the keys edited above", () => {
    expect(getPath(base, [...PROPS, "Iface", "Name"])).toBe("eth0");
    expect(getPath(base, [...PROPS, "Addrs", 1, "IP"])).toBe("fe80::858:aff:fe58:5");
  });
});

describe("parseNetwork: property (c)", () => {
  const octet = fc.nat({ max: 255 });
  const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
  const endpoint = fc.record({
    type: fc.constantFrom("virtual", "physical", "vhost-user"),
    name: fc.string({ maxLength: 15 }),
    addrs: fc.array(fc.oneof(ipv4, fc.ipV6()), { maxLength: 4 }),
    addrsNull: fc.boolean(),
  });
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseNetwork,
      fc.record({
        path: fc.string(),
        created: fc.boolean(),
        endpoints: fc.option(fc.array(endpoint, { maxLength: 3 })),
      }),
      (g) =>
        dobj({
          NetNsPath: g.path,
          NetNsCreated: g.created,
          Endpoints:
            g.endpoints === null
              ? null
              : darr(
                  g.endpoints.map((e) =>
                    dobj({
                      Type: e.type,
                      Data: dobj({
                        EndpointProperties: dobj({
                          Iface: dobj({ Index: 3, MTU: 1500, Name: e.name, HardwareAddr: "ClgKWAAF" }),
                          Addrs:
                            e.addrsNull && e.addrs.length === 0
                              ? null
                              : darr(e.addrs.map((ip) => dobj({ IP: ip, Mask: "//8AAA==" }))),
                          Routes: null,
                        }),
                        EndpointType: e.type,
                      }),
                    }),
                  ),
                ),
        }),
      (v, g) => {
        expect(v).toEqual({
          netNsPath: g.path,
          netNsCreated: g.created,
          endpoints: (g.endpoints ?? []).map((e) => ({
            type: e.type,
            ifaceName: e.name,
            ipv4: e.addrs.filter((a) => !a.includes(":")),
          })),
        });
      },
    );
  });
});

describeRobustness("parseNetwork", parseNetwork, {
  top: "object",
  realFiles: [POD1_NET, POD2_NET],
  knownKeys: [
    "NetNsPath",
    "NetNsCreated",
    "Endpoints",
    "Type",
    "Data",
    "EndpointProperties",
    "Iface",
    "Name",
    "IfaceName",
    "Addrs",
    "IP",
  ],
});
