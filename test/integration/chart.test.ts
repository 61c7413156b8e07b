/**
 * The Helm chart (charts/virtcontainers-exporter) and its rendering for plain kubectl
 * (deploy/): `helm lint --strict`, values.schema.json, the committed manifest in sync with the
 * chart, the DaemonSet's host access and hardening in each GC mode, RBAC, the namespace, the
 * ServiceMonitor, values that change the output, and NOTES.txt. The PrometheusRule and the
 * dashboard ConfigMap are checked with their sources in alerts.test.ts and dashboard.test.ts.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

import {
  loadYaml,
  type V1Container,
  type V1DaemonSet,
  type V1Namespace,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { getFileInfo } from "prettier";
import { afterAll, describe, expect, it } from "vitest";

import {
  CHART,
  HELM,
  NAMESPACE,
  RELEASE,
  helmRun,
  must,
  onlyOf,
  parseObjects,
  render,
  run,
  type KubeObject,
} from "./helm.js";
import { REPO, TempDirs } from "./helpers.js";

const DEPLOY = join(REPO, "deploy", "virtcontainers-exporter.yaml");
const NAMESPACE_FILE = join(REPO, "deploy", "namespace.yaml");

const ALL_LAYOUTS = "virtcontainers,kata1,persist";

/** The chart's arguments for a GC mode, process checks and layouts (default values: dry-run, auto, all). */
function argsFor(gc: { mode: string; processChecks: string }, layouts = ALL_LAYOUTS): string[] {
  return [
    "serve",
    "--host-root",
    "/host",
    "--listen",
    ":10482",
    "--kubernetes",
    "auto",
    "--layouts",
    layouts,
    "--gc",
    gc.mode,
    "--gc-interval",
    "1m",
    "--gc-grace",
    "10m",
    "--gc-max-deletions-per-run",
    "5",
    "--gc-max-orphan-fraction",
    "0.5",
    "--gc-process-checks",
    gc.processChecks,
    "--process-interval",
    "15s",
  ];
}
const DEFAULT_ARGS = argsFor({ mode: "dry-run", processChecks: "auto" });

/** The host trees of `trees.virtcontainers` and `trees.kata`: volume name and host path. */
const VIRTCONTAINERS_TREES = [
  ["run-virtcontainers", "/run/virtcontainers"],
  ["var-lib-virtcontainers", "/var/lib/virtcontainers"],
] as const;
const KATA_TREES = [
  ["run-vc", "/run/vc"],
  ["var-lib-vc", "/var/lib/vc"],
] as const;

const SELECTOR = {
  "app.kubernetes.io/name": "virtcontainers-exporter",
  "app.kubernetes.io/instance": RELEASE,
  "app.kubernetes.io/component": "exporter",
};
const STANDARD = {
  ...SELECTOR,
  "app.kubernetes.io/version": "0.1.0",
  "app.kubernetes.io/managed-by": "Helm",
  "helm.sh/chart": "virtcontainers-exporter-0.1.0",
};
const POD_SECURITY = {
  "pod-security.kubernetes.io/enforce": "privileged",
  "pod-security.kubernetes.io/audit": "privileged",
  "pod-security.kubernetes.io/warn": "privileged",
};

const temp = new TempDirs();
afterAll(() => {
  temp.cleanup();
});

interface Rendered {
  readonly objs: KubeObject[];
  readonly ds: V1DaemonSet;
  readonly pod: V1PodSpec;
  readonly container: V1Container;
}

async function renderDaemonSet(values: Record<string, unknown> = {}, release = RELEASE): Promise<Rendered> {
  const objs = parseObjects(await render(values, { release }));
  const ds = onlyOf(objs, "DaemonSet");
  const pod = must(ds.spec?.template.spec, "DaemonSet pod spec");
  expect(pod.containers).toHaveLength(1);
  return { objs, ds, pod, container: must(pod.containers[0], "the exporter container") };
}

/** `helm template` that must fail; returns helm's error output. */
async function renderError(values: Record<string, unknown>, namespace = NAMESPACE): Promise<string> {
  const dir = temp.make("vce-values-");
  const file = join(dir, "values.json");
  writeFileSync(file, JSON.stringify(values));
  const r = await helmRun(["template", RELEASE, CHART, "--namespace", namespace, "--values", file]);
  expect(r.code, r.stdout).not.toBe(0);
  return r.stderr;
}

/** The committed manifest: its header comment and the rendered chart after it. */
function committedDeploy(): { header: string[]; body: string } {
  const text = readFileSync(DEPLOY, "utf8");
  const at = text.indexOf("---\n");
  if (at < 0) throw new Error(`${DEPLOY} has no "---" line`);
  const header = text.slice(0, at).split("\n").slice(0, -1);
  return { header, body: text.slice(at) };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
}

/** Paths of values.yaml that the schema leaves untyped or open to unknown keys. */
function schemaGaps(value: unknown, schema: SchemaNode | undefined, path: string): string[] {
  if (schema === undefined) return [`${path}: not in the schema`];
  if (schema.type === undefined && schema.enum === undefined) return [`${path}: no type`];
  if (typeof value !== "object" || value === null) return [];
  if (Array.isArray(value)) {
    if (schema.items === undefined) return [`${path}: no item schema`];
    return value.flatMap((v, i) => schemaGaps(v, schema.items, `${path}[${i}]`));
  }
  if (schema.properties !== undefined) {
    const gaps = schema.additionalProperties === false ? [] : [`${path}: accepts unknown keys`];
    return [
      ...gaps,
      ...Object.entries(value).flatMap(([k, v]) => schemaGaps(v, schema.properties?.[k], `${path}.${k}`)),
    ];
  }
  // a map (labels, annotations, requests): every value typed
  const extra = schema.additionalProperties;
  if (typeof extra !== "object") return [`${path}: a map without a value schema`];
  return Object.entries(value).flatMap(([k, v]) => schemaGaps(v, extra, `${path}.${k}`));
}

// ---------------------------------------------------------------------------------------------

