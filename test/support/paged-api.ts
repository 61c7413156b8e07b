/**
 * A fake of the API server's paged list (limit/continue) over a fixed set of items, with the
 * server's page size forced smaller than asked (as a server or proxy may) and with failures
 * of continue requests (410 for an expired token, or any other error).
 */
import type { PageRequest, PodList } from "../../src/kube/api.js";

export interface PagingOptions {
  /** The server answers at most this many items per page, whatever the client asked. */
  readonly serverLimit?: number;
  /** Fail the request for this page (1 = the second page), with this error. */
  readonly failPage?: { readonly page: number; readonly error: Error };
  /** Ignore the client's limit entirely (a server that pages on its own). */
  readonly ignoreClientLimit?: boolean;
}

export function httpError(code: number, message = `status ${code}`): Error {
  return Object.assign(new Error(message), { statusCode: code });
}

/** Answers list requests over `items()` (read at the first page: one consistent snapshot per list). */
export function pagedLister(
  items: () => readonly unknown[],
  opts: PagingOptions = {},
): ((page?: PageRequest) => Promise<PodList>) & { readonly requests: PageRequest[] } {
  const snapshots = new Map<string, readonly unknown[]>();
  let lists = 0;
  const requests: PageRequest[] = [];
  const fn = (page?: PageRequest): Promise<PodList> => {
    requests.push(page ?? { limit: 0 });
    let all: readonly unknown[];
    let offset = 0;
    let list: string;
    if (page?.continue === undefined) {
      list = String(lists++);
      all = [...items()];
      snapshots.set(list, all);
    } else {
      const [l, o] = page.continue.split(":");
      list = l ?? "";
      offset = Number(o);
      const known = snapshots.get(list);
      if (known === undefined) return Promise.reject(httpError(410, "continue token unknown"));
      all = known;
    }
    const index = offset === 0 ? 0 : Math.round(offset / Math.max(1, pageSizeOf(page, opts)));
    if (opts.failPage !== undefined && page?.continue !== undefined && index === opts.failPage.page)
      return Promise.reject(opts.failPage.error);
    const size = pageSizeOf(page, opts);
    const end = Math.min(all.length, offset + size);
    return Promise.resolve({
      items: all.slice(offset, end),
      resourceVersion: "1",
      ...(end < all.length ? { continue: `${list}:${end}` } : {}),
    });
  };
  return Object.assign(fn, { requests });
}

function pageSizeOf(page: PageRequest | undefined, opts: PagingOptions): number {
  const asked = opts.ignoreClientLimit === true || page === undefined ? Infinity : page.limit;
  return Math.min(asked, opts.serverLimit ?? Infinity);
}
