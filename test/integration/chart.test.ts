/**
 * The Helm chart (charts/virtcontainers-exporter) and its rendering for plain kubectl
 * (deploy/): `helm lint --strict`, the committed manifest in sync with the chart, the
 * DaemonSet's host access and hardening, values that change the output, and NOTES.txt.
 *
 * Needs helm: $VCE_HELM_BIN, else the pinned build of test/cluster/build-testbin.sh in
 * ${XDG_CACHE_HOME:-$HOME/.cache}/virtcontainers-exporter/testbin/helm-v3.22.0/helm.
 * YAML is parsed with loadAllYaml of @kubernetes/client-node (already a dependency), which
 * gives typed Kubernetes objects.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";

import {
  loadAllYaml,
  type V1Container,
  type V1DaemonSet,
  type V1Namespace,
  type V1PodSpec,
  type V1Service,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import { getFileInfo } from "prettier";
import { afterAll, describe, expect, it } from "vitest";

import { REPO, TempDirs, childEnv } from "./helpers.js";

const execFileAsync = promisify(execFile);

/** The value of an environment variable, or `fallback` when it is unset or empty (as `${X:-y}`). */
function envOr(name: string, fallback: string): string {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : v;
}

const CACHE = envOr("XDG_CACHE_HOME", join(homedir(), ".cache"));
const HELM = envOr("VCE_HELM_BIN", join(CACHE, "virtcontainers-exporter", "testbin", "helm-v3.22.0", "helm"));
if (!existsSync(HELM)) {
  throw new Error(
    `helm not found at ${HELM}: set VCE_HELM_BIN to a helm v3 binary, ` +
      `or build the pinned one with: bash test/cluster/build-testbin.sh helm`,
  );
}

const CHART = join(REPO, "charts", "virtcontainers-exporter");
const DEPLOY = join(REPO, "deploy", "virtcontainers-exporter.yaml");
const NAMESPACE_FILE = join(REPO, "deploy", "namespace.yaml");
const RELEASE = "virtcontainers-exporter";
const NAMESPACE = "virtcontainers-exporter";
const FIXED_ARGS = ["serve", "--host-root", "/host", "--listen", ":10482", "--kubernetes", "off"];

const temp = new TempDirs();
afterAll(() => {
  temp.cleanup();
});

/** Helm with a throwaway HOME, so that no user configuration or kubeconfig is read. */
const helmHome = temp.make("vce-helm-home-");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, {
      cwd: REPO,
      env: childEnv({ HOME: helmHome, ...env }),
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { code?: unknown; stdout?: unknown; stderr?: unknown };
    if (typeof e.code !== "number") throw err;
    return {
      code: e.code,
      stdout: typeof e.stdout === "string" ? e.stdout : "",
      stderr: typeof e.stderr === "string" ? e.stderr : "",
    };
  }
}

async function helm(args: readonly string[]): Promise<string> {
  const r = await run(HELM, args);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `helm template` of the chart; `values` is written as a values file (JSON is YAML). */
async function render(
  values: Record<string, unknown> = {},
  opts: { release?: string; namespace?: string; chart?: string; extra?: readonly string[] } = {},
): Promise<string> {
  const args = [
    "template",
    opts.release ?? RELEASE,
    opts.chart ?? CHART,
    "--namespace",
    opts.namespace ?? NAMESPACE,
  ];
  if (Object.keys(values).length > 0) {
    const file = join(temp.make("vce-values-"), "values.json");
    writeFileSync(file, JSON.stringify(values));
    args.push("--values", file);
  }
  return helm([...args, ...(opts.extra ?? [])]);
}

interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
  };
}

function parse(text: string): KubeObject[] {
  const docs: unknown[] = loadAllYaml(text);
  return docs.filter((d): d is KubeObject => typeof d === "object" && d !== null);
}

interface Kinds {
  Namespace: V1Namespace;
  ServiceAccount: V1ServiceAccount;
  Service: V1Service;
  DaemonSet: V1DaemonSet;
}

