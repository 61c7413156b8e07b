/**
 * The Linux capabilities the chart grants in each GC mode are enough for what the exporter
 * does in that mode, and each one is needed: Node.js (the exporter's runtime) and flock(1)
 * run as uid 0 under setpriv(1) with exactly the capability set the chart renders (the bounding
 * set, as a container runtime sets it; uid 0 gets it as its permitted and effective set at
 * exec), against a tree laid out as the runtime lays it out:
 *
 * - pod directories of mode 0750 and files of mode 0644, owned by root (runtimes since
 *   2018-02-28): root reads and deletes them through the owner's permission bits alone;
 * - pod and container directories of mode 0000 (runtimes before 2018-02-28): reading and
 *   taking the lock need CAP_DAC_READ_SEARCH, deleting inside them CAP_DAC_OVERRIDE;
 * - the lock taken with flock(1) on a read-only bind mount (GC off or dry-run);
 * - /proc/1/mountinfo, /proc/self/mountinfo and the cmdline of another root process with
 *   every capability (the GC's process and mount checks): no capability needed, CAP_SYS_PTRACE
 *   in particular is not.
 *
 * Needs root (to lay out root-owned trees, bind-mount and drop capabilities), setpriv and flock
 * from util-linux; CI runs as root.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { onlyOf, parseObjects, render } from "./helm.js";
import { TempDirs } from "./helpers.js";

if (process.getuid?.() !== 0) {
  throw new Error(
    "capabilities.test.ts needs root: it lays out root-owned trees and drops capabilities with setpriv",
  );
}
for (const tool of ["setpriv", "flock", "mount", "umount"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    throw new Error(`${tool} (util-linux) is not installed`);
  }
}

const temp = new TempDirs();
let root = "";
let readOnly = "";
let mounted = false;
const sleeper = spawn("sleep", ["120"], { stdio: "ignore" });

const NEW_POD = "a".repeat(64); // 0750 directories
const OLD_POD = "b".repeat(64); // 0000 directories

/** A pod directory with a container directory, state files and the lock file. */
function makePod(tree: string, id: string, dirMode: number): void {
  const pod = join(tree, id);
  const container = join(pod, id);
  mkdirSync(container, { recursive: true });
  writeFileSync(join(pod, "config.json"), "{}");
  writeFileSync(join(pod, "lock"), "");
  writeFileSync(join(container, "config.json"), "{}");
  chmodSync(container, dirMode);
  chmodSync(pod, dirMode);
}

function makeHost(host: string): void {
  for (const tree of ["run/virtcontainers/pods", "var/lib/virtcontainers/pods"]) {
    mkdirSync(join(host, tree), { recursive: true, mode: 0o750 });
    makePod(join(host, tree), NEW_POD, 0o750);
    makePod(join(host, tree), OLD_POD, 0o000);
  }
}

beforeAll(() => {
  root = temp.make("vce-caps-");
  makeHost(join(root, "host"));
  // the host trees as a GC-off or dry-run pod sees them: a read-only bind mount
  readOnly = join(root, "ro");
  makeHost(readOnly);
  execFileSync("mount", ["--bind", readOnly, readOnly]);
  mounted = true;
  execFileSync("mount", ["-o", "remount,bind,ro", readOnly, readOnly]);
});

afterAll(() => {
  sleeper.kill();
  try {
    if (mounted) execFileSync("umount", [readOnly]);
  } finally {
    // 0000 directories: make them removable for the cleanup
    spawnSync("chmod", ["-R", "u+rwx", root]);
    temp.cleanup();
  }
});

type Op = readonly [op: "list" | "read" | "rm" | "flock", path: string];

/** Node.js code run under setpriv: each operation's outcome, "ok" or the error code. */
const PROBE = `
const { readdirSync, readFileSync, rmSync } = require("node:fs");
const { execFileSync } = require("node:child_process");
const out = [];
for (const [op, path] of JSON.parse(process.argv[1])) {
  try {
    if (op === "list") readdirSync(path);
    else if (op === "read") readFileSync(path);
    else if (op === "rm") rmSync(path, { recursive: true });
    else execFileSync("flock", ["--nonblock", "--exclusive", path, "true"], { stdio: "pipe" });
    out.push("ok");
  } catch (e) {
    // Node 24's recursive rmSync reports some errors with an empty code, in the message only
    out.push(e.code || (e.status === undefined ? "message: " + e.message : "status " + e.status + ": " + String(e.stderr).trim()));
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** Runs `ops` as uid 0 with only `caps` (names as in a pod spec, e.g. DAC_READ_SEARCH). */
function asContainer(caps: readonly string[], ops: readonly Op[]): string[] {
  const bounding = ["-all", ...caps.map((c) => `+${c.toLowerCase()}`)].join(",");
  const r = spawnSync(
    "setpriv",
    [
      "--inh-caps=-all",
      "--ambient-caps=-all",
      `--bounding-set=${bounding}`,
      "--no-new-privs",
      "--",
      process.execPath,
      "-e",
      PROBE,
      JSON.stringify(ops),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`setpriv ${bounding}: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

