/**
 * fast-check generators of valid-shaped container configs (spec 4.2), shared by the
 * container-config and pod-config tests. Each generated value carries what the parser must
 * return for it.
 */
import fc from "fast-check";

import { BUNDLE_PATH_KEY, CONTAINER_TYPE_KEY, OCI_CONFIG_KEY } from "../../../src/format/identity.js";
import { DocStr, POD1, POD_NAME, POD_UID, SECRET, darr, dobj, plainString, type Doc } from "./helpers.js";

export interface GenContainer {
  readonly id: string;
  readonly rootFs: string;
  readonly vcType: "pod_sandbox" | "pod_container" | null;
  readonly bundlePath: string | null;
  readonly hasAnnotations: boolean;
  readonly specAnnotations: Readonly<Record<string, string>> | null;
  readonly mounts: number;
  readonly mountsNull: boolean;
  readonly deviceInfos: number | null;
  readonly resources:
    | { readonly form: "none" }
    | {
        readonly form: "reference";
        readonly quota: number;
        readonly period: number;
        readonly shares: number | null;
      }
    | {
        readonly form: "oci";
        readonly quota: number | null;
        readonly period: number | null;
        readonly shares: number | null;
      };
  readonly envs: readonly (readonly [string, string])[];
  readonly withCapabilities: boolean;
}

const criAnnotations = fc.oneof(
  fc.constant(null),
  fc.constant({}),
  fc.record({
    "io.kubernetes.cri-o.ContainerType": fc.constantFrom("sandbox", "container"),
    "io.kubernetes.cri-o.SandboxID": fc.constant(POD1),
    "io.kubernetes.pod.name": fc.constant(POD_NAME),
    "io.kubernetes.pod.namespace": fc.constantFrom("ml-serving", "default"),
    "io.kubernetes.pod.uid": fc.constant(POD_UID),
    "io.kubernetes.container.name": fc.constantFrom("infer", "loader"),
    "io.kubernetes.cri-o.ImageName": fc.constant("docker.io/library/busybox:1.28"),
    "kubectl.kubernetes.io/last-applied-configuration": fc.constant(`{"env":"${SECRET}"}`),
  }),
  fc.record(
    {
      "io.kubernetes.cri.container-type": fc.constantFrom("sandbox", "container"),
      "io.kubernetes.cri.sandbox-id": fc.constant(POD1),
      "io.kubernetes.cri.sandbox-name": fc.constant(POD_NAME),
      "io.kubernetes.cri.sandbox-namespace": fc.constant("ml-serving"),
      "io.kubernetes.cri.sandbox-uid": fc.constant(POD_UID),
      "io.kubernetes.cri.container-name": fc.constant("infer"),
      "io.kubernetes.cri.image-name": fc.constant("docker.io/tensorflow/serving:1.5.0"),
    },
    { requiredKeys: ["io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"] },
  ),
  fc.record({
    "io.kubernetes.docker.type": fc.constantFrom("podsandbox", "container"),
    "io.kubernetes.sandbox.id": fc.constant(POD1),
    "io.kubernetes.pod.name": fc.constant("web-0"),
  }),
);

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const nat = fc.nat({ max: 2 ** 31 - 1 });

export const containerArbitrary: fc.Arbitrary<GenContainer> = fc.record({
  id: fc.stringMatching(/^[0-9a-f]{64}$/),
  rootFs: plainString,
  vcType: fc.constantFrom("pod_sandbox" as const, "pod_container" as const, null),
  bundlePath: fc.option(plainString),
  hasAnnotations: fc.boolean(),
  specAnnotations: criAnnotations,
  mounts: fc.nat({ max: 4 }),
  mountsNull: fc.boolean(),
  deviceInfos: fc.option(fc.nat({ max: 3 })),
  resources: fc.oneof(
    fc.constant({ form: "none" as const }),
    fc.record({ form: fc.constant("reference" as const), quota: int32, period: nat, shares: fc.option(nat) }),
    fc.record({
      form: fc.constant("oci" as const),
      quota: fc.option(int32),
      period: fc.option(nat),
      shares: fc.option(nat),
    }),
  ),
  envs: fc.array(fc.tuple(fc.stringMatching(/^[A-Z_]{1,8}$/), fc.constant(SECRET)), { maxLength: 3 }),
  withCapabilities: fc.boolean(),
});

