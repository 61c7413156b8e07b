import { describe, expect, it } from "vitest";
import { IncompleteListError, listAllNodePods } from "../../../src/kube/list.js";
import { httpError, pagedLister } from "../../support/paged-api.js";

const items = Array.from({ length: 7 }, (_, i) => ({ metadata: { uid: `u${i}` } }));

describe("listAllNodePods", () => {
  it("asks for pages of `limit` and follows continue to the last page", async () => {
    const list = pagedLister(() => items);
    const all = await listAllNodePods({ listNodePods: list }, 3);
    expect(all.items).toEqual(items);
    expect(list.requests.map((r) => r.limit)).toEqual([3, 3, 3]);
    expect(list.requests.map((r) => r.continue)).toEqual([undefined, "0:3", "0:6"]);
  });

  it("follows a server (or proxy) that pages on its own, smaller than asked", async () => {
    const list = pagedLister(() => items, { serverLimit: 2, ignoreClientLimit: true });
    expect((await listAllNodePods({ listNodePods: list })).items).toEqual(items);
    expect(list.requests).toHaveLength(4);
  });

  it("a 410 on a continue token, or any failed later page, is an incomplete list, never a shorter one", async () => {
    const expired = pagedLister(() => items, {
      serverLimit: 2,
      failPage: { page: 2, error: httpError(410, "too old resource version") },
    });
    const err = await listAllNodePods({ listNodePods: expired }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncompleteListError);
    expect(err).toMatchObject({ pages: 2, status: 410 });
    expect((err as Error).message).toContain("continue token expired");

    const failed = pagedLister(() => items, {
      serverLimit: 2,
      failPage: { page: 1, error: new Error("reset") },
    });
    expect(await listAllNodePods({ listNodePods: failed }).catch((e: unknown) => e)).toMatchObject({
      name: "IncompleteListError",
      pages: 1,
      status: null,
    });
  });

  it("a failed first page throws the API's own error (no list at all)", async () => {
    const boom = httpError(500);
    await expect(listAllNodePods({ listNodePods: () => Promise.reject(boom) })).rejects.toBe(boom);
  });

  it("a server that repeats its continue token does not loop forever", async () => {
    const stuck = {
      listNodePods: () => Promise.resolve({ items: [1], resourceVersion: "1", continue: "same" }),
    };
    await expect(listAllNodePods(stuck)).rejects.toBeInstanceOf(IncompleteListError);
  });
});
