// Timing and child-process helpers shared by the benchmark sections.
import { spawnSync } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "./procs.mjs";
import { performance } from "node:perf_hooks";

const MAX_OUTPUT = 512 * 1024 * 1024;
let devNullFd;

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Calls `fn` (which returns a duration in ms) `warmup` times untimed, then `runs` times. */
export async function timeRuns(fn, { warmup = 1, runs = 5 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await fn());
  return { medianMs: median(samples), samples };
}

function assertSucceeded(result, command, args) {
  const shown = [command, ...args].join(" ");
  if (result.error) throw new Error(`${shown}: ${result.error.message}`);
  if (result.status !== 0) {
    const why = result.status === null ? `signal ${result.signal}` : `exit code ${result.status}`;
    throw new Error(`${shown} failed with ${why}\n${String(result.stderr).slice(-4000)}`);
  }
}

/**
 * Runs a command to completion and returns its wall time (ms), stdout and stderr; throws unless it exits
 * with 0. With `discardStdout`, stdout goes straight to /dev/null as with a shell `> /dev/null`.
 */
export function run(command, args, { cwd, discardStdout = false } = {}) {
  devNullFd ??= openSync("/dev/null", "w");
  const start = performance.now();
  const result = spawnSync(command, args, {
    cwd,
    stdio: ["ignore", discardStdout ? devNullFd : "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: MAX_OUTPUT,
  });
  const ms = performance.now() - start;
  assertSucceeded(result, command, args);
  return { ms, stdout: result.stdout ?? "", stderr: result.stderr };
}

/** Baseline: the cost of reading every file of the tree once, `find ROOT -type f -exec cat {} + > /dev/null`. */
export function measureBaseline(root) {
  return timeRuns(
    () => run("find", [root, "-type", "f", "-exec", "cat", "{}", "+"], { discardStdout: true }).ms,
  );
}

const FLOOR_SOURCE = fileURLToPath(new URL("./floor.c", import.meta.url));

/** gcc on the PATH, or null. */
function findGcc() {
  const found = spawnSync("gcc", ["--version"], { stdio: "ignore" });
  return found.error === undefined && found.status === 0 ? "gcc" : null;
}

/**
 * Compiles bench/floor.c (walk the tree, read every regular file raw, no symlink followed) into a temp
 * dir. Returns `{ binary }`, or `{ binary: null, why }` when gcc is missing or the compile fails.
 */
export function compileFloor() {
  const gcc = findGcc();
  if (gcc === null) return { binary: null, why: "gcc not found on PATH: floor rows skipped" };
  const binary = path.join(makeTempDir("vc-bench-floor-"), "floor");
  const result = spawnSync(gcc, ["-O2", "-o", binary, FLOOR_SOURCE], { encoding: "utf8" });
  if (result.status !== 0 || !existsSync(binary)) {
    return { binary: null, why: `gcc failed on bench/floor.c: ${String(result.stderr).slice(0, 500)}` };
  }
  return { binary };
}

/** Physical floor: the C program reading every regular file of the tree raw (warm-up + median of 5). */
export function measureFloor(binary, root) {
  return timeRuns(() => run(binary, [root], { discardStdout: true }).ms);
}
