import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { KubeApi, NodeRef, PodList, WatchHandle, WatchHandlers } from "../../../src/kube/api.js";
import { NodeCheck } from "../../../src/kube/node.js";
import { PodView } from "../../../src/kube/podview.js";
import { FakeClock, flush } from "../../support/fake-clock.js";
import { pagedLister } from "../../support/paged-api.js";

const log = pino({ level: "silent" });

function rawPod(uid: string, rv: string, node = "node-a") {
  return {
    metadata: { uid, namespace: "ns", name: `p-${uid}`, resourceVersion: rv },
    spec: { nodeName: node, containers: [{ name: "c" }] },
    status: { phase: "Running", containerStatuses: [{ containerID: `cri-o://${uid}c` }] },
  };
}

interface OpenWatch {
  readonly rv: string;
  readonly timeoutSeconds: number;
  readonly handlers: WatchHandlers;
  aborted: boolean;
}

class FakeApi implements KubeApi {
  lists: (PodList | Error)[] = [];
  listCalls = 0;
  watches: OpenWatch[] = [];
  watchFailures: Error[] = [];
  /** The next watches answer at once with an ERROR event 410 (a storm). */
  expireNext = 0;
  node: NodeRef | null | Error = { name: "node-a", uid: "n-uid" };

  listNodePods(): Promise<PodList> {
    this.listCalls++;
    const next = this.lists.length > 1 ? this.lists.shift() : this.lists[0];
    if (next === undefined) return Promise.reject(new Error("no list scripted"));
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }

