/**
 * The exporter's own metrics and its process metrics (only those that cost O(1) per scrape: see
 * own-process.ts), in a private registry (never prom-client's global one). Small, rendered at
 * every scrape.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerOwnProcessMetrics } from "./own-process.js";
import { VERSION } from "../version.js";
import type { ScanStats } from "../scan/snapshot.js";

export type WatchMode = "inotify" | "polling";
export const WATCH_MODES: readonly WatchMode[] = ["inotify", "polling"];

export class SelfMetrics {
  readonly registry = new Registry();
  private readonly scanDuration = new Histogram({
    name: "virtcontainers_scan_duration_seconds",
    help: "Duration of scans of the state trees.",
    labelNames: ["kind"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly scans = new Counter({
    name: "virtcontainers_scans_total",
    help: "Scans of the state trees: full (walk both trees) or incremental (re-read changed pods).",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  private readonly filesRead = new Counter({
    name: "virtcontainers_files_read_total",
    help: "State files whose contents were read (unchanged files are not re-read).",
    registers: [this.registry],
  });
  private readonly lastScan = new Gauge({
    name: "virtcontainers_last_scan_timestamp_seconds",
    help: "Time the last scan finished, Unix seconds.",
    registers: [this.registry],
  });
  readonly parseErrors = new Counter({
    name: "virtcontainers_parse_errors_total",
    help: "Problems newly seen on state files (a problem that persists across scans is counted once).",
    labelNames: ["file", "reason"],
    registers: [this.registry],
  });
  readonly collectorSuccess = new Gauge({
    name: "virtcontainers_collector_success",
    help: "Whether the collector rendered its families for the current snapshot (1) or failed (0).",
    labelNames: ["collector"],
    registers: [this.registry],
  });
  readonly collectorDuration = new Gauge({
    name: "virtcontainers_collector_duration_seconds",
    help: "Time the collector took to render the current snapshot.",
    labelNames: ["collector"],
    registers: [this.registry],
  });
  readonly expositionBytes = new Gauge({
    name: "virtcontainers_exposition_bytes",
    help: "Size of the cached exposition of the current snapshot (uncompressed).",
    registers: [this.registry],
  });
  readonly scrapes = new Counter({
    name: "virtcontainers_scrapes_total",
    help: "Requests served on /metrics.",
    registers: [this.registry],
  });
  readonly watchMode = new Gauge({
    name: "virtcontainers_watch_mode",
    help: "How changes are detected: inotify (file events plus periodic resync) or polling (periodic rescans only, after a watch failure).",
    labelNames: ["mode"],
    registers: [this.registry],
  });
  readonly scanErrors = new Counter({
    name: "virtcontainers_scan_errors_total",
    help: "Scans that failed as a whole (for example the host root became unusable); the last snapshot is kept.",
    registers: [this.registry],
  });
  readonly watchedDirectories = new Gauge({
    name: "virtcontainers_watched_directories",
    help: "Directories watched for changes (one inotify watch each).",
    registers: [this.registry],
  });
  readonly watchErrors = new Counter({
    name: "virtcontainers_watch_errors_total",
    help: "Errors reported by the file watcher.",
    registers: [this.registry],
  });

  constructor(nodeName: string) {
    new Gauge({
      name: "virtcontainers_exporter_build_info",
      help: "Build information of the exporter (always 1).",
      labelNames: ["version", "nodejs", "node"],
      registers: [this.registry],
    }).set({ version: VERSION, nodejs: process.version, node: nodeName }, 1);
    registerOwnProcessMetrics(this.registry);
    this.setWatchMode("inotify");
  }

  recordScan(stats: ScanStats, finishedAt: number): void {
    this.scanDuration.observe({ kind: stats.kind }, stats.durationSeconds);
    this.scans.inc({ kind: stats.kind });
    this.filesRead.inc(stats.filesRead);
    this.lastScan.set(finishedAt);
  }

  setWatchMode(mode: WatchMode): void {
    for (const m of WATCH_MODES) this.watchMode.set({ mode: m }, m === mode ? 1 : 0);
  }
}
