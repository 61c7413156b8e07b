/**
 * Reads of the host's /proc (normally "/proc"; --proc-root points tests at a fixture tree):
 * one file of one process, the PID list, whether the host's PID namespace is visible, and a
 * table of every command line. Nothing here decides what a process is (format/proc.ts does).
 * Every read is bounded, never follows a symlink out of the tree, and reports a vanished
 * process as "gone", not as an error.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { splitCmdline } from "../format/proc.js";

/** Where /proc is: normally "/proc"; tests point it at a fake tree or the real /proc. */
export interface ProcSource {
  readonly root: string;
}

export type ProcRead =
  | { readonly kind: "ok"; readonly text: string }
  | { readonly kind: "gone" }
  | { readonly kind: "unreadable"; readonly reason: string };

/** Cap on one cmdline read; an argument past it is not seen (the IDs we look for come early). */
export const CMDLINE_CAP = 64 * 1024;
/** stat and statm are a few hundred bytes. */
export const SMALL_CAP = 4096;
/** PID_MAX_LIMIT on 64-bit Linux: no PID is larger. */
const PID_MAX = 4_194_304;

/** Never follow a symlink, never block on a FIFO, never create anything. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const GONE = { kind: "gone" } as const;
/** One scratch buffer for every read: the reads are synchronous, so never shared by two at once. */
const scratch = Buffer.alloc(CMDLINE_CAP);

export function validPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 1 && pid <= PID_MAX;
}

/**
 * Read <root>/<pid>/<name>: <root>/<pid> must be a directory (a symlink is never followed out
 * of the tree), the file is opened with O_NOFOLLOW|O_NONBLOCK and must be a regular file, and
 * at most `cap` bytes are read. A vanished process is "gone", not an error.
 */
export function readProcFile(root: string, pid: string, name: string, cap: number): ProcRead {
  const dir = join(root, pid);
  try {
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined) return GONE;
    if (!st.isDirectory()) return { kind: "unreadable", reason: "not a directory" };
  } catch (err: unknown) {
    return procFailure(err);
  }
  let fd: number;
  try {
    fd = openSync(join(dir, name), OPEN_FLAGS);
  } catch (err: unknown) {
    return procFailure(err);
  }
  try {
    if (!fstatSync(fd).isFile()) return { kind: "unreadable", reason: "not a regular file" };
    const limit = Math.min(cap, scratch.length);
    let len = 0;
    while (len < limit) {
      const n = readSync(fd, scratch, len, limit - len, null);
      if (n === 0) break;
      len += n;
    }
    return { kind: "ok", text: scratch.toString("utf8", 0, len) };
  } catch (err: unknown) {
    return procFailure(err);
  } finally {
    closeQuietly(fd);
  }
}

/**
 * The sampler's read of a small file (stat, statm) of a process already taken by
 * `readProcFile`: one open (O_NOFOLLOW|O_NONBLOCK), one read, one close; a third of
 * readProcFile's system calls, for the thousands of reads of each sample. It skips the checks
 * that <root>/<pid> is a directory and the file a regular one: a numeric entry of procfs is
 * never a symlink, and a directory, FIFO or socket there fails the read (EISDIR, EAGAIN...)
 * and is reported as unreadable.
 */
export function readProcSmall(root: string, pid: number, name: string): ProcRead {
  let fd: number;
  try {
    fd = openSync(`${root}/${pid}/${name}`, OPEN_FLAGS);
  } catch (err: unknown) {
    return procFailure(err);
  }
  try {
    const n = readSync(fd, scratch, 0, SMALL_CAP, null);
    return { kind: "ok", text: scratch.toString("utf8", 0, n) };
  } catch (err: unknown) {
    return procFailure(err);
  } finally {
    closeQuietly(fd);
  }
}

function procFailure(err: unknown): ProcRead {
  const code = errCode(err);
  if (code === "ENOENT" || code === "ESRCH") return GONE;
  return { kind: "unreadable", reason: code === "" ? "I/O error" : code };
}

/** The numeric directories of <root>, as PIDs (unsorted); an error string when it cannot be listed. */
export function listPids(src: ProcSource): number[] | { readonly error: string } {
  try {
    const out: number[] = [];
    for (const e of readdirSync(src.root, { withFileTypes: true })) {
      if (!e.isDirectory() || !/^[1-9][0-9]*$/.test(e.name)) continue;
      const pid = Number(e.name);
      if (validPid(pid)) out.push(pid);
    }
    return out;
  } catch (err: unknown) {
    const code = errCode(err);
    return { error: `cannot list ${src.root}: ${code === "" ? "I/O error" : code}` };
  }
}

export type HostProcVisibility = "visible" | "not_visible";

/** The host's PID namespace is visible when <root>/2/comm is "kthreadd" (kernel threads are only visible in the initial PID namespace). */
export function hostProcVisibility(src: ProcSource): HostProcVisibility {
  const comm = readProcFile(src.root, "2", "comm", 64);
  return comm.kind === "ok" && comm.text.replace(/\n$/, "") === "kthreadd" ? "visible" : "not_visible";
}

/**
 * One read of <root>/<pid>/cmdline for every numeric entry of <root>: used to find QEMU by
 * `-uuid <UUID>` or `-name pod-<podId>`. Build once per GC run, reuse for all pods.
 */
export class ProcessTable {
  private constructor(
    private readonly args: ReadonlyMap<number, readonly string[]>,
    /** PIDs present whose cmdline could not be read (sorted). */
    readonly unreadable: readonly number[],
    /** Why the table could not be listed at all, or null. */
    readonly error: string | null,
  ) {}

  static read(src: ProcSource): ProcessTable {
    const pids = listPids(src);
    if ("error" in pids) return new ProcessTable(new Map(), [], pids.error);
    const args = new Map<number, readonly string[]>();
    const unreadable: number[] = [];
    for (const pid of pids) {
      const r = readProcFile(src.root, String(pid), "cmdline", CMDLINE_CAP);
      if (r.kind === "ok") args.set(pid, splitCmdline(r.text));
      else if (r.kind === "unreadable") unreadable.push(pid);
    }
    return new ProcessTable(
      args,
      unreadable.sort((a, b) => a - b),
      null,
    );
  }

  /** Number of processes whose cmdline was read. */
  get size(): number {
    return this.args.size;
  }

  /** Every process read, as [PID, arguments], sorted by PID. */
  entries(): [number, readonly string[]][] {
    return [...this.args].sort((a, b) => a[0] - b[0]);
  }

  /** PIDs (sorted) with some argument for which `test` holds. */
  pidsWhere(test: (arg: string) => boolean): number[] {
    const out: number[] = [];
    for (const [pid, args] of this.args) if (args.some(test)) out.push(pid);
    return out.sort((a, b) => a - b);
  }
}

/**
 * The running kernel's base page size, for statm's pages: the first `KernelPageSize:` of this
 * process's own smaps in the real /proc (its first mapping is ordinary memory), else `fallback`.
 */
export function detectPageSize(fallback = 4096): number {
  const r = readProcFile("/proc", String(process.pid), "smaps", SMALL_CAP);
  if (r.kind !== "ok") return fallback;
  const m = /^KernelPageSize:\s+(\d+) kB$/m.exec(r.text);
  const kb = m?.[1] === undefined ? NaN : Number(m[1]);
  return Number.isInteger(kb) && kb >= 4 && (kb & (kb - 1)) === 0 ? kb * 1024 : fallback;
}

export function errCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : "";
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF cannot happen (each fd is closed once); nothing useful to do with EIO on close.
  }
}
