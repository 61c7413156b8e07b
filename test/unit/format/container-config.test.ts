import { describe, expect, it } from "vitest";

import { parseContainerConfig } from "../../../src/format/container-config.js";
import {
  BUNDLE_PATH_KEY,
  CONTAINER_TYPE_KEY,
  OCI_CONFIG_KEY,
  identityFromOciAnnotations,
  type Identity,
} from "../../../src/format/identity.js";
import type { ContainerConfigInfo } from "../../../src/format/model.js";
import { containerArbitrary, containerDoc, expectedContainer } from "./arbitraries.js";
import {
  DEEP_ARRAY,
  DEEP_OBJECT,
  HUGE_STRING_JSON,
  INFER,
  LOADER,
  POD1,
  POD2,
  POD_NAME,
  POD_UID,
  SECRET,
  describeRobustness,
  errorOf,
  goJson,
  libFile,
  okValue,
  readJson,
  readText,
  roundTripProperty,
  sortedKeysJson,
  withPath,
  withPaths,
  wrongValues,
  type FieldKind,
  type Json,
  type JsonPath,
} from "./helpers.js";

const SANDBOX_FILE = libFile(POD1, POD1, "config.json");
const INFER_FILE = libFile(POD1, INFER, "config.json");
const LOADER_FILE = libFile(POD1, LOADER, "config.json");
const DOCKER_FILE = libFile(POD2, POD2, "config.json");

const CRIO_CONTAINER: Identity = {
  status: "known",
  flavor: "cri-o",
  kind: "container",
  sandboxId: POD1,
  namespace: "ml-serving",
  podName: POD_NAME,
  podUid: POD_UID,
  containerName: "infer",
  image: "docker.io/tensorflow/serving:1.5.0",
  createdSeconds: Date.parse("2018-03-21T09:14:11.249Z") / 1000,
  problem: null,
};

const INFER_INFO: ContainerConfigInfo = {
  id: INFER,
  rootFs:
    "/var/lib/containers/storage/overlay/2500f7f9cbd664be6ea38d50a3425b09e2c04250f7afeab8f60f94259cc7d2af/merged",
  vcType: "pod_container",
  bundlePath: `/var/run/containers/storage/overlay-containers/${INFER}/userdata`,
  identity: CRIO_CONTAINER,
  mounts: 13,
  deviceInfos: 1,
  cpuQuota: 200000,
  cpuPeriod: 100000,
  cpuShares: 2048,
};

