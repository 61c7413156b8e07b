import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseContainerConfig } from "../../../src/format/container-config.js";
import { OCI_CONFIG_KEY, identityFromOciAnnotations, type Identity } from "../../../src/format/identity.js";
import type { PodConfigInfo } from "../../../src/format/model.js";
import { parsePodConfig } from "../../../src/format/pod-config.js";
import { containerArbitrary, containerDoc, expectedContainer } from "./arbitraries.js";
import {
  DEEP_ARRAY,
  DEEP_OBJECT,
  DocStr,
  INFER,
  LOADER,
  POD1,
  POD2,
  POD_NAME,
  POD_UID,
  SECRET,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  goJson,
  libFile,
  nat32,
  okValue,
  readJson,
  readText,
  roundTripProperty,
  sortedKeysJson,
  withPath,
  withPaths,
  wrongValues,
  type Doc,
  type FieldKind,
  type Json,
  type JsonPath,
} from "./helpers.js";

const POD1_FILE = libFile(POD1, "config.json");
const POD2_FILE = libFile(POD2, "config.json");
const HV: JsonPath = ["HypervisorConfig"];

const SANDBOX_IDENTITY: Identity = {
  status: "known",
  flavor: "cri-o",
  kind: "sandbox",
  sandboxId: POD1,
  namespace: "ml-serving",
  podName: POD_NAME,
  podUid: POD_UID,
  containerName: null,
  image: null,
  createdSeconds: Date.parse("2018-03-21T09:14:05.637Z") / 1000,
  problem: null,
};

function containerFile(pod: string, ctr: string) {
  return okValue(parseContainerConfig(readText(libFile(pod, ctr, "config.json"))));
}

const POD1_INFO: PodConfigInfo = {
  id: POD1,
  hostname: POD_NAME,
  hypervisorType: "qemu",
  agentType: "hyperstart",
  proxyType: "ccProxy",
  shimType: "ccShim",
  networkModel: "CNM",
  defaultVCPUs: 16,
  defaultMaxVCPUs: 240,
  defaultMemMiB: 2048,
  vmMemoryMiB: 0,
  vmVCPUs: 0,
  netNSPath: `/var/run/netns/k8s_${POD_NAME}_ml-serving_${POD_UID}_0-83297995`,
  containers: [containerFile(POD1, POD1), containerFile(POD1, INFER), containerFile(POD1, LOADER)],
  identity: SANDBOX_IDENTITY,
};

describe("parsePodConfig on the example tree", () => {
  it("pod 1 (CRI-O + cc-runtime 3.0.22): 16 boot vCPUs, max 240, 2048 MiB, three containers", () => {
    expect(parsePodConfig(readText(POD1_FILE))).toEqual({ ok: true, value: POD1_INFO });
  });

  it("pod 1 containers: sandbox first, in creation order, same as their own config files", () => {
    const v = okValue(parsePodConfig(readText(POD1_FILE)));
    expect(v.containers.map((c) => c.id)).toEqual([POD1, INFER, LOADER]);
    expect(v.containers.map((c) => c.vcType)).toEqual(["pod_sandbox", "pod_container", "pod_container"]);
    expect(v.containers.map((c) => c.identity.containerName)).toEqual([null, "infer", "loader"]);
    expect(v.containers[1]).toMatchObject({
      cpuQuota: 200000,
      cpuPeriod: 100000,
      cpuShares: 2048,
      deviceInfos: 1,
    });
  });

  it("pod 2 (Docker): VMConfig.Memory 512, runtime-created netns, no Kubernetes identity", () => {
    expect(okValue(parsePodConfig(readText(POD2_FILE)))).toEqual({
      id: POD2,
      hostname: "b6557d11c510",
      hypervisorType: "qemu",
      agentType: "hyperstart",
      proxyType: "ccProxy",
      shimType: "ccShim",
      networkModel: "CNM",
      defaultVCPUs: 16,
      defaultMaxVCPUs: 240,
      defaultMemMiB: 2048,
      vmMemoryMiB: 512,
      vmVCPUs: 0,
      netNSPath: "",
      containers: [containerFile(POD2, POD2)],
      identity: {
        status: "none",
        flavor: "none",
        kind: null,
        sandboxId: null,
        namespace: null,
        podName: null,
        podUid: null,
        containerName: null,
        image: null,
        createdSeconds: null,
        problem: null,
      },
    } satisfies PodConfigInfo);
  });

  it("pod 1 ShimConfig keys are sorted (rewritten after CreateContainer); fully sorted keys parse the same", () => {
    expect(readText(POD1_FILE)).toContain('"ShimConfig":{"Debug":false,"Path"');
    expect(parsePodConfig(sortedKeysJson(readJson(POD1_FILE)))).toEqual({ ok: true, value: POD1_INFO });
  });
});

