/**
 * The checks that run just before a deletion (GC rules 5–7; spec 11.2 steps 2–3):
 * - lock: flock(2) LOCK_EX|LOCK_NB on the pod's lock file (or sandbox directory);
 * - liveness: no recorded shim or proxy PID, and no QEMU of the pod, is running;
 * - mounts: no mount point lies under the directories about to be removed.
 * Every check reports an outcome and never throws; anything that cannot be decided is
 * reported as such (error / unverifiable) so that the caller skips the pod.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from "node:fs";
import { posix } from "node:path";

// ---------------------------------------------------------------------------------------------
// Lock (rule 5)

/** A held flock(2) exclusive lock: our process keeps an fd on the lock target; release() closes it (idempotent). */
export interface HeldLock {
  readonly path: string;
  release(): void;
}

export type LockOutcome =
  | { readonly kind: "acquired"; readonly lock: HeldLock }
  /** Another open file description holds a flock on it. */
  | { readonly kind: "busy" }
  /** ENOENT (e.g. just deleted by the runtime). */
  | { readonly kind: "absent" }
  /** A symlink, not a regular file/directory, flock(1) missing, a timeout, anything else. */
  | { readonly kind: "error"; readonly message: string };

export interface LockOptions {
  /** The flock(1) binary; default "flock" from PATH. */
  readonly flockBin?: string;
  /** Kill flock(1) and report an error after this long; default 5000. */
  readonly timeoutMs?: number;
  /** The lock target is a directory (Kata 1.11+ lock the sandbox directory); default false = regular file. */
  readonly directory?: boolean;
}

/** Never follow a symlink, never block on a FIFO, never create anything. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const DEFAULT_TIMEOUT_MS = 5000;
/** flock(1)'s exit status when the lock is held elsewhere (EX_TEMPFAIL; 1 is also its usage-error code). */
const BUSY_EXIT = 75;
/** The child's fd number on which flock(1) locks our open file description. */
const CHILD_FD = 3;
const STDERR_CAP = 2048;

const ABSENT = { kind: "absent" } as const;
const BUSY = { kind: "busy" } as const;

type LockError = { readonly kind: "error"; readonly message: string };
type Failure = { readonly kind: "absent" } | LockError;
/** flock(1)'s answer: null when it took the lock. */
type FlockAnswer = { readonly kind: "busy" } | LockError | null;

/**
 * Try once, without blocking, to take an exclusive flock(2) on `path`.
 *
 * Node has no flock, so flock(1) does the system call, but never on a path: flock(1)
 * opens a path with O_CREAT and follows symlinks. We open the target ourselves
 * (O_RDONLY|O_NOFOLLOW|O_NONBLOCK, plus O_DIRECTORY in directory mode), check its type, and
 * hand the fd to `flock --exclusive --nonblock <fd>` as its fd 3. A flock belongs to the open
 * file description, which the child shares with us: once flock(1) exits 0 the lock stays held
 * through our fd until release() closes it. Our fd is close-on-exec, so no other child of ours
 * inherits the lock.
 */
export async function tryExclusiveLock(path: string, opts: LockOptions = {}): Promise<LockOutcome> {
  const directory = opts.directory ?? false;
  const opened = openLockTarget(path, directory);
  if (typeof opened !== "number") return opened;
  const timeoutMs = Math.max(1, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const outcome = await runFlock(opened, opts.flockBin ?? "flock", timeoutMs);
  if (outcome !== null) {
    closeQuietly(opened);
    return outcome;
  }
  return { kind: "acquired", lock: new FdLock(path, opened) };
}

class FdLock implements HeldLock {
  private fd: number | null;

  constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  release(): void {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    closeQuietly(fd);
  }
}

/** lstat (refuse a symlink, FIFO, device... unopened), open, then fstat: the same object, of the wanted type. */
function openLockTarget(path: string, directory: boolean): number | Failure {
  const want = directory ? "a directory" : "a regular file";
  let before: Stats | undefined;
  try {
    before = lstatSync(path, { throwIfNoEntry: false });
  } catch (err: unknown) {
    return openFailure(path, err);
  }
  if (before === undefined) return ABSENT;
  if (before.isSymbolicLink()) return lockError(`${path}: is a symlink`);
  if (!isKind(before, directory)) return lockError(`${path}: not ${want}`);
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS | (directory ? constants.O_DIRECTORY : 0));
  } catch (err: unknown) {
    return openFailure(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (isKind(st, directory) && st.dev === before.dev && st.ino === before.ino) return fd;
    closeQuietly(fd);
    return lockError(`${path}: replaced between lstat and open`);
  } catch (err: unknown) {
    closeQuietly(fd);
    return openFailure(path, err);
  }
}

