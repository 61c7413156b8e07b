/**
 * The exporter's own process metrics, each O(1) per scrape: the names and meanings of
 * prom-client's default `process_*` and `nodejs_heap_size_*` families, without the defaults that
 * walk every active handle or request (`nodejs_active_*`) or keep timers and observers running
 * (`nodejs_eventloop_lag_*`, `nodejs_gc_duration_seconds`). A scrape reads process.cpuUsage(),
 * process.memoryUsage.rss(), v8.getHeapStatistics(), one small read of /proc/self/stat (virtual
 * memory) and one readdir of /proc/self/fd (a few dozen entries: every file watch shares one
 * inotify descriptor). /proc/self/limits is read once, at start.
 */
import { readdirSync, readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { Counter, Gauge, type Registry } from "prom-client";

/** Every family this module registers (docs/metrics.md lists them). */
export const OWN_PROCESS_FAMILIES: readonly string[] = [
  "process_cpu_user_seconds_total",
  "process_cpu_system_seconds_total",
  "process_cpu_seconds_total",
  "process_start_time_seconds",
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_heap_size_total_bytes",
  "nodejs_heap_size_used_bytes",
];

/** The 23rd field of /proc/<pid>/stat (vsize, bytes), counted after the parenthesised comm. */
export function parseVsize(stat: string): number | null {
  const end = stat.lastIndexOf(")");
  if (end < 0) return null;
  // Fields after comm start with field 3 (state); vsize is field 23.
  const fields = stat.slice(end + 2).split(" ", 21);
  const v = Number(fields[20]);
  return fields.length === 21 && Number.isSafeInteger(v) ? v : null;
}

/** The soft "Max open files" limit of a /proc/<pid>/limits text; null when absent or unlimited. */
export function parseMaxFds(limits: string): number | null {
  const m = /^Max open files\s+(\d+)/m.exec(limits);
  return m?.[1] === undefined ? null : Number(m[1]);
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null; // not Linux, or /proc not mounted: the family is left out
  }
}

export function registerOwnProcessMetrics(registry: Registry): void {
  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  let last = { user: 0, system: 0 };
  // The three CPU counters are brought up to date together by the first one's collect (a
  // registry collects its metrics in registration order before rendering any of them).
  const update = (): void => {
    const now = process.cpuUsage();
    const du = (now.user - last.user) / 1e6;
    const ds = (now.system - last.system) / 1e6;
    last = now;
    user.inc(du);
    system.inc(ds);
    total.inc(du + ds);
  };
  const user: Counter = new Counter({
    name: "process_cpu_user_seconds_total",
    help: "Total user CPU time spent in seconds.",
    registers: [registry],
    collect: update,
  });
  const system = new Counter({
    name: "process_cpu_system_seconds_total",
    help: "Total system CPU time spent in seconds.",
    registers: [registry],
  });
  const total = new Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers: [registry],
  });
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers: [registry],
  }).set(startTime);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  if (readOrNull("/proc/self/stat") !== null) {
    new Gauge({
      name: "process_virtual_memory_bytes",
      help: "Virtual memory size in bytes.",
      registers: [registry],
      collect() {
        const v = parseVsize(readOrNull("/proc/self/stat") ?? "");
        if (v !== null) this.set(v);
      },
    });
    new Gauge({
      name: "process_open_fds",
      help: "Number of open file descriptors.",
      registers: [registry],
      collect() {
        try {
          // One entry is the descriptor of this readdir itself.
          this.set(readdirSync("/proc/self/fd").length - 1);
        } catch {
          // descriptors exhausted: keep the last value
        }
      },
    });
  }
  const maxFds = parseMaxFds(readOrNull("/proc/self/limits") ?? "");
  if (maxFds !== null)
    new Gauge({
      name: "process_max_fds",
      help: "Maximum number of open file descriptors.",
      registers: [registry],
    }).set(maxFds);
  new Gauge({
    name: "nodejs_heap_size_total_bytes",
    help: "Process heap size from Node.js in bytes.",
    registers: [registry],
    collect() {
      this.set(getHeapStatistics().total_heap_size);
    },
  });
  new Gauge({
    name: "nodejs_heap_size_used_bytes",
    help: "Process heap size used from Node.js in bytes.",
    registers: [registry],
    collect() {
      this.set(getHeapStatistics().used_heap_size);
    },
  });
}
