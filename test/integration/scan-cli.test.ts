/**
 * The `scan` command end to end: the built CLI (dist/cli.js) as a child process. dist is
 * built once here when it is missing or older than a source file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { addSecretEnv } from "../unit/scan/helpers.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(REPO, "dist", "cli.js");
const EXAMPLE = join(REPO, "examples", "host");
const K8S_POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const DOCKER_POD = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";
const DOCKER_CFG = `var/lib/virtcontainers/pods/${DOCKER_POD}/config.json`;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestMtime(join(REPO, "src"))) {
    execFileSync("npm", ["run", "build"], { cwd: REPO, stdio: "pipe" });
  }
});

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "vce-cli-"));
  temps.push(d);
  return d;
}

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) makeWritable(p);
    else if (e.isFile()) chmodSync(p, 0o644);
  }
}

function copyExample(): string {
  const root = tempDir();
  cpSync(EXAMPLE, root, { recursive: true });
  makeWritable(root);
  return root;
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], opts: { prefix?: readonly string[] } = {}): Run {
  const prefix = opts.prefix ?? [];
  const [cmd, ...rest] = [...prefix, process.execPath, CLI, ...args];
  const r = spawnSync(cmd ?? process.execPath, rest, {
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonReport {
  schemaVersion: number;
  hostRoot: string;
  trees: { tree: string; path: string; present: boolean }[];
  summary: { pods: number; containers: number; devices: number; problems: number };
  pods: {
    id: string;
    presence: string;
    state: string;
    kubernetes: { namespace: string | null; pod: string | null };
    vm: { vcpus: number | null; memoryBytes: number | null };
    containers: { id: string; type: string }[];
    problems: { reason: string; path: string }[];
  }[];
  problems: { reason: string; path: string }[];
  stats: { kind: string; filesRead: number };
}

function json(r: Run): JsonReport {
  return JSON.parse(r.stdout) as JsonReport;
}

describe("virtcontainers-exporter scan", () => {
  it("prints a table for the example tree and exits 0", () => {
    const r = cli(["scan", "--host-root", copyExample()]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("run tree run/virtcontainers/pods: present");
    expect(lines[1]).toBe("config tree var/lib/virtcontainers/pods: present");
    expect(r.stdout).toMatch(
      /^POD +LAYOUT +STATE +PRESENCE +NAMESPACE\/NAME +CONTAINERS +DEVICES +PROBLEMS$/m,
    );
    expect(r.stdout).toMatch(
      /^042f7fc8d580 +virtcontainers +running +both +ml-serving\/resnet-infer-1684375908-7xq2p +3 +3 +0$/m,
    );
    expect(r.stdout).toMatch(/^b6557d11c510 +virtcontainers +running +both +\(none\) +1 +0 +0$/m);
    expect(r.stdout).not.toContain("PROBLEMS (");
  });

  it("--output json is one JSON document with schemaVersion 1 and sorted pods", () => {
    const root = copyExample();
    const r = cli(["scan", "--host-root", root, "--output", "json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.endsWith("}\n")).toBe(true);
    const j = json(r);
    expect(j.schemaVersion).toBe(1);
    expect(j.hostRoot).toBe(root);
    expect(j.summary).toMatchObject({ pods: 2, containers: 4, devices: 3, problems: 0 });
    expect(j.pods.map((p) => p.id)).toEqual([K8S_POD, DOCKER_POD]);
    expect(j.pods[0]).toMatchObject({
      presence: "both",
      state: "running",
      kubernetes: { namespace: "ml-serving", pod: "resnet-infer-1684375908-7xq2p" },
      vm: { vcpus: 18, memoryBytes: 2147483648 },
    });
    expect(j.pods[0]?.containers.map((c) => c.type)).toEqual(["sandbox", "container", "container"]);
    expect(j.stats).toMatchObject({ kind: "full", filesRead: 25 });
  });

  it("-o json and VCE_HOST_ROOT work too", () => {
    const root = copyExample();
    const r = spawnSync(process.execPath, [CLI, "scan", "-o", "json"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", VCE_HOST_ROOT: root },
    });
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as JsonReport).summary.pods).toBe(2);
  });

  it("exits 1 with one line on stderr for a host root that does not exist", () => {
    const missing = join(tempDir(), "does-not-exist");
    const r = cli(["scan", "--host-root", missing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/\n$/);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      `virtcontainers-exporter: host root ${missing} does not exist (ENOENT); --host-root (env VCE_HOST_ROOT) must be the directory where the node's filesystem is mounted, the one holding run/ and var/lib/ (the chart mounts the node's state trees under /host): mount it (a hostPath volume) or pass the directory it is mounted at`,
    ]);
  });

  it("exits 1 with one line on stderr for a host root that is a regular file", () => {
    const file = join(tempDir(), "plain");
    writeFileSync(file, "x");
    const r = cli(["scan", "--host-root", file, "--output", "json"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      new RegExp(
        `^virtcontainers-exporter: host root ${file} is not a directory; --host-root \\(env VCE_HOST_ROOT\\) must be .*\n$`,
      ),
    );
  });

  it("exits 2 for an unknown flag", () => {
    const r = cli(["scan", "--host-root", copyExample(), "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^virtcontainers-exporter: .*--bogus/);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("exits 2 for a bad --output", () => {
    const r = cli(["scan", "--host-root", copyExample(), "--output", "yaml"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('virtcontainers-exporter: --output: "yaml" is not one of table, json\n');
  });

  it("exits 2 for a positional argument and for an unknown command", () => {
    expect(cli(["scan", "extra"]).code).toBe(2);
    expect(cli(["scna"]).code).toBe(2);
  });

  it("exits 0 with 'no pods' when both trees are missing", () => {
    const root = tempDir();
    const r = cli(["scan", "--host-root", root]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      "run tree run/virtcontainers/pods: absent\nconfig tree var/lib/virtcontainers/pods: absent\n\nno pods\n",
    );
    const j = json(cli(["scan", "--host-root", root, "--output", "json"]));
    expect(j.trees.map((t) => t.present)).toEqual([false, false, false, false, false, false]);
    expect(j.summary).toMatchObject({ pods: 0, problems: 0 });
  });

  it("never prints an environment value of a container", () => {
    const root = copyExample();
    expect(addSecretEnv(root, DOCKER_POD, "DB_PASSWORD", "SECRET_VALUE_123")).toBe(5);
    expect(addSecretEnv(root, K8S_POD, "DB_PASSWORD", "SECRET_VALUE_123")).toBeGreaterThanOrEqual(12);
    expect(readFileSync(join(root, DOCKER_CFG), "utf8")).toContain("SECRET_VALUE_123");

    for (const output of ["json", "table"]) {
      const r = cli(["scan", "--host-root", root, "--output", output]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("SECRET_VALUE_123");
      expect(r.stderr).not.toContain("SECRET_VALUE_123");
    }
    const j = json(cli(["scan", "--host-root", root, "--output", "json"]));
    expect(j.summary).toMatchObject({ pods: 2, problems: 0 }); // the files were read and used
    expect(j.pods[0]?.kubernetes.pod).toBe("resnet-infer-1684375908-7xq2p");
  });

  it("lists problems in the table and in the JSON", () => {
    const root = copyExample();
    writeFileSync(join(root, `run/virtcontainers/pods/${DOCKER_POD}/state.json`), "{oops");
    const t = cli(["scan", "--host-root", root]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain("PROBLEMS (1)");
    expect(t.stdout).toMatch(
      /run\/virtcontainers\/pods\/b6557d11[0-9a-f]+\/state\.json +pod_state +invalid_json/,
    );
    const j = json(cli(["scan", "--host-root", root, "--output", "json"]));
    expect(j.summary.problems).toBe(1);
    expect(j.pods[1]?.problems.map((p) => p.reason)).toEqual(["invalid_json"]);
    expect(j.pods[1]?.state).toBe("unknown");
  });

  it("finishes on a tree with a FIFO named state.json and reports it", () => {
    const root = copyExample();
    const rel = `run/virtcontainers/pods/${DOCKER_POD}/state.json`;
    rmSync(join(root, rel));
    execFileSync("mkfifo", [join(root, rel)]);
    // spawnSync kills the child at its timeout: a blocking open shows as a signal, not a hang.
    const r = spawnSync(process.execPath, [CLI, "scan", "--host-root", root, "--output", "json"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(j.pods[1]?.problems).toEqual([expect.objectContaining({ path: rel, reason: "not_regular_file" })]);
  });

  it("--max-file-size refuses larger files", () => {
    const r = cli(["scan", "--host-root", copyExample(), "--output", "json", "--max-file-size", "20000"]);
    expect(r.code).toBe(0);
    const j = json(r);
    expect(j.pods[0]?.problems.map((p) => p.reason)).toEqual(["too_large"]);
    expect(cli(["scan", "--max-file-size", "lots"]).code).toBe(2);
  });

  // The tests run as root, where chmod 000 does not stop reading. setpriv runs the CLI as
  // nobody (no capabilities), so the mode bits apply for real.
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));
  const tmpSearchable = (statSync(tmpdir()).mode & 0o001) !== 0;
  it.skipIf(process.getuid?.() !== 0 || setpriv === undefined || !tmpSearchable)(
    "reports an unreadable file as permission when run unprivileged",
    () => {
      const root = copyExample(); // mode 0755 from makeWritable; tmpdir() itself is world-searchable
      const rel = `run/virtcontainers/pods/${DOCKER_POD}/state.json`;
      chmodSync(join(root, rel), 0o000);
      const r = cli(["scan", "--host-root", root, "--output", "json"], {
        prefix: [setpriv ?? "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const j = json(r);
      expect(j.summary.problems).toBe(1);
      expect(j.pods[1]?.problems).toEqual([expect.objectContaining({ path: rel, reason: "permission" })]);
      expect(j.pods[1]?.state).toBe("unknown");
      expect(j.pods[0]?.state).toBe("running");
    },
  );
});
