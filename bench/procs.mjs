// Long-running child processes and temp dirs for the server sections, with cleanup that also runs when
// the harness fails or is interrupted; plus /proc readers (RSS, CPU ticks) and a free-port finder.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const children = new Set();
const tempDirs = new Set();
const STDERR_TAIL = 4000;

function cleanupNow() {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

let handlersInstalled = false;
function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupNow);
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ]) {
    process.once(signal, () => process.exit(code));
  }
}

/** A temp dir removed by `removeTempDir` or, at the latest, when the process exits. */
export function makeTempDir(prefix) {
  installHandlers();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Spawns a long-running process (stdout ignored unless `onStdout`, stderr tail kept in `child.stderrTail`);
 * it is killed when this process exits.
 */
export function startProcess(command, args, { env, cwd, onStdout } = {}) {
  installHandlers();
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", onStdout ? "pipe" : "ignore", "pipe"] });
  children.add(child);
  child.stderrTail = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s) => (child.stderrTail = (child.stderrTail + s).slice(-STDERR_TAIL)));
  if (onStdout) child.stdout.setEncoding("utf8").on("data", onStdout);
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.exited.then(() => children.delete(child));
  child.once("error", () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timeout = sleep(graceMs).then(() => "timeout");
  if ((await Promise.race([child.exited, timeout])) === "timeout") {
    child.kill("SIGKILL");
    await child.exited;
  }
}

/** Throws with the stderr tail when `child` has exited. */
export function assertAlive(child, what) {
  if (child.exitCode === null && child.signalCode === null) return;
  const why = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
  throw new Error(`${what} exited (${why})\n${child.stderrTail}`);
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM of a process, in MiB (from /proc/PID/status, which reports KiB). */
export function readMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
}

/** utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat, counted after "comm"). */
export function readCpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return Number(fields[11]) + Number(fields[12]);
}

let clkTck;
/** sysconf(_SC_CLK_TCK), from `getconf CLK_TCK` (100 on Linux in practice). */
export function clockTicksPerSecond() {
  if (clkTck === undefined) {
    const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(out.stdout?.trim());
    clkTck = out.status === 0 && n > 0 ? n : 100;
  }
  return clkTck;
}
