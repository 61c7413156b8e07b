/**
 * The one-shot `gc` command against the real API server (test/cluster): dry-run reports and keeps,
 * a real run deletes the orphan and nothing else, and a wrong node or no API stops it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
