/** Metrics of the Kubernetes pod view, in the exporter's private registry; read at scrape time. */
import { Counter, Gauge, type Registry } from "prom-client";

export interface KubeStatusSource {
  /** Synced after a full list and fresh (contact within the staleness bound). */
  readonly usable: boolean;
  readonly lastContactMs: number | null;
  readonly nodeConfirmed: boolean;
}

export class KubeMetrics {
  readonly watchRestarts: Counter;

  constructor(registry: Registry, source: () => KubeStatusSource) {
    const registers = [registry];
    new Gauge({
      name: "virtcontainers_kubernetes_synced",
      help: "1 when the Kubernetes pod view of this node is synced (listed) and fresh, else 0.",
      registers,
      collect() {
        this.set(source().usable ? 1 : 0);
      },
    });
    new Gauge({
      name: "virtcontainers_kubernetes_last_sync_timestamp_seconds",
      help: "Time of the last successful list, watch event, bookmark or watch renewal of the pod view, Unix seconds (0 before the first).",
      registers,
      collect() {
        const ms = source().lastContactMs;
        this.set(ms === null ? 0 : ms / 1000);
      },
    });
    new Gauge({
      name: "virtcontainers_kubernetes_node_confirmed",
      help: "1 once this node's Node object was read from the API (garbage collection needs it), else 0.",
      registers,
      collect() {
        this.set(source().nodeConfirmed ? 1 : 0);
      },
    });
    this.watchRestarts = new Counter({
      name: "virtcontainers_kubernetes_watch_restarts_total",
      help: "Restarts of the pod list/watch after a failure: an error, a 410 (expired resourceVersion) or a stalled watch.",
      registers,
    });
  }
}
