/**
 * KubeApi over @kubernetes/client-node: its KubeConfig (kubeconfig file or in-cluster service
 * account, with token rotation), its typed CoreV1Api for reads and events, and its Watch for
 * the pod stream. Every request has a deadline: the generated client has none, and a black-holed
 * connection would otherwise hang a list forever.
 */
import {
  CoreV1Api,
  KubeConfig,
  ServerConfiguration,
  Watch,
  createConfiguration,
  type CoreV1Event,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import type { KubeApi, NodeEvent, NodeRef, PageRequest, PodList, WatchHandle, WatchHandlers } from "./api.js";
import { httpStatusOf } from "./api.js";

export type KubeConfigSource =
  { readonly kind: "file"; readonly path: string } | { readonly kind: "in-cluster" };

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === "in-cluster") kc.loadFromCluster();
  else kc.loadFromFile(source.path);
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      source.kind === "file"
        ? `kubeconfig ${source.path}: no current cluster`
        : "in-cluster config: no cluster",
    );
  }
  return kc;
}

export interface ClientOptions {
  readonly nodeName: string;
  readonly requestTimeoutMs: number;
  readonly component: string;
}

export class ClientNodeApi implements KubeApi {
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;

  constructor(
    kc: KubeConfig,
    private readonly opts: ClientOptions,
  ) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error("kubeconfig has no current cluster");
    const timeoutMs = opts.requestTimeoutMs;
    this.core = new CoreV1Api(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: kc },
        promiseMiddleware: [
          {
            pre: (ctx: RequestContext) => {
              ctx.setSignal(AbortSignal.timeout(timeoutMs));
              return Promise.resolve(ctx);
            },
            post: (res: ResponseContext) => Promise.resolve(res),
          },
        ],
      }),
    );
    this.watcher = new Watch(kc);
  }

  private get fieldSelector(): string {
    return `spec.nodeName=${this.opts.nodeName}`;
  }

  async listNodePods(page?: PageRequest): Promise<PodList> {
    const list = await this.core.listPodForAllNamespaces({
      fieldSelector: this.fieldSelector,
      ...(page === undefined ? {} : { limit: page.limit }),
      ...(page?.continue === undefined ? {} : { _continue: page.continue }),
    });
    const next = list.metadata?._continue ?? "";
    return {
      items: list.items,
      resourceVersion: list.metadata?.resourceVersion ?? "",
      ...(next === "" ? {} : { continue: next }),
    };
  }

  async watchNodePods(
    resourceVersion: string,
    timeoutSeconds: number,
    handlers: WatchHandlers,
  ): Promise<WatchHandle> {
    // Watch.watch resolves once the response headers arrived; it has no deadline of its own.
    let settled = false;
    const started = this.watcher.watch(
      "/api/v1/pods",
      {
        fieldSelector: this.fieldSelector,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      (type: string, object: unknown) => {
        handlers.event(type, object);
      },
      (err: unknown) => {
        handlers.done(err ?? null);
      },
    );
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`watch not accepted within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      t.unref();
      void started.finally(() => {
        clearTimeout(t);
      });
    });
    try {
      const controller = await Promise.race([started, timeout]);
      settled = true;
      return {
        abort: () => {
          controller.abort();
        },
      };
    } finally {
      // A watch accepted after its deadline is aborted as soon as it shows up.
      if (!settled) {
        void started.then(
          (c) => {
            c.abort();
          },
          () => undefined,
        );
      }
    }
  }

  async getNode(): Promise<NodeRef | null> {
    try {
      const node = await this.core.readNode({ name: this.opts.nodeName });
      return { name: node.metadata?.name ?? this.opts.nodeName, uid: node.metadata?.uid ?? "" };
    } catch (err: unknown) {
      if (httpStatusOf(err) === 404) return null;
      throw err;
    }
  }

  // The generated models (CoreV1Event, V1ObjectMeta, ...) are data-only classes; the client
  // serialises plain objects, and its own documentation builds request bodies as literals.
  /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
  async createNodeEvent(e: NodeEvent): Promise<void> {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { name: `${e.node.name}.${randomBytes(8).toString("hex")}`, namespace: "default" },
      involvedObject: { kind: "Node", apiVersion: "v1", name: e.node.name, uid: e.node.uid },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: this.opts.component, host: e.node.name },
      reportingComponent: this.opts.component,
      reportingInstance: e.node.name,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.core.createNamespacedEvent({ namespace: "default", body });
  }
  /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */
}