describe("parsePodConfig: variants of spec section 7 and later Kata", () => {
  const base = readJson(POD2_FILE);
  const pod2 = okValue(parsePodConfig(readText(POD2_FILE)));
  const parse = (j: Json) => okValue(parsePodConfig(JSON.stringify(j)));

  it("cc-runtime <= 3.0.21 (before 2018-03-06): VMConfig {VCPUs, Memory}; VCPUs is the boot vCPU count", () => {
    const old = withPath(base, ["VMConfig"], { VCPUs: 2, Memory: 512 });
    expect(JSON.stringify(old)).toContain('"VMConfig":{"VCPUs":2,"Memory":512}');
    expect(parse(old)).toEqual({ ...pod2, vmVCPUs: 2, vmMemoryMiB: 512 });
  });

  it("before 2017-12-13: no DefaultMaxVCPUs", () => {
    expect(parse(withPath(base, [...HV, "DefaultMaxVCPUs"], undefined))).toEqual({
      ...pod2,
      defaultMaxVCPUs: null,
    });
  });

  it("before 2017-11-03: no DefaultBridges; older agent/proxy config shapes are ignored", () => {
    const old = withPaths(base, [
      [[...HV, "DefaultBridges"], undefined],
      [["AgentConfig"], { SockCtlName: "", SockTtyName: "", Volumes: null, Sockets: null }],
      [["ProxyConfig"], { URL: "unix:///var/run/cc-oci-runtime/proxy.sock" }],
    ]);
    expect(parse(old)).toEqual(pod2);
  });

  it("kata agent with AgentConfig null / GRPCSocket", () => {
    expect(
      parse(
        withPaths(base, [
          [["AgentType"], "noop"],
          [["AgentConfig"], null],
        ]),
      ),
    ).toEqual({ ...pod2, agentType: "noop" });
    expect(
      parse(
        withPaths(base, [
          [["AgentType"], "kata"],
          [["AgentConfig"], { GRPCSocket: "vsock://3:1024" }],
        ]),
      ),
    ).toEqual({
      ...pod2,
      agentType: "kata",
    });
  });

  it("cc-runtime 3.0.23: reordered HypervisorConfig with InitrdPath", () => {
    const hv = readJson(POD2_FILE);
    const order = [
      "KernelParams",
      "HypervisorParams",
      "KernelPath",
      "ImagePath",
      "InitrdPath",
      "FirmwarePath",
      "MachineAccelerators",
      "HypervisorPath",
      "BlockDeviceDriver",
      "HypervisorMachineType",
      "DefaultVCPUs",
      "DefaultMaxVCPUs",
      "DefaultMemSz",
      "DefaultBridges",
      "DisableBlockDeviceUse",
      "Debug",
      "MemPrealloc",
      "HugePages",
      "Realtime",
      "Mlock",
      "DisableNestingChecks",
    ];
    const src = (withPath(hv, [...HV, "InitrdPath"], "") as { HypervisorConfig: Record<string, Json> })
      .HypervisorConfig;
    const reordered = Object.fromEntries(order.map((k) => [k, src[k] ?? null]));
    expect(Object.keys(reordered)[10]).toBe("DefaultVCPUs");
    expect(parse(withPath(base, HV, reordered))).toEqual(pod2);
  });

  it("Kata 1.3+: NumVCPUs / MemorySize, no VMConfig, no Hooks", () => {
    const kata = withPaths(base, [
      [[...HV, "DefaultVCPUs"], undefined],
      [[...HV, "DefaultMemSz"], undefined],
      [[...HV, "NumVCPUs"], 4],
      [[...HV, "MemorySize"], 4096],
      [["VMConfig"], undefined],
      [["Hooks"], undefined],
      [["SystemdCgroup"], false],
      [["ShmSize"], 67108864],
    ]);
    expect(parse(kata)).toEqual({ ...pod2, defaultVCPUs: 4, defaultMemMiB: 4096, vmMemoryMiB: 0 });
  });

  it("the reference names win over the Kata 1.3 names when both are present", () => {
    const both = withPaths(base, [
      [[...HV, "NumVCPUs"], 4],
      [[...HV, "MemorySize"], 4096],
    ]);
    expect(parse(both)).toMatchObject({ defaultVCPUs: 16, defaultMemMiB: 2048 });
  });

  it("null vs [] vs missing for Containers; Volumes [] and null", () => {
    expect(parse(withPath(base, ["Containers"], null)).containers).toEqual([]);
    expect(parse(withPath(base, ["Containers"], [])).containers).toEqual([]);
    expect(parse(withPath(base, ["Containers"], undefined)).containers).toEqual([]);
    expect(parse(withPath(base, ["Volumes"], []))).toEqual(pod2);
    expect(parse(withPath(base, ["Volumes"], [{ MountTag: "t", HostPath: "/h" }]))).toEqual(pod2);
  });

  it("missing sub-objects default", () => {
    expect(
      parse(
        withPaths(base, [
          [HV, null],
          [["NetworkConfig"], undefined],
          [["VMConfig"], null],
        ]),
      ),
    ).toEqual({
      ...pod2,
      defaultVCPUs: 0,
      defaultMaxVCPUs: null,
      defaultMemMiB: 0,
      vmMemoryMiB: 0,
      netNSPath: "",
    });
  });

  it("Annotations null: identity unknown", () => {
    expect(parse(withPath(base, ["Annotations"], null)).identity).toMatchObject({
      status: "unknown",
      problem: "no embedded OCI spec",
    });
  });

  it("containerd CRI sandbox annotations in the pod's embedded spec", () => {
    const specText = goJson({
      ociVersion: "1.0.1",
      annotations: {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": POD2,
        "io.kubernetes.cri.sandbox-name": "web-0",
        "io.kubernetes.cri.sandbox-namespace": "default",
        "io.kubernetes.cri.sandbox-uid": "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
      },
    });
    expect(parse(withPath(base, ["Annotations", OCI_CONFIG_KEY], specText)).identity).toEqual({
      ...SANDBOX_IDENTITY,
      flavor: "containerd",
      sandboxId: POD2,
      podName: "web-0",
      namespace: "default",
      podUid: "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
      createdSeconds: null,
    });
  });

  it("HTML-escaped strings decode", () => {
    const text = readText(POD2_FILE).replace(
      '"Hostname":"b6557d11c510"',
      '"Hostname":"b6557d11c510\\u0026\\u003cx\\u003e"',
    );
    expect(okValue(parsePodConfig(text)).hostname).toBe("b6557d11c510&<x>");
  });

  it("a malformed container makes the whole pod config a schema error", () => {
    expect(errorOf(parsePodConfig(JSON.stringify(withPath(base, ["Containers", 0, "RootFs"], 7))))).toEqual({
      reason: "schema",
      message: "$.Containers[0].RootFs: expected a string",
    });
  });

  it("deeply nested values", () => {
    expect(okValue(parsePodConfig(`{"Hooks":${DEEP_ARRAY},"Volumes":${DEEP_OBJECT}}`)).containers).toEqual(
      [],
    );
    expect(errorOf(parsePodConfig(`{"Containers":${DEEP_ARRAY}}`))).toEqual({
      reason: "schema",
      message: "$.Containers[0]: expected an object",
    });
    expect(errorOf(parsePodConfig(`{"HypervisorConfig":{"DefaultVCPUs":${DEEP_ARRAY}}}`))).toEqual({
      reason: "schema",
      message: "$.HypervisorConfig.DefaultVCPUs: expected a non-negative integer",
    });
  });
});

