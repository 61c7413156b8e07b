/**
 * The chart's RBAC in a real API server (test/cluster): with the token of the chart's
 * ServiceAccount (installChartRbac) the exporter's calls succeed (list and watch this node's
 * pods across namespaces with a field selector, read its Node, create and patch Events on the
 * Node in both Events APIs) and nothing else does (Secrets, ConfigMaps, writing pods or nodes,
 * listing nodes, reading events, ...). The whole permission matrix is also checked with
 * SubjectAccessReviews, so a broader grant fails the test even for a call not made here.
 *
 * Needs the binaries `npm run provision` builds (npm test does it first).
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   @kubernetes/client-node's generated models are data-only classes; the client serializes plain
   objects and its own documentation builds request bodies as literals (as test/cluster/cluster.ts). */
import { request } from "node:https";

import { AuthorizationV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startCluster, type Cluster } from "../cluster/cluster.js";
import { installChartRbac, type ChartRbac } from "./chart-rbac.js";

let cluster: Cluster;
let rbac: ChartRbac;
let api: Api;

const NODE = "node-a";

interface Reply {
  readonly status: number;
  readonly body: string;
}
type Api = (method: string, path: string, body?: unknown, contentType?: string) => Promise<Reply>;

/** Raw requests as the user of a kubeconfig (token auth): status codes stay visible. */
function apiFor(kubeconfigPath: string): Api {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server ?? "";
  const ca = Buffer.from(kc.getCurrentCluster()?.caData ?? "", "base64");
  const token = kc.getCurrentUser()?.token ?? "";
  if (server === "" || token === "") throw new Error(`${kubeconfigPath}: no server or token`);
  return (method, path, body, contentType = "application/json") =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${server}${path}`,
        {
          method,
          ca,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: "application/json",
            ...(payload === undefined ? {} : { "Content-Type": contentType }),
          },
          timeout: 20_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
}

/** A MicroTime as the API server parses it: six fraction digits (an ISO string's three fail with 400). */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function names(reply: Reply): string[] {
  const list = JSON.parse(reply.body) as { items: { metadata: { namespace: string; name: string } }[] };
  return list.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort();
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.createNode(NODE);
  await cluster.createNode("node-b");
  await cluster.createNamespace("team-a");
  await cluster.createPod({ namespace: "team-a", name: "web", nodeName: NODE });
  await cluster.createPod({ namespace: "team-a", name: "elsewhere", nodeName: "node-b" });
  await cluster.createPod({ namespace: "default", name: "db", nodeName: NODE });
  await cluster.core.createNamespacedSecret({
    namespace: "team-a",
    body: { metadata: { name: "token" }, stringData: { password: "hunter2" } },
  });
  await cluster.core.createNamespacedConfigMap({
    namespace: "team-a",
    body: { metadata: { name: "settings" }, data: { a: "b" } },
  });
  rbac = await installChartRbac(cluster);
  api = apiFor(rbac.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

describe("installChartRbac", () => {
  it("installs the chart's ServiceAccount, ClusterRole and ClusterRoleBinding and authenticates as that account", async () => {
    expect(rbac.objects.map((o) => o.kind)).toEqual(["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]);
    expect(rbac.serviceAccount).toBe("virtcontainers-exporter");
    expect(rbac.clusterRole).toBe("virtcontainers-exporter");
    const review = await api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(review.status, review.body).toBe(201);
    const user = (JSON.parse(review.body) as { status: { userInfo: { username: string } } }).status.userInfo;
    expect(user.username).toBe("system:serviceaccount:virtcontainers-exporter:virtcontainers-exporter");
  });
});

describe("what the exporter needs is allowed", () => {
  const selector = `fieldSelector=${encodeURIComponent(`spec.nodeName=${NODE}`)}`;

  it("lists this node's pods in every namespace with the field selector, and gets one", async () => {
    const list = await api("GET", `/api/v1/pods?${selector}`);
    expect(list.status, list.body).toBe(200);
    expect(names(list)).toEqual(["default/db", "team-a/web"]);
    expect((await api("GET", "/api/v1/namespaces/team-a/pods/web")).status).toBe(200);
  });

  it("watches this node's pods with the field selector", async () => {
    const watch = await api("GET", `/api/v1/pods?watch=1&timeoutSeconds=1&${selector}`);
    expect(watch.status, watch.body).toBe(200);
    const events = watch.body
      .split("\n")
      .filter((l) => l !== "")
      .map(
        (l) => JSON.parse(l) as { type: string; object: { metadata: { namespace: string; name: string } } },
      );
    expect(
      events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`).sort(),
    ).toEqual(["ADDED default/db", "ADDED team-a/web"]);
  });

  it("gets its Node", async () => {
    const node = await api("GET", `/api/v1/nodes/${NODE}`);
    expect(node.status, node.body).toBe(200);
  });

  it("creates and patches a core v1 Event on the Node", async () => {
    const now = new Date().toISOString();
    const created = await api("POST", "/api/v1/namespaces/default/events", {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${NODE}.orphan-core`, namespace: "default" },
      involvedObject: { apiVersion: "v1", kind: "Node", name: NODE },
      reason: "OrphanPodStateFound",
      message: "pod 042f7fc8 has no Kubernetes pod on this node",
      type: "Warning",
      source: { component: "virtcontainers-exporter", host: NODE },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    expect(created.status, created.body).toBe(201);
    const patched = await api(
      "PATCH",
      `/api/v1/namespaces/default/events/${NODE}.orphan-core`,
      { count: 2, lastTimestamp: new Date().toISOString() },
      "application/merge-patch+json",
    );
    expect(patched.status, patched.body).toBe(200);
    expect((JSON.parse(patched.body) as { count: number }).count).toBe(2);
  });

  it("creates and patches an events.k8s.io/v1 Event on the Node", async () => {
    const created = await api("POST", "/apis/events.k8s.io/v1/namespaces/default/events", {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: `${NODE}.orphan-removed`, namespace: "default" },
      eventTime: microTime(),
      reportingController: "virtcontainers-exporter",
      reportingInstance: `virtcontainers-exporter-${NODE}`,
      action: "Delete",
      reason: "OrphanPodStateRemoved",
      note: "removed the state of pod 042f7fc8",
      type: "Normal",
      regarding: { apiVersion: "v1", kind: "Node", name: NODE },
    });
    expect(created.status, created.body).toBe(201);
    const patched = await api(
      "PATCH",
      `/apis/events.k8s.io/v1/namespaces/default/events/${NODE}.orphan-removed`,
      { series: { count: 2, lastObservedTime: microTime() } },
      "application/merge-patch+json",
    );
    expect(patched.status, patched.body).toBe(200);
  });
});

describe("everything else is forbidden", () => {
  it.each([
    ["read a Secret", "GET", "/api/v1/namespaces/team-a/secrets/token"],
    ["list Secrets", "GET", "/api/v1/secrets"],
    ["list ConfigMaps", "GET", "/api/v1/namespaces/team-a/configmaps"],
    ["delete a pod", "DELETE", "/api/v1/namespaces/team-a/pods/web"],
    ["list nodes", "GET", "/api/v1/nodes"],
    ["list events", "GET", "/api/v1/namespaces/default/events"],
    ["read pod logs", "GET", "/api/v1/namespaces/team-a/pods/web/log"],
  ])("cannot %s", async (_what, method, path) => {
    const r = await api(method, path);
    expect(r.status, r.body).toBe(403);
  });

  it("cannot create a pod", async () => {
    const r = await api("POST", "/api/v1/namespaces/team-a/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "intruder" },
      spec: { nodeName: NODE, containers: [{ name: "c", image: "registry.invalid/x:1" }] },
    });
    expect(r.status, r.body).toBe(403);
  });

  it("cannot patch a node or a pod", async () => {
    const node = await api(
      "PATCH",
      `/api/v1/nodes/${NODE}`,
      { metadata: { labels: { owned: "yes" } } },
      "application/merge-patch+json",
    );
    expect(node.status, node.body).toBe(403);
    const pod = await api(
      "PATCH",
      "/api/v1/namespaces/team-a/pods/web",
      { metadata: { labels: { owned: "yes" } } },
      "application/merge-patch+json",
    );
    expect(pod.status, pod.body).toBe(403);
  });

  it("is granted exactly pods get/list/watch, nodes get and events create/patch (SubjectAccessReview over every verb)", async () => {
    const authz = cluster.kubeConfig.makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${rbac.namespace}:${rbac.serviceAccount}`;
    const groups = [
      "system:serviceaccounts",
      `system:serviceaccounts:${rbac.namespace}`,
      "system:authenticated",
    ];
    const resources: [group: string, resource: string, subresource: string][] = [
      ["", "pods", ""],
      ["", "pods", "status"],
      ["", "pods", "log"],
      ["", "pods", "exec"],
      ["", "pods", "eviction"],
      ["", "nodes", ""],
      ["", "nodes", "status"],
      ["", "nodes", "proxy"],
      ["", "events", ""],
      ["events.k8s.io", "events", ""],
      ["", "secrets", ""],
      ["", "configmaps", ""],
      ["", "services", ""],
      ["", "endpoints", ""],
      ["", "namespaces", ""],
      ["", "serviceaccounts", ""],
      ["", "serviceaccounts", "token"],
      ["apps", "daemonsets", ""],
      ["rbac.authorization.k8s.io", "clusterroles", ""],
      ["rbac.authorization.k8s.io", "clusterrolebindings", ""],
    ];
    const verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
    const checks = resources.flatMap(([group, resource, subresource]) =>
      verbs.map(async (verb) => {
        const review = await authz.createSubjectAccessReview({
          body: {
            spec: {
              user,
              groups,
              resourceAttributes: { group, resource, subresource, verb, namespace: "team-a" },
            },
          },
        });
        const name = `${group === "" ? "core" : group}/${resource}${subresource === "" ? "" : `/${subresource}`}`;
        return review.status?.allowed === true ? `${name} ${verb}` : null;
      }),
    );
    const allowed = (await Promise.all(checks)).filter((c): c is string => c !== null).sort();
    expect(allowed).toEqual(
      [
        "core/pods get",
        "core/pods list",
        "core/pods watch",
        "core/nodes get",
        "core/events create",
        "core/events patch",
        "events.k8s.io/events create",
        "events.k8s.io/events patch",
      ].sort(),
    );
  });
});
