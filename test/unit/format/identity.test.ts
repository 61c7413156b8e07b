import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  BUNDLE_PATH_KEY,
  CONTAINER_TYPE_KEY,
  OCI_CONFIG_KEY,
  VC_ANNOTATION_PREFIX,
  identityFromOciAnnotations,
  identityFromVcAnnotations,
  isDnsLabel,
  isDnsSubdomain,
  isUid,
  parseEmbeddedSpecAnnotations,
  unknownIdentity,
  type Identity,
} from "../../../src/format/identity.js";
import {
  INFER,
  LOADER,
  POD1,
  POD2,
  POD_NAME,
  POD_UID,
  SECRET,
  errorOf,
  goJson,
  isJsonObject,
  libFile,
  okValue,
  readJsonObject,
  type Json,
} from "./helpers.js";

const NONE: Identity = {
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
};

const SANDBOX: Identity = {
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

/** The `Annotations` map of a config file of the example tree. */
function vcAnnotations(path: string): Record<string, string> {
  const a = readJsonObject(path).Annotations;
  if (!isJsonObject(a)) throw new Error("no Annotations");
  return Object.fromEntries(Object.entries(a).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** An embedded OCI spec (as the runtime stores it) with these annotations. */
function spec(
  annotations: Readonly<Record<string, string>> | null,
  extra: Record<string, Json> = {},
): string {
  return goJson({
    ociVersion: "1.0.0",
    hostname: "h",
    ...(annotations === null ? {} : { annotations: { ...annotations } }),
    ...extra,
    process: { args: ["/bin/sh"], env: [`PASSWORD=${SECRET}`] },
  });
}

const vc = (annotations: Readonly<Record<string, string>> | null, extra?: Record<string, Json>) => ({
  [OCI_CONFIG_KEY]: spec(annotations, extra),
  [BUNDLE_PATH_KEY]: "/b",
  [CONTAINER_TYPE_KEY]: "pod_container",
});

describe("annotation keys", () => {
  it("are the virtcontainers pkg/oci ones", () => {
    expect(VC_ANNOTATION_PREFIX).toBe("com.github.containers.virtcontainers.pkg.oci.");
    expect(OCI_CONFIG_KEY).toBe("com.github.containers.virtcontainers.pkg.oci.config");
    expect(BUNDLE_PATH_KEY).toBe("com.github.containers.virtcontainers.pkg.oci.bundle_path");
    expect(CONTAINER_TYPE_KEY).toBe("com.github.containers.virtcontainers.pkg.oci.container_type");
  });
});

describe("identityFromVcAnnotations on the example tree (CRI-O 1.9)", () => {
  it("pod 1 config: the sandbox identity", () => {
    expect(identityFromVcAnnotations(vcAnnotations(libFile(POD1, "config.json")))).toEqual(SANDBOX);
  });

  it("pod 1 sandbox container config: the same identity", () => {
    expect(identityFromVcAnnotations(vcAnnotations(libFile(POD1, POD1, "config.json")))).toEqual(SANDBOX);
  });

  it("infer container", () => {
    expect(identityFromVcAnnotations(vcAnnotations(libFile(POD1, INFER, "config.json")))).toEqual({
      ...SANDBOX,
      kind: "container",
      containerName: "infer",
      image: "docker.io/tensorflow/serving:1.5.0",
      createdSeconds: Date.parse("2018-03-21T09:14:11.249Z") / 1000,
    });
  });

  it("loader container (its spec contains \\u0026 escaped twice)", () => {
    const a = vcAnnotations(libFile(POD1, LOADER, "config.json"));
    expect(a[OCI_CONFIG_KEY]).toContain("\\u0026\\u0026");
    expect(identityFromVcAnnotations(a)).toEqual({
      ...SANDBOX,
      kind: "container",
      containerName: "loader",
      image: "docker.io/library/busybox:1.28",
      createdSeconds: Date.parse("2018-03-21T09:14:13.027Z") / 1000,
    });
  });

  it("pod 2 (plain Docker): a readable spec without Kubernetes keys is status none", () => {
    expect(identityFromVcAnnotations(vcAnnotations(libFile(POD2, "config.json")))).toEqual(NONE);
    expect(identityFromVcAnnotations(vcAnnotations(libFile(POD2, POD2, "config.json")))).toEqual(NONE);
  });

  it("never outputs the environment or the raw spec of a real file", () => {
    for (const f of [libFile(POD1, INFER, "config.json"), libFile(POD1, "config.json")]) {
      const a = vcAnnotations(f);
      const out = JSON.stringify(identityFromVcAnnotations(a));
      expect(out).not.toContain("KUBERNETES_SERVICE_HOST");
      expect(out).not.toContain("/usr/local/sbin");
      expect(out).not.toContain("ociVersion");
      expect(out).not.toContain("default-token-4xk9p");
    }
  });
});

describe("identityFromVcAnnotations without a usable spec", () => {
  it.each([
    ["no annotations", null, "no embedded OCI spec"],
    ["annotations without the spec", { [BUNDLE_PATH_KEY]: "/b" }, "no embedded OCI spec"],
    ["an empty spec", { [OCI_CONFIG_KEY]: "" }, "embedded OCI spec: file is empty"],
    [
      "a truncated spec",
      { [OCI_CONFIG_KEY]: '{"ociVersion":"1.0.0","annotations":{"io.kub' },
      "embedded OCI spec: JSON ends before the document is complete",
    ],
    [
      "a spec that is not JSON",
      { [OCI_CONFIG_KEY]: `{ociVersion: ${SECRET}}` },
      "embedded OCI spec: invalid JSON at position 1",
    ],
    ["a spec that is an array", { [OCI_CONFIG_KEY]: "[]" }, "embedded OCI spec: spec is not an object"],
    ["a spec that is null", { [OCI_CONFIG_KEY]: "null" }, "embedded OCI spec: spec is not an object"],
  ])("%s: unknown", (_label, annotations, problem) => {
    expect(identityFromVcAnnotations(annotations)).toEqual({ ...NONE, status: "unknown", problem });
  });

  it("unknownIdentity", () => {
    expect(unknownIdentity("why")).toEqual({ ...NONE, status: "unknown", problem: "why" });
  });

  it("a spec whose annotations are missing, null or not an object is status none", () => {
    expect(identityFromVcAnnotations(vc(null))).toEqual(NONE);
    expect(identityFromVcAnnotations({ [OCI_CONFIG_KEY]: '{"annotations":null}' })).toEqual(NONE);
    expect(
      identityFromVcAnnotations({ [OCI_CONFIG_KEY]: '{"annotations":["io.kubernetes.pod.name"]}' }),
    ).toEqual(NONE);
  });
});

describe("parseEmbeddedSpecAnnotations", () => {
  it("keeps string annotation values only", () => {
    expect(
      okValue(
        parseEmbeddedSpecAnnotations(
          '{"annotations":{"a":"1","b":2,"c":null,"d":{"x":"y"},"e":["f"],"g":""}}',
        ),
      ),
    ).toEqual({ a: "1", g: "" });
    expect(okValue(parseEmbeddedSpecAnnotations("{}"))).toEqual({});
  });

  it("reports JSON problems without quoting the spec", () => {
    const e = errorOf(parseEmbeddedSpecAnnotations(`{"process":{"env":["A=${SECRET}"]} ${SECRET}`));
    expect(e.reason).toBe("invalid_json");
    expect(e.message).not.toContain(SECRET);
    expect(errorOf(parseEmbeddedSpecAnnotations('"x"'))).toEqual({
      reason: "schema",
      message: "spec is not an object",
    });
  });

  it("reads only the top-level annotations, not a nested object or a string that mentions them", () => {
    const decoy = { "io.kubernetes.pod.namespace": "wrong" };
    const text = JSON.stringify({
      hostname: '"annotations":{"io.kubernetes.pod.namespace":"wrong"}',
      process: { annotations: decoy, env: ['X="annotations":{'] },
      linux: { seccomp: { annotations: decoy } },
      annotations: { "io.kubernetes.pod.namespace": "right" },
    });
    expect(okValue(parseEmbeddedSpecAnnotations(text))).toEqual({ "io.kubernetes.pod.namespace": "right" });
    expect(identityFromVcAnnotations({ [OCI_CONFIG_KEY]: text }).namespace).toBe("right");
    const onlyNested = JSON.stringify({ process: { annotations: decoy } });
    expect(identityFromVcAnnotations({ [OCI_CONFIG_KEY]: onlyNested })).toEqual(NONE);
  });

  it("handles a spec with 100000 nested arrays in a field", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(okValue(parseEmbeddedSpecAnnotations(`{"linux":${deep},"annotations":{"a":"b"}}`))).toEqual({
      a: "b",
    });
  });
});

describe("identityFromOciAnnotations: containerd CRI", () => {
  const sandboxKeys = {
    "io.kubernetes.cri.container-type": "sandbox",
    "io.kubernetes.cri.sandbox-id": POD1,
    "io.kubernetes.cri.sandbox-name": POD_NAME,
    "io.kubernetes.cri.sandbox-namespace": "ml-serving",
    "io.kubernetes.cri.sandbox-uid": POD_UID,
    "io.kubernetes.cri.sandbox-log-directory": `/var/log/pods/ml-serving_${POD_NAME}_${POD_UID}`,
  };

  it("newer containerd: sandbox", () => {
    expect(identityFromOciAnnotations(sandboxKeys)).toEqual({
      ...SANDBOX,
      flavor: "containerd",
      createdSeconds: null,
    });
  });

  it("newer containerd: container", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-id": POD1,
        "io.kubernetes.cri.sandbox-name": POD_NAME,
        "io.kubernetes.cri.sandbox-namespace": "ml-serving",
        "io.kubernetes.cri.sandbox-uid": POD_UID,
        "io.kubernetes.cri.container-name": "infer",
        "io.kubernetes.cri.image-name": "docker.io/tensorflow/serving:1.5.0",
      }),
    ).toEqual({
      ...SANDBOX,
      flavor: "containerd",
      kind: "container",
      containerName: "infer",
      image: "docker.io/tensorflow/serving:1.5.0",
      createdSeconds: null,
    });
  });

  it("2018 cri-containerd: only container-type and sandbox-id: known, but no namespace or name", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-id": POD1,
      }),
    ).toEqual({ ...NONE, status: "known", flavor: "containerd", kind: "container", sandboxId: POD1 });
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": POD1,
      }),
    ).toEqual({
      ...NONE,
      status: "known",
      flavor: "containerd",
      kind: "sandbox",
      sandboxId: POD1,
    });
  });

  it("through the container config annotations (embedded spec)", () => {
    expect(identityFromVcAnnotations(vc(sandboxKeys))).toEqual({
      ...SANDBOX,
      flavor: "containerd",
      createdSeconds: null,
    });
  });

  it("containerd keys win over CRI-O keys (the runtime checks them first)", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "container",
        "io.kubernetes.cri-o.SandboxID": "crio-id",
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": "containerd-id",
      }),
    ).toMatchObject({ flavor: "containerd", kind: "sandbox", sandboxId: "containerd-id" });
  });
});

