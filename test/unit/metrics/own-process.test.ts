import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { OWN_PROCESS_FAMILIES, parseMaxFds, parseVsize } from "../../../src/metrics/own-process.js";
import { SelfMetrics } from "../../../src/metrics/self.js";

function value(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  if (m?.[1] === undefined) throw new Error(`${name} not in exposition`);
  return Number(m[1]);
}

describe("the exporter's own process metrics", () => {
  it("exposes exactly the O(1) families, none of prom-client's handle-walking defaults", async () => {
    const text = await new SelfMetrics("n").registry.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? "");
    const processLike = names.filter((n) => /^(process_|nodejs_)/.test(n));
    expect(processLike.sort()).toEqual([...OWN_PROCESS_FAMILIES].sort());
    expect(text).not.toMatch(/nodejs_(active_|eventloop_lag|gc_duration|version_info|external)/);
  });

  it("reports values that agree with the process", async () => {
    const registry = new Registry();
    const { registerOwnProcessMetrics } = await import("../../../src/metrics/own-process.js");
    registerOwnProcessMetrics(registry);
    // Burn some CPU so the counters move between two scrapes.
    const first = await registry.metrics();
    let x = 0;
    const until = Date.now() + 50;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const second = await registry.metrics();
    expect(x).toBeGreaterThan(0);
    const user = value(second, "process_cpu_user_seconds_total");
    const system = value(second, "process_cpu_system_seconds_total");
    expect(value(second, "process_cpu_seconds_total")).toBeCloseTo(user + system, 6);
    expect(value(second, "process_cpu_seconds_total")).toBeGreaterThan(
      value(first, "process_cpu_seconds_total"),
    );
    // Counters never exceed what the process says it used.
    expect(user + system).toBeLessThanOrEqual(
      (process.cpuUsage().user + process.cpuUsage().system) / 1e6 + 1e-6,
    );
    expect(value(second, "process_resident_memory_bytes")).toBeGreaterThan(1 << 20);
    expect(value(second, "nodejs_heap_size_used_bytes")).toBeLessThanOrEqual(
      value(second, "nodejs_heap_size_total_bytes"),
    );
    const start = value(second, "process_start_time_seconds");
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    const vsize = parseVsize(readFileSync("/proc/self/stat", "utf8"));
    expect(vsize).not.toBeNull();
    expect(value(second, "process_virtual_memory_bytes")).toBeGreaterThan(
      value(second, "process_resident_memory_bytes"),
    );
    expect(value(second, "process_open_fds")).toBeGreaterThan(2);
    expect(value(second, "process_max_fds")).toBe(parseMaxFds(readFileSync("/proc/self/limits", "utf8")));
  });
});

describe("parseVsize", () => {
  it("counts fields after the command name, which may hold spaces and parentheses", () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 3));
    rest[0] = "S";
    rest[20] = "123456789"; // field 23
    expect(parseVsize(`42 (node) x) y) ${rest.join(" ")}`)).toBe(123456789);
    expect(parseVsize(`42 (node) ${rest.join(" ")}`)).toBe(123456789);
  });

  it("returns null for a truncated or malformed line", () => {
    expect(parseVsize("")).toBeNull();
    expect(parseVsize("42 (node) S 1 2 3")).toBeNull();
    expect(parseVsize("42 node S")).toBeNull();
  });
});

describe("parseMaxFds", () => {
  it("takes the soft limit of Max open files", () => {
    const limits = [
      "Limit                     Soft Limit           Hard Limit           Units     ",
      "Max cpu time              unlimited            unlimited            seconds   ",
      "Max open files            1048576              1048576              files     ",
    ].join("\n");
    expect(parseMaxFds(limits)).toBe(1048576);
  });

  it("returns null when absent or unlimited", () => {
    expect(parseMaxFds("")).toBeNull();
    expect(
      parseMaxFds("Max open files            unlimited            unlimited            files"),
    ).toBeNull();
  });
});
