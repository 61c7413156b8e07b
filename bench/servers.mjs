// The two servers of the metrics section: the exporter as the container image runs it, and the plain
// node:http baseline serving fixed bytes.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor200 } from "./http-client.mjs";
import { assertAlive, freePort, makeTempDir, removeTempDir, startProcess, stopProcess } from "./procs.mjs";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const BASELINE_SERVER = fileURLToPath(new URL("./baseline-server.mjs", import.meta.url));
const READY_DEADLINE_MS = 120_000;
const LISTEN_DEADLINE_MS = 10_000;
// As the Dockerfile's runtime image.
export const IMAGE_ENV = {
  NODE_ENV: "production",
  NODE_OPTIONS: "--max-semi-space-size=1",
  MALLOC_ARENA_MAX: "2",
};

/**
 * The exporter's environment: the image's, with BENCH_NODE_OPTIONS replacing its NODE_OPTIONS (heap limit
 * trials; not applied to the baseline server).
 */
export function exporterEnv() {
  const value = process.env.BENCH_NODE_OPTIONS;
  return value === undefined ? IMAGE_ENV : { ...IMAGE_ENV, NODE_OPTIONS: value };
}

/** `node dist/cli.js serve` on a free port; resolves once /readyz answers 200. */
export async function startExporter(root) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Kubernetes off: the benchmark measures the trees and /metrics, not an API server.
  const args = [
    CLI,
    "serve",
    "--host-root",
    root,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-level",
    "warn",
    "--kubernetes",
    "off",
  ];
  const child = startProcess(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...exporterEnv() },
  });
  const check = () => assertAlive(child, "exporter");
  try {
    const readyMs = await waitFor200(`${base}/readyz`, { deadlineMs: READY_DEADLINE_MS, check });
    return { child, pid: child.pid, base, metricsUrl: `${base}/metrics`, readyMs, check };
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
}

/** The baseline server answering every request with `body` and `contentType`. */
export async function startBaseline(body, contentType) {
  const dir = makeTempDir("vc-bench-body-");
  const file = path.join(dir, "metrics.txt");
  writeFileSync(file, body);
  let resolvePort;
  const listening = new Promise((resolve) => (resolvePort = resolve));
  let out = "";
  const onStdout = (s) => {
    out += s;
    if (out.includes("\n")) resolvePort(JSON.parse(out.split("\n")[0]).port);
  };
  const child = startProcess(process.execPath, [BASELINE_SERVER, file, contentType], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...IMAGE_ENV },
    onStdout,
  });
  const stop = async () => {
    await stopProcess(child);
    removeTempDir(dir);
  };
  try {
    const port = await Promise.race([
      listening,
      child.exited.then(() => assertAlive(child, "baseline server")),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("baseline server did not listen")), LISTEN_DEADLINE_MS).unref(),
      ),
    ]);
    const base = `http://127.0.0.1:${port}`;
    return { child, metricsUrl: `${base}/metrics`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