describe("identityFromOciAnnotations: dockershim", () => {
  const labels = {
    "io.kubernetes.pod.name": "web-0",
    "io.kubernetes.pod.namespace": "default",
    "io.kubernetes.pod.uid": "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
  };

  it("podsandbox", () => {
    expect(identityFromOciAnnotations({ ...labels, "io.kubernetes.docker.type": "podsandbox" })).toEqual({
      ...NONE,
      status: "known",
      flavor: "dockershim",
      kind: "sandbox",
      namespace: "default",
      podName: "web-0",
      podUid: "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
    });
  });

  it("container with io.kubernetes.sandbox.id", () => {
    expect(
      identityFromOciAnnotations({
        ...labels,
        "io.kubernetes.docker.type": "container",
        "io.kubernetes.sandbox.id": POD2,
        "io.kubernetes.container.name": "nginx",
      }),
    ).toEqual({
      ...NONE,
      status: "known",
      flavor: "dockershim",
      kind: "container",
      sandboxId: POD2,
      namespace: "default",
      podName: "web-0",
      podUid: "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
      containerName: "nginx",
    });
  });

  it("kubelet labels without a container-type key: known, kind unknown", () => {
    expect(identityFromOciAnnotations(labels)).toEqual({
      ...NONE,
      status: "known",
      namespace: "default",
      podName: "web-0",
      podUid: "0e3b6c1a-2cf0-11e8-8a1d-fa163e4b2c7a",
    });
  });
});

