/**
 * The chart and deploy/ against a real kube-apiserver (test/cluster): every object they
 * render is accepted by the API server's own validation and stored as rendered (nothing
 * dropped), with Helm and without it, with default values and with GC on, a bundle directory
 * and every optional part enabled.
 *
 * The test API server has no prometheus-operator, so this test creates the two
 * monitoring.coreos.com CRDs itself: minimal ones whose schemas type only the fields the chart
 * uses (the types and enums of prometheus-operator's CRDs), without
 * x-kubernetes-preserve-unknown-fields. A mistyped field is then rejected, and a field the
 * schema does not know is pruned, which the read-back comparison catches.
 *
 * Needs the binaries from `bash test/cluster/build-testbin.sh` (CI builds them).
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   @kubernetes/client-node's generated models are data-only classes; the client serializes plain
   objects and its own documentation builds request bodies as literals (as test/cluster/cluster.ts). */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  loadAllYaml,
  type KubernetesObject,
  type V1CustomResourceDefinition,
  type V1DaemonSet,
  type V1JSONSchemaProps,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startCluster, type Cluster } from "../cluster/cluster.js";
import { CHART, helm, parseObjects, valuesArgs } from "./helm.js";
import { REPO, TempDirs, pollUntil } from "./helpers.js";

let cluster: Cluster;
const temp = new TempDirs();

beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);
afterAll(async () => {
  try {
    await cluster.stop();
  } finally {
    temp.cleanup();
  }
});

function helmEnv(): NodeJS.ProcessEnv {
  return {
    KUBECONFIG: cluster.kubeconfigPath,
    HELM_CACHE_HOME: join(cluster.dataDir, "helm", "cache"),
    HELM_CONFIG_HOME: join(cluster.dataDir, "helm", "config"),
    HELM_DATA_HOME: join(cluster.dataDir, "helm", "data"),
  };
}

/** Where `actual` differs from `rendered`: fields missing or changed (a zero value may be left out). */
function differences(rendered: unknown, actual: unknown, path = ""): string[] {
  const zero = (v: unknown): boolean =>
    v === false ||
    v === 0 ||
    v === "" ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && v !== null && Object.keys(v).length === 0);
  if (rendered === undefined) return [];
  if (actual === undefined) return zero(rendered) ? [] : [`${path}: missing`];
  if (Array.isArray(rendered)) {
    if (!Array.isArray(actual) || actual.length !== rendered.length)
      return [`${path}: ${JSON.stringify(actual)}`];
    return rendered.flatMap((v, i) => differences(v, actual[i], `${path}[${i}]`));
  }
  if (typeof rendered === "object" && rendered !== null) {
    if (typeof actual !== "object" || actual === null) return [`${path}: ${JSON.stringify(actual)}`];
    return Object.entries(rendered).flatMap(([k, v]) =>
      differences(v, (actual as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return rendered === actual
    ? []
    : [`${path}: ${JSON.stringify(actual)}, rendered ${JSON.stringify(rendered)}`];
}

/** Reads every object back from the API server; returns what differs from the rendering. */
async function storedAsRendered(objects: readonly KubernetesObject[]): Promise<string[]> {
  const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  const out: string[] = [];
  for (const o of objects) {
    const { name, namespace } = o.metadata ?? {};
    const got = await client.read({
      apiVersion: o.apiVersion ?? "",
      kind: o.kind ?? "",
      metadata: { name: name ?? "", ...(namespace === undefined ? {} : { namespace }) },
    });
    expect(got.metadata?.uid, `${o.kind ?? ""} ${name ?? ""}`).toBeTruthy();
    const { metadata, ...body } = o as KubernetesObject & Record<string, unknown>;
    const rendered = { ...body, metadata: { labels: metadata?.labels, annotations: metadata?.annotations } };
    out.push(...differences(rendered, got).map((d) => `${o.kind ?? ""} ${name ?? ""}${d}`));
  }
  return out;
}

/** helm install, then the release's manifest as objects. */
async function install(
  release: string,
  namespace: string,
  values: Record<string, unknown>,
): Promise<KubernetesObject[]> {
  await helm(
    [
      "install",
      release,
      CHART,
      "--namespace",
      namespace,
      "--wait=false",
      ...valuesArgs(values, temp.make("vce-values-")),
    ],
    helmEnv(),
  );
  const status = await helm(["status", release, "--namespace", namespace, "-o", "json"], helmEnv());
  expect((JSON.parse(status) as { info: { status: string } }).info.status).toBe("deployed");
  const manifest = await helm(["get", "manifest", release, "--namespace", namespace], helmEnv());
  return parseObjects(manifest);
}

// ---------------------------------------------------------------------------------------------
// Minimal prometheus-operator CRDs

const str: V1JSONSchemaProps = { type: "string" };
const promDuration: V1JSONSchemaProps = {
  type: "string",
  pattern: "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
};
const stringMap: V1JSONSchemaProps = { type: "object", additionalProperties: str };
const relabelings: V1JSONSchemaProps = {
  type: "array",
  items: {
    type: "object",
    properties: {
      sourceLabels: { type: "array", items: { type: "string", pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$" } },
      separator: str,
      targetLabel: str,
      regex: str,
      modulus: { type: "integer", format: "int64" },
      replacement: str,
      action: {
        type: "string",
        enum: [
          "replace",
          "Replace",
          "keep",
          "Keep",
          "drop",
          "Drop",
          "hashmod",
          "HashMod",
          "labelmap",
          "LabelMap",
        ],
      },
    },
  },
};

function crd(kind: string, plural: string, spec: V1JSONSchemaProps): V1CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: { apiVersion: str, kind: str, metadata: { type: "object" }, spec },
            },
          },
        },
      ],
    },
  };
}

