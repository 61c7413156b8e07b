/**
 * The only code in the project that deletes (GC rule 9), in two steps:
 *
 * 1. `entomb`, under the runtime's lock and after every check: each directory of the pod is
 *    renamed (rename(2), atomic) to a dot-named tombstone in its own tree root. The runtime and
 *    the scanner ignore dot names, so the pod is gone at once; nothing is removed yet. A rename
 *    that fails puts back the ones already done, so a pod is either wholly there (and retried with
 *    its identity intact) or wholly gone.
 * 2. `removePodDirectory`, later and off the event loop (asynchronous, yielding every few
 *    milliseconds): removes one tombstone (or any <treeRoot>/<name>) and everything below it.
 *
 * The removal:
 * - The directory must be a real directory directly in a real tree root, on the root's filesystem
 *   (a directory that is itself a mount point is refused).
 * - A symlink is never followed: it is unlinked as a link, its target left alone.
 * - A mount point is never crossed: every directory must be on the pod directory's device
 *   (st_dev). The whole tree is checked before anything is removed, so a refusal normally leaves
 *   it untouched; a mount that appears between that check and the removal stops the removal
 *   where it is met, leaving the mount and everything not yet removed in place.
 * - Files, symlinks, sockets and FIFOs are unlinked without being opened; directories are
 *   removed bottom-up. Names are handled as bytes, so any file name can be removed.
 * - Each directory's (dev, ino) is checked right before it is listed, after its listing, and
 *   before each batch of removals in it, so a directory swapped for a symlink or another
 *   directory is not walked: the walk stops there and says `changed`.
 * - Depth: no path handed to the kernel grows past MAX_WALK_PATH bytes. A subdirectory whose path
 *   would is first renamed up into the tree root under a new tombstone name (`relocate`), checked
 *   to be the same directory there, and removed as a tombstone of its own (`onRelocated`), so a
 *   tree deeper than PATH_MAX is removed too, without openat(2) (Node has none) and without chdir.
 *   Without `relocate` such a subtree stops the removal (ENAMETOOLONG) and is left in place.
 * - Directories are read in batches (opendir), so a directory of 400,000 entries is never held
 *   in memory at once nor listed in one blocking call.
 *
 * Residual race: the operations go through paths, so a directory swapped between a check and an
 * unlink/rmdir of one of its entries would redirect that one call. Only root can do that here (the
 * trees are root-owned), and a tombstone has a name no runtime knows. Bind mounts from the same
 * filesystem have the same st_dev and are not seen by the walk: the mount table is read again
 * right before removing.
 *
 * Any error (EACCES, EBUSY, EPERM of an immutable file...) stops the removal, leaves the rest in
 * place and is returned with the counts so far; nothing throws.
 */
import {
  lstatSync,
  opendirSync,
  realpathSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  type BigIntStats,
  type Dir,
  type OpenDirOptions,
} from "node:fs";
import { setImmediate as yieldLoop } from "node:timers/promises";
import { mountsUnder, readMountTable } from "./guards.js";

export interface RemoveOptions {
  /** The tree holding the directory, e.g. <hostRoot>/run/virtcontainers/pods. */
  readonly treeRoot: string;
  /** The directory's name in the tree root: a single path component. */
  readonly name: string;
  /**
   * The mount table read right before removing (default /proc/self/mountinfo): a mount point at
   * or under the directory, by its path or its real path, refuses the removal. Bind mounts from
   * the same filesystem share st_dev, so the walk alone cannot see them.
   */
  readonly mountinfo?: string;
  /** A new, unused name in the tree root for a subtree too deep to walk by path (see above). */
  readonly relocate?: () => string;
  /** Called with each name `relocate` gave once the subtree is there: remove it as its own tombstone. */
  readonly onRelocated?: (name: string) => void;
  /** Give the event loop a turn after this much synchronous work (default 10 ms). */
  readonly sliceMs?: number;
  /** Checked at every turn: true stops the removal where it is (`failed`, code "aborted"). */
  readonly aborted?: () => boolean;
  /** Monotonic milliseconds (default performance.now). */
  readonly clock?: () => number;
}