describe("identityFromOciAnnotations: CRI-O details", () => {
  it("a sandbox with only the Metadata annotation", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.SandboxID": POD1,
        "io.kubernetes.cri-o.Metadata": JSON.stringify({
          name: POD_NAME,
          uid: POD_UID,
          namespace: "ml-serving",
          attempt: 1,
        }),
      }),
    ).toEqual({ ...SANDBOX, createdSeconds: null });
  });

  it("KubeName names the pod of a sandbox", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.KubeName": POD_NAME,
      }).podName,
    ).toBe(POD_NAME);
  });

  it("a container's Metadata name is the container name, never the pod name", () => {
    const id = identityFromOciAnnotations({
      "io.kubernetes.cri-o.ContainerType": "container",
      "io.kubernetes.cri-o.Metadata": '{"name":"infer"}',
    });
    expect(id).toMatchObject({
      kind: "container",
      containerName: "infer",
      podName: null,
      namespace: null,
      podUid: null,
    });
  });

  it("ignores a Metadata annotation that is too long or not JSON", () => {
    const big = JSON.stringify({ name: "x", namespace: "ns", pad: "p".repeat(5000) });
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.Metadata": big,
      }).namespace,
    ).toBeNull();
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.Metadata": "{name",
      }),
    ).toMatchObject({
      status: "known",
      podName: null,
      problem: null,
    });
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.ContainerType": "sandbox",
        "io.kubernetes.cri-o.Metadata": '{"name":5,"namespace":["x"]}',
      }),
    ).toMatchObject({ podName: null, namespace: null });
  });

  it("the direct kubelet label wins over Metadata; an empty value falls through", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.pod.namespace": "from-label",
        "io.kubernetes.cri-o.Metadata": '{"namespace":"from-metadata"}',
      }).namespace,
    ).toBe("from-label");
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.pod.namespace": "",
        "io.kubernetes.cri.sandbox-namespace": "second",
        "io.kubernetes.cri-o.Metadata": '{"namespace":"third"}',
      }).namespace,
    ).toBe("second");
  });

  it.each([
    ["2018-03-21T09:14:05.637283719Z", 1521623645.637],
    ["2018-03-21T09:14:05Z", 1521623645],
    ["yesterday", null],
    ["", null],
  ])("Created %j", (created, seconds) => {
    expect(identityFromOciAnnotations({ "io.kubernetes.cri-o.Created": created }).createdSeconds).toBe(
      seconds,
    );
  });

  it("image: ImageName first, then Image", () => {
    expect(
      identityFromOciAnnotations({
        "io.kubernetes.cri-o.Image": "a:1",
        "io.kubernetes.cri-o.ImageName": "b:2",
      }).image,
    ).toBe("b:2");
    expect(identityFromOciAnnotations({ "io.kubernetes.cri-o.Image": "a:1" }).image).toBe("a:1");
  });
});