const secretKey: V1JSONSchemaProps = {
  type: "object",
  required: ["key"],
  properties: { name: str, key: str, optional: { type: "boolean" } },
};
const secretOrConfigMap: V1JSONSchemaProps = {
  type: "object",
  properties: { secret: secretKey, configMap: secretKey },
};
// used inside `items`, which client-node sends as it is (so `enum`, not the model's `_enum`)
const tlsVersion = { type: "string", enum: ["TLS10", "TLS11", "TLS12", "TLS13"] };
/** The scrape endpoint fields the chart renders (ServiceMonitor endpoints, PodMonitor podMetricsEndpoints). */
const scrapeEndpoint = (extra: Record<string, V1JSONSchemaProps>): V1JSONSchemaProps => ({
  type: "array",
  items: {
    type: "object",
    properties: {
      port: str,
      path: str,
      interval: promDuration,
      scrapeTimeout: promDuration,
      scheme: { type: "string", enum: ["http", "https", "HTTP", "HTTPS"] },
      tlsConfig: {
        type: "object",
        properties: {
          ca: secretOrConfigMap,
          cert: secretOrConfigMap,
          keySecret: secretKey,
          serverName: str,
          insecureSkipVerify: { type: "boolean" },
          minVersion: tlsVersion,
          maxVersion: tlsVersion,
        },
      },
      basicAuth: { type: "object", properties: { username: secretKey, password: secretKey } },
      honorLabels: { type: "boolean" },
      relabelings,
      metricRelabelings: relabelings,
      ...extra,
    },
  },
});
const monitorSpec = (endpoints: string, extra: Record<string, V1JSONSchemaProps>): V1JSONSchemaProps => ({
  type: "object",
  required: ["selector"],
  properties: {
    jobLabel: str,
    sampleLimit: { type: "integer", format: "int64" },
    selector: { type: "object", properties: { matchLabels: stringMap } },
    namespaceSelector: {
      type: "object",
      properties: { any: { type: "boolean" }, matchNames: { type: "array", items: str } },
    },
    [endpoints]: scrapeEndpoint(extra),
  },
});

const SERVICE_MONITOR = crd(
  "ServiceMonitor",
  "servicemonitors",
  monitorSpec("endpoints", { bearerTokenSecret: secretKey }),
);
const POD_MONITOR = crd("PodMonitor", "podmonitors", monitorSpec("podMetricsEndpoints", {}));

const PROMETHEUS_RULE = crd("PrometheusRule", "prometheusrules", {
  type: "object",
  properties: {
    groups: {
      type: "array",
      items: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", minLength: 1 },
          interval: promDuration,
          rules: {
            type: "array",
            items: {
              type: "object",
              required: ["expr"],
              properties: {
                alert: str,
                record: str,
                expr: { "x-kubernetes-int-or-string": true },
                for: promDuration,
                labels: stringMap,
                annotations: stringMap,
              },
            },
          },
        },
      },
    },
  },
});

async function createCrds(): Promise<void> {
  const ext = cluster.kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const c of [SERVICE_MONITOR, POD_MONITOR, PROMETHEUS_RULE]) {
    await ext.createCustomResourceDefinition({ body: c });
    await pollUntil(`CRD ${c.metadata?.name ?? ""} established`, async () => {
      const got = await ext.readCustomResourceDefinition({ name: c.metadata?.name ?? "" });
      return got.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") === true
        ? true
        : undefined;
    });
  }
}

// ---------------------------------------------------------------------------------------------

