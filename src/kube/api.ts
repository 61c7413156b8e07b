/**
 * The small interface the exporter needs from the Kubernetes API, so the pod view, the node
 * check and GC never see the client library (tests use the real API server through it).
 */

export interface PodList {
  /** Raw pod objects (narrowed by toKubePod). */
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** A page that is not the last: the token that asks for the next one (`metadata.continue`). */
  readonly continue?: string;
}

/** One page of a list: at most `limit` items, from `continue` (absent for the first page). */
export interface PageRequest {
  readonly limit: number;
  readonly continue?: string;
}

export interface WatchHandlers {
  /** One watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, with its object. */
  event(type: string, object: unknown): void;
  /** The stream ended: null for a clean end (the server's timeout), else the error. Called once. */
  done(error: unknown): void;
}

export interface WatchHandle {
  abort(): void;
}

export interface NodeRef {
  readonly name: string;
  readonly uid: string;
}

/**
 * The exporter's own pod (from the downward API). Its presence in the direct list of this node's
 * pods proves that the list is about this node and complete.
 */
export interface SelfPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface NodeEvent {
  readonly reason: "OrphanPodStateRemoved" | "OrphanPodStateFound";
  readonly type: "Normal" | "Warning";
  readonly message: string;
  readonly node: NodeRef;
}

export interface KubeApi {
  /**
   * The pods bound to this node, read from etcd (not a cache): one page of them with `page`, else
   * whatever the server answers (which may still be a page: see list.ts, the only caller).
   */
  listNodePods(page?: PageRequest): Promise<PodList>;
  /** Watch this node's pods from `resourceVersion`; resolves once the server accepted the watch. */
  watchNodePods(
    resourceVersion: string,
    timeoutSeconds: number,
    handlers: WatchHandlers,
  ): Promise<WatchHandle>;
  /** This node's Node object, or null when the API says it does not exist (404). */
  getNode(): Promise<NodeRef | null>;
  /** Record an Event about this node (in the `default` namespace, as the kubelet does). */
  createNodeEvent(event: NodeEvent): Promise<void>;
}

/** An API answer with an HTTP status (the client's exceptions and watch errors carry one). */
export function httpStatusOf(err: unknown): number | null {
  if (typeof err !== "object" || err === null) return null;
  const o = err as { code?: unknown; statusCode?: unknown };
  if (typeof o.code === "number") return o.code;
  if (typeof o.statusCode === "number") return o.statusCode;
  return null;
}

/** One line for logs: no bodies (they may be long), the status and the message. */
export function describeError(err: unknown): string {
  const status = httpStatusOf(err);
  const message = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  return status === null ? message : `HTTP ${status}: ${message.slice(0, 200)}`;
}