describe("identityFromOciAnnotations: validation keeps labels bounded and clean", () => {
  it.each([
    ["upper-case namespace", { "io.kubernetes.pod.namespace": "ML-Serving" }, "namespace"],
    ["namespace over 63", { "io.kubernetes.pod.namespace": "n".repeat(64) }, "namespace"],
    ["newline in the pod name", { "io.kubernetes.pod.name": "web\n0" }, "podName"],
    ["pod name over 253", { "io.kubernetes.pod.name": "p".repeat(254) }, "podName"],
    ["slash in the uid", { "io.kubernetes.pod.uid": "../../etc" }, "podUid"],
    ["uid over 64", { "io.kubernetes.pod.uid": "u".repeat(65) }, "podUid"],
    ["quote in the container name", { "io.kubernetes.container.name": 'c"}' }, "containerName"],
    ["space in the image", { "io.kubernetes.cri-o.ImageName": "busybox latest" }, "image"],
    ["image over 512", { "io.kubernetes.cri-o.ImageName": "i".repeat(513) }, "image"],
    [
      "traversal in the sandbox id",
      { "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "../x" },
      "sandboxId",
    ],
  ] as const)("%s is dropped with a problem", (_label, annotations, field) => {
    const id = identityFromOciAnnotations(annotations);
    expect(id[field]).toBeNull();
    expect(id.problem).toBe("an identity value failed validation");
  });

  it("an invalid first key is not replaced by a later key", () => {
    const id = identityFromOciAnnotations({
      "io.kubernetes.pod.namespace": "Bad Namespace",
      "io.kubernetes.cri.sandbox-namespace": "good",
    });
    expect(id.namespace).toBeNull();
    expect(id.problem).toBe("an identity value failed validation");
  });

  it("two invalid values give two problems", () => {
    expect(
      identityFromOciAnnotations({ "io.kubernetes.pod.namespace": "A", "io.kubernetes.pod.uid": "/" })
        .problem,
    ).toBe("an identity value failed validation; an identity value failed validation");
  });

  it("the validators", () => {
    expect(["a", "ml-serving", "a1", "0"].every(isDnsLabel)).toBe(true);
    expect(["", "-a", "a-", "A", "a_b", "a.b", "n".repeat(64)].some(isDnsLabel)).toBe(false);
    expect(["a.b", POD_NAME, "x-1.y-2"].every(isDnsSubdomain)).toBe(true);
    expect(["a..b", ".a", "a.", "A.b"].some(isDnsSubdomain)).toBe(false);
    expect([POD_UID, "ABC-1"].every(isUid)).toBe(true);
    expect(["-a", "a_b", "a b", ""].some(isUid)).toBe(false);
  });
});

describe("identity: secrets never reach the output", () => {
  it("environment, last-applied-configuration and other annotations stay out", () => {
    const annotations = {
      "io.kubernetes.cri-o.ContainerType": "container",
      "io.kubernetes.cri-o.SandboxID": POD1,
      "io.kubernetes.pod.name": POD_NAME,
      "io.kubernetes.pod.namespace": "ml-serving",
      "io.kubernetes.pod.uid": POD_UID,
      "io.kubernetes.container.name": "infer",
      "kubectl.kubernetes.io/last-applied-configuration": `{"spec":{"containers":[{"env":[{"name":"P","value":"${SECRET}"}]}]}}`,
      "io.kubernetes.cri-o.Annotations": `{"x":"${SECRET}"}`,
      "io.kubernetes.cri-o.Labels": `{"x":"${SECRET}"}`,
    };
    const specText = spec(annotations, { linux: { sysctl: { "kernel.secret": SECRET } } });
    expect(specText).toContain(SECRET);
    const id = identityFromVcAnnotations({ [OCI_CONFIG_KEY]: specText });
    expect(id).toMatchObject({ status: "known", containerName: "infer", namespace: "ml-serving" });
    const out = JSON.stringify(id);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain("last-applied");
    expect(out).not.toContain("ociVersion");
  });

  it("a secret in an identity key that fails validation is dropped, not quoted in the problem", () => {
    const id = identityFromOciAnnotations({ "io.kubernetes.pod.name": `password=${SECRET}` });
    expect(JSON.stringify(id)).not.toContain(SECRET);
  });
});

describe("identity properties", () => {
  const identityKeys = [
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri.sandbox-id",
    "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri.sandbox-uid",
    "io.kubernetes.cri.container-name",
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ContainerType",
    "io.kubernetes.cri-o.SandboxID",
    "io.kubernetes.cri-o.KubeName",
    "io.kubernetes.cri-o.Metadata",
    "io.kubernetes.cri-o.ImageName",
    "io.kubernetes.cri-o.Image",
    "io.kubernetes.cri-o.Created",
    "io.kubernetes.docker.type",
    "io.kubernetes.sandbox.id",
    "io.kubernetes.pod.name",
    "io.kubernetes.pod.namespace",
    "io.kubernetes.pod.uid",
    "io.kubernetes.container.name",
  ];
  const value = fc.oneof(
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.constantFrom("sandbox", "container", "podsandbox", "", POD1, POD_NAME, "ml-serving", POD_UID),
    fc.jsonValue().map((v) => JSON.stringify(v)),
  );
  const annotations = fc.dictionary(fc.oneof(fc.constantFrom(...identityKeys), fc.string()), value, {
    maxKeys: 12,
  });

  it("never throws; every output string is a validated, bounded, printable value", () => {
    fc.assert(
      fc.property(annotations, (a) => {
        const id = identityFromOciAnnotations(a);
        const strings = [
          id.sandboxId,
          id.namespace,
          id.podName,
          id.podUid,
          id.containerName,
          id.image,
        ].filter((s): s is string => s !== null);
        // Values come from the annotations or from CRI-O's Metadata JSON, never from elsewhere.
        const sources = new Set(Object.values(a));
        try {
          const meta: unknown = JSON.parse(a["io.kubernetes.cri-o.Metadata"] ?? "null");
          if (typeof meta === "object" && meta !== null) {
            for (const v of Object.values(meta)) if (typeof v === "string") sources.add(v);
          }
        } catch {
          // not JSON: contributes nothing
        }
        for (const s of strings) {
          expect(s.length).toBeLessThanOrEqual(512);
          expect(s).toMatch(/^[\x21-\x7e]+$/);
          expect(sources.has(s)).toBe(true);
        }
        expect(id.namespace === null || isDnsLabel(id.namespace)).toBe(true);
        expect(id.podName === null || isDnsSubdomain(id.podName)).toBe(true);
        expect(id.podUid === null || isUid(id.podUid)).toBe(true);
        expect(id.containerName === null || isDnsLabel(id.containerName)).toBe(true);
        expect(id.status).toBe(
          id.flavor !== "none" || id.namespace !== null || id.podName !== null || id.podUid !== null
            ? "known"
            : "none",
        );
        expect(id.kind === null).toBe(id.flavor === "none");
      }),
      { numRuns: 500 },
    );
  });

  it("through an embedded spec with unknown keys, decoy nested annotations and shuffled order it gives the same identity", () => {
    const extraValue = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      annotations.map((d) => ({ annotations: d })),
      annotations.map((d) => `"annotations":${JSON.stringify(d)}`),
    );
    fc.assert(
      fc.property(
        annotations,
        fc.dictionary(fc.string(), extraValue, { maxKeys: 4 }),
        fc.boolean(),
        (a, extra, annotationsFirst) => {
          const filtered = Object.entries(extra).filter(([k]) => !["annotations", "__proto__"].includes(k));
          const real: [string, unknown] = ["annotations", Object.fromEntries(Object.entries(a).reverse())];
          const entries = annotationsFirst ? [real, ...filtered] : [...filtered, real];
          const text = JSON.stringify(Object.fromEntries(entries));
          expect(identityFromVcAnnotations({ [OCI_CONFIG_KEY]: text })).toEqual(
            identityFromOciAnnotations(a),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