describe("parsePodConfig: secrets never reach the output", () => {
  const base = readJson(POD1_FILE);
  const podSpec = goJson({
    ociVersion: "1.0.0",
    annotations: {
      "io.kubernetes.cri-o.ContainerType": "sandbox",
      "io.kubernetes.pod.name": POD_NAME,
      "kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Pod","spec":{"containers":[{"env":[{"name":"API_KEY","value":"${SECRET}"}]}]}}`,
    },
    process: { env: [`API_KEY=${SECRET}`] },
  });
  const withSecrets = withPaths(base, [
    [
      ["Hooks", "PreStartHooks"],
      [{ Path: "/hook", Args: ["--key", SECRET], Env: [`API_KEY=${SECRET}`], Timeout: 0 }],
    ],
    [["Containers", 1, "Cmd", "Envs"], [{ Var: "API_KEY", Value: SECRET }]],
    [["Annotations", OCI_CONFIG_KEY], podSpec],
    [["Annotations", "kubectl.kubernetes.io/last-applied-configuration"], `{"value":"${SECRET}"}`],
  ]);

  it("ok result: no env value (Cmd.Envs, hook Env), no annotation, no raw spec", () => {
    const r = parsePodConfig(JSON.stringify(withSecrets));
    expect(okValue(r).identity.podName).toBe(POD_NAME);
    const out = JSON.stringify(r);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain("API_KEY");
    expect(out).not.toContain("last-applied");
    expect(out).not.toContain("ociVersion");
  });

  it("the real pod config's environment and spec are not in the output", () => {
    const out = JSON.stringify(parsePodConfig(readText(POD1_FILE)));
    expect(out).not.toContain("KUBERNETES_SERVICE_HOST");
    expect(out).not.toContain("/usr/local/sbin");
    expect(out).not.toContain("ociVersion");
    expect(out).not.toContain("io.kubernetes.cri-o.Labels");
  });

  it("failed results do not quote them either", () => {
    const r = parsePodConfig(
      JSON.stringify(withPath(withSecrets, ["Containers", 1, "Resources", "CPUQuota"], SECRET)),
    );
    expect(errorOf(r)).toEqual({
      reason: "schema",
      message: "$.Containers[1].Resources.CPUQuota: expected an integer",
    });
    const text = JSON.stringify(withSecrets);
    const cut = parsePodConfig(text.slice(0, text.lastIndexOf(SECRET) + 6));
    expect(errorOf(cut).reason).toBe("truncated");
    expect(JSON.stringify(cut)).not.toContain("SECRET");
  });
});

describe("parsePodConfig: wrong types of every used field", () => {
  const base = readJson(POD2_FILE);
  const kata = withPaths(base, [
    [[...HV, "DefaultVCPUs"], undefined],
    [[...HV, "DefaultMemSz"], undefined],
    [[...HV, "NumVCPUs"], 1],
    [[...HV, "MemorySize"], 2048],
  ]);
  const fields: [Json, JsonPath, FieldKind, string][] = [
    [base, ["ID"], "string", "a string"],
    [base, ["Hostname"], "string", "a string"],
    [base, ["HypervisorType"], "string", "a string"],
    [base, ["AgentType"], "string", "a string"],
    [base, ["ProxyType"], "string", "a string"],
    [base, ["ShimType"], "string", "a string"],
    [base, ["NetworkModel"], "string", "a string"],
    [base, HV, "object", "an object"],
    [base, [...HV, "DefaultVCPUs"], "uint", "a non-negative integer"],
    [base, [...HV, "DefaultMaxVCPUs"], "uint", "a non-negative integer"],
    [base, [...HV, "DefaultMemSz"], "uint", "a non-negative integer"],
    [kata, [...HV, "NumVCPUs"], "uint", "a non-negative integer"],
    [kata, [...HV, "MemorySize"], "uint", "a non-negative integer"],
    [base, ["VMConfig"], "object", "an object"],
    [base, ["VMConfig", "Memory"], "uint", "a non-negative integer"],
    [base, ["VMConfig", "VCPUs"], "uint", "a non-negative integer"],
    [base, ["NetworkConfig"], "object", "an object"],
    [base, ["NetworkConfig", "NetNSPath"], "string", "a string"],
    [base, ["Containers"], "array", "an array"],
    [base, ["Containers", 0], "object", "an object"],
  ];
  const cases = fields.flatMap(([doc, path, kind, exp]) =>
    wrongValues(kind).map((v) => [path.join("."), JSON.stringify(v), doc, path, v, exp] as const),
  );
  it.each(cases)("$.%s = %s", (shown, _s, doc, path, value, expected) => {
    const message = `$.${shown.replace(/\.(\d+)/g, "[$1]")}: expected ${expected}`;
    expect(parsePodConfig(JSON.stringify(withPath(doc, path, value)))).toEqual({
      ok: false,
      error: { reason: "schema", message },
    });
  });

  it.each(wrongValues("stringMap").map((v) => [JSON.stringify(v), v] as const))(
    "$.Annotations = %s",
    (_s, value) => {
      const e = errorOf(parsePodConfig(JSON.stringify(withPath(base, ["Annotations"], value))));
      expect(e.reason).toBe("schema");
      expect(e.message).toMatch(/^\$\.Annotations(\["k"\])?: expected (an object|a string)$/);
    },
  );

  it("fields that are not read may have any type", () => {
    const odd = withPaths(base, [
      [["Hooks"], "x"],
      [["AgentConfig"], 1],
      [["ProxyConfig"], []],
      [["ShimConfig"], true],
      [["Volumes"], { a: 1 }],
      [[...HV, "KernelParams"], "x"],
      [["NetworkConfig", "NumInterfaces"], "one"],
    ]);
    expect(okValue(parsePodConfig(JSON.stringify(odd)))).toEqual(
      okValue(parsePodConfig(readText(POD2_FILE))),
    );
  });
});

describe("parsePodConfig: property (c)", () => {
  const gen = fc.record({
    id: fc.stringMatching(/^[0-9a-f]{64}$/),
    hostname: fc.string({ maxLength: 30 }),
    kata13: fc.boolean(),
    vcpus: fc.nat({ max: 240 }),
    maxVcpus: fc.option(fc.nat({ max: 240 })),
    mem: nat32,
    vm: fc.option(fc.record({ vcpus: fc.option(fc.nat({ max: 64 })), memory: nat32 })),
    netns: fc.string(),
    agent: fc.constantFrom("hyperstart", "kata", "noop"),
    containers: fc.option(fc.array(containerArbitrary, { maxLength: 3 })),
    sandboxAnnotations: fc.option(
      fc.record({
        "io.kubernetes.cri-o.ContainerType": fc.constant("sandbox"),
        "io.kubernetes.pod.name": fc.constantFrom(POD_NAME, "web-0"),
        "io.kubernetes.pod.namespace": fc.constantFrom("ml-serving", "default"),
        "kubectl.kubernetes.io/last-applied-configuration": fc.constant(SECRET),
      }),
    ),
  });
  type G = typeof gen extends fc.Arbitrary<infer T> ? T : never;

  const toDoc = (g: G): Doc =>
    dobj({
      ID: g.id,
      Hostname: g.hostname,
      ...(g.kata13
        ? {}
        : {
            Hooks: dobj({
              PreStartHooks: darr([dobj({ Path: "/h", Args: null, Env: [`K=${SECRET}`], Timeout: 0 })]),
              PostStartHooks: null,
              PostStopHooks: null,
            }),
          }),
      ...(g.vm === null || g.kata13
        ? {}
        : { VMConfig: dobj({ ...(g.vm.vcpus === null ? {} : { VCPUs: g.vm.vcpus }), Memory: g.vm.memory }) }),
      HypervisorType: "qemu",
      HypervisorConfig: dobj({
        KernelPath: "/k",
        KernelParams: darr([dobj({ Key: "init", Value: "/sbin/init" })]),
        [g.kata13 ? "NumVCPUs" : "DefaultVCPUs"]: g.vcpus,
        ...(g.maxVcpus === null ? {} : { DefaultMaxVCPUs: g.maxVcpus }),
        [g.kata13 ? "MemorySize" : "DefaultMemSz"]: g.mem,
        DefaultBridges: 1,
      }),
      AgentType: g.agent,
      AgentConfig: g.agent === "noop" ? null : dobj({ SockCtlName: "", SockTtyName: "" }),
      ProxyType: "ccProxy",
      ProxyConfig: dobj({ Path: "/p", Debug: false }),
      ShimType: "ccShim",
      ShimConfig: dobj({ Debug: false, Path: "/s" }),
      NetworkModel: "CNM",
      NetworkConfig: dobj({ NetNSPath: g.netns, NumInterfaces: 1, InterworkingModel: 2 }),
      Volumes: null,
      Containers: g.containers === null ? null : darr(g.containers.map(containerDoc)),
      Annotations:
        g.sandboxAnnotations === null
          ? null
          : dobj(
              {
                [OCI_CONFIG_KEY]: new DocStr(
                  dobj({
                    ociVersion: "1.0.0",
                    annotations: dobj(g.sandboxAnnotations, "string"),
                    process: dobj({ env: [`K=${SECRET}`] }),
                  }),
                ),
              },
              "string",
            ),
    });

  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parsePodConfig,
      gen,
      toDoc,
      (v, g) => {
        const { containers, identity, ...rest } = v;
        expect(rest).toEqual({
          id: g.id,
          hostname: g.hostname,
          hypervisorType: "qemu",
          agentType: g.agent,
          proxyType: "ccProxy",
          shimType: "ccShim",
          networkModel: "CNM",
          defaultVCPUs: g.vcpus,
          defaultMaxVCPUs: g.maxVcpus,
          defaultMemMiB: g.mem,
          vmMemoryMiB: g.kata13 ? 0 : (g.vm?.memory ?? 0),
          vmVCPUs: g.kata13 ? 0 : (g.vm?.vcpus ?? 0),
          netNSPath: g.netns,
        });
        expect(
          containers.map((c) => Object.fromEntries(Object.entries(c).filter(([k]) => k !== "identity"))),
        ).toEqual((g.containers ?? []).map(expectedContainer));
        expect(identity).toEqual(
          g.sandboxAnnotations === null
            ? expect.objectContaining({ status: "unknown" })
            : identityFromOciAnnotations(g.sandboxAnnotations),
        );
        expect(JSON.stringify(v)).not.toContain(SECRET);
      },
      80,
    );
  });
});

describeRobustness("parsePodConfig", parsePodConfig, {
  top: "object",
  realFiles: [POD1_FILE, POD2_FILE],
  numRuns: 150,
  knownKeys: [
    "ID",
    "Hostname",
    "HypervisorType",
    "AgentType",
    "ProxyType",
    "ShimType",
    "NetworkModel",
    "HypervisorConfig",
    "DefaultVCPUs",
    "NumVCPUs",
    "DefaultMaxVCPUs",
    "DefaultMemSz",
    "MemorySize",
    "VMConfig",
    "Memory",
    "VCPUs",
    "NetworkConfig",
    "NetNSPath",
    "Containers",
    "Annotations",
    "RootFs",
    "Resources",
    OCI_CONFIG_KEY,
  ],
});
