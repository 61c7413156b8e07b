/**
 * Issue 11 item 4: no evidence of death, no deletion. With real processes (bash exec -a gives a
 * process the command line of Kata's shim), real flocks and the real /proc where the host's PIDs
 * are visible, or a fake /proc where they are not (a pod without hostPID).
 */
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hostProcVisibility } from "../../../src/gc/guards.js";
import { TempDirs } from "../../support/temp.js";
import { fakeProcess, harness, hiddenProc, holdLock, outcomes, tombstones } from "./harness.js";

const FIXTURES = new URL("../../fixtures/layouts", import.meta.url).pathname;
const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const CID = "8c8ea9204a5e5b0bbace6b0b24c76aaa95772031a997cfe9e6c3d5855c540a18";
const temp = new TempDirs("vce-evidence-");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  temp.cleanup();
});

const hostVisible = hostProcVisibility({ root: "/proc" }) === "visible";

/**
 * A Kata 2.x sandbox being created: /run/vc/sbs/<id> with a container directory and the shim's
 * socket, but no persist.json yet and no lock file (Kata 2.x has none); /var/lib/vc/sbs exists
 * (so the run-only directory looks like a Kata 1.x leftover without config) and so does the
 * VM directory.
 */
function sandboxBeingCreated(): { host: string; run: string; vm: string } {
  const host = temp.make();
  const run = join(host, "run/vc/sbs", POD);
  const vm = join(host, "run/vc/vm", POD);
  mkdirSync(join(run, CID), { recursive: true });
  writeFileSync(join(run, "shim-monitor.sock"), "");
  mkdirSync(vm, { recursive: true });
  mkdirSync(join(host, "var/lib/vc/sbs"), { recursive: true });
  return { host, run, vm };
}

const SHIM_ARGS = ["-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock", "-id", POD];

describe("a directory with no readable identity", () => {
  it("is kept when the host's processes are not visible (default auto means required with --gc on)", async () => {
    const { host, run, vm } = sandboxBeingCreated();
    const gc = harness({ host, proc: hiddenProc(temp.make()) });
    await gc.run();
    const second = await gc.run();
    expect(outcomes(second)).toEqual({ [POD]: "skipped:processes_not_visible" });
    expect(existsSync(run) && existsSync(vm)).toBe(true);
  });

  it.runIf(hostVisible)("is kept while a process names it (containerd-shim-kata-v2 -id <id>)", async () => {
    const { host, run } = sandboxBeingCreated();
    children.push(await fakeProcess("/usr/bin/containerd-shim-kata-v2", SHIM_ARGS));
    const gc = harness({ host, proc: "/proc" });
    await gc.run();
    expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:process_alive" });
    expect(existsSync(run)).toBe(true);
  });

  it.runIf(hostVisible)("is kept without a lock acquired, even with no process naming it", async () => {
    const { host, run, vm } = sandboxBeingCreated();
    const gc = harness({ host, proc: "/proc" });
    await gc.run();
    const second = await gc.run();
    expect(outcomes(second)).toEqual({ [POD]: "skipped:no_evidence" });
    expect(second.decisions[0]?.evidence?.lock).toBe("absent");
    expect(existsSync(run) && existsSync(vm)).toBe(true);
  });

  it.runIf(hostVisible)("is kept while the runtime holds its lock file", async () => {
    const { host, run } = sandboxBeingCreated();
    writeFileSync(join(run, "lock"), "");
    children.push(await holdLock(join(run, "lock")));
    const gc = harness({ host, proc: "/proc" });
    await gc.run();
    expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:locked" });
  });

  it.runIf(hostVisible)(
    "is collected when its layout's lock was acquired and no process names it",
    async () => {
      const { host, run, vm } = sandboxBeingCreated();
      writeFileSync(join(run, "lock"), "");
      const gc = harness({ host, proc: "/proc" });
      await gc.run();
      const second = await gc.run();
      expect(outcomes(second)).toEqual({ [POD]: "deleted:" });
      expect(second.decisions[0]?.evidence).toMatchObject({ lock: "held", processes: "none_alive" });
      expect(existsSync(run) || existsSync(vm)).toBe(false);
    },
  );
});

describe("a config-only sandbox (after a reboot /run is empty)", () => {
  function configOnly(): { host: string; config: string } {
    const host = temp.make();
    cpSync(join(FIXTURES, "kata-1.10", "host", "var"), join(host, "var"), { recursive: true });
    mkdirSync(join(host, "run/vc/sbs"), { recursive: true });
    return { host, config: join(host, "var/lib/vc/sbs", POD) };
  }

  it("is kept when the processes could not be checked", async () => {
    const { host, config } = configOnly();
    const gc = harness({ host, proc: hiddenProc(temp.make()) });
    await gc.run();
    expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:processes_not_visible" });
    expect(existsSync(config)).toBe(true);
  });

  it.runIf(hostVisible)(
    "is kept while a process names it (a VM that outlived its run directory)",
    async () => {
      const { host, config } = configOnly();
      children.push(await fakeProcess("/usr/bin/qemu-system-x86_64", ["-name", `sandbox-${POD}`]));
      const gc = harness({ host, proc: "/proc" });
      await gc.run();
      expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:process_alive" });
      expect(existsSync(config)).toBe(true);
    },
  );

  it.runIf(hostVisible)(
    "is kept while its VM directory exists (the run tree is not empty for it)",
    async () => {
      const { host, config } = configOnly();
      mkdirSync(join(host, "run/vc/vm", POD), { recursive: true });
      const gc = harness({ host, proc: "/proc" });
      await gc.run();
      expect(outcomes(await gc.run())).toEqual({ [POD]: "skipped:no_evidence" });
      expect(existsSync(config)).toBe(true);
    },
  );

  it.runIf(hostVisible)(
    "is collected when the run tree has nothing of it and no process names it",
    async () => {
      const { host, config } = configOnly();
      const gc = harness({ host, proc: "/proc" });
      await gc.run();
      const second = await gc.run();
      expect(outcomes(second)).toEqual({ [POD]: "deleted:" });
      expect(second.decisions[0]?.evidence).toMatchObject({
        lock: "no_run_directory",
        processes: "none_alive",
      });
      expect(existsSync(config)).toBe(false);
    },
  );
});

describe("dry-run", () => {
  it("reports, with processes not visible, what it could not check; deletes and renames nothing", async () => {
    const host = temp.make();
    cpSync(join(FIXTURES, "kata-2.x", "host"), host, { recursive: true });
    const gc = harness({ host, proc: hiddenProc(temp.make()), mode: "dry-run" });
    await gc.run();
    const second = await gc.run();
    expect(outcomes(second)).toEqual({ [POD]: "would_delete:" });
    expect(second.decisions[0]?.evidence?.processes).toBe("not_visible");
    expect(existsSync(join(host, "run/vc/sbs", POD))).toBe(true);
    expect(tombstones(host)).toEqual([]);
  });
});