describe("the chart in a real API server", () => {
  it("helm install with default values: every rendered object is accepted and stored as rendered", async () => {
    await cluster.createNamespace("vce-helm");
    const objects = await install("vce", "vce-helm", {});
    expect(objects.map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Service",
      "DaemonSet",
    ]);
    expect(await storedAsRendered(objects)).toEqual([]);
  });

  it("helm install with GC on, a bundle directory, a created namespace, the ServiceMonitor, PodMonitor, PrometheusRule, dashboard, NetworkPolicy and the community values: all accepted as rendered", async () => {
    await createCrds();
    const objects = await install("vce-gc", "default", {
      gc: { mode: "on" },
      trees: { bundles: ["/run/containers/storage/overlay-containers"] },
      namespace: { create: true, name: "vce-gc" },
      serviceMonitor: {
        enabled: true,
        additionalLabels: { release: "kube-prometheus-stack" },
        interval: "30s",
        relabelings: [{ action: "replace", targetLabel: "cluster", replacement: "test" }],
        sampleLimit: 60000,
        scheme: "https",
        tlsConfig: {
          ca: { secret: { name: "vce-ca", key: "ca.crt" } },
          serverName: "vce",
          minVersion: "TLS12",
        },
        basicAuth: {
          username: { name: "vce-web", key: "user" },
          password: { name: "vce-web", key: "password" },
        },
        bearerTokenSecret: { name: "vce-token", key: "token" },
      },
      podMonitor: { enabled: true, interval: "30s", sampleLimit: 60000 },
      networkPolicy: { enabled: true },
      prometheusRule: { enabled: true, runbookBaseUrl: "https://docs.example.com/vce/runbooks.html" },
      dashboards: { enabled: true },
      commonLabels: { team: "platform" },
      podLabels: { tier: "node-agent" },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      service: { port: 9443 },
      extraEnv: [{ name: "VCE_LOG_LEVEL", value: "debug" }],
      extraVolumes: [{ name: "web", emptyDir: {} }],
      extraVolumeMounts: [{ name: "web", mountPath: "/etc/vce" }],
      securityContext: { seLinuxOptions: { type: "spc_t" }, appArmorProfile: { type: "RuntimeDefault" } },
      image: { registry: "registry.example.com", digest: `sha256:${"ab".repeat(32)}` },
    });
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "DaemonSet",
        "Namespace",
        "NetworkPolicy",
        "PodMonitor",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
      ].sort(),
    );
    expect(await storedAsRendered(objects)).toEqual([]);

    const ns = await cluster.core.readNamespace({ name: "vce-gc" });
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const ds = objects.find((o) => o.kind === "DaemonSet") as V1DaemonSet;
    expect(ds.metadata?.namespace).toBe("vce-gc");
    expect(ds.spec?.template.spec?.hostPID).toBe(true);
    expect(ds.spec?.template.spec?.volumes?.at(-1)).toEqual({ name: "web", emptyDir: {} });
    expect(ds.spec?.template.spec?.volumes?.slice(0, -1).map((v) => v.hostPath?.path)).toEqual([
      "/run/virtcontainers",
      "/var/lib/virtcontainers",
      "/run/vc",
      "/var/lib/vc",
      "/run/containers/storage/overlay-containers",
    ]);
  });

  it("the minimal CRDs do reject a mistyped field and prune an unknown one (so the comparison above can fail)", async () => {
    const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    const sm = (
      endpoint: Record<string, unknown>,
      name: string,
    ): KubernetesObject & Record<string, unknown> => ({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name, namespace: "default" },
      spec: { selector: { matchLabels: { a: "b" } }, endpoints: [endpoint] },
    });
    await expect(client.create(sm({ port: "metrics", honorLabels: "yes" }, "typo"))).rejects.toThrow(
      /honorLabels/,
    );
    const pruned = sm({ port: "metrics", honourLabels: true }, "unknown-field");
    await client.create(pruned);
    expect(await storedAsRendered([pruned])).toEqual([
      "ServiceMonitor unknown-field.spec.endpoints[0].honourLabels: missing",
    ]);
  });

  it("deploy/ without Helm: every object is created and stored as written (what kubectl apply -f deploy/ sends)", async () => {
    const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    const files = ["namespace.yaml", "virtcontainers-exporter.yaml"];
    const objects = files.flatMap(
      (f) => loadAllYaml(readFileSync(join(REPO, "deploy", f), "utf8")) as KubernetesObject[],
    );
    expect(objects.map((o) => o.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Service",
      "DaemonSet",
    ]);
    for (const o of objects) await client.create(o);
    expect(await storedAsRendered(objects)).toEqual([]);
    const ns = await cluster.core.readNamespace({ name: "virtcontainers-exporter" });
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });
});