export type RefusalReason =
  "not_directory" | "symlink" | "invalid_name" | "root_not_directory" | "mount_point";

/** A path the reaper will not touch, and why. */
export interface RefusedOutcome {
  readonly kind: "refused";
  readonly reason: RefusalReason;
  readonly path: string;
}

export type RemoveOutcome =
  | { readonly kind: "removed"; readonly files: number; readonly dirs: number }
  /** Already gone: not an error. */
  | { readonly kind: "absent" }
  | RefusedOutcome
  | {
      readonly kind: "failed";
      readonly path: string;
      /** An errno code, "changed" (a directory's identity changed), "aborted", or "EMOUNTINFO". */
      readonly code: string;
      readonly message: string;
      readonly files: number;
      readonly dirs: number;
    };

type Failed = Extract<RemoveOutcome, { kind: "failed" }>;
/** Why a walk stopped. */
type Stop = RefusedOutcome | Omit<Failed, "files" | "dirs">;

interface Ident {
  readonly dev: bigint;
  readonly ino: bigint;
}

const SLASH = Buffer.from("/");
/** Longest path the walk hands to the kernel (PATH_MAX is 4096 with the NUL; a name adds up to 255). */
export const MAX_WALK_PATH = 3072;
/** opendir giving names as bytes: any name can be removed (the typings only know text encodings). */
const BUFFER_NAMES = { encoding: "buffer", bufferSize: 128 } as unknown as OpenDirOptions;
/** Directory entries read (and acted on) per batch. */
const BATCH = 1024;

/** Remove <treeRoot>/<name> and everything below it, never following a symlink or crossing a mount. */
export async function removePodDirectory(opts: RemoveOptions): Promise<RemoveOutcome> {
  const start = locate(opts.treeRoot, opts.name);
  if ("kind" in start) return start;
  const { podText, pod } = start;
  const table = readMountTable(opts.mountinfo ?? "/proc/self/mountinfo");
  if ("error" in table)
    return { kind: "failed", path: podText, code: "EMOUNTINFO", message: table.error, files: 0, dirs: 0 };
  const mounted = mountsUnder(table, [podText, realPath(podText)]);
  if (mounted[0] !== undefined) return refused("mount_point", mounted[0]);

  const podPath = Buffer.from(podText);
  const id: Ident = { dev: pod.dev, ino: pod.ino };
  const pacer = new Pacer(opts);
  // First walk: check the whole tree, remove nothing. Second: the same checks, and remove.
  const check = new Walk(pod.dev, false, pacer, null);
  const checked = await check.tree(podPath, id);
  if (checked !== null) return checked.kind === "refused" ? checked : { ...checked, files: 0, dirs: 0 };
  const deep = opts.relocate === undefined ? null : { root: start.rootText, opts };
  const walk = new Walk(pod.dev, true, pacer, deep);
  const stop = await walk.tree(podPath, id);
  if (stop === null) return { kind: "removed", files: walk.files, dirs: walk.dirs };
  return stop.kind === "refused" ? stop : { ...stop, files: walk.files, dirs: walk.dirs };
}

