/**
 * The node check: this node's Node object must exist before GC may act. A wrong --node-name
 * would make every pod look orphaned (the field selector matches nothing); the check turns
 * that into one clear error and keeps GC disabled until the Node is confirmed.
 */
import type { Logger } from "../log.js";
import { describeError, type KubeApi, type NodeRef } from "./api.js";
import { realClock, type Clock } from "./podview.js";

export type NodeCheckState = "pending" | "confirmed" | "not_found" | "error";

export interface NodeCheckOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Retry period while not confirmed. Default 30 s. */
  readonly retryMs?: number;
  readonly onChange?: () => void;
}

export class NodeCheck {
  private node: NodeRef | null = null;
  private stateValue: NodeCheckState = "pending";
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: NodeCheckOptions) {}

  get state(): NodeCheckState {
    return this.stateValue;
  }

  /** The Node, once confirmed. */
  get confirmed(): NodeRef | null {
    return this.node;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One attempt (also used by the one-shot `gc` command). */
  async check(): Promise<NodeCheckState> {
    const { api, nodeName, log } = this.opts;
    const before = this.stateValue;
    try {
      const node = await api.getNode();
      if (node === null) {
        this.node = null;
        this.stateValue = "not_found";
        if (before !== "not_found") {
          log.error(
            { nodeName },
            `Node "${nodeName}" does not exist in the Kubernetes API: check --node-name (NODE_NAME); garbage collection stays disabled`,
          );
        }
      } else {
        this.node = node;
        this.stateValue = "confirmed";
        log.info({ nodeName, uid: node.uid }, "Node confirmed in the Kubernetes API");
      }
    } catch (err: unknown) {
      this.stateValue = "error";
      if (before !== "error") {
        log.warn({ nodeName, err: describeError(err) }, "cannot read this node's Node object yet; retrying");
      }
    }
    if (before !== this.stateValue) this.opts.onChange?.();
    return this.stateValue;
  }

  /**
   * GC's read of the Node found it gone or re-created: unconfirm it (GC stops at rule 1) and check
   * again every retry period until it is confirmed.
   */
  invalidate(): void {
    if (this.node === null || this.stopping.signal.aborted) return;
    this.node = null;
    this.stateValue = "pending";
    this.opts.onChange?.();
    const previous = this.loop;
    this.loop = (async () => {
      await previous;
      await this.run();
    })();
  }

  private async run(): Promise<void> {
    const clock = this.opts.clock ?? realClock;
    while (!this.stopping.signal.aborted) {
      if ((await this.check()) === "confirmed") return;
      await clock.sleep(this.opts.retryMs ?? 30_000, this.stopping.signal);
    }
  }
}
