/**
 * The one-shot `gc` command against the real API server (test/cluster): dry-run reports and keeps,
 * a real run deletes the orphan and nothing else, and a wrong node or no API stops it; two
 * processes on one host root at once (a rolling update with maxSurge) delete each orphan once.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "../cluster/cluster.js";
import {
  CFG,
  CLI,
  DOCKER_POD,
  K8S_POD,
  REPO,
  RUN,
  TempDirs,
  childEnv,
  copyExample,
  ensureBuilt,
} from "./helpers.js";

let cluster: Cluster;
const temp = new TempDirs("vce-gccli-");

beforeAll(async () => {
  ensureBuilt();
  cluster = await startCluster();
  await cluster.createNode("gc-cli-node");
}, 120_000);
afterAll(async () => {
  temp.cleanup();
  await cluster.stop();
});

function gc(args: readonly string[], env: NodeJS.ProcessEnv = childEnv()) {
  const r = spawnSync(process.execPath, [CLI, "gc", ...args], {
    cwd: REPO,
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without waiting: two of them run at once. */
function gcAsync(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "gc", ...args], { cwd: REPO, env: childEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const present = (root: string, id: string) => [
  existsSync(join(root, RUN, id)),
  existsSync(join(root, CFG, id)),
];

describe("virtcontainers-exporter gc", () => {
  it("--dry-run reports the orphan and keeps everything; a real run deletes only the orphan", () => {
    const root = copyExample(temp);
    const common = [
      "--host-root",
      root,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--node-name",
      "gc-cli-node",
      "--gc-grace",
      "0s",
      "--gc-interval",
      "1s",
      // the example's one Kubernetes pod is the only one: orphans / pods = 1
      "--gc-max-orphan-fraction",
      "1",
    ];
    const dry = gc([...common, "--dry-run"]);
    expect(dry.stderr + dry.stdout).toContain("pass 2:");
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split("\n");
    expect(lines[0]).toBe("mode dry-run; 1 orphans of 1 Kubernetes pods");
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${K8S_POD.slice(0, 12)}  would_delete .* ml-serving/resnet-infer-1684375908-7xq2p  dry-run$`,
        ),
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^${DOCKER_POD.slice(0, 12)}  kept +unmanaged`)),
    );
    expect(present(root, K8S_POD)).toEqual([true, true]);

    const live = gc([...common, "--output", "json"]);
    expect(live.code).toBe(0);
    const report = JSON.parse(live.stdout) as {
      mode: string;
      pods: { podId: string; decision: string; status: string }[];
    };
    expect(report.mode).toBe("on");
    expect(report.pods.map((p) => [p.podId, p.status, p.decision]).sort()).toEqual(
      [
        [K8S_POD, "orphan", "deleted"],
        [DOCKER_POD, "unmanaged", "kept"],
      ].sort(),
    );
    expect(present(root, K8S_POD)).toEqual([false, false]);
    expect(present(root, DOCKER_POD)).toEqual([true, true]);
  });

  it("an API pod with the directory's namespace and name but another UID does not own it", async () => {
    const root = copyExample(temp);
    await cluster.createNode("gc-cli-owned");
    // The API gives a new pod a new UID: this is the directory of an earlier pod of that name.
    await cluster.createNamespace("ml-serving").catch(() => undefined);
    await cluster.createPod({
      namespace: "ml-serving",
      name: "resnet-infer-1684375908-7xq2p",
      nodeName: "gc-cli-owned",
    });
    const r = gc([
      "--host-root",
      root,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--node-name",
      "gc-cli-owned",
      "--gc-grace",
      "0s",
      "--gc-interval",
      "1s",
      "--gc-max-orphan-fraction",
      "1",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toContainEqual(
      expect.stringMatching(new RegExp(`^${K8S_POD.slice(0, 12)}  deleted `)),
    );
    expect(present(root, K8S_POD)).toEqual([false, false]);
  });

  it("two processes on one host root at once delete each orphan exactly once, and leave no tombstone", async () => {
    await cluster.createNode("gc-cli-twice");
    const root = temp.make();
    const gen = (await import(new URL("../../bench/gen-tree.mjs", import.meta.url).href)) as {
      generateTree(dir: string, pods: number, opts?: { seed?: number }): Promise<{ podIds: string[] }>;
    };
    const { podIds } = await gen.generateTree(root, 12, { seed: 5 });
    // a third of them config-only: no lock to take, only rename(2) decides who deletes them
    for (const id of podIds.slice(0, 4)) rmSync(join(root, RUN, id), { recursive: true });
    const args = [
      "--host-root",
      root,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--node-name",
      "gc-cli-twice",
      "--gc-grace",
      "0s",
      "--gc-interval",
      "1s",
      "--gc-max-orphan-fraction",
      "1",
      "--gc-max-deletions-per-run",
      "50",
      "--output",
      "json",
    ];
    const runs = await Promise.all([gcAsync(args), gcAsync(args)]);
    const deleted = runs.flatMap((r) => {
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { pods: { podId: string; decision: string }[] };
      return report.pods.filter((p) => p.decision === "deleted").map((p) => p.podId);
    });
    expect(deleted.sort()).toEqual([...podIds].sort());
    for (const tree of [RUN, CFG]) expect(readdirSync(join(root, tree))).toEqual([]);
  }, 120_000);

  it("a Node that does not exist stops it with one line and exit 1; no API configuration is a usage error", () => {
    const root = copyExample(temp);
    const wrong = gc([
      "--host-root",
      root,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--node-name",
      "no-such-node",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      'virtcontainers-exporter gc: Node "no-such-node" does not exist in the Kubernetes API; check --node-name\n',
    );
    expect(present(root, K8S_POD)).toEqual([true, true]);
    const none = gc(["--host-root", root, "--node-name", "x"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^virtcontainers-exporter: gc needs the Kubernetes API: pass --kubeconfig PATH/,
    );
  });
});
