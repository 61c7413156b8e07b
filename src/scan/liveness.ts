/**
 * The GC's liveness rule (rule 7): what recorded in a pod is still running. It decides with
 * the same rules as the `processes` collector (format/proc.ts: `recordedMatch`, `searchMatch`)
 * over the same reads (procfs.ts), so one place knows which processes belong to a pod.
 */
import { ID_PREFIX, recordedMatch, searchMatch, splitCmdline } from "../format/proc.js";
import { CMDLINE_CAP, ProcessTable, readProcFile, validPid, type ProcSource } from "./procfs.js";

export interface LivenessQuery {
  readonly podId: string;
  /** From process.json per container. */
  readonly shims: readonly { readonly pid: number; readonly containerId: string }[];
  /** agent.json ProxyPid (0 → none). */
  readonly proxyPid: number | null;
  /** hypervisor.json UUID. */
  readonly hypervisorUuid: string | null;
}

export interface LiveProcess {
  readonly pid: number;
  readonly role: "shim" | "proxy" | "hypervisor" | "sandbox";
  /** Short, e.g. "cmdline names container <first 12 chars>"; never the cmdline (it may hold secrets). */
  readonly evidence: string;
}

export type LivenessResult =
  | { readonly kind: "checked"; readonly live: readonly LiveProcess[] }
  /** Something could not be decided (e.g. a recorded PID exists but its cmdline cannot be read): skip the pod. */
  | { readonly kind: "unverifiable"; readonly reason: string };

type PidCheck = LiveProcess | "not_live" | { readonly unverifiable: string };

/** A recorded PID is alive when <root>/<pid> exists and some argument of its cmdline contains `needle`. */
function checkRecorded(
  src: ProcSource,
  pid: number,
  role: LiveProcess["role"],
  needle: string,
  evidence: string,
): PidCheck {
  if (!validPid(pid)) return "not_live";
  const r = readProcFile(src.root, String(pid), "cmdline", CMDLINE_CAP);
  if (r.kind === "gone") return "not_live";
  if (r.kind === "unreadable")
    return { unverifiable: `${role} PID ${pid} exists but its cmdline cannot be read (${r.reason})` };
  if (needle === "")
    return { unverifiable: `${role} PID ${pid} exists and there is no ID to match its cmdline against` };
  // Any other cmdline is PID reuse (or an empty one: a zombie or kernel thread): not ours.
  return recordedMatch(splitCmdline(r.text), needle) ? { pid, role, evidence } : "not_live";
}

/**
 * What recorded in the pod is still running, per /proc at `src`:
 * - a shim: its process.json PID exists and an argument contains the container ID
 *   (cc-shim `-c <cid>`, kata-shim `-container <cid>`);
 * - the proxy: agent.json ProxyPid exists and an argument contains the pod ID (its URL);
 * - the hypervisor: any process with an argument containing the hypervisor.json UUID or
 *   "pod-<podId>" (QEMU's PID is not stored), looked up in `table` (read now when omitted).
 * An existing PID whose cmdline names something else is PID reuse: not alive. A PID that
 * exists with an unreadable cmdline, a /proc that cannot be listed, or any process whose
 * cmdline could not be read (it might be the QEMU) make the answer "unverifiable".
 * Whether `src` shows the host's processes at all is hostProcVisibility's question.
 */
export function findLiveProcesses(q: LivenessQuery, src: ProcSource, table?: ProcessTable): LivenessResult {
  if (q.podId === "") return { kind: "unverifiable", reason: "empty pod ID" };
  const checks: PidCheck[] = q.shims.map((s) =>
    checkRecorded(
      src,
      s.pid,
      "shim",
      s.containerId,
      `cmdline names container ${s.containerId.slice(0, ID_PREFIX)}`,
    ),
  );
  if (q.proxyPid !== null) {
    checks.push(
      checkRecorded(src, q.proxyPid, "proxy", q.podId, `cmdline names pod ${q.podId.slice(0, ID_PREFIX)}`),
    );
  }
  const live: LiveProcess[] = [];
  for (const c of checks) {
    if (c === "not_live") continue;
    if ("unverifiable" in c) return { kind: "unverifiable", reason: c.unverifiable };
    live.push(c);
  }
  const procs = table ?? ProcessTable.read(src);
  if (procs.error !== null) return { kind: "unverifiable", reason: procs.error };
  if (procs.unreadable.length > 0) {
    const n = procs.unreadable.length;
    return {
      kind: "unverifiable",
      reason: `${n} process${n === 1 ? "" : "es"} with an unreadable cmdline (first PID ${procs.unreadable[0] ?? 0}) may be the hypervisor`,
    };
  }
  // A recorded shim or proxy also names the sandbox: report it once, under its recorded role.
  const recorded = new Set(live.map((p) => p.pid));
  const needles = { podId: q.podId, uuid: q.hypervisorUuid ?? "" };
  for (const [pid, args] of procs.entries()) {
    const m = searchMatch(args, needles);
    if (m !== null && (m.role !== "sandbox" || !recorded.has(pid))) live.push({ pid, ...m });
  }
  return { kind: "checked", live: sortLive(live) };
}

const ROLE_ORDER: Readonly<Record<LiveProcess["role"], number>> = {
  hypervisor: 0,
  proxy: 1,
  shim: 2,
  sandbox: 3,
};

/** By PID then role; one entry per (PID, role). */
function sortLive(live: readonly LiveProcess[]): LiveProcess[] {
  const seen = new Set<string>();
  return [...live]
    .sort((a, b) => a.pid - b.pid || ROLE_ORDER[a.role] - ROLE_ORDER[b.role])
    .filter((p) => {
      const key = `${p.pid}/${p.role}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