describe("the chart", () => {
  it("passes helm lint --strict, with default values and with every optional part on", async () => {
    const lint = await helmRun(["lint", "--strict", CHART]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    expect(lint.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");

    const changed = await helmRun([
      "lint",
      "--strict",
      CHART,
      "--namespace",
      "kube-system",
      "--set",
      "priorityClassName=system-node-critical,serviceAccount.create=false,rbac.create=false,image.tag=9.9.9",
      "--set",
      "gc.mode=on,gc.processChecks=false,namespace.create=true,namespace.name=vce",
      "--set",
      "serviceMonitor.enabled=true,prometheusRule.enabled=true,dashboards.enabled=true",
      "--set-json",
      'extraArgs=["--log-level","debug"]',
      "--set-json",
      "tolerations=[]",
      "--set-json",
      'trees.bundles=["/run/containers/storage/overlay-containers"]',
    ]);
    expect(changed.code, changed.stdout + changed.stderr).toBe(0);
  });

  it("has appVersion equal to the package version, so the default image tag is this release", () => {
    const chart = readFileSync(join(CHART, "Chart.yaml"), "utf8");
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    expect(chart).toMatch(/^apiVersion: v2$/m);
    expect(chart).toMatch(/^name: virtcontainers-exporter$/m);
    expect(chart).toContain(`\nappVersion: "${pkg.version}"\n`);
  });

  it("comments every value in values.yaml", () => {
    const lines = readFileSync(join(CHART, "values.yaml"), "utf8").split("\n");
    const uncommented: string[] = [];
    let inResources = false; // requests/limits/cpu/memory are data, described by the comment on resources
    lines.forEach((line, i) => {
      const key = /^(\s*)[A-Za-z][\w.-]*:/.exec(line);
      if (key === null) return;
      if (key[1] === "") inResources = line.startsWith("resources:");
      else if (inResources) return;
      if (!/^\s*#/.test(lines[i - 1] ?? "")) uncommented.push(line);
    });
    expect(uncommented).toEqual([]);
  });

  it("docs/configuration.md documents every value of values.yaml in its Values table", () => {
    const values = loadYaml<Record<string, unknown>>(readFileSync(join(CHART, "values.yaml"), "utf8"));
    const doc = readFileSync(join(REPO, "docs", "configuration.md"), "utf8");
    const table = doc.slice(doc.indexOf("### Values"), doc.indexOf("### Pod Security"));
    const named = new Set<string>();
    for (const row of table.split("\n").filter((l) => l.startsWith("| `"))) {
      const cell = row.split("|")[1] ?? "";
      let parent = "";
      for (const m of cell.matchAll(/`([^`]+)`/g)) {
        const name = m[1] ?? "";
        const full = name.startsWith(".") ? parent + name : name;
        if (!name.startsWith(".")) parent = name.split(".")[0] ?? "";
        named.add(full);
      }
    }
    // a value that is a non-empty map is documented by its children, or as a whole
    const leaves = Object.entries(values).flatMap(([k, v]) =>
      typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0
        ? Object.keys(v).map((c) => `${k}.${c}`)
        : [k],
    );
    expect(leaves.filter((l) => !named.has(l) && !named.has(l.split(".")[0] ?? ""))).toEqual([]);
  });

  it("values.schema.json types every value of values.yaml and closes every object to unknown keys", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as SchemaNode;
    const values = loadYaml(readFileSync(join(CHART, "values.yaml"), "utf8"));
    expect(schemaGaps(values, schema, "values")).toEqual([]);
    // and every property of the schema is a value of values.yaml (no stale schema entries)
    const valueKeys = (v: unknown, path: string): string[] =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.entries(v).flatMap(([k, x]) => [`${path}.${k}`, ...valueKeys(x, `${path}.${k}`)])
        : [];
    // (an object value left empty in values.yaml, like affinity, may have optional properties)
    const schemaKeys = (s: SchemaNode, v: unknown, path: string): string[] =>
      Object.entries(s.properties ?? {}).flatMap(([k, x]) => {
        const sub = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined;
        const open = typeof sub === "object" && sub !== null && Object.keys(sub).length === 0;
        return open ? [`${path}.${k}`] : [`${path}.${k}`, ...schemaKeys(x, sub, `${path}.${k}`)];
      });
    const known = new Set(valueKeys(values, "values"));
    expect(schemaKeys(schema, values, "values").filter((k) => !known.has(k))).toEqual([]);
  });

  it("rejects unknown keys and mistyped values", async () => {
    expect(await renderError({ gcMode: "on" })).toMatch(/additional properties 'gcMode' not allowed/i);
    expect(await renderError({ gc: { mod: "on" } })).toMatch(/additional properties 'mod' not allowed/i);
    expect(await renderError({ gc: { mode: "yes" } })).toContain("/gc/mode");
    // an unquoted `on` in a values file is a boolean: refused, never taken as "on"
    expect(await renderError({ gc: { mode: true } })).toMatch(/\/gc\/mode.*got boolean, want string/);
    expect(await renderError({ gc: { interval: "1 minute" } })).toContain("/gc/interval");
    expect(await renderError({ gc: { maxOrphanFraction: 1.5 } })).toContain("/gc/maxOrphanFraction");
    expect(await renderError({ gc: { maxDeletionsPerRun: 0 } })).toContain("/gc/maxDeletionsPerRun");
    expect(await renderError({ gc: { processChecks: "yes" } })).toContain("/gc/processChecks");
    expect(await renderError({ serviceMonitor: { enabled: "true" } })).toContain("/serviceMonitor/enabled");
    expect(await renderError({ serviceMonitor: { interval: "30 s" } })).toContain("/serviceMonitor/interval");
    expect(await renderError({ prometheusRule: { runbookBaseUrl: "docs" } })).toContain(
      "/prometheusRule/runbookBaseUrl",
    );
    expect(await renderError({ extraArgs: [5] })).toContain("/extraArgs/0");
    expect(await renderError({ trees: { runVc: true } })).toMatch(
      /additional properties 'runVc' not allowed/i,
    );
    expect(await renderError({ trees: { kata: "false" } })).toMatch(
      /\/trees\/kata.*got string, want boolean/,
    );
    expect(await renderError({ trees: { bundles: "/run/containers" } })).toContain("/trees/bundles");
  });
});

describe("deploy/", () => {
  it("holds the chart rendered with default values, after a header comment (run scripts/render-deploy.sh when this fails)", async () => {
    const { header, body } = committedDeploy();
    expect(header.length).toBeGreaterThan(0);
    for (const line of header) expect(line).toMatch(/^#/);
    const headerText = header.join("\n");
    expect(headerText).toContain("scripts/render-deploy.sh");
    expect(headerText).toContain(
      "helm template virtcontainers-exporter charts/virtcontainers-exporter --namespace virtcontainers-exporter",
    );
    expect(body, "deploy/virtcontainers-exporter.yaml is out of date: run scripts/render-deploy.sh").toBe(
      await render(),
    );
  });

  it("is what scripts/render-deploy.sh writes, byte for byte", async () => {
    // a copy of the layout the script needs, so the real deploy/ is never rewritten by a test
    const root = temp.make("vce-render-");
    cpSync(join(REPO, "scripts", "render-deploy.sh"), join(root, "scripts", "render-deploy.sh"));
    cpSync(CHART, join(root, "charts", "virtcontainers-exporter"), { recursive: true });
    mkdirSync(join(root, "deploy"));
    const r = await run("bash", [join(root, "scripts", "render-deploy.sh")], {
      VCE_HELM_BIN: HELM,
      HOME: temp.make("vce-helm-home-"),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root, "deploy", "virtcontainers-exporter.yaml"), "utf8")).toBe(
      readFileSync(DEPLOY, "utf8"),
    );
  });

  it("render-deploy.sh fails with a clear message and leaves deploy/ alone when helm is missing", async () => {
    const root = temp.make("vce-render-");
    cpSync(join(REPO, "scripts", "render-deploy.sh"), join(root, "scripts", "render-deploy.sh"));
    mkdirSync(join(root, "deploy"));
    const r = await run("bash", [join(root, "scripts", "render-deploy.sh")], {
      VCE_HELM_BIN: join(root, "no-helm"),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no helm binary at ${join(root, "no-helm")}`);
    expect(r.stderr).toContain("VCE_HELM_BIN");
    expect(readdirSync(join(root, "deploy"))).toEqual([]);
  });

  it("creates the namespace with the chart's privileged Pod Security labels, and everything else goes into it", async () => {
    const ns = onlyOf(parseObjects(readFileSync(NAMESPACE_FILE, "utf8")), "Namespace");
    expect(ns.apiVersion).toBe("v1");
    expect(ns.metadata?.name).toBe(NAMESPACE);
    // the same Pod Security labels as the namespace the chart creates with namespace.create
    const chartNs = onlyOf(
      parseObjects(
        await render(
          { namespace: { create: true, name: NAMESPACE } },
          { namespace: "kube-system", extra: ["--show-only", "templates/namespace.yaml"] },
        ),
      ),
      "Namespace",
    );
    const podSecurity = (n: V1Namespace): Record<string, string> =>
      Object.fromEntries(
        Object.entries(n.metadata?.labels ?? {}).filter(([k]) => k.startsWith("pod-security.kubernetes.io/")),
      );
    expect(podSecurity(ns)).toEqual(POD_SECURITY);
    expect(podSecurity(chartNs)).toEqual(POD_SECURITY);

    const objs = parseObjects(committedDeploy().body);
    expect(objs.map((o) => o.kind)).toEqual([
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Service",
      "DaemonSet",
    ]);
    for (const o of objs) {
      const clusterScoped = o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding";
      expect(o.metadata?.namespace).toBe(clusterScoped ? undefined : NAMESPACE);
    }
    // kubectl apply -f deploy/ takes files in name order: the namespace comes first
    expect(readdirSync(join(REPO, "deploy")).sort()[0]).toBe("namespace.yaml");
  });
});

describe("the rendered DaemonSet (default values)", () => {
  it("runs serve with --host-root /host, port 10482, the Kubernetes view on, every layout and GC in dry-run", async () => {
    const { container } = await renderDaemonSet();
    expect(container.args).toEqual(DEFAULT_ARGS);
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT
    expect(container.image).toBe("virtcontainers-exporter:0.1.0");
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.ports).toEqual([{ name: "metrics", containerPort: 10482, protocol: "TCP" }]);
  });

  it("mounts the host's virtcontainers and Kata trees read-only, without a hostPath type check", async () => {
    const { pod, container } = await renderDaemonSet();
    expect(pod.volumes).toEqual([
      { name: "run-virtcontainers", hostPath: { path: "/run/virtcontainers", type: "" } },
      { name: "var-lib-virtcontainers", hostPath: { path: "/var/lib/virtcontainers", type: "" } },
      { name: "run-vc", hostPath: { path: "/run/vc", type: "" } },
      { name: "var-lib-vc", hostPath: { path: "/var/lib/vc", type: "" } },
    ]);
    expect(container.volumeMounts).toEqual([
      {
        name: "run-virtcontainers",
        mountPath: "/host/run/virtcontainers",
        readOnly: true,
        mountPropagation: "HostToContainer",
      },
      {
        name: "var-lib-virtcontainers",
        mountPath: "/host/var/lib/virtcontainers",
        readOnly: true,
        mountPropagation: "HostToContainer",
      },
      { name: "run-vc", mountPath: "/host/run/vc", readOnly: true, mountPropagation: "HostToContainer" },
      {
        name: "var-lib-vc",
        mountPath: "/host/var/lib/vc",
        readOnly: true,
        mountPropagation: "HostToContainer",
      },
    ]);
  });

  it("has liveness on /healthz, readiness on /readyz, NODE_NAME and its own pod from the downward API", async () => {
    const { container } = await renderDaemonSet();
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container.env).toEqual([
      { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
      // the default 1Gi limit: half of it for V8's old generation (values heap)
      { name: "NODE_OPTIONS", value: "--max-semi-space-size=1 --max-old-space-size=512" },
    ]);
  });

  it("is hardened: read-only root, no escalation, only DAC_READ_SEARCH, RuntimeDefault seccomp, no host namespaces; the API token is mounted", async () => {
    const { pod, container } = await renderDaemonSet();
    expect(container.securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.hostPID).toBeUndefined();
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.hostIPC).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  it("has the resources, scheduling and rollout of the defaults", async () => {
    const { ds, pod, container } = await renderDaemonSet();
    expect(container.resources).toEqual({
      requests: { cpu: "20m", memory: "160Mi" },
      limits: { memory: "1Gi" },
    });
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.priorityClassName).toBeUndefined();
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.affinity).toBeUndefined();
    expect(pod.imagePullSecrets).toBeUndefined();
    expect(pod.terminationGracePeriodSeconds).toBe(10);
    expect(ds.spec?.updateStrategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
  });

  it("labels everything with the standard labels; the Service selects the DaemonSet's pods on port metrics", async () => {
    const { objs, ds, pod } = await renderDaemonSet();
    for (const o of objs) {
      expect(o.metadata?.name).toBe("virtcontainers-exporter");
      expect(o.metadata?.labels).toEqual(STANDARD);
    }
    expect(ds.spec?.selector.matchLabels).toEqual(SELECTOR);
    expect(ds.spec?.template.metadata?.labels).toEqual(STANDARD);

    const svc = onlyOf(objs, "Service");
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.selector).toEqual(SELECTOR);
    expect(svc.spec?.ports).toEqual([
      { name: "metrics", port: 10482, targetPort: "metrics", protocol: "TCP" },
    ]);

    const sa = onlyOf(objs, "ServiceAccount");
    expect(pod.serviceAccountName).toBe(sa.metadata?.name);
    expect(sa.automountServiceAccountToken).toBeUndefined();
  });
});

describe("gc values", () => {
  const writable = [false, false, false, false];
  const mountsReadOnly = (c: V1Container): (boolean | undefined)[] =>
    (c.volumeMounts ?? []).map((m) => m.readOnly);

  it("gc.mode=on with process checks: hostPID, --gc-process-checks required, writable trees, DAC_OVERRIDE added", async () => {
    const { pod, container } = await renderDaemonSet({ gc: { mode: "on" } });
    expect(container.args).toEqual(argsFor({ mode: "on", processChecks: "required" }));
    expect(pod.hostPID).toBe(true);
    expect(mountsReadOnly(container)).toEqual(writable);
    expect(container.securityContext?.capabilities).toEqual({
      drop: ["ALL"],
      add: ["DAC_OVERRIDE", "DAC_READ_SEARCH"],
    });
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
  });

  it("gc.mode=on with gc.processChecks=false fails with the reason and the fix", async () => {
    const err = await renderError({ gc: { mode: "on", processChecks: false } });
    expect(err).toContain(
      "gc.processChecks=false with gc.mode=on: the GC deletes a pod's state only on evidence",
    );
    expect(err).toContain("Remove gc.processChecks=false, or use gc.mode=dry-run");
  });

  it.each([
    ["off", true],
    ["off", false],
    ["dry-run", true],
    ["dry-run", false],
  ])(
    "gc.mode=%s (processChecks %s): read-only trees, no hostPID, --gc-process-checks auto, DAC_READ_SEARCH only",
    async (mode, processChecks) => {
      const { pod, container } = await renderDaemonSet({ gc: { mode, processChecks } });
      expect(container.args).toEqual(argsFor({ mode, processChecks: "auto" }));
      expect(pod.hostPID).toBeUndefined();
      expect(mountsReadOnly(container)).toEqual([true, true, true, true]);
      expect(container.securityContext?.capabilities?.add).toEqual(["DAC_READ_SEARCH"]);
    },
  );

  it("processMetrics.enabled: hostPID and nothing else (read-only trees, DAC_READ_SEARCH only); interval is --process-interval", async () => {
    const { pod, container } = await renderDaemonSet({ processMetrics: { enabled: true, interval: "30s" } });
    expect(pod.hostPID).toBe(true);
    expect(container.args).toEqual([
      ...argsFor({ mode: "dry-run", processChecks: "auto" }).slice(0, -1),
      "30s",
    ]);
    expect(mountsReadOnly(container)).toEqual([true, true, true, true]);
    expect(container.securityContext?.capabilities).toEqual({ drop: ["ALL"], add: ["DAC_READ_SEARCH"] });
    expect(container.securityContext?.privileged).toBe(false);
    const off = await renderDaemonSet({ processMetrics: { enabled: false } });
    expect(off.pod.hostPID).toBeUndefined();
  });

  it("passes interval, grace, maximum deletions and orphan fraction as the exporter parses them", async () => {
    const { container } = await renderDaemonSet({
      gc: { interval: "30s", grace: "1.5h", maxDeletionsPerRun: 1_000_000, maxOrphanFraction: 1 },
    });
    const args = container.args ?? [];
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(after("--gc-interval")).toBe("30s");
    expect(after("--gc-grace")).toBe("1.5h");
    expect(after("--gc-max-deletions-per-run")).toBe("1000000");
    expect(after("--gc-max-orphan-fraction")).toBe("1");
    const small = await renderDaemonSet({ gc: { maxOrphanFraction: 0.05 } });
    expect(small.container.args).toContain("0.05");
  });
});

describe("trees values", () => {
  const BUNDLES = [
    "/run/containers/storage/overlay-containers",
    "/run/containerd/io.containerd.runtime.v2.task/k8s.io",
  ];
  type Tree = readonly [name: string, path: string];
  const volumesOf = (trees: readonly Tree[]): unknown[] =>
    trees.map(([name, path]) => ({ name, hostPath: { path, type: "" } }));
  const mountsOf = (trees: readonly Tree[], readOnly: boolean): unknown[] =>
    trees.map(([name, path]) => ({
      name,
      mountPath: `/host${path}`,
      readOnly,
      mountPropagation: "HostToContainer",
    }));
  const layoutsOf = (c: V1Container): string | undefined => {
    const args = c.args ?? [];
    const at = args.indexOf("--layouts");
    expect(args.lastIndexOf("--layouts")).toBe(at);
    return at < 0 ? undefined : args[at + 1];
  };

  it("trees.kata=false mounts neither /run/vc nor /var/lib/vc and passes --layouts virtcontainers", async () => {
    const { pod, container } = await renderDaemonSet({ trees: { kata: false } });
    expect(pod.volumes).toEqual(volumesOf(VIRTCONTAINERS_TREES));
    expect(container.volumeMounts).toEqual(mountsOf(VIRTCONTAINERS_TREES, true));
    const paths = [
      ...(pod.volumes ?? []).map((v) => v.hostPath?.path),
      ...(container.volumeMounts ?? []).map((m) => m.mountPath),
    ];
    for (const p of paths) expect(p).not.toMatch(/\/(run|var\/lib)\/vc$/);
    expect(container.args).toEqual(argsFor({ mode: "dry-run", processChecks: "auto" }, "virtcontainers"));
  });

  it("trees.virtcontainers=false mounts only the Kata trees and passes --layouts kata1,persist", async () => {
    const { pod, container } = await renderDaemonSet({ trees: { virtcontainers: false } });
    expect(pod.volumes).toEqual(volumesOf(KATA_TREES));
    expect(container.volumeMounts).toEqual(mountsOf(KATA_TREES, true));
    expect(container.args).toEqual(argsFor({ mode: "dry-run", processChecks: "auto" }, "kata1,persist"));
  });

  it("trees.bundles adds read-only hostPath mounts at /host<path> after the trees (GC off and dry-run)", async () => {
    const bundles: Tree[] = BUNDLES.map((path, i) => [`bundles-${i}`, path]);
    for (const mode of ["off", "dry-run"]) {
      const { pod, container } = await renderDaemonSet({ gc: { mode }, trees: { bundles: BUNDLES } });
      expect(pod.volumes).toEqual(volumesOf([...VIRTCONTAINERS_TREES, ...KATA_TREES, ...bundles]));
      expect(container.volumeMounts).toEqual([
        ...mountsOf([...VIRTCONTAINERS_TREES, ...KATA_TREES], true),
        ...mountsOf(bundles, true),
      ]);
      expect(layoutsOf(container)).toBe("virtcontainers,kata1,persist"); // bundles are no layout
    }
    const kataOnly = await renderDaemonSet({
      trees: { virtcontainers: false, bundles: BUNDLES.slice(0, 1) },
    });
    expect(kataOnly.pod.volumes).toEqual(volumesOf([...KATA_TREES, ["bundles-0", BUNDLES[0] ?? ""]]));
  });

  it("gc.mode=on makes every tree mount read-write; the bundles stay read-only", async () => {
    const bundles: Tree[] = BUNDLES.map((path, i) => [`bundles-${i}`, path]);
    const { container } = await renderDaemonSet({ gc: { mode: "on" }, trees: { bundles: BUNDLES } });
    expect(container.volumeMounts).toEqual([
      ...mountsOf([...VIRTCONTAINERS_TREES, ...KATA_TREES], false),
      ...mountsOf(bundles, true),
    ]);
    const vcOnly = await renderDaemonSet({ gc: { mode: "on" }, trees: { kata: false } });
    expect(vcOnly.container.volumeMounts).toEqual(mountsOf(VIRTCONTAINERS_TREES, false));
    const kataOnly = await renderDaemonSet({ gc: { mode: "on" }, trees: { virtcontainers: false } });
    expect(kataOnly.container.volumeMounts).toEqual(mountsOf(KATA_TREES, false));
    expect(kataOnly.container.args).toEqual(
      argsFor({ mode: "on", processChecks: "required" }, "kata1,persist"),
    );
  });

  it("both trees false fails with the reason and the fix", async () => {
    const err = await renderError({ trees: { virtcontainers: false, kata: false } });
    expect(err).toContain(
      "trees.virtcontainers and trees.kata are both false: the exporter would mount no state tree and read nothing.",
    );
    expect(err).toContain("Set trees.virtcontainers=true for Clear Containers 3.x");
    expect(err).toContain("trees.kata=true for Kata Containers 0.2 to 3.x");
  });

  it("refuses bundle paths that are not clean absolute paths, repeated, under /var/run or in a state tree", async () => {
    for (const bad of ["run/containers", "/run/containers/", "/", "/run/../etc", "/run/./x", "/run//x", ""]) {
      expect(await renderError({ trees: { bundles: [bad] } }), bad).toContain("/trees/bundles/0");
    }
    expect(await renderError({ trees: { bundles: ["/run/a", "/run/a"] } })).toContain("/trees/bundles");
    expect(
      await renderError({ trees: { bundles: ["/var/run/containers/storage/overlay-containers"] } }),
    ).toContain(
      'trees.bundles: "/var/run/containers/storage/overlay-containers" is under /var/run: list it as "/run/containers/storage/overlay-containers"',
    );
    for (const [bundle, tree, value] of [
      ["/run/vc", "/run/vc", "kata"],
      ["/run/vc/sbs", "/run/vc", "kata"],
      ["/var/lib/vc/sbs", "/var/lib/vc", "kata"],
      ["/run/virtcontainers/pods", "/run/virtcontainers", "virtcontainers"],
      ["/var/lib/virtcontainers", "/var/lib/virtcontainers", "virtcontainers"],
    ] as const) {
      expect(await renderError({ trees: { bundles: [bundle] } })).toContain(
        `trees.bundles: "${bundle}" is in the state tree ${tree} (trees.${value})`,
      );
    }
    // a name that only begins like a tree, and dot-names that are not . or .., are fine
    const { container } = await renderDaemonSet({ trees: { bundles: ["/run/vcx", "/run/.x/..y"] } });
    expect((container.volumeMounts ?? []).slice(4).map((m) => m.mountPath)).toEqual([
      "/host/run/vcx",
      "/host/run/.x/..y",
    ]);
  });
});

describe("heap values (NODE_OPTIONS from the memory limit)", () => {
  /** The exporter's NODE_OPTIONS, or undefined when the chart sets none. */
  async function nodeOptions(values: Record<string, unknown>): Promise<string | undefined> {
    const { container } = await renderDaemonSet(values);
    const env = (container.env ?? []).filter((e) => e.name === "NODE_OPTIONS");
    expect(env.length).toBeLessThanOrEqual(1);
    return env[0]?.value;
  }
  const withLimit = (memory: unknown, heap: Record<string, unknown> = {}): Record<string, unknown> => ({
    resources: { requests: { cpu: "20m", memory: "160Mi" }, limits: { memory } },
    heap,
  });
  const flags = (mib: number): string => `--max-semi-space-size=1 --max-old-space-size=${mib}`;

  it("keeps the image's --max-semi-space-size (the Dockerfile's NODE_OPTIONS) in front of the cap", () => {
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/NODE_OPTIONS=--max-semi-space-size=1 /);
  });

  it("derives --max-old-space-size from resources.limits.memory, as Kubernetes reads the quantity", async () => {
    const cases: [unknown, number][] = [
      ["512Mi", 256],
      ["0.5Gi", 256],
      ["1Gi", 512],
      ["1.5Gi", 768],
      ["2Gi", 1024],
      ["1048576Ki", 512],
      ["1Ti", 524288],
      // decimal suffixes and exponents: 1e9 bytes = 953.67 MiB, half of it rounded down
      ["1G", 476],
      ["1e9", 476],
      ["1E9", 476],
      ["1000M", 476],
      ["1000000k", 476],
      ["0.001T", 476],
      ["+1Gi", 512],
      // plain bytes, as a string and as a YAML number
      ["536870912", 256],
      [536870912, 256],
      [1e9, 476],
    ];
    for (const [memory, mib] of cases) {
      expect(await nodeOptions(withLimit(memory)), String(memory)).toBe(flags(mib));
    }
  });

  it("heap.memoryLimitPercent changes the share; heap.maxOldSpaceMiB overrides it, with or without a limit", async () => {
    expect(await nodeOptions(withLimit("1Gi", { memoryLimitPercent: 40 }))).toBe(flags(409));
    expect(await nodeOptions(withLimit("512Mi", { maxOldSpaceMiB: 300 }))).toBe(flags(300));
    expect(
      await nodeOptions({
        resources: { requests: { memory: "160Mi" }, limits: null },
        heap: { maxOldSpaceMiB: 200 },
      }),
    ).toBe(flags(200));
  });

  it("sets no NODE_OPTIONS without a memory limit (the image's flags apply), or when extraEnv sets it", async () => {
    // (null removes the default's limits: Helm merges values maps)
    expect(
      await nodeOptions({ resources: { requests: { cpu: "20m", memory: "160Mi" }, limits: null } }),
    ).toBeUndefined();
    expect(
      await nodeOptions({ resources: { requests: { cpu: "20m" }, limits: { cpu: "1", memory: null } } }),
    ).toBeUndefined();
    const { container } = await renderDaemonSet({
      extraEnv: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=999" }],
    });
    expect(container.env?.filter((e) => e.name === "NODE_OPTIONS")).toEqual([
      { name: "NODE_OPTIONS", value: "--max-old-space-size=999" },
    ]);
  });

  it("refuses a memory limit that is no quantity or too small for a heap, and out-of-range heap values", async () => {
    for (const memory of ["1K", "12X", "512 Mi", "Mi", "1.2.3Gi", "-1Gi", "0x10"]) {
      expect(await renderError(withLimit(memory)), memory).toContain(
        `resources.limits.memory: "${memory}" is not a Kubernetes quantity`,
      );
    }
    expect(await renderError(withLimit("50Mi"))).toContain(
      "resources.limits.memory 50Mi leaves a V8 heap of 25 MiB (heap.memoryLimitPercent=50), below 32 MiB",
    );
    expect(await renderError(withLimit("512Mi", { memoryLimitPercent: 95 }))).toContain(
      "/heap/memoryLimitPercent",
    );
    expect(await renderError(withLimit("512Mi", { maxOldSpaceMiB: -1 }))).toContain("/heap/maxOldSpaceMiB");
    expect(await renderError(withLimit("512Mi", { maxOldSpaceMiB: "300" }))).toContain(
      "/heap/maxOldSpaceMiB",
    );
  });
});

