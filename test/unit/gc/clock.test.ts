/**
 * Issue 11 item 10: ages the process measures itself (how long a pod has been an orphan) are
 * taken on a monotonic clock, so a step of the wall clock neither shortens nor stretches the
 * grace period; the newest change of a pod counts directories as well as files, at any depth.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hostProcVisibility } from "../../../src/gc/guards.js";
import { TempDirs } from "../../support/temp.js";
import { harness, outcomes } from "./harness.js";

const FIXTURES = new URL("../../fixtures/layouts", import.meta.url).pathname;
const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const temp = new TempDirs("vce-clock-");
afterEach(() => {
  temp.cleanup();
});
const hostVisible = hostProcVisibility({ root: "/proc" }) === "visible";

/** The kata-1.10 sandbox with every file and directory last modified `hours` ago. */
function oldSandbox(hours = 1): string {
  const host = temp.make();
  cpSync(join(FIXTURES, "kata-1.10", "host"), host, { recursive: true });
  const hourAgo = Date.now() / 1000 - 3600 * hours;
  const age = (p: string): void => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const child = join(p, e.name);
      if (e.isDirectory()) age(child);
      utimesSync(child, hourAgo, hourAgo);
    }
  };
  age(host);
  return host;
}

describe.runIf(hostVisible)("grace", () => {
  it("a wall clock step forward does not end the grace period early", async () => {
    const host = oldSandbox();
    let wall = Date.now();
    let mono = 0;
    const gc = harness({ host, proc: "/proc", graceMs: 10_000, now: () => wall, monotonic: () => mono });
    expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:first_seen" });
    wall += 3_600_000; // NTP step, or a VM resumed: an hour on the wall clock
    mono += 1_000; // one second really passed
    expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:orphan_grace" });
    mono += 10_000;
    expect(outcomes(await gc.run())).toEqual({ [POD]: "deleted:" });
  });

  it("a wall clock step back does not stretch it", async () => {
    const host = oldSandbox(2);
    let wall = Date.now();
    let mono = 0;
    const gc = harness({ host, proc: "/proc", graceMs: 10_000, now: () => wall, monotonic: () => mono });
    await gc.run();
    wall -= 3_600_000; // an hour back on the wall clock (the files still look an hour old)
    mono += 11_000; // 11 s really passed
    expect(outcomes(await gc.run())).toEqual({ [POD]: "deleted:" });
  });

  it("a subdirectory created 2 s before a run delays the deletion (directories count, at any depth)", async () => {
    const host = oldSandbox();
    let mono = 0;
    const gc = harness({
      host,
      proc: "/proc",
      graceMs: 10_000,
      now: () => Date.now(),
      monotonic: () => mono,
    });
    await gc.run();
    mono += 11_000;
    const config = join(host, "var/lib/vc/sbs", POD);
    const ctr = readdirSync(config, { withFileTypes: true }).find((e) => e.isDirectory() && e.name !== "raw");
    const deep = join(config, ctr?.name ?? "raw", "a", "b");
    mkdirSync(deep, { recursive: true });
    const twoSecondsAgo = Date.now() / 1000 - 2;
    utimesSync(deep, twoSecondsAgo, twoSecondsAgo);
    const second = await gc.run();
    expect(outcomes(second)).toEqual({ [POD]: "skipped:recently_modified" });
    expect(second.decisions[0]?.detail).toMatch(/changed \ds ago, grace 10s/);
    expect(existsSync(config)).toBe(true);
  });
});
