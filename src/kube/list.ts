/**
 * A complete list of this node's pods, in pages: `limit` items at a time, following the
 * server's `continue` token to the last page. The server serves every page from one consistent
 * snapshot (the first page's resourceVersion), so the pages together are the list.
 *
 * A list that did not complete is no evidence that a pod is absent: a failed first page throws
 * the API's own error; a failed later page (any error, including 410 Gone for an expired continue
 * token) throws IncompleteListError. Never a partial list.
 */
import { describeError, httpStatusOf, type KubeApi, type PodList } from "./api.js";

/** Items per page (kubectl's default chunk size). */
export const LIST_PAGE_SIZE = 500;
/** A list longer than this many pages is refused (a server that never ends the list). */
export const MAX_PAGES = 10_000;

export class IncompleteListError extends Error {
  constructor(
    message: string,
    /** Pages read before the failure. */
    readonly pages: number,
    /** The failed page's HTTP status, when it had one (410: the continue token expired). */
    readonly status: number | null,
  ) {
    super(message);
    this.name = "IncompleteListError";
  }
}

export async function listAllNodePods(
  api: Pick<KubeApi, "listNodePods">,
  limit: number = LIST_PAGE_SIZE,
): Promise<PodList> {
  const first = await api.listNodePods({ limit });
  const items = [...first.items];
  const seen = new Set<string>();
  let token = first.continue ?? "";
  let pages = 1;
  while (token !== "") {
    if (seen.has(token) || pages >= MAX_PAGES) {
      throw new IncompleteListError(
        `the list did not end after ${pages} pages (continue token ${seen.has(token) ? "repeated" : "still set"})`,
        pages,
        null,
      );
    }
    seen.add(token);
    let page: PodList;
    try {
      page = await api.listNodePods({ limit, continue: token });
    } catch (err: unknown) {
      const status = httpStatusOf(err);
      throw new IncompleteListError(
        `page ${pages + 1} of the list failed${status === 410 ? " (410: the continue token expired)" : ""}: ${describeError(err)}`,
        pages,
        status,
      );
    }
    items.push(...page.items);
    pages++;
    token = page.continue ?? "";
  }
  return { items, resourceVersion: first.resourceVersion };
}
