/**
 * The host's `/proc/<pid>` files this exporter reads (proc(5)), and the rules that say which
 * process belongs to a pod. PURE: text in, typed values out; the reads are in scan/procfs.ts.
 *
 * Both the GC's liveness rule and the `processes` collector decide with these functions, so one
 * place knows which processes belong to a pod:
 * - a PID the runtime recorded is the pod's when its command line names what the record is
 *   about (`recordedMatch`): a shim names its container ID, a proxy, hypervisor or virtiofsd
 *   the sandbox ID (or the VM UUID);
 * - a process found by searching command lines is the pod's by `searchMatch`: the VM UUID,
 *   `pod-<id>` / `sandbox-<id>` (QEMU's `-name`) make it the hypervisor; the sandbox ID alone
 *   (`-id <id>` of containerd-shim-kata-v2, virtiofsd's socket under `/run/vc/vm/<id>/`) makes
 *   it "sandbox", whose role the collector takes from the program name (`roleOfCommand`).
 */

/** What a process does for a pod's VM; the collector's `role` label. */
export type ProcessRole = "hypervisor" | "shim" | "proxy" | "virtiofsd";
export const PROCESS_ROLES: readonly ProcessRole[] = ["hypervisor", "proxy", "shim", "virtiofsd"];

/** The fields of /proc/<pid>/stat used here; times in clock ticks (USER_HZ). */
export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), X (dead), ... */
  readonly state: string;
  /** Field 14. */
  readonly utimeTicks: number;
  /** Field 15. */
  readonly stimeTicks: number;
  /** Field 22: start time after boot; with the PID, it names one process for good. */
  readonly startTimeTicks: number;
}

export type ProcParse<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/**
 * `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so the fields are
 * counted from the last ")".
 */