describe("RBAC", () => {
  it("grants pods get/list/watch, nodes get and events create/patch (core and events.k8s.io), bound to the ServiceAccount", async () => {
    const objs = parseObjects(await render({}, { release: "mon", namespace: "monitoring" }));
    const role = onlyOf(objs, "ClusterRole");
    expect(role.metadata?.name).toBe("mon-virtcontainers-exporter");
    expect(role.rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]);
    const binding = onlyOf(objs, "ClusterRoleBinding");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "mon-virtcontainers-exporter",
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "mon-virtcontainers-exporter", namespace: "monitoring" },
    ]);
  });

  it("rbac.create=false renders neither; serviceAccount.create=false binds the named account", async () => {
    const none = await renderDaemonSet({ rbac: { create: false } });
    expect(none.objs.map((o) => o.kind)).toEqual(["ServiceAccount", "Service", "DaemonSet"]);

    const named = parseObjects(await render({ serviceAccount: { create: false, name: "node-exporters" } }));
    expect(named.map((o) => o.kind)).toEqual(["ClusterRole", "ClusterRoleBinding", "Service", "DaemonSet"]);
    expect(onlyOf(named, "ClusterRoleBinding").subjects?.[0]?.name).toBe("node-exporters");
  });
});

describe("namespace values", () => {
  it("namespace.create makes a namespace labelled privileged and puts every namespaced object in it", async () => {
    const objs = parseObjects(
      await render(
        { namespace: { create: true, name: "vce", labels: { team: "runtime" } } },
        { release: "mon", namespace: "kube-system" },
      ),
    );
    expect(objs[0]?.kind).toBe("Namespace"); // Helm creates it before everything else
    const ns = onlyOf(objs, "Namespace");
    expect(ns.metadata?.name).toBe("vce");
    expect(ns.metadata?.labels).toEqual({
      ...STANDARD,
      "app.kubernetes.io/instance": "mon",
      ...POD_SECURITY,
      team: "runtime",
    });
    for (const o of objs) {
      if (["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind ?? "")) continue;
      expect(o.metadata?.namespace, o.kind).toBe("vce");
    }
    expect(onlyOf(objs, "ClusterRoleBinding").subjects?.[0]?.namespace).toBe("vce");
  });

  it("namespace.create in the release namespace fails with the reason and the fix", async () => {
    const err = await renderError({ namespace: { create: true } }, "vce");
    expect(err).toContain(
      'namespace.create needs namespace.name set to a namespace other than the release namespace "vce"',
    );
    expect(err).toContain("--set namespace.create=true,namespace.name=virtcontainers-exporter");
  });

  it("namespace.name alone moves the objects without creating a namespace", async () => {
    const objs = parseObjects(await render({ namespace: { name: "vce" } }, { namespace: "default" }));
    expect(objs.map((o) => o.kind)).not.toContain("Namespace");
    expect(onlyOf(objs, "DaemonSet").metadata?.namespace).toBe("vce");
  });
});

describe("ServiceMonitor", () => {
  it("is rendered only when enabled", async () => {
    const kinds = parseObjects(await render()).map((o) => o.kind);
    expect(kinds).not.toContain("ServiceMonitor");
    expect(kinds).not.toContain("PrometheusRule");
    expect(kinds).not.toContain("ConfigMap");
  });

  it("scrapes port metrics with honorLabels, sets job and node, and takes the extra labels and settings", async () => {
    const objs = parseObjects(
      await render({
        serviceMonitor: {
          enabled: true,
          additionalLabels: { release: "kube-prometheus-stack" },
          interval: "30s",
          scrapeTimeout: "10s",
          relabelings: [{ action: "replace", targetLabel: "cluster", replacement: "prod" }],
          metricRelabelings: [{ action: "drop", sourceLabels: ["__name__"], regex: "nodejs_.*" }],
        },
      }),
    );
    const sm = onlyOf(objs, "ServiceMonitor");
    expect(sm.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(sm.metadata?.namespace).toBe(NAMESPACE);
    expect(sm.metadata?.labels).toEqual({ ...STANDARD, release: "kube-prometheus-stack" });
    const svc = onlyOf(objs, "Service");
    expect(sm.spec.selector.matchLabels).toEqual(svc.spec?.selector);
    expect(sm.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(sm.spec.endpoints).toEqual([
      {
        port: "metrics",
        path: "/metrics",
        interval: "30s",
        scrapeTimeout: "10s",
        honorLabels: true,
        relabelings: [
          { action: "replace", targetLabel: "job", replacement: "virtcontainers-exporter" },
          { action: "replace", sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node" },
          { action: "replace", targetLabel: "cluster", replacement: "prod" },
        ],
        metricRelabelings: [{ action: "drop", sourceLabels: ["__name__"], regex: "nodejs_.*" }],
      },
    ]);
  });

  it("goes to serviceMonitor.namespace and still selects the Service in the exporter's namespace", async () => {
    const sm = onlyOf(
      parseObjects(await render({ serviceMonitor: { enabled: true, namespace: "monitoring" } })),
      "ServiceMonitor",
    );
    expect(sm.metadata?.namespace).toBe("monitoring");
    expect(sm.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(sm.spec.endpoints[0]?.interval).toBeUndefined();
  });
});

describe("community chart values", () => {
  const digest = `sha256:${"0123456789abcdef".repeat(4)}`;

  it("image: registry, repository and tag; a digest wins over the tag", async () => {
    const tagged = await renderDaemonSet({
      image: { registry: "registry.example.com:5000", repository: "ops/vce", tag: "1.2.3" },
    });
    expect(tagged.container.image).toBe("registry.example.com:5000/ops/vce:1.2.3");
    const pinned = await renderDaemonSet({
      image: { registry: "registry.example.com", tag: "1.2.3", digest },
    });
    expect(pinned.container.image).toBe(`registry.example.com/virtcontainers-exporter@${digest}`);
    expect(await renderError({ image: { digest: "latest" } })).toContain("/image/digest");
  });

  it("commonLabels go on every object, podLabels on the pods only; selectors stay as they are", async () => {
    const { objs, ds } = await renderDaemonSet({
      commonLabels: { team: "platform" },
      podLabels: { tier: "node-agent" },
      serviceMonitor: { enabled: true },
      podMonitor: { enabled: true },
      networkPolicy: { enabled: true },
      prometheusRule: { enabled: true },
      dashboards: { enabled: true },
    });
    for (const o of objs) expect(o.metadata?.labels?.team, `${o.kind}`).toBe("platform");
    expect(ds.spec?.template.metadata?.labels).toMatchObject({ team: "platform", tier: "node-agent" });
    expect(ds.spec?.selector.matchLabels).toEqual(SELECTOR);
    expect(objs.filter((o) => o.metadata?.labels?.tier !== undefined)).toEqual([]);
  });

  it("updateStrategy, service.port (container, --listen, Service), extraEnv, extraVolumes and extraVolumeMounts", async () => {
    const { objs, ds, pod, container } = await renderDaemonSet({
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      service: { port: 9443 },
      extraEnv: [{ name: "VCE_LOG_LEVEL", value: "debug" }],
      extraVolumes: [{ name: "web", secret: { secretName: "vce-web" } }],
      extraVolumeMounts: [{ name: "web", mountPath: "/etc/vce", readOnly: true }],
    });
    expect(ds.spec?.updateStrategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(container.ports).toEqual([{ name: "metrics", containerPort: 9443, protocol: "TCP" }]);
    expect(container.args?.[container.args.indexOf("--listen") + 1]).toBe(":9443");
    expect(onlyOf(objs, "Service").spec?.ports).toEqual([
      { name: "metrics", port: 9443, targetPort: "metrics", protocol: "TCP" },
    ]);
    expect(container.env?.map((e) => e.name)).toEqual([
      "NODE_NAME",
      "POD_NAMESPACE",
      "POD_NAME",
      "POD_UID",
      "NODE_OPTIONS",
      "VCE_LOG_LEVEL",
    ]);
    expect(pod.volumes?.at(-1)).toEqual({ name: "web", secret: { secretName: "vce-web" } });
    expect(container.volumeMounts?.at(-1)).toEqual({ name: "web", mountPath: "/etc/vce", readOnly: true });
    expect(await renderError({ service: { port: 0 } })).toContain("/service/port");
  });

  it("securityContext adds SELinux options and an AppArmor profile to the fixed hardening", async () => {
    const plain = await renderDaemonSet();
    const { container } = await renderDaemonSet({
      securityContext: {
        seLinuxOptions: { type: "spc_t" },
        appArmorProfile: { type: "Localhost", localhostProfile: "vce" },
      },
    });
    const { seLinuxOptions, appArmorProfile, ...rest } = must(container.securityContext, "securityContext");
    expect(seLinuxOptions).toEqual({ type: "spc_t" });
    expect(appArmorProfile).toEqual({ type: "Localhost", localhostProfile: "vce" });
    expect(rest).toEqual(plain.container.securityContext);
    expect(await renderError({ securityContext: { privileged: true } })).toMatch(
      /additional properties 'privileged' not allowed/i,
    );
  });

  it("accepts a `global` key, so it renders as a subchart under a strict schema", async () => {
    const { container } = await renderDaemonSet({ global: { imageRegistry: "ignored.example" } });
    expect(container.image).toBe("virtcontainers-exporter:0.1.0");
  });

  it("ServiceMonitor: sample limit, scheme, TLS, basic auth and bearer token for a protected /metrics", async () => {
    const basicAuth = {
      username: { name: "vce-web", key: "user" },
      password: { name: "vce-web", key: "password" },
    };
    const tlsConfig = {
      ca: { secret: { name: "vce-ca", key: "ca.crt" } },
      serverName: "virtcontainers-exporter",
    };
    const sm = onlyOf(
      parseObjects(
        await render({
          serviceMonitor: {
            enabled: true,
            sampleLimit: 60000,
            scheme: "https",
            tlsConfig,
            basicAuth,
            bearerTokenSecret: { name: "vce-token", key: "token" },
          },
        }),
      ),
      "ServiceMonitor",
    );
    expect(sm.spec.sampleLimit).toBe(60000);
    expect(sm.spec.endpoints[0]).toMatchObject({
      scheme: "https",
      tlsConfig,
      basicAuth,
      bearerTokenSecret: { name: "vce-token", key: "token" },
      honorLabels: true,
    });
    const plain = onlyOf(parseObjects(await render({ serviceMonitor: { enabled: true } })), "ServiceMonitor");
    expect(plain.spec.sampleLimit).toBeUndefined();
    expect(Object.keys(plain.spec.endpoints[0] ?? {}).sort()).toEqual([
      "honorLabels",
      "path",
      "port",
      "relabelings",
    ]);
  });

  it("jobLabel: the job comes from that label of the Service or pod, and the chart's job relabeling is left out", async () => {
    const objs = parseObjects(
      await render({
        serviceMonitor: { enabled: true, jobLabel: "app.kubernetes.io/name" },
        podMonitor: { enabled: true, jobLabel: "app.kubernetes.io/instance" },
      }),
    );
    const sm = onlyOf(objs, "ServiceMonitor") as unknown as {
      spec: { jobLabel?: string; endpoints: { relabelings: { targetLabel: string }[] }[] };
    };
    const pm = onlyOf(objs, "PodMonitor") as unknown as {
      spec: { jobLabel?: string; podMetricsEndpoints: { relabelings: { targetLabel: string }[] }[] };
    };
    expect(sm.spec.jobLabel).toBe("app.kubernetes.io/name");
    expect(pm.spec.jobLabel).toBe("app.kubernetes.io/instance");
    expect(sm.spec.endpoints[0]?.relabelings.map((r) => r.targetLabel)).toEqual(["node"]);
    expect(pm.spec.podMetricsEndpoints[0]?.relabelings.map((r) => r.targetLabel)).toEqual(["node"]);
    const plain = onlyOf(
      parseObjects(await render({ serviceMonitor: { enabled: true } })),
      "ServiceMonitor",
    ) as unknown as {
      spec: { jobLabel?: string; endpoints: { relabelings: { targetLabel: string }[] }[] };
    };
    expect(plain.spec.jobLabel).toBeUndefined();
    expect(plain.spec.endpoints[0]?.relabelings.map((r) => r.targetLabel)).toEqual(["job", "node"]);
  });

  it("PodMonitor: the ServiceMonitor's endpoint for the exporter pods, in its own namespace", async () => {
    const objs = parseObjects(
      await render({
        serviceMonitor: { enabled: true, interval: "30s" },
        podMonitor: {
          enabled: true,
          namespace: "monitoring",
          interval: "30s",
          additionalLabels: { release: "kps" },
          sampleLimit: 100,
        },
      }),
    );
    const pm = onlyOf(objs, "PodMonitor");
    const sm = onlyOf(objs, "ServiceMonitor");
    expect(pm.metadata?.namespace).toBe("monitoring");
    expect(pm.metadata?.labels).toEqual({ ...STANDARD, release: "kps" });
    expect(pm.spec.selector.matchLabels).toEqual(SELECTOR);
    expect(pm.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
    expect(pm.spec.podMetricsEndpoints).toEqual(sm.spec.endpoints);
    expect(pm.spec.sampleLimit).toBe(100);
  });

  it("NetworkPolicy: only the given peers reach the metrics port; off by default", async () => {
    expect(parseObjects(await render()).map((o) => o.kind)).not.toContain("NetworkPolicy");
    const np = onlyOf(parseObjects(await render({ networkPolicy: { enabled: true } })), "NetworkPolicy");
    expect(np.spec?.podSelector?.matchLabels).toEqual(SELECTOR);
    expect(np.spec?.policyTypes).toEqual(["Ingress"]);
    expect(np.spec?.ingress).toHaveLength(1);
    // client-node's model names the `from` field `_from`
    expect(np.spec?.ingress?.[0]?._from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
    ]);
    expect(np.spec?.ingress?.[0]?.ports).toEqual([{ port: "metrics", protocol: "TCP" }]);
  });
});

describe("values", () => {
  it("image repository, tag and pull policy", async () => {
    const { container } = await renderDaemonSet({
      image: { repository: "registry.example/ops/vce", tag: "0.2.0-rc.1", pullPolicy: "Always" },
    });
    expect(container.image).toBe("registry.example/ops/vce:0.2.0-rc.1");
    expect(container.imagePullPolicy).toBe("Always");
  });

  it("tolerations: [] leaves tolerations out; nodeSelector, affinity and priorityClassName are passed through", async () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "runtime", operator: "In", values: ["cc", "kata"] }] },
          ],
        },
      },
    };
    const { pod } = await renderDaemonSet({
      tolerations: [],
      nodeSelector: { "kubernetes.io/os": "linux" },
      affinity,
      priorityClassName: "system-node-critical",
    });
    expect(pod.tolerations).toBeUndefined();
    expect(pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.affinity).toEqual(affinity);
    expect(pod.priorityClassName).toBe("system-node-critical");
  });

  it("custom tolerations replace the tolerate-everything default", async () => {
    const tolerations = [{ key: "dedicated", operator: "Equal", value: "vm", effect: "NoSchedule" }];
    const { pod } = await renderDaemonSet({ tolerations });
    expect(pod.tolerations).toEqual(tolerations);
  });

  it("extraArgs are appended after the chart's arguments", async () => {
    const { container } = await renderDaemonSet({
      extraArgs: ["--log-level", "debug", "--no-collector.devices"],
    });
    expect(container.args).toEqual([...DEFAULT_ARGS, "--log-level", "debug", "--no-collector.devices"]);
  });

  it("resources, podAnnotations, imagePullSecrets and ServiceAccount annotations", async () => {
    const { objs, ds, pod, container } = await renderDaemonSet({
      resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } },
      podAnnotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "10482" },
      imagePullSecrets: [{ name: "regcred" }],
      serviceAccount: { annotations: { "example.com/owner": "runtime-team" } },
    });
    expect(container.resources).toEqual({
      requests: { cpu: "50m", memory: "256Mi" },
      limits: { memory: "512Mi" },
    });
    expect(ds.spec?.template.metadata?.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "10482",
    });
    expect(pod.imagePullSecrets).toEqual([{ name: "regcred" }]);
    expect(onlyOf(objs, "ServiceAccount").metadata?.annotations).toEqual({
      "example.com/owner": "runtime-team",
    });
  });

  it("serviceAccount.create false renders no ServiceAccount and uses the named one (default: default)", async () => {
    const none = await renderDaemonSet({ serviceAccount: { create: false } });
    expect(none.objs.map((o) => o.kind)).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "Service",
      "DaemonSet",
    ]);
    expect(none.pod.serviceAccountName).toBe("default");
    expect(none.pod.automountServiceAccountToken).toBe(true);

    const named = await renderDaemonSet({ serviceAccount: { create: false, name: "node-exporters" } });
    expect(named.pod.serviceAccountName).toBe("node-exporters");
  });

  it("names follow the release, nameOverride and fullnameOverride", async () => {
    const byRelease = await renderDaemonSet({}, "mon");
    expect(byRelease.ds.metadata?.name).toBe("mon-virtcontainers-exporter");
    expect(byRelease.pod.serviceAccountName).toBe("mon-virtcontainers-exporter");
    expect(byRelease.ds.spec?.selector.matchLabels?.["app.kubernetes.io/instance"]).toBe("mon");

    const full = await renderDaemonSet({ fullnameOverride: "vce" }, "mon");
    for (const o of full.objs) expect(o.metadata?.name).toBe("vce");

    const named = await renderDaemonSet({ nameOverride: "vcx" }, "mon");
    expect(named.ds.metadata?.name).toBe("mon-vcx");
    expect(named.ds.spec?.selector.matchLabels?.["app.kubernetes.io/name"]).toBe("vcx");
  });
});