function mountDoc(i: number): Doc {
  return dobj({
    Source: `/src/${i}`,
    Destination: `/dst/${i}`,
    Type: "bind",
    Options: ["rbind"],
    HostPath: "",
    ReadOnly: false,
  });
}

function deviceInfoDoc(i: number): Doc {
  return dobj({
    HostPath: "",
    ContainerPath: `/dev/x${i}`,
    DevType: "c",
    Major: 10,
    Minor: i,
    FileMode: 8630,
    UID: 0,
    GID: 0,
    Hotplugged: false,
    ID: "",
  });
}

/** The embedded OCI spec: its annotations are a map (extras are strings), env holds the secret. */
function specDoc(g: GenContainer): Doc {
  return new DocStr(
    dobj({
      ociVersion: "1.0.0",
      hostname: "h",
      ...(g.specAnnotations === null ? {} : { annotations: dobj(g.specAnnotations, "string") }),
      process: dobj({ args: ["sh"], env: darr(g.envs.map(([k, v]) => `${k}=${v}`)) }),
    }),
  );
}

export function containerDoc(g: GenContainer): Doc {
  const annotations: Record<string, Doc> = { [OCI_CONFIG_KEY]: specDoc(g) };
  if (g.bundlePath !== null) annotations[BUNDLE_PATH_KEY] = g.bundlePath;
  if (g.vcType !== null) annotations[CONTAINER_TYPE_KEY] = g.vcType;
  const r = g.resources;
  const resources: Record<string, Doc> =
    r.form === "none"
      ? {}
      : r.form === "reference"
        ? {
            Resources: dobj({
              CPUQuota: r.quota,
              CPUPeriod: r.period,
              ...(r.shares === null ? {} : { CPUShares: r.shares }),
            }),
          }
        : {
            Resources: dobj({
              cpu: dobj({
                shares: r.shares,
                quota: r.quota,
                period: r.period,
                realtimeRuntime: null,
                cpus: "",
              }),
              memory: dobj({ limit: 536870912 }),
            }),
          };
  return dobj({
    ID: g.id,
    RootFs: g.rootFs,
    ReadonlyRootfs: false,
    Cmd: dobj({
      Args: ["sh", "-c", "a && b"],
      Envs: darr(g.envs.map(([k, v]) => dobj({ Var: k, Value: v }))),
      WorkDir: "/",
      User: "0",
      PrimaryGroup: "0",
      SupplementaryGroups: [],
      Interactive: false,
      Console: "",
      Detach: true,
      ...(g.withCapabilities
        ? {
            NoNewPrivileges: false,
            Capabilities: dobj({
              Bounding: ["CAP_KILL"],
              Effective: null,
              Inheritable: null,
              Permitted: null,
              Ambient: null,
            }),
          }
        : {}),
    }),
    Annotations: g.hasAnnotations ? dobj(annotations, "string") : null,
    Mounts:
      g.mountsNull && g.mounts === 0 ? null : darr(Array.from({ length: g.mounts }, (_, i) => mountDoc(i))),
    ...(g.deviceInfos === null
      ? {}
      : { DeviceInfos: darr(Array.from({ length: g.deviceInfos }, (_, i) => deviceInfoDoc(i))) }),
    ...resources,
  });
}

/** What parseContainerConfig must return for `g`, except `identity`. */
export function expectedContainer(g: GenContainer): Record<string, unknown> {
  const r = g.resources;
  const cpu =
    r.form === "none"
      ? { cpuQuota: 0, cpuPeriod: 0, cpuShares: 0 }
      : r.form === "reference"
        ? { cpuQuota: r.quota, cpuPeriod: r.period, cpuShares: r.shares ?? 0 }
        : { cpuQuota: r.quota ?? 0, cpuPeriod: r.period ?? 0, cpuShares: r.shares ?? 0 };
  return {
    id: g.id,
    rootFs: g.rootFs,
    vcType: g.hasAnnotations ? g.vcType : null,
    bundlePath: g.hasAnnotations ? g.bundlePath : null,
    mounts: g.mounts,
    deviceInfos: g.deviceInfos ?? 0,
    ...cpu,
  };
}