  watchNodePods(rv: string, timeoutSeconds: number, handlers: WatchHandlers): Promise<WatchHandle> {
    const failure = this.watchFailures.shift();
    if (failure !== undefined) {
      handlers.done(failure);
      return Promise.resolve({ abort: () => undefined });
    }
    const w: OpenWatch = { rv, timeoutSeconds, handlers, aborted: false };
    this.watches.push(w);
    if (this.expireNext > 0) {
      this.expireNext--;
      handlers.event("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    }
    return Promise.resolve({
      abort: () => {
        w.aborted = true;
      },
    });
  }

  getNode(): Promise<NodeRef | null> {
    return this.node instanceof Error ? Promise.reject(this.node) : Promise.resolve(this.node);
  }

  createNodeEvent(): Promise<void> {
    return Promise.resolve();
  }

  get last(): OpenWatch {
    const w = this.watches.at(-1);
    if (w === undefined) throw new Error("no watch open");
    return w;
  }
}

function httpError(code: number): Error {
  return Object.assign(new Error(`status ${code}`), { statusCode: code });
}

let views: PodView[] = [];
afterEach(async () => {
  await Promise.all(views.map((v) => v.stop()));
  views = [];
});

function setup(over: Partial<ConstructorParameters<typeof PodView>[0]> = {}) {
  const api = new FakeApi();
  const clock = new FakeClock();
  const restarts: string[] = [];
  const view = new PodView({
    api,
    nodeName: "node-a",
    log,
    clock,
    watchTimeoutSeconds: [60, 60],
    stallGraceMs: 15_000,
    staleAfterMs: 120_000,
    backoffMs: [1000, 30_000],
    onRestart: (r) => restarts.push(r),
    ...over,
  });
  views.push(view);
  return { api, clock, view, restarts };
}

const uids = (v: PodView) => v.pods()?.map((p) => p.uid) ?? null;

describe("PodView", () => {
  it("lists, then follows watch events from the list's resourceVersion", async () => {
    const { api, view } = setup();
    api.lists = [{ items: [rawPod("a", "5"), rawPod("x", "5", "node-b")], resourceVersion: "10" }];
    view.start();
    await flush();
    expect(view.status()).toMatchObject({ synced: true, fresh: true, restarts: 0 });
    expect(uids(view)).toEqual(["a"]);
    expect(api.last.rv).toBe("10");
    api.last.handlers.event("ADDED", rawPod("b", "11"));
    api.last.handlers.event("MODIFIED", { ...rawPod("a", "12"), spec: { nodeName: "node-b" } });
    expect(uids(view)).toEqual(["b"]);
    api.last.handlers.event("DELETED", rawPod("b", "13"));
    api.last.handlers.event("BOOKMARK", { metadata: { resourceVersion: "14" } });
    expect(uids(view)).toEqual([]);
    // a clean end after the watch's own timeout: watch again from the last resourceVersion, no relist
  });

  it("lists every page (limit/continue); a list whose later page fails leaves the view unsynced", async () => {
    const pods = ["a", "b", "c", "d", "e"].map((u) => rawPod(u, "1"));
    const paged = setup({ pageSize: 2 });
    paged.api.listNodePods = pagedLister(() => pods, { serverLimit: 2 });
    paged.view.start();
    await flush();
    expect(uids(paged.view)).toEqual(["a", "b", "c", "d", "e"]);

    const broken = setup({ pageSize: 2 });
    broken.api.listNodePods = pagedLister(() => pods, {
      serverLimit: 2,
      failPage: { page: 2, error: httpError(410) },
    });
    broken.view.start();
    await flush();
    expect(broken.view.status().synced).toBe(false);
    expect(uids(broken.view)).toBeNull();
  });

  it("re-watches from the last resourceVersion after a clean end, without relisting or counting a restart", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [{ items: [], resourceVersion: "10" }];
    view.start();
    await flush();
    api.last.handlers.event("BOOKMARK", { metadata: { resourceVersion: "20" } });
    await clock.advance(60_000);
    api.last.handlers.done(null);
    await flush();
    expect(api.watches).toHaveLength(2);
    expect(api.last.rv).toBe("20");
    expect(api.listCalls).toBe(1);
    expect(restarts).toEqual([]);
  });

  it("relists at once on a 410 (as an ERROR event or as an HTTP status) and counts a restart", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [{ items: [rawPod("a", "1")], resourceVersion: "10" }];
    view.start();
    await flush();
    await clock.advance(5000);
    api.last.handlers.event("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    await flush();
    expect(api.listCalls).toBe(2);
    expect(api.last.rv).toBe("10");
    await clock.advance(5000);
    api.last.handlers.done(httpError(410));
    await flush();
    expect(api.listCalls).toBe(3);
    expect(restarts).toHaveLength(2);
    expect(view.status().synced).toBe(true);
  });

  it("backs off (capped) while the API fails, and is not synced before the first list", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [httpError(500)];
    view.start();
    await flush();
    expect(view.status().synced).toBe(false);
    expect(view.pods()).toBeNull();
    await clock.advance(200_000);
    expect(clock.sleeps.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    api.lists = [{ items: [rawPod("a", "1")], resourceVersion: "3" }];
    await clock.advance(30_000);
    expect(uids(view)).toEqual(["a"]);
    expect(restarts).toEqual([]); // list failures before a watch are retries, not restarts
  });

  it("restarts after a watch failure (500, connection reset), with backoff, then relists", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [{ items: [], resourceVersion: "1" }];
    view.start();
    await flush();
    await clock.advance(2000);
    api.last.handlers.done(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
    await flush();
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toContain("socket hang up");
    api.watchFailures = [httpError(500), httpError(500)];
    await clock.advance(1000);
    expect(api.listCalls).toBe(2);
    await clock.advance(2000 + 4000);
    expect(restarts).toHaveLength(3);
    expect(restarts[1]).toContain("HTTP 500");
    expect(api.listCalls).toBe(4);
    expect(api.watches).toHaveLength(2); // the two failed watches never opened
    expect(view.status().synced).toBe(true);
  });

  it("detects a silent stall (no event, no end past the watch timeout), aborts it and relists", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [{ items: [], resourceVersion: "1" }];
    view.start();
    await flush();
    const stalled = api.last;
    await clock.advance(74_000);
    expect(stalled.aborted).toBe(false);
    await clock.advance(1000);
    expect(stalled.aborted).toBe(true);
    expect(restarts[0]).toContain("stalled");
    await clock.advance(1000);
    expect(api.listCalls).toBe(2);
    expect(api.watches).toHaveLength(2);
  });

  it("goes stale without contact and hands out no pods then", async () => {
    const { api, clock, view } = setup({ watchTimeoutSeconds: [600, 600], stallGraceMs: 60_000 });
    api.lists = [{ items: [rawPod("a", "1")], resourceVersion: "1" }];
    view.start();
    await flush();
    await clock.advance(119_000);
    expect(view.status().fresh).toBe(true);
    await clock.advance(2000);
    expect(view.status()).toMatchObject({ synced: true, fresh: false });
    expect(view.pods()).toBeNull();
    api.last.handlers.event("BOOKMARK", { metadata: { resourceVersion: "2" } });
    expect(uids(view)).toEqual(["a"]);
  });

  it("backs off through a 410 storm", async () => {
    const { api, clock, view, restarts } = setup();
    api.lists = [{ items: [], resourceVersion: "1" }];
    view.start();
    await flush();
    api.expireNext = 6;
    api.last.handlers.event("ERROR", { code: 410 }); // at once after the list: short, backs off
    await clock.advance(150_000); // the backoffs add up to 91 s; the last watch is not stalled yet
    expect(restarts).toHaveLength(7);
    const backoffs = clock.sleeps.filter((ms) => ms !== 75_000);
    expect(backoffs).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(api.listCalls).toBe(8);
  });
});

describe("NodeCheck", () => {
  it("confirms the Node, or says clearly that it does not exist and retries", async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    api.node = null;
    const check = new NodeCheck({ api, nodeName: "node-a", log, clock, retryMs: 30_000 });
    check.start();
    await flush();
    expect(check.state).toBe("not_found");
    expect(check.confirmed).toBeNull();
    api.node = httpError(503);
    await clock.advance(30_000);
    expect(check.state).toBe("error");
    api.node = { name: "node-a", uid: "u" };
    await clock.advance(30_000);
    expect(check.confirmed).toEqual({ name: "node-a", uid: "u" });
    await check.stop();
  });

  it("a Node that GC found gone is unconfirmed and checked again until it is back", async () => {
    const api = new FakeApi();
    const clock = new FakeClock();
    const check = new NodeCheck({ api, nodeName: "node-a", log, clock, retryMs: 30_000 });
    check.start();
    await flush();
    expect(check.confirmed).toEqual({ name: "node-a", uid: "n-uid" });
    api.node = null;
    check.invalidate();
    await flush();
    expect(check.confirmed).toBeNull();
    expect(check.state).toBe("not_found");
    api.node = { name: "node-a", uid: "n-uid-2" };
    await clock.advance(30_000);
    expect(check.confirmed).toEqual({ name: "node-a", uid: "n-uid-2" });
    await check.stop();
  });
});
