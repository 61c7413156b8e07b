/** The `processes` collector's own metrics, in the exporter's private registry. */
import { Counter, Histogram, type Registry } from "prom-client";
import { PROCESS_ERROR_REASONS, type ProcessSample } from "../scan/pod-processes.js";

export class ProcessSamplingMetrics {
  private readonly duration: Histogram;
  private readonly errors: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.duration = new Histogram({
      name: "virtcontainers_process_scan_duration_seconds",
      help: "Duration of the samples of the pods' host processes (collector processes).",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.errors = new Counter({
      name: "virtcontainers_process_errors_total",
      help: "Reads of the host's /proc (or of a VM pid file) that failed during process samples, by reason; a process exiting mid-read is not an error.",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of PROCESS_ERROR_REASONS) this.errors.inc({ reason }, 0);
  }

  record(sample: ProcessSample): void {
    this.duration.observe(sample.durationSeconds);
    for (const [reason, n] of sample.errors) this.errors.inc({ reason }, n);
  }
}