describe("NOTES.txt", () => {
  /** NOTES.txt as helm would print it: `helm template` does not render it and `helm install
   * --dry-run` needs a cluster, so a copy of the chart renders it as a template of its own. */
  async function notes(values: Record<string, unknown>, namespace = "monitoring"): Promise<string> {
    const chart = join(temp.make("vce-notes-"), "virtcontainers-exporter");
    cpSync(CHART, chart, { recursive: true });
    const text = readFileSync(join(chart, "templates", "NOTES.txt"), "utf8");
    writeFileSync(
      join(chart, "templates", "_notes-check.tpl"),
      `{{- define "notes-check" -}}\n${text}{{- end -}}\n`,
    );
    writeFileSync(
      join(chart, "templates", "notes-check.yaml"),
      'notes: {{ include "notes-check" . | toJson }}\n',
    );
    const out = await render(values, {
      release: "mon",
      namespace,
      chart,
      extra: ["--show-only", "templates/notes-check.yaml"],
    });
    const doc = must(parseObjects(out)[0] as { notes?: string } | undefined, "the rendered notes");
    const rendered = must(doc.notes, "notes");
    expect(rendered).not.toContain("<no value>");
    return rendered;
  }

  it("says what was installed, the GC mode and how to see the metrics", async () => {
    const text = await notes({});
    expect(text).toContain('release "mon" in namespace "monitoring".');
    expect(text).toContain("DaemonSet mon-virtcontainers-exporter");
    expect(text).toContain("reading, with\n  --layouts virtcontainers,kata1,persist:\n");
    for (const path of ["/run/virtcontainers", "/var/lib/virtcontainers", "/run/vc", "/var/lib/vc"]) {
      expect(text).toContain(`\n    ${path} read-only\n`);
    }
    expect(text).not.toContain("OCI bundles");
    expect(text).toContain(
      "CRI-O and containerd create a missing hostPath source on the node as an empty\ndirectory",
    );
    expect(text).toContain("set its tree to false (trees.virtcontainers, trees.kata)");
    expect(text).toContain("The exporter itself never creates\nanything.");
    expect(text).toContain("Service mon-virtcontainers-exporter (ClusterIP), port 10482");
    expect(text).toContain("ServiceAccount mon-virtcontainers-exporter.");
    expect(text).toContain("ClusterRole and ClusterRoleBinding mon-virtcontainers-exporter");
    expect(text).toContain("Image: virtcontainers-exporter:0.1.0");
    expect(text).toContain("Garbage collection of orphan pod state: dry-run.");
    expect(text).toContain("helm upgrade mon CHART --namespace monitoring --reuse-values --set gc.mode=on");
    expect(text).toContain(
      "kubectl label namespace monitoring pod-security.kubernetes.io/enforce=privileged",
    );
    expect(text).toContain('kubectl --namespace monitoring port-forward "pod/$POD" 10482:10482');
    expect(text).toContain("curl -s http://127.0.0.1:10482/metrics");
    expect(text).not.toContain("web configuration");
    expect(text).toContain(
      "-l app.kubernetes.io/instance=mon,app.kubernetes.io/name=virtcontainers-exporter",
    );
    expect(text).not.toContain("ServiceMonitor");
  });

  it("with GC on, the optional parts and a created namespace, says so", async () => {
    const text = await notes(
      {
        gc: { mode: "on" },
        namespace: { create: true, name: "vce" },
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
        dashboards: { enabled: true },
      },
      "kube-system",
    );
    expect(text).toContain('release "mon" in namespace "kube-system", its objects in namespace "vce".');
    expect(text).toContain("/var/lib/virtcontainers read-write");
    expect(text).toContain("/var/lib/vc read-write");
    expect(text).toContain("Garbage collection of orphan pod state: on.");
    expect(text).toContain("The state of a pod that has been an orphan for 10m is deleted, at most 5 pods");
    expect(text).toContain("The pods run with hostPID");
    expect(text).toContain("hostPath volumes and hostPID need the");
    expect(text).toContain("Namespace vce, labelled for the privileged Pod Security level.");
    expect(text).toContain("ServiceMonitor mon-virtcontainers-exporter");
    expect(text).toContain("PrometheusRule mon-virtcontainers-exporter");
    expect(text).toContain("ConfigMap mon-virtcontainers-exporter-dashboard");
    expect(text).toContain("kubectl --namespace vce get daemonset mon-virtcontainers-exporter");
    expect(text).not.toContain("kubectl label namespace");

    const web = await notes({ web: { existingSecret: "vce-web" } });
    expect(web).toContain("protected by the web configuration in Secret vce-web (key web-config.yml)");
    expect(web).toContain("curl -sk -u USER https://127.0.0.1:10482/metrics");
    expect(web).not.toContain("curl -s http://");

    const trees = await notes({
      gc: { mode: "on" },
      trees: { virtcontainers: false, bundles: ["/run/containers/storage/overlay-containers"] },
    });
    expect(trees).toContain(
      "--layouts kata1,persist:\n    /run/vc read-write\n    /var/lib/vc read-write\n" +
        "    /run/containers/storage/overlay-containers read-only (OCI bundles)\n",
    );
    expect(trees).not.toContain("/run/virtcontainers");

    const off = await notes({ gc: { mode: "on" }, rbac: { create: false } });
    expect(off).toContain("The pods run with hostPID");
    expect(off).toContain("No RBAC (rbac.create=false)");
  });
});

