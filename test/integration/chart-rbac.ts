/**
 * Installs the chart's ServiceAccount, ClusterRole and ClusterRoleBinding (rendered by
 * `helm template`, exactly as the chart ships them) into a test cluster, and writes a
 * kubeconfig that authenticates as that ServiceAccount (TokenRequest), so a test can run the
 * exporter, or API calls, with exactly the permissions the chart grants:
 *
 *   const rbac = await installChartRbac(cluster);
 *   // node dist/cli.js serve --kubernetes auto --kubeconfig rbac.kubeconfigPath ...
 */
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";

import type { Cluster } from "../cluster/cluster.js";
import { parseObjects, render } from "./helm.js";

export interface ChartRbac {
  /** Kubeconfig authenticating as the chart's ServiceAccount (token valid for an hour). */
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly clusterRole: string;
  /** The objects created, as rendered. */
  readonly objects: readonly KubernetesObject[];
}

export interface ChartRbacOptions {
  /** Namespace of the ServiceAccount (created when missing). Default "virtcontainers-exporter". */
  readonly namespace?: string;
  /** Helm release name, which names the objects. Default "virtcontainers-exporter". */
  readonly release?: string;
  /** Chart values (the ServiceAccount and RBAC ones matter here). */
  readonly values?: Readonly<Record<string, unknown>>;
}

function isConflict(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 409;
}

export async function installChartRbac(cluster: Cluster, opts: ChartRbacOptions = {}): Promise<ChartRbac> {
  const namespace = opts.namespace ?? "virtcontainers-exporter";
  const release = opts.release ?? "virtcontainers-exporter";
  try {
    await cluster.createNamespace(namespace);
  } catch (err: unknown) {
    if (!isConflict(err)) throw err;
  }
  const rendered = await render(opts.values ?? {}, {
    release,
    namespace,
    extra: ["--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"],
  });
  const objects = parseObjects(rendered) as KubernetesObject[];
  const kinds = objects.map((o) => o.kind).sort();
  if (kinds.join(",") !== "ClusterRole,ClusterRoleBinding,ServiceAccount") {
    throw new Error(
      `the chart rendered ${kinds.join(", ")}, not a ServiceAccount, ClusterRole and ClusterRoleBinding`,
    );
  }
  const client = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  for (const o of objects) await client.create(o);

  const byKind = (kind: string): string => objects.find((o) => o.kind === kind)?.metadata?.name ?? "";
  const serviceAccount = byKind("ServiceAccount");
  return {
    kubeconfigPath: await cluster.kubeconfigForServiceAccount(namespace, serviceAccount),
    namespace,
    serviceAccount,
    clusterRole: byKind("ClusterRole"),
    objects,
  };
}