/** The tree root and the directory in it, checked: a real directory on the root's device. */
function locate(
  treeRoot: string,
  name: string,
): { rootText: string; podText: string; root: BigIntStats; pod: BigIntStats } | RemoveOutcome {
  const rootText = treeRoot.replace(/(.)\/+$/, "$1");
  const podText = `${rootText === "/" ? "" : rootText}/${name}`;
  if (!validName(name)) return refused("invalid_name", podText);
  const root = lstatQuiet(rootText);
  if (root === null || (!("error" in root) && !root.isDirectory()))
    return refused("root_not_directory", rootText);
  if ("error" in root) {
    const code = errCode(root.error);
    if (code === "ENOENT" || code === "ENOTDIR") return refused("root_not_directory", rootText);
    return { ...failure(rootText, root.error), files: 0, dirs: 0 };
  }
  const pod = lstatQuiet(podText);
  if (pod === null) return { kind: "absent" };
  if ("error" in pod) return { ...failure(podText, pod.error), files: 0, dirs: 0 };
  if (pod.isSymbolicLink()) return refused("symlink", podText);
  if (!pod.isDirectory()) return refused("not_directory", podText);
  if (pod.dev !== root.dev) return refused("mount_point", podText);
  return { rootText, podText, root, pod };
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** One path component: non-empty, not "." or "..", no "/" or NUL. */
function validName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

/** Gives the event loop a turn every `sliceMs` of synchronous work; stops when aborted. */
class Pacer {
  private readonly clock: () => number;
  private readonly sliceMs: number;
  private last: number;

  constructor(private readonly opts: Pick<RemoveOptions, "sliceMs" | "aborted" | "clock">) {
    this.clock = opts.clock ?? (() => performance.now());
    this.sliceMs = opts.sliceMs ?? 10;
    this.last = this.clock();
  }

  /** false when the work must stop. */
  async turn(): Promise<boolean> {
    if (this.clock() - this.last >= this.sliceMs) {
      await yieldLoop();
      this.last = this.clock();
    }
    return this.opts.aborted?.() !== true;
  }
}

const ABORTED = (path: Buffer): Stop => ({
  kind: "failed",
  path: path.toString(),
  code: "aborted",
  message: "stopped (the exporter is shutting down)",
});

class Walk {
  files = 0;
  dirs = 0;

  constructor(
    private readonly dev: bigint,
    private readonly remove: boolean,
    private readonly pacer: Pacer,
    /** Where too-deep subtrees go (the removing walk of a removal with `relocate`), else null. */
    private readonly deep: { readonly root: string; readonly opts: RemoveOptions } | null,
  ) {}

  /** Walk (and, when removing, remove) the directory `path` last seen as `id`; null when done. */
  async tree(path: Buffer, id: Ident): Promise<Stop | null> {
    const subdirs: { path: Buffer; id: Ident }[] = [];
    const listed = await this.list(path, id, async (batch) => {
      for (const name of batch) {
        if (!(await this.pacer.turn())) return ABORTED(path);
        const stop = this.entry(Buffer.concat([path, SLASH, name]), subdirs);
        if (stop !== null) return stop;
      }
      return null;
    });
    if (listed === "vanished") return null;
    if (listed !== null) return listed;
    for (const sub of subdirs) {
      const stop = await this.tree(sub.path, sub.id);
      if (stop !== null) return stop;
    }
    if (!this.remove) return null;
    const before = this.recheck(path, id);
    if (before === "vanished") return null;
    if (before !== null) return before;
    const err = attempt(() => {
      rmdirSync(path);
    });
    if (err === null) this.dirs += 1;
    else if (errCode(err) !== "ENOENT") return failure(path.toString(), err);
    return null;
  }

  /** One entry: a directory is queued (or relocated when too deep); anything else unlinked. */
  private entry(path: Buffer, subdirs: { path: Buffer; id: Ident }[]): Stop | null {
    const st = lstatQuiet(path);
    if (st === null) return null; // vanished meanwhile: nothing to remove
    if ("error" in st) return failure(path.toString(), st.error);
    if (st.isDirectory()) {
      if (st.dev !== this.dev) return refused("mount_point", path.toString());
      const id = { dev: st.dev, ino: st.ino };
      if (path.length <= MAX_WALK_PATH) subdirs.push({ path, id });
      else if (this.remove) return this.relocate(path, id);
      // The checking walk stops at the depth limit: what is below is checked as its own
      // tombstone, before anything in it is removed.
      return null;
    }
    if (!this.remove) return null;
    // A file, symlink (the link itself), socket, FIFO or device node: unlinked, never opened.
    const err = attempt(() => {
      unlinkSync(path);
    });
    if (err === null) this.files += 1;
    else if (errCode(err) !== "ENOENT") return failure(path.toString(), err);
    return null;
  }

  /** Move a subtree too deep to walk into the tree root, as a tombstone of its own. */
  private relocate(path: Buffer, id: Ident): Stop | null {
    const deep = this.deep;
    if (deep?.opts.relocate === undefined) {
      return {
        kind: "failed",
        path: path.subarray(0, 256).toString(),
        code: "ENAMETOOLONG",
        message: `a directory deeper than ${MAX_WALK_PATH} bytes of path, and no tombstone to move it to`,
      };
    }
    const name = deep.opts.relocate();
    const target = `${deep.root}/${name}`;
    const err = attempt(() => {
      renameSync(path, target);
    });
    if (err !== null)
      return errCode(err) === "ENOENT" ? null : failure(path.subarray(0, 256).toString(), err);
    const moved = lstatQuiet(target);
    if (
      moved === null ||
      "error" in moved ||
      !moved.isDirectory() ||
      moved.dev !== id.dev ||
      moved.ino !== id.ino
    ) {
      return {
        kind: "failed",
        path: target,
        code: "changed",
        message: "a deep subtree moved into the tree root is not the directory that was walked",
      };
    }
    deep.opts.onRelocated?.(name);
    return null;
  }

  /**
   * List `path` (last seen as `id`) in batches and hand each batch to `act`, each only while
   * `path` is still that directory (checked after opening it and before each batch).
   */
  private async list(
    path: Buffer,
    id: Ident,
    act: (batch: readonly Buffer[]) => Promise<Stop | null>,
  ): Promise<Stop | "vanished" | null> {
    const before = this.recheck(path, id);
    if (before !== null) return before;
    let dir: Dir;
    try {
      dir = opendirSync(path, BUFFER_NAMES);
    } catch (err: unknown) {
      return errCode(err) === "ENOENT" ? "vanished" : failure(path.toString(), err);
    }
    try {
      const opened = this.recheck(path, id);
      if (opened !== null) return opened;
      for (;;) {
        const batch: Buffer[] = [];
        while (batch.length < BATCH) {
          const e = dir.readSync();
          if (e === null) break;
          // opendir with encoding "buffer" gives the names as bytes (the typings say string)
          batch.push(e.name as unknown as Buffer);
        }
        if (batch.length === 0) return null;
        const still = this.recheck(path, id);
        if (still !== null) return still === "vanished" ? "vanished" : still;
        const stop = await act(batch);
        if (stop !== null) return stop;
      }
    } catch (err: unknown) {
      return errCode(err) === "ENOENT" ? "vanished" : failure(path.toString(), err);
    } finally {
      try {
        dir.closeSync();
      } catch {
        // already closed by a failed read: nothing to do
      }
    }
  }

  /** null when `path` is still the directory `id`; "vanished" when it is gone. */
  private recheck(path: Buffer, id: Ident): Stop | "vanished" | null {
    const st = lstatQuiet(path);
    if (st === null) return "vanished";
    if ("error" in st) return failure(path.toString(), st.error);
    if (st.isDirectory() && st.dev === id.dev && st.ino === id.ino) return null;
    return {
      kind: "failed",
      path: path.toString(),
      code: "changed",
      message: "directory replaced during removal; not followed",
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Entombing: the pod disappears at once, under its lock.

export interface EntombPart {
  /** Absolute tree root, e.g. <hostRoot>/run/vc/sbs. */
  readonly treeRoot: string;
  /** The pod ID: a single path component. */
  readonly name: string;
}

export interface Tombstone {
  readonly treeRoot: string;
  /** The dot name the directory now has in its tree root. */
  readonly name: string;
}

export type EntombOutcome =
  /** `done[i]` is part i's tombstone, or null when the part did not exist. */
  | { readonly kind: "entombed"; readonly done: readonly (Tombstone | null)[] }
  | RefusedOutcome
  /**
   * Nothing was renamed (or every rename done was put back; `restored` false when one could not
   * be: then that part is a tombstone already, and is removed as one).
   */
  | {
      readonly kind: "failed";
      readonly path: string;
      readonly code: string;
      readonly message: string;
      readonly restored: boolean;
    };

export interface EntombOptions {
  /** A new dot name in the tree root for the pod directory `name` of part `index`. */
  readonly tombstoneName: (name: string, index: number) => string;
  /** Default /proc/self/mountinfo: a mount point at or under a part refuses it all. */
  readonly mountinfo?: string;
}

/**
 * Rename every existing part to a tombstone in its tree root, in order (config, VM, run: the
 * run directory with the lock last). Everything is checked first (real directories, not symlinks,
 * on their root's device, no mount point at or under them); a rename that fails, or a directory
 * whose (dev, ino) is not the one checked, puts back what was already renamed.
 */
export function entomb(parts: readonly EntombPart[], opts: EntombOptions): EntombOutcome {
  const found: ({ part: EntombPart; from: string; id: Ident } | null)[] = [];
  for (const part of parts) {
    const at = locate(part.treeRoot, part.name);
    if ("kind" in at) {
      // A part the layout or release does not have (no VM directory before Kata 1.2, no config
      // tree for persist sandboxes) is simply not there; a symlinked root is refused.
      if (at.kind === "absent" || (at.kind === "refused" && lstatQuiet(part.treeRoot) === null))
        found.push(null);
      else if (at.kind === "refused") return at;
      else if (at.kind === "failed") return { ...at, restored: true };
      continue;
    }
    found.push({ part, from: at.podText, id: { dev: at.pod.dev, ino: at.pod.ino } });
  }
  const table = readMountTable(opts.mountinfo ?? "/proc/self/mountinfo");
  if ("error" in table)
    return { kind: "failed", path: "", code: "EMOUNTINFO", message: table.error, restored: true };
  for (const f of found) {
    if (f === null) continue;
    const mounted = mountsUnder(table, [f.from, realPath(f.from)]);
    if (mounted[0] !== undefined) return refused("mount_point", mounted[0]);
  }
  const done: (Tombstone | null)[] = [];
  const moved: { from: string; to: string }[] = [];
  for (const [index, f] of found.entries()) {
    if (f === null) {
      done.push(null);
      continue;
    }
    const name = opts.tombstoneName(f.part.name, index);
    const to = `${f.from.slice(0, f.from.length - f.part.name.length)}${name}`;
    const err = attempt(() => {
      renameSync(f.from, to);
    });
    if (err !== null) {
      const fail = failure(f.from, err);
      return { ...fail, restored: restore(moved) };
    }
    moved.push({ from: f.from, to });
    const st = lstatQuiet(to);
    if (st === null || "error" in st || !st.isDirectory() || st.dev !== f.id.dev || st.ino !== f.id.ino) {
      return {
        kind: "failed",
        path: f.from,
        code: "changed",
        message: "the directory renamed is not the one checked",
        restored: restore(moved),
      };
    }
    done.push({ treeRoot: f.part.treeRoot, name });
  }
  return { kind: "entombed", done };
}

/** Put back renamed directories, last first, never over an existing entry; false if one stayed a tombstone. */
function restore(moved: readonly { from: string; to: string }[]): boolean {
  let all = true;
  for (const m of [...moved].reverse()) {
    if (lstatQuiet(m.from) !== null) {
      all = false;
      continue;
    }
    if (
      attempt(() => {
        renameSync(m.to, m.from);
      }) !== null
    )
      all = false;
  }
  return all;
}

// ---------------------------------------------------------------------------------------------

/** lstat without following; null when absent (ENOENT), the error when it fails otherwise. */
function lstatQuiet(path: string | Buffer): BigIntStats | { readonly error: unknown } | null {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch (error: unknown) {
    return { error };
  }
}

function attempt(op: () => void): unknown {
  try {
    op();
    return null;
  } catch (err: unknown) {
    return err ?? new Error("unknown error");
  }
}

function refused(reason: RefusalReason, path: string): RefusedOutcome {
  return { kind: "refused", reason, path };
}

function failure(path: string, err: unknown): Omit<Failed, "files" | "dirs"> {
  const code = errCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return { kind: "failed", path, code: code === "" ? "error" : code, message };
}

function errCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : "";
}