describe("formatting", () => {
  it("Prettier ignores charts/ and deploy/ (Go templates in YAML must not be reformatted)", async () => {
    const ignorePath = join(REPO, ".prettierignore");
    const files = [...filesUnder(CHART), ...filesUnder(join(REPO, "deploy"))];
    expect(files.length).toBeGreaterThan(5);
    const notIgnored: string[] = [];
    for (const f of files) {
      if (!(await getFileInfo(f, { ignorePath })).ignored) notIgnored.push(relative(REPO, f));
    }
    expect(notIgnored).toEqual([]);
  });
});

describe("web values (a protected /metrics)", () => {
  it("without web.existingSecret: no --web.config.file, no Secret volume, plain HTTP probes", async () => {
    const { container, pod } = await renderDaemonSet();
    expect(container.args).not.toContain("--web.config.file");
    expect(pod.volumes?.map((v) => v.name)).not.toContain("web-config");
    expect(container.livenessProbe?.httpGet?.scheme).toBeUndefined();
  });

  it("web.existingSecret mounts the Secret read-only, passes the file and probes over HTTPS", async () => {
    const { container, pod } = await renderDaemonSet({ web: { existingSecret: "vce-web" } });
    expect(container.args?.slice(-2)).toEqual([
      "--web.config.file",
      "/etc/virtcontainers-exporter/web/web-config.yml",
    ]);
    expect(pod.volumes?.find((v) => v.name === "web-config")).toEqual({
      name: "web-config",
      secret: { secretName: "vce-web", defaultMode: 0o400 },
    });
    expect(container.volumeMounts?.find((m) => m.name === "web-config")).toEqual({
      name: "web-config",
      mountPath: "/etc/virtcontainers-exporter/web",
      readOnly: true,
    });
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics", scheme: "HTTPS" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics", scheme: "HTTPS" });
  });

  it("web.configKey names the file; web.probe http and tcp change the probes", async () => {
    const http = await renderDaemonSet({
      web: { existingSecret: "vce-web", configKey: "web.yml", probe: "http" },
    });
    expect(http.container.args?.slice(-1)).toEqual(["/etc/virtcontainers-exporter/web/web.yml"]);
    expect(http.container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    const tcp = await renderDaemonSet({ web: { existingSecret: "vce-web", probe: "tcp" } });
    for (const probe of [tcp.container.livenessProbe, tcp.container.readinessProbe]) {
      expect(probe?.tcpSocket).toEqual({ port: "metrics" });
      expect(probe?.httpGet).toBeUndefined();
    }
  });

  it("refuses an unknown probe and a Secret name that is not one", async () => {
    expect(await renderError({ web: { existingSecret: "vce-web", probe: "grpc" } })).toContain("/web/probe");
    expect(await renderError({ web: { existingSecret: "Bad_Name" } })).toContain("/web/existingSecret");
    expect(await renderError({ web: { configKey: "../x/y" } })).toContain("/web/configKey");
  });
});