export function parseProcStat(text: string): ProcParse<ProcStat> {
  const close = text.lastIndexOf(")");
  if (close < 0 || !/^\d+ \(/.test(text)) return { ok: false, error: "no `pid (comm)` prefix" };
  // Fields 3 (state) to 22 (start time), without splitting the whole line.
  const fields: string[] = [];
  let at = close + 2;
  while (fields.length < 20 && at <= text.length) {
    let end = text.indexOf(" ", at);
    if (end < 0) end = text.length;
    fields.push(text.slice(at, end).trimEnd());
    at = end + 1;
  }
  const state = fields[0] ?? "";
  const utime = tickField(fields[11]);
  const stime = tickField(fields[12]);
  const start = tickField(fields[19]);
  if (!/^[A-Za-z]$/.test(state) || utime === null || stime === null || start === null)
    return { ok: false, error: `${fields.length + 2} fields, or a non-numeric time` };
  return { ok: true, value: { state, utimeTicks: utime, stimeTicks: stime, startTimeTicks: start } };
}

function tickField(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,19}$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** `/proc/<pid>/statm`: `size resident shared text lib data dt`, in pages; the resident pages. */
export function parseProcStatm(text: string): ProcParse<number> {
  const f = text.trim().split(" ");
  const resident = tickField(f[1]);
  if (f.length < 7 || resident === null) return { ok: false, error: `${f.length} fields` };
  return { ok: true, value: resident };
}

/** A zombie or dead process: its CPU is final, its memory gone. */
export function hasExited(s: ProcStat): boolean {
  return s.state === "Z" || s.state === "X" || s.state === "x";
}

/** NUL-separated arguments; an empty cmdline (zombie, kernel thread) has none. */
export function splitCmdline(text: string): string[] {
  return text.split("\0").filter((a) => a !== "");
}

/**
 * The role a program name says, from argv[0]'s first word (a process may rewrite argv[0] into
 * one string with spaces) without its directory: QEMU of every generation (`qemu-system-*`,
 * `qemu-lite-*`, `qemu-kvm`, Kata's `qemu-*` builds), Cloud Hypervisor, Firecracker; cc-shim,
 * kata-shim, containerd-shim-kata-v2; cc-proxy, kata-proxy; virtiofsd. Null for anything else.
 */
export function roleOfCommand(args: readonly string[]): ProcessRole | null {
  const first = (args[0] ?? "").trimStart().split(/\s/, 1)[0] ?? "";
  const name = first.slice(first.lastIndexOf("/") + 1);
  return NAME_ROLES.find(([re]) => re.test(name))?.[1] ?? null;
}

const NAME_ROLES: readonly (readonly [RegExp, ProcessRole])[] = [
  [/^qemu(-|$)/, "hypervisor"],
  [/^(cloud-hypervisor|firecracker)$/, "hypervisor"],
  [/^(cc-shim|kata-shim|containerd-shim-kata-v2)$/, "shim"],
  [/^(cc-proxy|kata-proxy)$/, "proxy"],
  [/^virtiofsd$/, "virtiofsd"],
];

export const ID_PREFIX = 12;
/**
 * A pod ID shorter than this could appear inside unrelated arguments by chance: alone, it is
 * matched only as a whole argument (`-id <id>`), never as part of one.
 */
export const MIN_ID_FOR_SEARCH = 16;

/** A recorded PID's process is the one recorded when some argument contains `needle` (never ""). */
export function recordedMatch(args: readonly string[], needle: string): boolean {
  return needle !== "" && args.some((a) => a.includes(needle));
}

/** What a searched command line says about one pod. */
export interface SearchMatch {
  /** "sandbox": names the sandbox ID only; what it is comes from its name. */
  readonly role: "hypervisor" | "sandbox";
  /** Short; never the command line (it may hold secrets). */
  readonly evidence: string;
}

/** The strings a search looks for, for one pod. */
export interface PodNeedles {
  readonly podId: string;
  /** The VM UUID ("" when unknown). */
  readonly uuid: string;
}

/** The strings whose presence `searchMatch` may act on (each at least MIN_ID_FOR_SEARCH long, or the QEMU names). */
export function searchNeedles(p: PodNeedles): string[] {
  const out = [`pod-${p.podId}`, `sandbox-${p.podId}`];
  if (p.uuid !== "") out.push(p.uuid);
  if (p.podId.length >= MIN_ID_FOR_SEARCH) out.push(p.podId);
  return out;
}

/**
 * Whether a command line found by searching belongs to the pod: the UUID first, then QEMU's
 * `-name pod-<id>` (virtcontainers) / `sandbox-<id>` (Kata), then the sandbox ID alone: inside
 * any argument when it is long enough not to appear by chance, else as a whole argument. For the
 * GC's liveness rule a false match keeps a pod, which is the safe side.
 */
export function searchMatch(args: readonly string[], p: PodNeedles): SearchMatch | null {
  if (p.podId === "") return null;
  if (p.uuid !== "" && args.some((a) => a.includes(p.uuid)))
    return { role: "hypervisor", evidence: `cmdline names hypervisor UUID ${p.uuid.slice(0, 8)}` };
  for (const name of [`pod-${p.podId}`, `sandbox-${p.podId}`]) {
    if (args.some((a) => a.includes(name)))
      return {
        role: "hypervisor",
        evidence: `cmdline names ${name.slice(0, name.indexOf("-") + 1 + ID_PREFIX)}`,
      };
  }
  const id = p.podId;
  const names = id.length >= MIN_ID_FOR_SEARCH ? (a: string) => a.includes(id) : (a: string) => a === id;
  if (args.some(names))
    return { role: "sandbox", evidence: `cmdline names the sandbox ${p.podId.slice(0, ID_PREFIX)}` };
  return null;
}

/** QEMU's `-pidfile` (`/run/vc/vm/<id>/pid`, Kata 1.7+): a decimal PID and a newline. */
export function parsePidFile(text: string): ProcParse<number> {
  const t = text.trim();
  if (!/^\d{1,7}$/.test(t)) return { ok: false, error: "not a decimal PID" };
  const pid = Number(t);
  return pid > 1 ? { ok: true, value: pid } : { ok: false, error: `PID ${pid}` };
}
