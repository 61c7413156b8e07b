/**
 * The chart and deploy/ against a real kube-apiserver (test/cluster): every object they
 * render is accepted by the API server's own validation, with Helm and without it.
 * Needs the binaries from `bash test/cluster/build-testbin.sh` (CI builds them).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { AppsV1Api, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, testBinaryPaths, type Cluster } from "../cluster/cluster.js";
import { REPO } from "./helpers.js";

const run = promisify(execFile);
const bins = await testBinaryPaths();
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

function helmEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: cluster.kubeconfigPath,
    HELM_CACHE_HOME: join(cluster.dataDir, "helm", "cache"),
    HELM_CONFIG_HOME: join(cluster.dataDir, "helm", "config"),
    HELM_DATA_HOME: join(cluster.dataDir, "helm", "data"),
  };
}

describe("the chart in a real API server", () => {
  it("helm install with default values: the release is deployed and its objects exist as rendered", async () => {
    await cluster.createNamespace("vce-helm");
    const chart = join(REPO, "charts", "virtcontainers-exporter");
    await run(bins.helm, ["install", "vce", chart, "--namespace", "vce-helm"], { env: helmEnv() });
    const { stdout } = await run(bins.helm, ["status", "vce", "--namespace", "vce-helm", "-o", "json"], {
      env: helmEnv(),
    });
    expect((JSON.parse(stdout) as { info: { status: string } }).info.status).toBe("deployed");

    const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    const daemonSets = await apps.listNamespacedDaemonSet({ namespace: "vce-helm" });
    expect(daemonSets.items).toHaveLength(1);
    const container = daemonSets.items[0]?.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(expect.arrayContaining(["serve", "--host-root", "/host"]));
    expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
    const mounts = container?.volumeMounts?.map((m) => [m.mountPath, m.readOnly]);
    expect(mounts).toEqual(
      expect.arrayContaining([
        ["/host/run/virtcontainers", true],
        ["/host/var/lib/virtcontainers", true],
      ]),
    );
    const services = await cluster.core.listNamespacedService({ namespace: "vce-helm" });
    expect(services.items.map((s) => s.spec?.ports?.[0]?.port)).toEqual([10482]);
    const accounts = await cluster.core.listNamespacedServiceAccount({ namespace: "vce-helm" });
    expect(accounts.items.map((a) => a.metadata?.name)).toContain(
      daemonSets.items[0]?.spec?.template.spec?.serviceAccountName,
    );
  });

  it("deploy/ without Helm: every object is created as written (what kubectl apply -f deploy/ sends)", async () => {
    const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    const files = ["namespace.yaml", "virtcontainers-exporter.yaml"];
    const objects = files.flatMap(
      (f) => loadAllYaml(readFileSync(join(REPO, "deploy", f), "utf8")) as KubernetesObject[],
    );
    expect(objects.map((o) => o.kind)).toEqual(["Namespace", "ServiceAccount", "Service", "DaemonSet"]);
    for (const o of objects) await client.create(o);
    for (const o of objects) {
      const got = await client.read({
        apiVersion: o.apiVersion ?? "",
        kind: o.kind ?? "",
        metadata: { name: o.metadata?.name ?? "", namespace: o.metadata?.namespace ?? "" },
      });
      expect(got.metadata?.uid).toBeTruthy();
    }
    const ns = await cluster.core.readNamespace({ name: "virtcontainers-exporter" });
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });
});