/** The one object of `kind` (loadAllYaml made it an instance of the matching class). */
function only<K extends keyof Kinds>(objs: readonly KubeObject[], kind: K): Kinds[K] {
  const found = objs.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}, expected 1`);
  return found[0] as unknown as Kinds[K];
}

function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`missing: ${what}`);
  return v;
}

interface Rendered {
  readonly objs: KubeObject[];
  readonly ds: V1DaemonSet;
  readonly pod: V1PodSpec;
  readonly container: V1Container;
}

async function renderDaemonSet(values: Record<string, unknown> = {}, release = RELEASE): Promise<Rendered> {
  const objs = parse(await render(values, { release }));
  const ds = only(objs, "DaemonSet");
  const pod = must(ds.spec?.template.spec, "DaemonSet pod spec");
  expect(pod.containers).toHaveLength(1);
  return { objs, ds, pod, container: must(pod.containers[0], "the exporter container") };
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

// ---------------------------------------------------------------------------------------------

describe("the chart", () => {
  it("passes helm lint --strict, with default and with changed values", async () => {
    const lint = await run(HELM, ["lint", "--strict", CHART]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    expect(lint.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");

    const changed = await run(HELM, [
      "lint",
      "--strict",
      CHART,
      "--set",
      "priorityClassName=system-node-critical,serviceAccount.create=false,image.tag=9.9.9",
      "--set-json",
      'extraArgs=["--log-level","debug"]',
      "--set-json",
      "tolerations=[]",
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
    const r = await run("bash", [join(root, "scripts", "render-deploy.sh")], { VCE_HELM_BIN: HELM });
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

  it("creates the namespace with the privileged Pod Security level, and everything else goes into it", () => {
    const ns = only(parse(readFileSync(NAMESPACE_FILE, "utf8")), "Namespace");
    expect(ns.apiVersion).toBe("v1");
    expect(ns.metadata?.name).toBe(NAMESPACE);
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");

    const objs = parse(committedDeploy().body);
    expect(objs.map((o) => o.kind)).toEqual(["ServiceAccount", "Service", "DaemonSet"]);
    for (const o of objs) expect(o.metadata?.namespace).toBe(NAMESPACE);
    // kubectl apply -f deploy/ takes files in name order: the namespace comes first
    expect(readdirSync(join(REPO, "deploy")).sort()[0]).toBe("namespace.yaml");
  });
});

describe("the rendered DaemonSet (default values)", () => {
  it("runs serve with --host-root /host, port 10482 and the Kubernetes view off", async () => {
    const { container } = await renderDaemonSet();
    expect(container.args).toEqual(FIXED_ARGS);
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT
    expect(container.image).toBe("virtcontainers-exporter:0.1.0");
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.ports).toEqual([{ name: "metrics", containerPort: 10482, protocol: "TCP" }]);
  });

  it("mounts the host's two virtcontainers trees read-only, without a hostPath type check", async () => {
    const { pod, container } = await renderDaemonSet();
    expect(pod.volumes).toEqual([
      { name: "run-virtcontainers", hostPath: { path: "/run/virtcontainers", type: "" } },
      { name: "var-lib-virtcontainers", hostPath: { path: "/var/lib/virtcontainers", type: "" } },
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
    ]);
  });

  it("has liveness on /healthz, readiness on /readyz and NODE_NAME from the downward API", async () => {
    const { container } = await renderDaemonSet();
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container.env).toEqual([
      { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ]);
  });

  it("is hardened: read-only root, no escalation, only DAC_READ_SEARCH, RuntimeDefault seccomp, no host namespaces", async () => {
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
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("has the resources, scheduling and rollout of the defaults", async () => {
    const { ds, pod, container } = await renderDaemonSet();
    expect(container.resources).toEqual({
      requests: { cpu: "20m", memory: "160Mi" },
      limits: { memory: "512Mi" },
    });
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.priorityClassName).toBeUndefined();
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.affinity).toBeUndefined();
    expect(pod.imagePullSecrets).toBeUndefined();
    expect(pod.terminationGracePeriodSeconds).toBe(10);
    expect(ds.spec?.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } });
  });

  it("labels everything with the standard labels; the Service selects the DaemonSet's pods on port metrics", async () => {
    const { objs, ds, pod } = await renderDaemonSet();
    const selector = {
      "app.kubernetes.io/name": "virtcontainers-exporter",
      "app.kubernetes.io/instance": RELEASE,
      "app.kubernetes.io/component": "exporter",
    };
    const standard = {
      ...selector,
      "app.kubernetes.io/version": "0.1.0",
      "app.kubernetes.io/managed-by": "Helm",
      "helm.sh/chart": "virtcontainers-exporter-0.1.0",
    };
    for (const o of objs) {
      expect(o.metadata?.name).toBe("virtcontainers-exporter");
      expect(o.metadata?.labels).toEqual(standard);
    }
    expect(ds.spec?.selector.matchLabels).toEqual(selector);
    expect(ds.spec?.template.metadata?.labels).toEqual(standard);

    const svc = only(objs, "Service");
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.selector).toEqual(selector);
    expect(svc.spec?.ports).toEqual([
      { name: "metrics", port: 10482, targetPort: "metrics", protocol: "TCP" },
    ]);

    const sa = only(objs, "ServiceAccount");
    expect(pod.serviceAccountName).toBe(sa.metadata?.name);
    expect(sa.automountServiceAccountToken).toBe(false);
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

  it("extraArgs are appended after the fixed arguments, as strings", async () => {
    const { container } = await renderDaemonSet({
      extraArgs: ["--log-level", "debug", "--no-collector.devices"],
    });
    expect(container.args).toEqual([...FIXED_ARGS, "--log-level", "debug", "--no-collector.devices"]);
  });

  it("resources, podAnnotations and imagePullSecrets", async () => {
    const { ds, pod, container } = await renderDaemonSet({
      resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } },
      podAnnotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "10482" },
      imagePullSecrets: [{ name: "regcred" }],
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
  });

  it("serviceAccount.create false renders no ServiceAccount and uses the named one (default: default)", async () => {
    const none = await renderDaemonSet({ serviceAccount: { create: false } });
    expect(none.objs.map((o) => o.kind)).toEqual(["Service", "DaemonSet"]);
    expect(none.pod.serviceAccountName).toBe("default");
    expect(none.pod.automountServiceAccountToken).toBe(false);

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
  it("says what was installed and how to see the metrics", async () => {
    // helm template does not render NOTES.txt and helm install --dry-run needs a cluster here,
    // so a copy of the chart renders it as a template of its own.
    const chart = join(temp.make("vce-notes-"), "virtcontainers-exporter");
    cpSync(CHART, chart, { recursive: true });
    const notes = readFileSync(join(chart, "templates", "NOTES.txt"), "utf8");
    writeFileSync(
      join(chart, "templates", "_notes-check.tpl"),
      `{{- define "notes-check" -}}\n${notes}{{- end -}}\n`,
    );
    writeFileSync(
      join(chart, "templates", "notes-check.yaml"),
      'notes: {{ include "notes-check" . | toJson }}\n',
    );
    const out = await render(
      {},
      {
        release: "mon",
        namespace: "monitoring",
        chart,
        extra: ["--show-only", "templates/notes-check.yaml"],
      },
    );
    const doc = must(parse(out)[0] as { notes?: string } | undefined, "the rendered notes");
    const text = must(doc.notes, "notes");
    expect(text).toContain('release "mon" in namespace "monitoring"');
    expect(text).toContain("DaemonSet mon-virtcontainers-exporter");
    expect(text).toContain("Service mon-virtcontainers-exporter (ClusterIP), port 10482");
    expect(text).toContain("Image: virtcontainers-exporter:0.1.0");
    expect(text).toContain('kubectl --namespace monitoring port-forward "pod/$POD" 10482:10482');
    expect(text).toContain("curl -s http://127.0.0.1:10482/metrics");
    expect(text).toContain(
      "-l app.kubernetes.io/instance=mon,app.kubernetes.io/name=virtcontainers-exporter",
    );
    expect(text).not.toContain("<no value>");
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
