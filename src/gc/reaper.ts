/**
 * The only code in the project that deletes (GC rule 8): removes one pod directory, after the
 * guards have passed, while the caller holds the pod's runtime lock.
 *
 * - The pod directory must be a real directory directly in a real tree root, on the root's
 *   filesystem (a pod directory that is itself a mount point is refused).
 * - A symlink is never followed: it is unlinked as a link, its target left alone.
 * - A mount point is never crossed: every directory must be on the pod directory's device
 *   (st_dev). The whole tree is checked before anything is removed, so a refusal normally
 *   leaves the pod untouched; a mount that appears between that check and the removal stops
 *   the removal where it is met, leaving the mount and everything not yet removed in place.
 * - Files, symlinks, sockets and FIFOs are unlinked without being opened; directories are
 *   removed bottom-up. Names are handled as bytes, so any file name can be removed.
 * - Each directory's (dev, ino) is checked right before it is listed and right after, so a
 *   directory swapped for a symlink or another directory is not walked.
 *
 * Residual race: the operations go through paths, so a directory swapped between the check
 * after its listing and an unlink/rmdir of one of its entries would redirect that one call.
 * Only root can do that here (the trees are root-owned) and the runtime, which holds the same
 * flock, does not touch a pod while we hold it. Bind mounts from the same filesystem have the
 * same st_dev and are not seen by the walk: the mount table is read again right before removing
 * (besides the runner's own mount guard).
 *
 * Any error (EACCES, EBUSY, ...) stops the removal of the pod, leaves the rest in place and is
 * returned with the counts so far; nothing throws. Synchronous: a pod directory is small.
 */
import { lstatSync, readdirSync, realpathSync, rmdirSync, unlinkSync, type BigIntStats } from "node:fs";
import { mountsUnder, readMountTable } from "./guards.js";

export interface RemoveOptions {
  /** The tree holding pod directories, e.g. <hostRoot>/run/virtcontainers/pods. */
  readonly treeRoot: string;
  /** The pod ID: a single path component. */
  readonly name: string;
  /**
   * The mount table read right before removing (default /proc/self/mountinfo): a mount point at
   * or under the pod directory, by its path or its real path, refuses the removal. Bind mounts
   * from the same filesystem share st_dev, so the walk alone cannot see them.
   */
  readonly mountinfo?: string;
}

export type RefusalReason =
  "not_directory" | "symlink" | "invalid_name" | "root_not_directory" | "mount_point";

export type RemoveOutcome =
  | { readonly kind: "removed"; readonly files: number; readonly dirs: number }
  /** Already gone: not an error. */
  | { readonly kind: "absent" }
  | { readonly kind: "refused"; readonly reason: RefusalReason; readonly path: string }
  | {
      readonly kind: "failed";
      readonly path: string;
      readonly code: string;
      readonly message: string;
      readonly files: number;
      readonly dirs: number;
    };

type Refused = Extract<RemoveOutcome, { kind: "refused" }>;
type Failed = Extract<RemoveOutcome, { kind: "failed" }>;
/** Why a walk stopped. */
type Stop = Refused | Omit<Failed, "files" | "dirs">;

interface Ident {
  readonly dev: bigint;
  readonly ino: bigint;
}

const SLASH = Buffer.from("/");

/** Remove <treeRoot>/<name> and everything below it, never following a symlink or crossing a mount. */
export function removePodDirectory(opts: RemoveOptions): RemoveOutcome {
  const rootText = opts.treeRoot.replace(/(.)\/+$/, "$1");
  const podText = `${rootText === "/" ? "" : rootText}/${opts.name}`;
  if (!validName(opts.name)) return refused("invalid_name", podText);

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
  const table = readMountTable(opts.mountinfo ?? "/proc/self/mountinfo");
  if ("error" in table)
    return { kind: "failed", path: podText, code: "EMOUNTINFO", message: table.error, files: 0, dirs: 0 };
  const mounted = mountsUnder(table, [podText, realPath(podText)]);
  if (mounted[0] !== undefined) return refused("mount_point", mounted[0]);

  const podPath = Buffer.from(podText);
  const id: Ident = { dev: pod.dev, ino: pod.ino };
  // First walk: check the whole tree, remove nothing. Second: the same checks, and remove.
  const check = new Walk(pod.dev, false);
  const checked = check.tree(podPath, id);
  if (checked !== null) return checked.kind === "refused" ? checked : { ...checked, files: 0, dirs: 0 };
  const walk = new Walk(pod.dev, true);
  const stop = walk.tree(podPath, id);
  if (stop === null) return { kind: "removed", files: walk.files, dirs: walk.dirs };
  return stop.kind === "refused" ? stop : { ...stop, files: walk.files, dirs: walk.dirs };
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

class Walk {
  files = 0;
  dirs = 0;

  constructor(
    private readonly dev: bigint,
    private readonly remove: boolean,
  ) {}

  /** Walk (and, when removing, remove) the directory `path` last seen as `id`; null when done. */
  tree(path: Buffer, id: Ident): Stop | null {
    const names = this.list(path, id);
    if (names === "vanished") return null;
    if (!Array.isArray(names)) return names;
    for (const name of names) {
      const stop = this.entry(Buffer.concat([path, SLASH, name]));
      if (stop !== null) return stop;
    }
    if (!this.remove) return null;
    const err = attempt(() => {
      rmdirSync(path);
    });
    if (err === null) this.dirs += 1;
    else if (errCode(err) !== "ENOENT") return failure(path.toString(), err);
    return null;
  }

  private entry(path: Buffer): Stop | null {
    const st = lstatQuiet(path);
    if (st === null) return null; // vanished meanwhile: nothing to remove
    if ("error" in st) return failure(path.toString(), st.error);
    if (st.isDirectory()) {
      if (st.dev !== this.dev) return refused("mount_point", path.toString());
      return this.tree(path, { dev: st.dev, ino: st.ino });
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

  /** The entry names of `path`, listed only while it is still the directory `id`. */
  private list(path: Buffer, id: Ident): Buffer[] | Stop | "vanished" {
    const before = this.recheck(path, id);
    if (before !== null) return before;
    let names: Buffer[];
    try {
      names = readdirSync(path, { encoding: "buffer" });
    } catch (err: unknown) {
      return errCode(err) === "ENOENT" ? "vanished" : failure(path.toString(), err);
    }
    return this.recheck(path, id) ?? names;
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

function refused(reason: RefusalReason, path: string): Refused {
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