describe("parseContainerConfig on the example tree", () => {
  it("infer: CPU limit 2 (quota/period), one device, CRI-O identity", () => {
    expect(parseContainerConfig(readText(INFER_FILE))).toEqual({ ok: true, value: INFER_INFO });
  });

  it("sandbox (pause) container", () => {
    expect(okValue(parseContainerConfig(readText(SANDBOX_FILE)))).toEqual({
      id: POD1,
      rootFs:
        "/var/lib/containers/storage/overlay/d041b38b8328453eb3703416602c5a2a1d561af617e6786516967b7cb5effcb9/merged",
      vcType: "pod_sandbox",
      bundlePath: `/var/run/containers/storage/overlay-containers/${POD1}/userdata`,
      identity: {
        ...CRIO_CONTAINER,
        kind: "sandbox",
        containerName: null,
        image: null,
        createdSeconds: Date.parse("2018-03-21T09:14:05.637Z") / 1000,
      },
      mounts: 8,
      deviceInfos: 0,
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 2,
    });
  });

  it("loader: two devices, \\u0026-escaped command", () => {
    expect(readText(LOADER_FILE)).toContain("/mnt \\u0026\\u0026 cp");
    expect(okValue(parseContainerConfig(readText(LOADER_FILE)))).toEqual({
      id: LOADER,
      rootFs:
        "/var/lib/containers/storage/overlay/6eed18495d8dcebdde1a375358f7d8635d4aa31fa2f4c3621213802144ed0bca/merged",
      vcType: "pod_container",
      bundlePath: `/var/run/containers/storage/overlay-containers/${LOADER}/userdata`,
      identity: {
        ...CRIO_CONTAINER,
        containerName: "loader",
        image: "docker.io/library/busybox:1.28",
        createdSeconds: Date.parse("2018-03-21T09:14:13.027Z") / 1000,
      },
      mounts: 13,
      deviceInfos: 2,
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 256,
    });
  });

  it("Docker container: no Kubernetes identity (status none)", () => {
    expect(okValue(parseContainerConfig(readText(DOCKER_FILE)))).toEqual({
      id: POD2,
      rootFs:
        "/var/lib/docker/overlay2/63c159186f7aa64a8fac7388148764f361a1c3f63dea50027a868da99fd8047b/merged",
      vcType: "pod_sandbox",
      bundlePath: `/run/docker/containerd/daemon/io.containerd.runtime.v1.linux/moby/${POD2}`,
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
      mounts: 11,
      deviceInfos: 0,
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("sorted key order (a re-marshalled map) parses identically", () => {
    expect(parseContainerConfig(sortedKeysJson(readJson(INFER_FILE)))).toEqual({
      ok: true,
      value: INFER_INFO,
    });
  });
});

describe("parseContainerConfig: variants of spec section 7 and later Kata", () => {
  const base = readJson(INFER_FILE);
  const parse = (j: Json) => okValue(parseContainerConfig(JSON.stringify(j)));

  it("before 2018-01-09: no Resources", () => {
    expect(parse(withPath(base, ["Resources"], undefined))).toEqual({
      ...INFER_INFO,
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("2018-01-09 .. 2018-03-12: Resources without CPUShares", () => {
    expect(parse(withPath(base, ["Resources", "CPUShares"], undefined))).toEqual({
      ...INFER_INFO,
      cpuShares: 0,
    });
  });

  it("before 2018-01-04 / 2017-12-20: no Capabilities, no NoNewPrivileges, no DeviceInfos", () => {
    const old = withPaths(base, [
      [["Cmd", "Capabilities"], undefined],
      [["Cmd", "NoNewPrivileges"], undefined],
      [["DeviceInfos"], undefined],
    ]);
    expect(parse(old)).toEqual({ ...INFER_INFO, deviceInfos: 0 });
  });

  it("Kata 1.5+: OCI LinuxResources with lower-case cpu", () => {
    const kata = withPath(base, ["Resources"], {
      devices: null,
      memory: { limit: 2147483648, reservation: null },
      cpu: {
        shares: 1024,
        quota: 150000,
        period: 100000,
        realtimeRuntime: null,
        realtimePeriod: null,
        cpus: "",
        mems: "",
      },
    });
    expect(parse(kata)).toEqual({ ...INFER_INFO, cpuQuota: 150000, cpuPeriod: 100000, cpuShares: 1024 });
  });

  it("Kata 1.5+: OCI cpu with null pointers and unlimited quota", () => {
    expect(parse(withPath(base, ["Resources"], { cpu: { shares: null, quota: -1, period: null } }))).toEqual({
      ...INFER_INFO,
      cpuQuota: -1,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("Kata 1.5+: OCI resources without cpu are all zero", () => {
    expect(parse(withPath(base, ["Resources"], { memory: { limit: 1 }, cpu: null }))).toEqual({
      ...INFER_INFO,
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("Kata 1.0-1.4: Resources {VCPUs, MemByte} gives no CPU values", () => {
    expect(parse(withPath(base, ["Resources"], { VCPUs: 2, MemByte: 0 }))).toMatchObject({
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("null vs [] for Mounts and DeviceInfos", () => {
    expect(
      parse(
        withPaths(base, [
          [["Mounts"], null],
          [["DeviceInfos"], []],
        ]),
      ),
    ).toMatchObject({ mounts: 0, deviceInfos: 0 });
    expect(
      parse(
        withPaths(base, [
          [["Mounts"], []],
          [["DeviceInfos"], null],
        ]),
      ),
    ).toMatchObject({ mounts: 0, deviceInfos: 0 });
  });

  it("Annotations null: no type, no bundle, identity unknown", () => {
    expect(parse(withPath(base, ["Annotations"], null))).toEqual({
      ...INFER_INFO,
      vcType: null,
      bundlePath: null,
      identity: {
        ...CRIO_CONTAINER,
        ...nulls,
        status: "unknown",
        flavor: "none",
        problem: "no embedded OCI spec",
      },
    });
  });

  it("a container_type that is neither pod_sandbox nor pod_container is null", () => {
    expect(
      parse(withPath(base, ["Annotations", CONTAINER_TYPE_KEY], "unknown_container_type")).vcType,
    ).toBeNull();
  });

  it("containerd CRI annotations in the embedded spec", () => {
    const specText = goJson({
      ociVersion: "1.0.1",
      annotations: {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-id": POD1,
        "io.kubernetes.cri.sandbox-name": POD_NAME,
        "io.kubernetes.cri.sandbox-namespace": "ml-serving",
        "io.kubernetes.cri.sandbox-uid": POD_UID,
        "io.kubernetes.cri.container-name": "infer",
        "io.kubernetes.cri.image-name": "docker.io/tensorflow/serving:1.5.0",
      },
      process: { env: ["A=b"] },
    });
    expect(parse(withPath(base, ["Annotations", OCI_CONFIG_KEY], specText)).identity).toEqual({
      ...CRIO_CONTAINER,
      flavor: "containerd",
      createdSeconds: null,
    });
  });

  it("a 2018 cri-containerd spec (only container-type and sandbox-id)", () => {
    const specText = JSON.stringify({
      annotations: { "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": POD1 },
    });
    expect(parse(withPath(base, ["Annotations", OCI_CONFIG_KEY], specText)).identity).toEqual({
      ...CRIO_CONTAINER,
      ...nulls,
      flavor: "containerd",
      kind: "container",
      sandboxId: POD1,
    });
  });

  it("dockershim annotations in the embedded spec", () => {
    const specText = JSON.stringify({
      annotations: {
        "io.kubernetes.docker.type": "podsandbox",
        "io.kubernetes.pod.namespace": "kube-system",
      },
    });
    expect(parse(withPath(base, ["Annotations", OCI_CONFIG_KEY], specText)).identity).toMatchObject({
      status: "known",
      flavor: "dockershim",
      kind: "sandbox",
      namespace: "kube-system",
    });
  });

  it("HTML-escaped strings decode", () => {
    const text = JSON.stringify(withPath(base, ["RootFs"], "/r/a&b<c>")).replace(
      "a&b<c>",
      "a\\u0026b\\u003cc\\u003e",
    );
    expect(text).toContain("\\u0026");
    expect(okValue(parseContainerConfig(text)).rootFs).toBe("/r/a&b<c>");
  });

  it("fields that are not read may have any type (Cmd, ReadonlyRootfs)", () => {
    expect(
      parse(
        withPaths(base, [
          [["Cmd"], 5],
          [["ReadonlyRootfs"], "yes"],
        ]),
      ),
    ).toEqual(INFER_INFO);
  });

  it("entries of Mounts and DeviceInfos are only counted", () => {
    expect(
      parse(
        withPaths(base, [
          [["Mounts"], [1, "x", null]],
          [["DeviceInfos"], [[]]],
        ]),
      ),
    ).toMatchObject({ mounts: 3, deviceInfos: 1 });
  });

  it("deeply nested values", () => {
    const deepMounts = JSON.stringify(base).replace(
      /"Mounts":\[.*?\],"DeviceInfos"/,
      `"Mounts":${DEEP_ARRAY},"DeviceInfos"`,
    );
    expect(okValue(parseContainerConfig(deepMounts)).mounts).toBe(1);
    const deepAnn = `{"ID":"x","Annotations":${DEEP_OBJECT}}`;
    expect(errorOf(parseContainerConfig(deepAnn))).toEqual({
      reason: "schema",
      message: '$.Annotations["a"]: expected a string',
    });
    expect(errorOf(parseContainerConfig(`{"Resources":{"cpu":{"quota":${DEEP_ARRAY}}}}`))).toEqual({
      reason: "schema",
      message: "$.Resources.cpu.quota: expected an integer",
    });
    expect(okValue(parseContainerConfig(`{"Resources":{"cpu":${DEEP_OBJECT}}}`))).toMatchObject({
      cpuQuota: 0,
      cpuPeriod: 0,
      cpuShares: 0,
    });
  });

  it("a 4 MiB RootFs is kept", () => {
    expect(okValue(parseContainerConfig(`{"RootFs":${HUGE_STRING_JSON}}`)).rootFs).toHaveLength(
      4 * 1024 * 1024,
    );
  });
});

const nulls = {
  kind: null,
  sandboxId: null,
  namespace: null,
  podName: null,
  podUid: null,
  containerName: null,
  image: null,
  createdSeconds: null,
} as const;

describe("parseContainerConfig: secrets never reach the output", () => {
  const base = readJson(INFER_FILE);
  const specText = goJson({
    ociVersion: "1.0.0",
    annotations: {
      "io.kubernetes.cri-o.ContainerType": "container",
      "io.kubernetes.container.name": "infer",
      "kubectl.kubernetes.io/last-applied-configuration": `{"env":[{"name":"DB_PASSWORD","value":"${SECRET}"}]}`,
    },
    process: { env: [`DB_PASSWORD=${SECRET}`], args: ["--token", SECRET] },
  });
  const withSecrets = withPaths(base, [
    [
      ["Cmd", "Envs"],
      [
        { Var: "DB_PASSWORD", Value: SECRET },
        { Var: "PATH", Value: "/bin" },
      ],
    ],
    [
      ["Cmd", "Args"],
      ["serve", `--password=${SECRET}`],
    ],
    [["Annotations", OCI_CONFIG_KEY], specText],
    [["Annotations", "io.example/secret"], SECRET],
  ]);

  it("ok result: no env value, no raw spec, no other annotation", () => {
    const r = parseContainerConfig(JSON.stringify(withSecrets));
    expect(okValue(r).identity.containerName).toBe("infer");
    const out = JSON.stringify(r);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain("DB_PASSWORD");
    expect(out).not.toContain("ociVersion");
    expect(out).not.toContain("last-applied");
    expect(out).not.toContain(specText.slice(0, 40));
  });

  it("failed results do not quote them either", () => {
    for (const broken of [
      withPath(withSecrets, ["RootFs"], 1),
      withPath(withSecrets, ["Resources", "CPUShares"], -1),
      withPath(withSecrets, ["Annotations", BUNDLE_PATH_KEY], { v: SECRET }),
    ]) {
      const r = parseContainerConfig(JSON.stringify(broken));
      expect(errorOf(r).reason).toBe("schema");
      expect(JSON.stringify(r)).not.toContain(SECRET);
    }
    const cut = JSON.stringify(withSecrets);
    const r = parseContainerConfig(cut.slice(0, cut.indexOf(SECRET) + 5));
    expect(JSON.stringify(r)).not.toContain("SECRE");
  });
});

describe("parseContainerConfig: wrong types of every used field", () => {
  const base = readJson(INFER_FILE);
  const ociBase = withPath(base, ["Resources"], { cpu: { shares: 1024, quota: 100000, period: 100000 } });
  const fields: [Json, JsonPath, FieldKind, string][] = [
    [base, ["ID"], "string", "a string"],
    [base, ["RootFs"], "string", "a string"],
    [base, ["Annotations"], "stringMap", ""],
    [base, ["Mounts"], "array", "an array"],
    [base, ["DeviceInfos"], "array", "an array"],
    [base, ["Resources"], "object", "an object"],
    [base, ["Resources", "CPUQuota"], "int", "an integer"],
    [base, ["Resources", "CPUPeriod"], "uint", "a non-negative integer"],
    [base, ["Resources", "CPUShares"], "uint", "a non-negative integer"],
    [base, ["Resources", "cpu"], "object", "an object"],
    [ociBase, ["Resources", "cpu", "quota"], "int", "an integer"],
    [ociBase, ["Resources", "cpu", "period"], "uint", "a non-negative integer"],
    [ociBase, ["Resources", "cpu", "shares"], "uint", "a non-negative integer"],
  ];
  const cases = fields.flatMap(([doc, path, kind, exp]) =>
    wrongValues(kind).map((v) => [path.join("."), JSON.stringify(v), doc, path, v, exp] as const),
  );
  it.each(cases)("$.%s = %s", (shown, shownValue, doc, path, value, expected) => {
    const e = errorOf(parseContainerConfig(JSON.stringify(withPath(doc, path, value))));
    expect(e.reason).toBe("schema");
    if (expected === "") {
      // a map[string]string: either the map or one of its values is named
      expect(e.message).toMatch(
        shownValue.startsWith("{")
          ? /^\$\.Annotations\["k"\]: expected a string$/
          : /^\$\.Annotations: expected an object$/,
      );
    } else {
      expect(e.message).toBe(`$.${shown}: expected ${expected}`);
    }
  });
});

describe("parseContainerConfig: property (c)", () => {
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseContainerConfig,
      containerArbitrary,
      containerDoc,
      (v, g) => {
        const { identity, ...rest } = v;
        expect(rest).toEqual(expectedContainer(g));
        if (!g.hasAnnotations) expect(identity.status).toBe("unknown");
        else expect(identity).toEqual(identityFromOciAnnotations(g.specAnnotations ?? {}));
        expect(JSON.stringify(v)).not.toContain("SECRET");
      },
      150,
    );
  });
});

describeRobustness("parseContainerConfig", parseContainerConfig, {
  top: "object",
  realFiles: [SANDBOX_FILE, INFER_FILE, LOADER_FILE, DOCKER_FILE],
  numRuns: 150,
  knownKeys: [
    "ID",
    "RootFs",
    "Annotations",
    "Mounts",
    "DeviceInfos",
    "Resources",
    "CPUQuota",
    "CPUPeriod",
    "CPUShares",
    "cpu",
    "quota",
    "period",
    "shares",
    OCI_CONFIG_KEY,
    BUNDLE_PATH_KEY,
    CONTAINER_TYPE_KEY,
  ],
});