async function chartCapabilities(gcMode: string): Promise<string[]> {
  const ds = onlyOf(parseObjects(await render({ gc: { mode: gcMode } })), "DaemonSet");
  const sc = ds.spec?.template.spec?.containers[0]?.securityContext;
  expect(sc?.capabilities?.drop).toEqual(["ALL"]);
  expect(sc?.runAsUser).toBe(0);
  return sc?.capabilities?.add ?? [];
}

const run = (host: string, id: string): string => join(host, "run/virtcontainers/pods", id);
const cfg = (host: string, id: string): string => join(host, "var/lib/virtcontainers/pods", id);

function readOps(host: string, id: string): Op[] {
  return [
    ["list", run(host, id)],
    ["read", join(run(host, id), "config.json")],
    ["read", join(run(host, id), id, "config.json")],
    ["list", cfg(host, id)],
    ["read", join(cfg(host, id), "config.json")],
    ["flock", join(run(host, id), "lock")],
  ];
}

function procOps(): Op[] {
  return [
    ["read", "/proc/1/mountinfo"],
    ["read", "/proc/self/mountinfo"],
    ["read", `/proc/${String(sleeper.pid)}/cmdline`],
  ];
}

// ---------------------------------------------------------------------------------------------

describe("GC off and dry-run: the chart's capabilities", () => {
  it.each(["off", "dry-run"])("gc.mode=%s grants only DAC_READ_SEARCH", async (mode) => {
    expect(await chartCapabilities(mode)).toEqual(["DAC_READ_SEARCH"]);
  });

  it("read both kinds of pod directories, take their locks on the read-only mount, and read /proc", async () => {
    const ops = [...readOps(readOnly, NEW_POD), ...readOps(readOnly, OLD_POD), ...procOps()];
    expect(asContainer(await chartCapabilities("dry-run"), ops)).toEqual(ops.map(() => "ok"));
  });

  it("DAC_READ_SEARCH is needed for the 0000 directories, not for the 0750 ones", () => {
    expect(asContainer([], readOps(readOnly, NEW_POD))).toEqual(readOps(readOnly, NEW_POD).map(() => "ok"));
    expect(asContainer([], readOps(readOnly, OLD_POD))).toEqual([
      "EACCES",
      "EACCES",
      "EACCES",
      "EACCES",
      "EACCES",
      expect.stringMatching(/cannot open lock file .*Permission denied/) as unknown as string,
    ]);
  });

  it("the read-only mount refuses deletion whatever the capabilities", () => {
    expect(asContainer(["DAC_OVERRIDE", "DAC_READ_SEARCH"], [["rm", run(readOnly, NEW_POD)]])).toEqual([
      expect.stringMatching(/^(EROFS|message: .*Read-only file system)/) as unknown as string,
    ]);
  });
});

describe("GC on: the chart's capabilities", () => {
  it("gc.mode=on grants DAC_OVERRIDE and DAC_READ_SEARCH", async () => {
    expect(await chartCapabilities("on")).toEqual(["DAC_OVERRIDE", "DAC_READ_SEARCH"]);
  });

  it("without DAC_OVERRIDE the 0000 pod directories cannot be deleted; the 0750 ones can, with no capability", () => {
    const host = join(root, "host");
    expect(
      asContainer(
        ["DAC_READ_SEARCH"],
        [
          ["rm", run(host, OLD_POD)],
          ["rm", cfg(host, OLD_POD)],
        ],
      ),
    ).toEqual(["EACCES", "EACCES"]);
    expect(
      asContainer(
        [],
        [
          ["rm", run(host, NEW_POD)],
          ["rm", cfg(host, NEW_POD)],
        ],
      ),
    ).toEqual(["ok", "ok"]);
  });

  it("with the chart's set everything the GC does works: read, lock, /proc, delete both trees", async () => {
    const host = join(root, "host-on");
    makeHost(host);
    const ops: Op[] = [
      ...readOps(host, OLD_POD),
      ...readOps(host, NEW_POD),
      ...procOps(),
      ["rm", cfg(host, OLD_POD)],
      ["rm", run(host, OLD_POD)],
      ["rm", cfg(host, NEW_POD)],
      ["rm", run(host, NEW_POD)],
    ];
    expect(asContainer(await chartCapabilities("on"), ops)).toEqual(ops.map(() => "ok"));
  });

  it("CAP_SYS_PTRACE is not needed: another root process's cmdline and mountinfo are readable without any capability", () => {
    const pid = String(sleeper.pid);
    expect(
      asContainer(
        [],
        [
          ["read", `/proc/${pid}/cmdline`],
          ["read", `/proc/${pid}/mountinfo`],
          ["read", `/proc/${pid}/environ`], // what ptrace access would add, for contrast
        ],
      ),
    ).toEqual(["ok", "ok", "EACCES"]);
  });
});