function isKind(st: Stats, directory: boolean): boolean {
  return directory ? st.isDirectory() : st.isFile();
}

function openFailure(path: string, err: unknown): Failure {
  const code = errCode(err);
  if (code === "ENOENT") return ABSENT;
  if (code === "ELOOP") return lockError(`${path}: is a symlink`);
  return lockError(`${path}: ${code === "" ? "I/O error" : code}`);
}

function lockError(message: string): LockError {
  return { kind: "error", message };
}

/** Run flock(1) on our fd: null when it locked, else busy or error. Resolves once, never rejects. */
function runFlock(fd: number, bin: string, timeoutMs: number): Promise<FlockAnswer> {
  const args = ["--exclusive", "--nonblock", "--conflict-exit-code", String(BUSY_EXIT), String(CHILD_FD)];
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe", fd] });
    } catch (err: unknown) {
      resolve(lockError(`flock(1) could not start: ${errMessage(err)}`));
      return;
    }
    let stderr = "";
    let settled = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(lockError(`flock(1) gave no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (value: FlockAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      if (stderr.length < STDERR_CAP) stderr += chunk.slice(0, STDERR_CAP - stderr.length);
    });
    child.on("error", (err) => {
      settle(lockError(`flock(1) could not start: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      if (code === 0) settle(null);
      else if (code === BUSY_EXIT) settle(BUSY);
      else {
        const status = code === null ? `signal ${signal ?? "?"}` : `status ${code}`;
        const text = stderr.trim();
        settle(lockError(`flock(1) exited with ${status}${text === "" ? "" : `: ${text}`}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Process liveness (rule 6): one place knows which processes belong to a pod (scan/liveness.ts,
// shared with the processes collector).

export {
  hostProcVisibility,
  ProcessTable,
  type HostProcVisibility,
  type ProcSource,
} from "../scan/procfs.js";
export {
  findLiveProcesses,
  type LiveProcess,
  type LivenessQuery,
  type LivenessResult,
} from "../scan/liveness.js";

/** One scratch buffer for every read: the reads are synchronous, so never shared by two at once. */
const scratch = Buffer.alloc(64 * 1024);

// ---------------------------------------------------------------------------------------------
// The newest change (rule 2, again under the lock)

export type ChangeResult =
  /** Nothing at any depth was modified after the time asked about. */
  | { readonly kind: "none" }
  /** Something was: the mtime (ms) of the first one found. */
  | { readonly kind: "changed"; readonly mtimeMs: number }
  /** find(1) could not look everywhere (a vanished directory, an unreadable one...): no evidence. */
  | { readonly kind: "error"; readonly message: string };

/**
 * Whether any file or directory at or under `dirs`, at any depth, was modified after `sinceMs`
 * (wall clock: mtimes are). Counting directories matters: a subdirectory created inside a pod
 * changes its parent's mtime and its own, and nothing else. find(1) from findutils does the walk
 * in a child process (off the event loop, arbitrarily deep: it does not go by full paths): `-P`
 * never follows a symlink, `-xdev` never crosses into another filesystem, `-quit` stops at the
 * first hit. Any error of find is "error": the caller skips the pod.
 */
export function changedSince(
  dirs: readonly string[],
  sinceMs: number,
  opts: { readonly findBin?: string; readonly timeoutMs?: number } = {},
): Promise<ChangeResult> {
  const existing = dirs.filter((d) => d.startsWith("/") && mayExist(d));
  if (existing.length === 0) return Promise.resolve({ kind: "none" });
  const since = `@${(Math.floor(sinceMs) / 1000).toFixed(3)}`;
  const args = ["-P", ...existing, "-xdev", "-newermt", since, "-printf", "%T@\n", "-quit"];
  const timeoutMs = Math.max(1, opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    let settled = false;
    const settle = (r: ChangeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ChildProcess;
    try {
      child = spawn(opts.findBin ?? "find", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e: unknown) {
      resolve({ kind: "error", message: `find(1) could not start: ${errMessage(e)}` });
      return;
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle({ kind: "error", message: `find(1) gave no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (c: string) => {
      if (out.length < 256) out += c;
    });
    child.stderr?.on("data", (c: string) => {
      if (err.length < STDERR_CAP) err += c;
    });
    child.on("error", (e) => {
      settle({ kind: "error", message: `find(1) could not start: ${e.message}` });
    });
    child.on("close", (code, signal) => {
      if (code !== 0) {
        const status = code === null ? `signal ${signal ?? "?"}` : `status ${code}`;
        const text = err.trim().split("\n")[0] ?? "";
        settle({ kind: "error", message: `find(1) exited with ${status}${text === "" ? "" : `: ${text}`}` });
        return;
      }
      const first = out.split("\n")[0] ?? "";
      if (first === "") settle({ kind: "none" });
      else {
        const seconds = Number(first);
        settle({ kind: "changed", mtimeMs: Number.isFinite(seconds) ? seconds * 1000 : sinceMs });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Mounts (rule 7)

/** Mount points, unescaped (\040 \011 \012 \134 octal escapes), sorted, unique. */
export interface MountTable {
  readonly mountPoints: readonly string[];
}

/** Cap on a mountinfo file: a truncated table could hide a mount, so a larger one is an error. */
const MOUNTINFO_CAP = 32 * 1024 * 1024;

/**
 * Parse /proc/<pid>/mountinfo (proc(5)):
 * `<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>`.
 * Pure; a malformed line is skipped.
 */
export function parseMountinfo(text: string): MountTable {
  const points = new Set<string>();
  for (const line of text.split("\n")) {
    const point = mountPointOf(line);
    if (point !== null) points.add(point);
  }
  return { mountPoints: [...points].sort() };
}

function mountPointOf(line: string): string | null {
  const f = line.split(" ");
  const sep = f.indexOf("-", 6);
  if (sep < 0 || f.length < sep + 3) return null;
  const [id, parent, devno, , point] = f;
  if (!/^\d+$/.test(id ?? "") || !/^\d+$/.test(parent ?? "") || !/^\d+:\d+$/.test(devno ?? "")) return null;
  if (point === undefined || !point.startsWith("/")) return null;
  return point.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Read and parse a mountinfo file (O_NOFOLLOW on the last component, O_NONBLOCK, size-capped). */
export function readMountTable(path: string): MountTable | { readonly error: string } {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err: unknown) {
    return { error: `${path}: ${errCode(err) || "I/O error"}` };
  }
  try {
    if (!fstatSync(fd).isFile()) return { error: `${path}: not a regular file` };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, scratch, 0, scratch.length, null);
      if (n === 0) break;
      total += n;
      if (total > MOUNTINFO_CAP) return { error: `${path}: larger than ${MOUNTINFO_CAP} bytes` };
      chunks.push(Buffer.from(scratch.subarray(0, n)));
    }
    return parseMountinfo(Buffer.concat(chunks).toString("utf8"));
  } catch (err: unknown) {
    return { error: `${path}: ${errCode(err) || "I/O error"}` };
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Mount points equal to or below any of `dirs` (path prefix with a "/" boundary: "/a/b" is
 * not under "/a/bc"), sorted. `dirs` must be in the same namespace as the table (a host
 * table names host paths, not <hostRoot>/...).
 */
export function mountsUnder(table: MountTable, dirs: readonly string[]): string[] {
  const roots = dirs.filter((d) => d.startsWith("/")).map((d) => posix.normalize(d).replace(/(.)\/+$/, "$1"));
  const out = new Set<string>();
  for (const m of table.mountPoints) {
    if (roots.some((d) => m === d || m.startsWith(d === "/" ? "/" : `${d}/`))) out.add(m);
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------------

/** False only when the path plainly does not exist (find(1) judges everything else). */
function mayExist(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

function errCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : "";
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF cannot happen (each fd is closed once); nothing useful to do with EIO on close.
  }
}
