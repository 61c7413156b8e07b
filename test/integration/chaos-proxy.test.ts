/**
 * The fault-injecting proxy (test/cluster/chaos-proxy.ts) in front of the real
 * test cluster, driven through @kubernetes/client-node as our pod view uses it:
 * pod list with a field selector, node GET and pod watches, authenticated as
 * a ServiceAccount whose RBAC the API server applies behind the proxy.
 *
 * Needs the binaries from `bash test/cluster/build-testbin.sh`.
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's generated models are data-only classes; request bodies are
   plain objects (as in test/cluster/cluster.ts). */
import { ApiException, CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { serviceAccountToken, startChaosProxy, type ChaosProxy } from "../cluster/chaos-proxy.js";
import { startCluster, type Cluster } from "../cluster/cluster.js";

const NS = "chaos";
const NODE = "chaos-node";
const OTHER_NODE = "chaos-other";
const ON_NODE = `spec.nodeName=${NODE}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Settle a promise into its value or error, failing the test if it takes longer than timeoutMs. */
async function outcome<T>(p: Promise<T>, timeoutMs = 10_000): Promise<{ value?: T; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`still pending after ${timeoutMs} ms (hang)`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface SeenEvent {
  type: string;
  name: string | undefined;
  code: number | undefined;
  reason: string | undefined;
}

interface OpenedWatch {
  readonly events: SeenEvent[];
  /** Whether `done` was called, and with what. */
  readonly state: { done: boolean; err: unknown };
  readonly controller: AbortController;
  waitFor(pred: (e: SeenEvent) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Wait for `done`; returns what it was called with. */
  waitDone(timeoutMs?: number): Promise<unknown>;
}

/** client-node Watch, recording events and the `done` callback. */
async function openWatch(kc: KubeConfig, path: string, query: Record<string, string>): Promise<OpenedWatch> {
  const events: SeenEvent[] = [];
  const state: { done: boolean; err: unknown } = { done: false, err: undefined };
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type: string, obj: unknown) => {
      const o = obj as { metadata?: { name?: string }; code?: number; reason?: string } | null;
      events.push({ type, name: o?.metadata?.name, code: o?.code, reason: o?.reason });
    },
    (err: unknown) => {
      if (state.done) return;
      state.done = true;
      state.err = err;
    },
  );
  return {
    events,
    state,
    controller,
    waitFor: (pred, what, timeoutMs = 10_000) => until(() => events.some(pred), what, timeoutMs),
    waitDone: async (timeoutMs = 10_000) => {
      await until(() => state.done, "the watch's done callback", timeoutMs);
      return state.err;
    },
  };
}

function errorSummary(err: unknown): string {
  if (err === null || err === undefined) return String(err);
  const e = err as { name?: unknown; code?: unknown; type?: unknown; errno?: unknown; message?: unknown };
  return JSON.stringify({ name: e.name, code: e.code, type: e.type, errno: e.errno, message: e.message });
}

describe("chaos proxy in front of the test cluster", () => {
  let cluster: Cluster | undefined;
  let proxy: ChaosProxy | undefined;
  let token: string;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const watches: OpenedWatch[] = [];

  const theCluster = (): Cluster => {
    if (!cluster) throw new Error("cluster not started");
    return cluster;
  };
  const theProxy = (): ChaosProxy => {
    if (!proxy) throw new Error("proxy not started");
    return proxy;
  };
  const watchPods = async (query: Record<string, string> = {}): Promise<OpenedWatch> => {
    const w = await openWatch(kc, "/api/v1/pods", { fieldSelector: ON_NODE, ...query });
    watches.push(w);
    return w;
  };
  const podNames = async (): Promise<string[]> =>
    (await core.listPodForAllNamespaces({ fieldSelector: ON_NODE })).items
      .map((p) => p.metadata?.name ?? "")
      .sort();
  const lastRecord = () => {
    const rec = theProxy().log.at(-1);
    if (!rec) throw new Error("proxy log is empty");
    return rec;
  };

  beforeAll(async () => {
    const c = (cluster = await startCluster());
    await c.createNode(NODE);
    await c.createNode(OTHER_NODE);
    await c.createNamespace(NS);
    await c.createPod({ namespace: NS, name: "a1", nodeName: NODE });
    await c.createPod({ namespace: NS, name: "a2", nodeName: NODE });
    await c.createPod({ namespace: NS, name: "b1", nodeName: OTHER_NODE });
    token = await serviceAccountToken(c, NS, "viewer");
    await c.grantServiceAccount(NS, "viewer", [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ]);
    proxy = await startChaosProxy(c);
    kc = new KubeConfig();
    kc.loadFromFile(await proxy.kubeconfigWithToken(token));
    core = kc.makeApiClient(CoreV1Api);
    // RBAC changes apply asynchronously (authorizer cache)
    for (let i = 0; ; i++) {
      try {
        await core.listPodForAllNamespaces({ fieldSelector: ON_NODE, limit: 1 });
        break;
      } catch (err: unknown) {
        if (!(err instanceof ApiException) || (err as ApiException<unknown>).code !== 403 || i > 100)
          throw err;
        await sleep(100);
      }
    }
  }, 180_000);

  // no test inherits rules or open watches from a failed one
  afterEach(async () => {
    for (const w of watches.splice(0)) w.controller.abort();
    if (!proxy) return;
    proxy.passThrough();
    proxy.resetOpenWatches();
    const p = proxy;
    await until(() => p.openWatches === 0, "no open watches after the test");
  });

  afterAll(async () => {
    for (const w of watches) w.controller.abort();
    await proxy?.close();
    await cluster?.stop();
  }, 60_000);

  it("passes a field-selected pod list and a node GET through, as the ServiceAccount", async () => {
    expect(kc.getCurrentCluster()?.server).toBe(theProxy().url);
    expect(theProxy().url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const list = await core.listPodForAllNamespaces({ fieldSelector: ON_NODE });
    expect(list.items.map((p) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`).sort()).toEqual([
      `${NS}/a1`,
      `${NS}/a2`,
    ]);
    expect(lastRecord()).toMatchObject({
      method: "GET",
      path: "/api/v1/pods",
      query: { fieldSelector: ON_NODE },
      status: 200,
      watch: false,
      fault: undefined,
    });

    const node = await core.readNode({ name: NODE });
    expect(node.metadata?.name).toBe(NODE);
    expect(lastRecord()).toMatchObject({ method: "GET", path: `/api/v1/nodes/${NODE}`, status: 200 });

    // the API server sees the ServiceAccount (bearer token passed through), not some proxy identity
    const denied: unknown = await core.listNode({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(ApiException);
    expect((denied as ApiException<unknown>).code).toBe(403);
    expect(String((denied as ApiException<unknown>).body)).toContain(`system:serviceaccount:${NS}:viewer`);
  });

  it("forwards request bodies (Event create and JSON patch); a rule can hit only the PATCH", async () => {
    const p = theProxy();
    const created = await core.createNamespacedEvent({
      namespace: NS,
      body: {
        metadata: { name: "chaos-ev", namespace: NS },
        involvedObject: { kind: "Pod", namespace: NS, name: "a1" },
        reason: "ChaosTest",
        message: "hello",
        type: "Normal",
        count: 1,
      },
    });
    expect(created.metadata?.uid).toBeDefined();
    expect(lastRecord()).toMatchObject({
      method: "POST",
      path: `/api/v1/namespaces/${NS}/events`,
      status: 201,
    });

    const patch = () =>
      core.patchNamespacedEvent({
        namespace: NS,
        name: "chaos-ev",
        body: [{ op: "replace", path: "/count", value: 2 }],
      });
    p.failRequests({ status: 409, count: 1, match: { method: "patch" } });
    await expect(patch()).rejects.toMatchObject({ code: 409 });
    const patched = await patch();
    expect(patched.count).toBe(2);
    expect(patched.message).toBe("hello");
    expect(lastRecord()).toMatchObject({ method: "PATCH", status: 200, fault: undefined });
  });

  it("verifies the cluster CA towards the API server (502 with a wrong one)", async () => {
    const wrongCa = theProxy().caPem;
    expect(wrongCa).toContain("BEGIN CERTIFICATE");
    const bad = await startChaosProxy({ server: theCluster().server, caPem: wrongCa ?? "" });
    try {
      const badKc = new KubeConfig();
      badKc.loadFromFile(await bad.kubeconfigWithToken(token));
      const r = await outcome(badKc.makeApiClient(CoreV1Api).readNode({ name: NODE }));
      expect(r.error).toBeInstanceOf(ApiException);
      expect((r.error as ApiException<unknown>).code).toBe(502);
      expect(bad.log[0]?.upstreamError).toBeDefined();
    } finally {
      await bad.close();
    }
  });

  it("failRequests answers a Kubernetes Status, only for matching requests, then recovers", async () => {
    const p = theProxy();
    p.failRequests({ status: 500, count: 2, match: { pathPrefix: "/api/v1/pods" } });
    for (let i = 0; i < 2; i++) {
      const r = await outcome(podNames());
      expect(r.error).toBeInstanceOf(ApiException);
      const e = r.error as ApiException<unknown>;
      expect(e.code).toBe(500);
      expect(JSON.parse(String(e.body))).toMatchObject({
        kind: "Status",
        code: 500,
        reason: "InternalError",
      });
      expect(lastRecord()).toMatchObject({ status: 500, fault: "fail" });
    }
    // not matching: forwarded while the rule is active
    p.failRequests({ status: 503, match: { method: "POST" } });
    expect((await core.readNode({ name: NODE })).metadata?.name).toBe(NODE);
    // the 500 rule is used up
    expect(await podNames()).toEqual(["a1", "a2"]);

    // default count: every matching request until passThrough()
    p.failRequests({ status: 429, retryAfterSeconds: 3 });
    for (let i = 0; i < 3; i++) {
      await expect(core.readNode({ name: NODE })).rejects.toMatchObject({
        code: 429,
        headers: { "retry-after": "3" },
      });
    }
    p.passThrough();
    expect(await podNames()).toEqual(["a1", "a2"]);
  });

  it("forceListLimit pages every list on the API server; a rule can hit only the continue requests", async () => {
    const p = theProxy();
    const all = await podNames();
    p.forceListLimit(1);
    try {
      const first = await core.listPodForAllNamespaces({ fieldSelector: ON_NODE });
      expect(first.items.length).toBeLessThanOrEqual(1);
      const token = first.metadata?._continue ?? "";
      expect(token).not.toBe("");
      expect(lastRecord().query.limit).toBeUndefined(); // what the client asked
      // the API server pages from etcd and then filters by field: pages of at most 1, to the end
      const names = first.items.map((i) => i.metadata?.name ?? "");
      for (let next = token, pages = 1; next !== ""; pages++) {
        expect(pages).toBeLessThan(20);
        const page = await core.listPodForAllNamespaces({ fieldSelector: ON_NODE, _continue: next });
        expect(page.items.length).toBeLessThanOrEqual(1);
        names.push(...page.items.map((i) => i.metadata?.name ?? ""));
        next = page.metadata?._continue ?? "";
      }
      expect(names.sort()).toEqual(all);
      // only continue requests answer 410; first pages pass
      p.failRequests({ status: 410, match: { pathPrefix: "/api/v1/pods", hasQuery: "continue" } });
      await core.listPodForAllNamespaces({ fieldSelector: ON_NODE });
      expect(lastRecord()).toMatchObject({ status: 200, fault: undefined });
      const expired: unknown = await core
        .listPodForAllNamespaces({ fieldSelector: ON_NODE, _continue: token })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((expired as ApiException<unknown>).code).toBe(410);
      expect(lastRecord()).toMatchObject({ status: 410, fault: "fail" });
    } finally {
      p.forceListLimit(null);
    }
    const whole = await core.listPodForAllNamespaces({ fieldSelector: ON_NODE });
    expect(whole.metadata?._continue ?? "").toBe("");
    expect(whole.items).toHaveLength(all.length);
  });

  it("resetRequests makes the call fail on the client side (no HTTP answer, no hang)", async () => {
    const p = theProxy();
    p.resetRequests({ count: 1 });
    const r = await outcome(podNames());
    expect(r.value).toBeUndefined();
    expect(r.error).toBeDefined();
    expect(r.error).not.toBeInstanceOf(ApiException);
    // node-fetch FetchError { code: "ECONNRESET", message: "request to ... failed, reason: read ECONNRESET" }
    expect(r.error).toMatchObject({ code: "ECONNRESET" });
    expect(lastRecord()).toMatchObject({ fault: "reset", status: undefined });
    expect(await podNames()).toEqual(["a1", "a2"]);
  });

  it("delayRequests holds the answer back", async () => {
    const p = theProxy();
    p.delayRequests({ ms: 800, count: 1, match: { pathPrefix: "/api/v1/nodes/" } });
    const t0 = Date.now();
    await core.readNode({ name: NODE });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(750);
    expect(lastRecord()).toMatchObject({ delayedMs: 800, status: 200 });
    await core.readNode({ name: NODE });
    expect(lastRecord()).toMatchObject({ delayedMs: 0, status: 200 });
  });

  it("streams watch events for a pod created after the watch started", async () => {
    const c = theCluster();
    const p = theProxy();
    const rv =
      (await core.listPodForAllNamespaces({ fieldSelector: ON_NODE })).metadata?.resourceVersion ?? "";
    const w = await watchPods({ resourceVersion: rv });
    await until(() => p.openWatches === 1, "one open watch");
    expect(lastRecord()).toMatchObject({
      watch: true,
      status: 200,
      query: { watch: "true", fieldSelector: ON_NODE },
    });

    await c.createPod({ namespace: NS, name: "w1", nodeName: NODE });
    await c.createPod({ namespace: NS, name: "w-elsewhere", nodeName: OTHER_NODE });
    await w.waitFor((e) => e.type === "ADDED" && e.name === "w1", "ADDED w1");
    await c.setPodContainerStatuses(NS, "w1");
    await w.waitFor((e) => e.type === "MODIFIED" && e.name === "w1", "MODIFIED w1");
    expect(w.events.some((e) => e.name === "w-elsewhere")).toBe(false);
    expect(w.state.done).toBe(false);

    w.controller.abort();
    expect(await w.waitDone()).toMatchObject({ name: "AbortError" });
    await until(() => p.openWatches === 0, "the aborted watch to close");
  });

  it("stallOpenWatches silences an open watch; stallWatches answers 200 and then nothing", async () => {
    const c = theCluster();
    const p = theProxy();
    const rv =
      (await core.listPodForAllNamespaces({ fieldSelector: ON_NODE })).metadata?.resourceVersion ?? "";
    const w = await watchPods({ resourceVersion: rv });
    await until(() => p.openWatches === 1, "one open watch");
    await c.createPod({ namespace: NS, name: "s1", nodeName: NODE });
    await w.waitFor((e) => e.name === "s1", "ADDED s1");

    p.stallOpenWatches();
    const seen = w.events.length;
    await c.setPodContainerStatuses(NS, "s1");
    await c.createPod({ namespace: NS, name: "s2", nodeName: NODE });
    // the changes happened: a fresh watch from the same resourceVersion sees them
    const fresh = await watchPods({ resourceVersion: rv });
    await fresh.waitFor((e) => e.type === "ADDED" && e.name === "s2", "ADDED s2 on a fresh watch");
    await fresh.waitFor((e) => e.type === "MODIFIED" && e.name === "s1", "MODIFIED s1 on a fresh watch");
    fresh.controller.abort();
    await sleep(1_000);
    expect(w.events.length).toBe(seen);
    expect(w.state.done).toBe(false);
    await until(() => p.openWatches === 1, "only the stalled watch open");

    // a watch stalled from the start: watch() resolves (200), then silence
    p.stallWatches();
    const silent = await watchPods({ resourceVersion: rv });
    await until(() => p.openWatches === 2, "two open watches");
    expect(lastRecord()).toMatchObject({ fault: "stall", status: 200, watch: true });
    await c.setPodContainerStatuses(NS, "s2");
    await sleep(1_000);
    expect(silent.events).toEqual([]);
    expect(silent.state.done).toBe(false);

    for (const x of [w, silent]) {
      x.controller.abort();
      expect(await x.waitDone()).toMatchObject({ name: "AbortError" });
    }
    await until(() => p.openWatches === 0, "no open watches");
  });

  it("expireWatches sends one ERROR 410 Expired event and ends the stream", async () => {
    const p = theProxy();
    p.expireWatches({ count: 2 });
    for (let i = 0; i < 2; i++) {
      const w = await watchPods({ resourceVersion: "1" });
      await w.waitFor((e) => e.type === "ERROR", "ERROR event");
      expect(w.events).toEqual([{ type: "ERROR", name: undefined, code: 410, reason: "Expired" }]);
      expect(await w.waitDone()).toBeNull();
      expect(lastRecord()).toMatchObject({ fault: "expire", status: 200 });
    }
    // used up: the next watch is forwarded (no resourceVersion: ADDED for every existing pod)
    const w = await watchPods();
    await w.waitFor((e) => e.type === "ADDED" && e.name === "a1", "ADDED a1");
    expect(w.events.every((e) => e.type === "ADDED")).toBe(true);
    w.controller.abort();
    await until(() => p.openWatches === 0, "no open watches");
  });

  it("resetOpenWatches breaks every open watch and the client's done callback gets an error", async () => {
    const p = theProxy();
    const ws = [await watchPods(), await watchPods()];
    await until(() => p.openWatches === 2, "two open watches");
    await ws[0]?.waitFor((e) => e.name === "a1", "ADDED a1");
    p.resetOpenWatches();
    for (const w of ws) {
      const err = await w.waitDone();
      // the response body's error, passed on as is: Error { code: "ECONNRESET", message: "read ECONNRESET" }
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ code: "ECONNRESET" });
    }
    await until(() => p.openWatches === 0, "no open watches");
  });

  it("a failed watch request: watch() resolves and done gets an Error with statusCode", async () => {
    const p = theProxy();
    p.failRequests({ status: 500, count: 1, match: { watch: true } });
    const w = await watchPods();
    const err = await w.waitDone(1_000);
    expect(err).toBeInstanceOf(Error);
    expect((err as { statusCode?: unknown }).statusCode).toBe(500);
    expect(w.controller.signal.aborted).toBe(true);
    expect(w.events).toEqual([]);
    expect(lastRecord()).toMatchObject({ watch: true, status: 500, fault: "fail" });
  });

  it("plain HTTP mode works with client-node, and close() ends open watches at once", async () => {
    const plain = await startChaosProxy(theCluster(), { tls: false });
    let closed = false;
    try {
      expect(plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(plain.caPem).toBeUndefined();
      const plainKc = new KubeConfig();
      plainKc.loadFromFile(await plain.kubeconfigWithToken(token));
      const plainCore = plainKc.makeApiClient(CoreV1Api);
      expect((await plainCore.readNode({ name: NODE })).metadata?.name).toBe(NODE);

      const w = await openWatch(plainKc, "/api/v1/pods", { fieldSelector: ON_NODE });
      watches.push(w);
      await w.waitFor((e) => e.name === "a1", "ADDED a1");
      plain.stallOpenWatches();
      plain.stallWatches();
      const silent = await openWatch(plainKc, "/api/v1/pods", { fieldSelector: ON_NODE });
      watches.push(silent);
      expect(plain.openWatches).toBe(2);
      const t0 = Date.now();
      await plain.close();
      closed = true;
      expect(Date.now() - t0).toBeLessThan(2_000);
      // close() ends connections without an RST: node-fetch reports "Premature close"
      for (const x of [w, silent]) {
        expect(errorSummary(await x.waitDone(2_000))).toMatch(/Premature close|ECONNRESET/);
      }
      expect((await outcome(plainCore.readNode({ name: NODE }))).error).toBeDefined();
    } finally {
      if (!closed) await plain.close();
    }
  });
});
