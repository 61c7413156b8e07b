/**
 * GC per layout, on the fixture trees of test/fixtures/layouts: each layout's own lock (a `lock`
 * file, or the sandbox directory itself from Kata 1.11), its liveness evidence (Kata's
 * containerd-shim-kata-v2 -id <sid>, virtiofsd, QEMU -name sandbox-<sid>), and its whole footprint
 * (run, config and VM directories) removed, never anything else (bundles stay).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { GcRunner, type RunReport } from "../../../src/gc/runner.js";
import { matchPods } from "../../../src/kube/match.js";
import { GcMetrics } from "../../../src/metrics/gc.js";
import { Scanner } from "../../../src/scan/scanner.js";
import { TempDirs } from "../../support/temp.js";

const FIXTURES = new URL("../../fixtures/layouts", import.meta.url).pathname;
const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const temp = new TempDirs("vce-gclayout-");
const holders: ChildProcess[] = [];
afterEach(() => {
  for (const h of holders.splice(0)) h.kill("SIGKILL");
  temp.cleanup();
});

interface Expected {
  readonly layout: string;
  readonly runDir: string;
  readonly configDir: string | null;
  readonly vmDir: string | null;
  readonly lock: "file" | "directory";
}

const fixtures = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function setup(name: string) {
  const expected = JSON.parse(readFileSync(join(FIXTURES, name, "expected.json"), "utf8")) as Expected;
  const host = temp.make();
  cpSync(join(FIXTURES, name, "host"), host, { recursive: true });
  // A fake /proc: the host PID namespace visible, no process of the pod unless a test adds one.
  const proc = temp.make();
  mkdirSync(join(proc, "2"));
  writeFileSync(join(proc, "2", "comm"), "kthreadd\n");
  for (const d of ["self", "1"]) {
    mkdirSync(join(proc, d));
    writeFileSync(join(proc, d, "mountinfo"), "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
  }
  return { expected, host, proc };
}

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(join(dir, e.name), r);
      else out.push(r);
    }
  };
  walk(root, "");
  return out.sort();
}

async function twoRuns(host: string, proc: string): Promise<RunReport> {
  const scanner = new Scanner({ hostRoot: host });
  const runner = new GcRunner({
    hostRoot: host,
    procRoot: proc,
    processChecks: "required",
    policy: { mode: "on", graceMs: 0, maxDeletionsPerRun: 5, maxOrphanFraction: 1 },
    api: {
      listNodePods: () => Promise.resolve({ items: [], resourceVersion: "1" }),
      getNode: () => Promise.resolve({ name: "node-a", uid: "u" }),
      createNodeEvent: () => Promise.resolve(),
    },
    nodeName: "node-a",
    rescan: async (id) => (await scanner.scanPods([id])).pods.find((p) => p.id === id) ?? null,
    log: pino({ level: "silent" }),
    metrics: new GcMetrics(new Registry(), "on"),
  });
  let report: RunReport | null = null;
  for (let i = 0; i < 2; i++) {
    const snapshot = await scanner.scan();
    report = await runner.run({
      snapshot,
      matches: matchPods({ snapshot, pods: [] }),
      viewUsable: true,
      node: { name: "node-a", uid: "u" },
    });
  }
  if (report === null) throw new Error("no run");
  return report;
}

describe("GC on every layout", () => {
  it.each(fixtures)("%s: removes exactly the sandbox's footprint", async (name) => {
    const { expected, host, proc } = setup(name);
    const before = files(host);
    const report = await twoRuns(host, proc);
    expect(report.decisions.map((d) => [d.podId, d.outcome, d.reason])).toEqual([[POD, "deleted", null]]);
    const footprint = [expected.runDir, expected.configDir, expected.vmDir].filter(
      (d): d is string => d !== null,
    );
    for (const d of footprint) expect(existsSync(join(host, d)), d).toBe(false);
    // everything else (bundles under run/containers, sibling trees) is untouched
    expect(files(host)).toEqual(before.filter((f) => !footprint.some((d) => f.startsWith(`${d}/`))));
    expect(report.decisions[0]?.evidence?.lock).toBe("held");
  });

  it.each(fixtures)("%s: a lock held by the runtime (its own kind of lock) keeps it", async (name) => {
    const { expected, host, proc } = setup(name);
    const target = join(host, expected.runDir, ...(expected.lock === "file" ? ["lock"] : []));
    const holder = spawn("flock", ["--exclusive", "--no-fork", target, "sleep", "60"], { stdio: "ignore" });
    holders.push(holder);
    for (let i = 0; i < 200; i++) {
      if (spawnSync("flock", ["--exclusive", "--nonblock", target, "true"]).status !== 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const report = await twoRuns(host, proc);
    expect(report.decisions.map((d) => [d.outcome, d.reason])).toEqual([["skipped", "locked"]]);
    expect(existsSync(join(host, expected.runDir))).toBe(true);
  });

  it.each([
    [
      "containerd-shim-kata-v2",
      [
        "/usr/bin/containerd-shim-kata-v2",
        "-namespace",
        "k8s.io",
        "-address",
        "/run/containerd/containerd.sock",
        "-id",
        POD,
      ],
    ],
    [
      "virtiofsd",
      [
        "/usr/libexec/kata-qemu/virtiofsd",
        `--socket-path=/run/vc/vm/${POD}/vhost-fs.sock`,
        "-o",
        "source=/run/kata-containers/shared/sandboxes/x",
      ],
    ],
    [
      "QEMU named sandbox-<id>",
      ["/usr/bin/qemu-system-x86_64", "-name", `sandbox-${POD}`, "-machine", "q35"],
    ],
  ])("kata-2.x: a live %s keeps the sandbox", async (_what, argv) => {
    const { expected, host, proc } = setup("kata-2.x");
    mkdirSync(join(proc, "4242"));
    writeFileSync(join(proc, "4242", "cmdline"), `${argv.join("\0")}\0`);
    const report = await twoRuns(host, proc);
    expect(report.decisions.map((d) => [d.outcome, d.reason])).toEqual([["skipped", "process_alive"]]);
    expect(existsSync(join(host, expected.runDir))).toBe(true);
  });
});
