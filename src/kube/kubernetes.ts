/** The Kubernetes side of the exporter: the pod view, the node check and their metrics. */
import type { Registry } from "prom-client";
import type { Logger } from "../log.js";
import { KubeMetrics } from "../metrics/kube.js";
import type { KubeApi, NodeRef } from "./api.js";
import { NodeCheck } from "./node.js";
import type { KubePod } from "./pods.js";
import { PodView, type Clock, type PodViewOptions } from "./podview.js";

export interface KubernetesOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly log: Logger;
  readonly registry: Registry;
  readonly clock?: Clock;
  /** Pod view timings (tests shorten them). */
  readonly view?: Pick<
    PodViewOptions,
    "watchTimeoutSeconds" | "stallGraceMs" | "staleAfterMs" | "backoffMs" | "pageSize"
  >;
  readonly nodeRetryMs?: number;
  /** The pod view or the node check changed. */
  readonly onChange?: () => void;
}

export class Kubernetes {
  readonly api: KubeApi;
  readonly view: PodView;
  readonly node: NodeCheck;

  constructor(opts: KubernetesOptions) {
    this.api = opts.api;
    const log = opts.log.child({ component: "kubernetes" });
    const metrics = new KubeMetrics(opts.registry, () => ({
      usable: this.view.pods() !== null,
      lastContactMs: this.view.status().lastContactMs,
      nodeConfirmed: this.node.confirmed !== null,
    }));
    this.view = new PodView({
      ...opts.view,
      api: opts.api,
      nodeName: opts.nodeName,
      log,
      clock: opts.clock,
      onChange: opts.onChange,
      onRestart: () => {
        metrics.watchRestarts.inc();
      },
    });
    this.node = new NodeCheck({
      api: opts.api,
      nodeName: opts.nodeName,
      log,
      clock: opts.clock,
      retryMs: opts.nodeRetryMs,
      onChange: opts.onChange,
    });
  }

  start(): void {
    this.node.start();
    this.view.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.node.stop(), this.view.stop()]);
  }

  /** This node's pods when the view is synced and fresh, else null. */
  pods(): readonly KubePod[] | null {
    return this.view.pods();
  }

  get confirmedNode(): NodeRef | null {
    return this.node.confirmed;
  }
}
