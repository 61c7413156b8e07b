import { describe, expect, it } from "vitest";
import { loadServeConfig } from "../../../src/config/serve-config.js";
import { ConfigError } from "../../../src/config/values.js";

const serve = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  loadServeConfig(["--node-name", "node-a", "--kubernetes", "off", ...args], env);

describe("serve: the processes collector's flags", () => {
  it("samples every 15s by default; --process-interval and VCE_PROCESS_INTERVAL set it, the flag wins", () => {
    expect(serve([]).processIntervalMs).toBe(15_000);
    expect(serve(["--process-interval", "1m"]).processIntervalMs).toBe(60_000);
    expect(serve([], { VCE_PROCESS_INTERVAL: "30s" }).processIntervalMs).toBe(30_000);
    expect(serve(["--process-interval", "5s"], { VCE_PROCESS_INTERVAL: "30s" }).processIntervalMs).toBe(5000);
  });

  it("refuses an interval under 1s or not a duration, with one line naming the flag", () => {
    expect(() => serve(["--process-interval", "500ms"])).toThrow(
      new ConfigError("--process-interval: must be at least 1s"),
    );
    expect(() => serve(["--process-interval", "soon"])).toThrow(/^--process-interval: /);
  });

  it("the collector is on by default and --no-collector.processes / VCE_COLLECTOR_PROCESSES=false turn it off", () => {
    expect(serve([]).collectors).toContain("processes");
    expect(serve(["--no-collector.processes"]).collectors).not.toContain("processes");
    expect(serve([], { VCE_COLLECTOR_PROCESSES: "false" }).collectors).not.toContain("processes");
  });
});
