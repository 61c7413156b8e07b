/**
 * The processes of every pod's VM on the host, sampled on a timer for the `processes` collector:
 * hypervisor, shims, proxy, virtiofsd, with their CPU time and resident memory.
 *
 * Which processes belong to a pod is decided by the rules of format/proc.ts, the same ones the
 * GC's liveness rule uses (scan/liveness.ts):
 * 1. what the runtime recorded first: shim PIDs (process.json), the proxy PID (agent.json, or
 *    an old state.json), the hypervisor PID (persist.json, Kata 1.x Cloud Hypervisor, QEMU's
 *    `/run/vc/vm/<id>/pid`), virtiofsd's PID; each is taken only when its command line names
 *    what was recorded (PIDs are reused);
 * 2. only for a pod still missing its hypervisor, or its shim when none is recorded
 *    (containerd-shim-kata-v2), a search of the command lines of the host's role programs
 *    (QEMU, Cloud Hypervisor, Firecracker, the shims and proxies, virtiofsd) for the VM UUID,
 *    `pod-<id>`/`sandbox-<id>` or the sandbox ID. Command lines are cached by PID (a new PID
 *    is read once; a cached one again after `cmdlineMaxAgeMs`, so a PID reused in between is
 *    seen at most that late) and a pod searched in
 *    vain waits 1, 2, 4 ... up to `maxSearchBackoff` samples before the next search (at once
 *    when its files change): never a full /proc walk per sample.
 * A process is remembered with its start time (/proc/<pid>/stat field 22), read before and
 * after its command line: a PID that now names another start time is another process, never
 * the one remembered.
 *
 * CPU: a role's counter is the CPU time of its live processes plus that of the role's
 * processes that exited while the pod was on the node, so it never goes backwards while the
 * pod exists; it is forgotten with the pod. A role with no live process has no series.
 */
import { join } from "node:path";
import { setImmediate as yieldLoop } from "node:timers/promises";
import { treeSet } from "../format/layout.js";
import {
  hasExited,
  parsePidFile,
  parseProcStat,
  parseProcStatm,
  recordedMatch,
  roleOfCommand,
  searchMatch,
  searchNeedles,
  splitCmdline,
  MIN_ID_FOR_SEARCH,
  PROCESS_ROLES,
  type PodNeedles,
  type ProcessRole,
  type ProcStat,
} from "../format/proc.js";
import { readRegularFile } from "./fsread.js";
import { CMDLINE_CAP, SMALL_CAP, listPids, readProcFile, readProcSmall, validPid } from "./procfs.js";
import type { PodRecord, Snapshot } from "./snapshot.js";

/** Why a sample could not read something. Bounded: a metric label. */
export type ProcessErrorReason = "unreadable" | "malformed" | "pid_file" | "proc_list";
export const PROCESS_ERROR_REASONS: readonly ProcessErrorReason[] = [
  "malformed",
  "pid_file",
  "proc_list",
  "unreadable",
];

export interface RoleUsage {
  readonly processes: number;
  /** Live processes' utime+stime plus the exited ones' (see the file comment), seconds. */
  readonly cpuSeconds: number;
  readonly residentBytes: number;
}

export interface ProcessSample {
  /** Per pod ID, per role with at least one live process. */
  readonly pods: ReadonlyMap<string, ReadonlyMap<ProcessRole, RoleUsage>>;
  readonly durationSeconds: number;
  /** What this sample could not read, counted by reason. */
  readonly errors: ReadonlyMap<ProcessErrorReason, number>;
  /** One detail per reason seen in this sample (for the log). */
  readonly errorDetails: ReadonlyMap<ProcessErrorReason, string>;
  /** Pods searched for by command line in this sample, and command lines read for it. */
  readonly searchedPods: number;
  readonly cmdlinesRead: number;
}

export interface PodProcessesOptions {
  readonly procRoot: string;
  readonly hostRoot: string;
  /** Bytes per page of statm. */
  readonly pageSize: number;
  /** USER_HZ, the unit of stat's times: 100 on every Linux architecture Kata runs on. */
  readonly clockTicks?: number;
  /** The longest wait, in samples, between two searches for a pod not fully found; default 16. */
  readonly maxSearchBackoff?: number;
  /** A cached command line is read again after this long; default 60 s. */
  readonly cmdlineMaxAgeMs?: number;
  readonly now?: () => number;
}

interface Tracked {
  readonly pid: number;
  readonly startTime: number;
  readonly role: ProcessRole;
  cpuTicks: number;
  residentPages: number;
}

interface PodState {
  record: PodRecord;
  /** What the record says (the VM pid file aside), computed once per record. */
  recorded: readonly Recorded[];
  readonly procs: Map<number, Tracked>;
  /** CPU ticks of the role's processes that exited. */
  readonly carried: Map<ProcessRole, number>;
  nextSearch: number;
  backoff: number;
}

interface Recorded {
  readonly pid: number;
  readonly role: ProcessRole;
  /** The command line must contain one of these. */
  readonly needles: readonly string[];
}

interface CachedCmdline {
  /** Only the role programs' arguments are kept. */
  readonly role: ProcessRole | null;
  readonly args: readonly string[];
  readonly readAt: number;
}

/** Reads of one sample: errors counted, first detail per reason kept. */
class Tally {
  readonly errors = new Map<ProcessErrorReason, number>();
  readonly details = new Map<ProcessErrorReason, string>();
  cmdlines = 0;

  error(reason: ProcessErrorReason, detail: string): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
    if (!this.details.has(reason)) this.details.set(reason, detail);
  }
}

type Usage = { readonly stat: ProcStat; readonly residentPages: number | null } | "gone" | "error";

export class PodProcesses {
  private readonly pods = new Map<string, PodState>();
  /** PID → pod ID of every tracked process: one process belongs to one pod. */
  private readonly owner = new Map<number, string>();
  private readonly cmdlines = new Map<number, CachedCmdline>();
  private samples = 0;
  private lastYield = 0;
  private readonly clockTicks: number;
  private readonly maxBackoff: number;
  private readonly cmdlineMaxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: PodProcessesOptions) {
    this.clockTicks = opts.clockTicks ?? 100;
    this.maxBackoff = Math.max(1, opts.maxSearchBackoff ?? 16);
    this.cmdlineMaxAgeMs = Math.max(0, opts.cmdlineMaxAgeMs ?? 60_000);
    this.now = opts.now ?? (() => performance.now());
  }

  /** Processes tracked now (for tests and the bench). */
  get tracked(): number {
    return this.owner.size;
  }

  /**
   * One sample of the snapshot's pods. It yields to the event loop every 10 ms (a first sample
   * of 1,000 pods reads thousands of files), so one caller at a time: the service never starts
   * a sample before the last one ended.
   */
  async sample(snapshot: Snapshot): Promise<ProcessSample> {
    const started = this.now();
    this.lastYield = started;
    this.samples++;
    const tally = new Tally();
    const current = new Set(snapshot.pods.map((p) => p.id));
    for (const id of [...this.pods.keys()]) if (!current.has(id)) this.forget(id);
    for (const record of snapshot.pods) {
      const st = this.state(record);
      this.refresh(record.id, st, tally);
      this.addRecorded(record, st, tally);
      await this.maybeYield();
    }
    const due = snapshot.pods.flatMap((r) => {
      const st = this.pods.get(r.id);
      return st !== undefined && this.needsSearch(r, st) && this.samples >= st.nextSearch ? [r] : [];
    });
    if (due.length > 0) await this.search(due, tally);
    return {
      pods: this.usage(snapshot),
      durationSeconds: (this.now() - started) / 1000,
      errors: tally.errors,
      errorDetails: tally.details,
      searchedPods: due.length,
      cmdlinesRead: tally.cmdlines,
    };
  }

  private async maybeYield(): Promise<void> {
    if (this.now() - this.lastYield < YIELD_MS) return;
    await yieldLoop();
    this.lastYield = this.now();
  }

  private state(record: PodRecord): PodState {
    let st = this.pods.get(record.id);
    if (st === undefined) {
      st = {
        record,
        recorded: recordedPids(record),
        procs: new Map(),
        carried: new Map(),
        nextSearch: 0,
        backoff: 1,
      };
      this.pods.set(record.id, st);
    } else if (st.record !== record) {
      // Its files changed (a rescan keeps an unchanged pod's record): look again now.
      st.record = record;
      st.recorded = recordedPids(record);
      st.nextSearch = 0;
      st.backoff = 1;
    }
    return st;
  }

  private forget(podId: string): void {
    const st = this.pods.get(podId);
    if (st !== undefined) for (const pid of st.procs.keys()) this.owner.delete(pid);
    this.pods.delete(podId);
  }

  /** Read every tracked process again; the ones gone (or whose PID is another process now) are carried. */
  private refresh(podId: string, st: PodState, tally: Tally): void {
    for (const t of [...st.procs.values()]) {
      const u = this.readUsage(t.pid, tally);
      if (u === "error") continue; // keep the last values; counted
      if (u === "gone" || u.stat.startTimeTicks !== t.startTime || hasExited(u.stat)) {
        const final = u !== "gone" && u.stat.startTimeTicks === t.startTime ? cpuOf(u.stat) : 0;
        this.exited(podId, st, t, Math.max(t.cpuTicks, final));
        continue;
      }
      t.cpuTicks = Math.max(t.cpuTicks, cpuOf(u.stat));
      if (u.residentPages !== null) t.residentPages = u.residentPages;
    }
  }

  private exited(podId: string, st: PodState, t: Tracked, cpuTicks: number): void {
    st.carried.set(t.role, (st.carried.get(t.role) ?? 0) + cpuTicks);
    st.procs.delete(t.pid);
    if (this.owner.get(t.pid) === podId) this.owner.delete(t.pid);
  }

  /** stat, then statm. "gone" also when statm vanished after stat: the process exited mid-read. */
  private readUsage(pid: number, tally: Tally): Usage {
    const stat = this.readStat(pid, tally);
    if (stat === "gone" || stat === "error") return stat;
    const r = readProcSmall(this.opts.procRoot, pid, "statm");
    if (r.kind === "gone") return "gone";
    if (r.kind === "unreadable") {
      tally.error("unreadable", `PID ${pid} statm: ${r.reason}`);
      return { stat, residentPages: null };
    }
    const pages = parseProcStatm(r.text);
    if (!pages.ok) tally.error("malformed", `PID ${pid} statm: ${pages.error}`);
    return { stat, residentPages: pages.ok ? pages.value : null };
  }

  private readStat(pid: number, tally: Tally): ProcStat | "gone" | "error" {
    const r = readProcSmall(this.opts.procRoot, pid, "stat");
    if (r.kind === "gone") return "gone";
    if (r.kind === "unreadable") {
      tally.error("unreadable", `PID ${pid} stat: ${r.reason}`);
      return "error";
    }
    const s = parseProcStat(r.text);
    if (!s.ok) {
      tally.error("malformed", `PID ${pid} stat: ${s.error}`);
      return "error";
    }
    return s.value;
  }

  private readCmdline(pid: number, tally: Tally): string[] | null {
    const r = readProcFile(this.opts.procRoot, String(pid), "cmdline", CMDLINE_CAP);
    tally.cmdlines++;
    if (r.kind === "unreadable") tally.error("unreadable", `PID ${pid} cmdline: ${r.reason}`);
    return r.kind === "ok" ? splitCmdline(r.text) : null;
  }

  /**
   * Take `pid` for the pod when its command line passes `belongs`: stat before and after the
   * command line must name the same start time (else the PID changed hands mid-read).
   */
  private adopt(
    podId: string,
    st: PodState,
    pid: number,
    role: (args: readonly string[]) => ProcessRole | null,
    tally: Tally,
  ): void {
    if (!validPid(pid) || this.owner.has(pid)) return;
    const before = this.readUsage(pid, tally);
    if (typeof before === "string" || hasExited(before.stat)) return;
    const args = this.readCmdline(pid, tally);
    const r = args === null ? null : role(args);
    if (r === null) return;
    const after = this.readStat(pid, tally);
    if (typeof after === "string" || after.startTimeTicks !== before.stat.startTimeTicks) return;
    st.procs.set(pid, {
      pid,
      startTime: before.stat.startTimeTicks,
      role: r,
      cpuTicks: cpuOf(after),
      residentPages: before.residentPages ?? 0,
    });
    this.owner.set(pid, podId);
  }

  private addRecorded(record: PodRecord, st: PodState, tally: Tally): void {
    let list = st.recorded;
    if (!hasRole(st, "hypervisor") && !list.some((r) => r.role === "hypervisor")) {
      const fromFile = this.vmPidFile(record, tally);
      if (fromFile !== null)
        list = [...list, { pid: fromFile, role: "hypervisor", needles: sandboxNeedles(record) }];
    }
    for (const rec of list) {
      if (st.procs.has(rec.pid)) continue;
      this.adopt(
        record.id,
        st,
        rec.pid,
        (args) => (rec.needles.some((n) => recordedMatch(args, n)) ? rec.role : null),
        tally,
      );
    }
  }

  /** QEMU's `-pidfile` in the pod's VM directory (Kata 1.7+); null when there is none. */
  private vmPidFile(r: PodRecord, tally: Tally): number | null {
    const vm = treeSet(r.treeSet).vm;
    if (vm === null) return null;
    const path = join(this.opts.hostRoot, vm, r.id, "pid");
    const read = readRegularFile(path, SMALL_CAP);
    if (!read.ok) {
      if (read.reason !== "missing") tally.error("pid_file", `${path}: ${read.message}`);
      return null;
    }
    const pid = parsePidFile(read.text);
    if (!pid.ok) tally.error("pid_file", `${path}: ${pid.error}`);
    return pid.ok ? pid.value : null;
  }

  /** No hypervisor known, or no shim known while none is recorded (containerd-shim-kata-v2). */
  private needsSearch(r: PodRecord, st: PodState): boolean {
    if (!hasRole(st, "hypervisor")) return true;
    return !hasRole(st, "shim") && !r.containers.some((c) => (c.process?.pid ?? 0) > 1);
  }

  /** One pass over the host's role programs for every pod due; see the file comment. */
  private async search(due: readonly PodRecord[], tally: Tally): Promise<void> {
    const pids = listPids({ root: this.opts.procRoot });
    if ("error" in pids) {
      tally.error("proc_list", pids.error);
      for (const r of due) this.backOff(r);
      return;
    }
    const index = new NeedleIndex();
    for (const r of due) index.add({ podId: r.id, uuid: r.hypervisor?.uuid ?? "" });
    const listed = new Set(pids);
    for (const pid of this.cmdlines.keys()) if (!listed.has(pid)) this.cmdlines.delete(pid);
    pids.sort((a, b) => a - b);
    for (const pid of pids) {
      await this.maybeYield();
      if (this.owner.has(pid)) continue;
      const c = this.cachedCmdline(pid, tally);
      if (c === null || c.role === null) continue;
      for (const needles of index.podsNamedIn(c.args)) {
        const st = this.pods.get(needles.podId);
        if (st === undefined || searchMatch(c.args, needles) === null) continue;
        this.adopt(
          needles.podId,
          st,
          pid,
          (args) => (searchMatch(args, needles) === null ? null : roleOfCommand(args)),
          tally,
        );
        if (this.owner.has(pid)) break;
      }
    }
    for (const r of due) this.backOff(r);
  }

  private cachedCmdline(pid: number, tally: Tally): CachedCmdline | null {
    const c = this.cmdlines.get(pid);
    if (c !== undefined && this.now() - c.readAt < this.cmdlineMaxAgeMs) return c;
    const args = this.readCmdline(pid, tally);
    if (args === null) {
      this.cmdlines.delete(pid);
      return null;
    }
    const role = roleOfCommand(args);
    const entry = { role, args: role === null ? [] : args, readAt: this.now() };
    this.cmdlines.set(pid, entry);
    return entry;
  }

  private backOff(r: PodRecord): void {
    const st = this.pods.get(r.id);
    if (st === undefined) return;
    if (!this.needsSearch(r, st)) {
      st.backoff = 1;
      return;
    }
    st.nextSearch = this.samples + st.backoff;
    st.backoff = Math.min(st.backoff * 2, this.maxBackoff);
  }

  private usage(snapshot: Snapshot): Map<string, Map<ProcessRole, RoleUsage>> {
    const out = new Map<string, Map<ProcessRole, RoleUsage>>();
    for (const r of snapshot.pods) {
      const st = this.pods.get(r.id);
      if (st === undefined || st.procs.size === 0) continue;
      const sums = new Map<ProcessRole, { n: number; ticks: number; pages: number }>();
      for (const t of st.procs.values()) {
        const s = sums.get(t.role) ?? { n: 0, ticks: st.carried.get(t.role) ?? 0, pages: 0 };
        s.n++;
        s.ticks += t.cpuTicks;
        s.pages += t.residentPages;
        sums.set(t.role, s);
      }
      const roles = new Map<ProcessRole, RoleUsage>();
      for (const role of PROCESS_ROLES) {
        const s = sums.get(role);
        if (s === undefined) continue;
        roles.set(role, {
          processes: s.n,
          cpuSeconds: s.ticks / this.clockTicks,
          residentBytes: s.pages * this.opts.pageSize,
        });
      }
      out.set(r.id, roles);
    }
    return out;
  }
}

function sandboxNeedles(r: PodRecord): string[] {
  return [r.id, r.hypervisor?.uuid ?? ""].filter((n) => n !== "");
}

/** The PIDs the runtime recorded for the pod in its files (QEMU's pid file aside). */
function recordedPids(r: PodRecord): Recorded[] {
  const out: Recorded[] = [];
  for (const c of r.containers) {
    const pid = c.process?.pid ?? 0;
    if (pid > 1) out.push({ pid, role: "shim", needles: [c.id] });
  }
  const proxy = r.agent !== null && r.agent.proxyPid > 1 ? r.agent.proxyPid : r.stateFile?.legacyProxyPid;
  if (proxy != null && proxy > 1) out.push({ pid: proxy, role: "proxy", needles: [r.id] });
  const hv = r.hypervisor?.pid ?? null;
  if (hv !== null) out.push({ pid: hv, role: "hypervisor", needles: sandboxNeedles(r) });
  const vfs = r.hypervisor?.virtiofsdPid ?? null;
  if (vfs !== null) out.push({ pid: vfs, role: "virtiofsd", needles: [r.id] });
  return out;
}

/** A sample gives the event loop a turn after this long. */
const YIELD_MS = 10;

function cpuOf(s: ProcStat): number {
  return s.utimeTicks + s.stimeTicks;
}

function hasRole(st: PodState, role: ProcessRole): boolean {
  for (const t of st.procs.values()) if (t.role === role) return true;
  return false;
}

/** Window length of the index: every searched needle of a long enough pod ID is at least this long. */
const WINDOW = MIN_ID_FOR_SEARCH;
/** Up to this many needles, plain `includes` beats building the window index. */
const PLAIN_LIMIT = 32;

/**
 * Which pods' needles occur in a command line, without testing every pod against every
 * argument: needles of at least WINDOW characters are found by looking up every WINDOW-long
 * substring of an argument (exact: the same answer as `includes`); shorter ones are tested
 * one by one (only pods with IDs shorter than MIN_ID_FOR_SEARCH have them).
 */
class NeedleIndex {
  private readonly windows = new Map<string, { readonly needle: string; readonly pod: PodNeedles }[]>();
  private readonly plain: { readonly needle: string; readonly pod: PodNeedles }[] = [];
  private long: { readonly needle: string; readonly pod: PodNeedles }[] = [];

  add(pod: PodNeedles): void {
    for (const needle of searchNeedles(pod)) {
      if (needle.length < WINDOW) this.plain.push({ needle, pod });
      else this.long.push({ needle, pod });
    }
  }

  private build(): void {
    if (this.long.length <= PLAIN_LIMIT) return;
    for (const e of this.long) {
      const key = e.needle.slice(0, WINDOW);
      const list = this.windows.get(key);
      if (list === undefined) this.windows.set(key, [e]);
      else list.push(e);
    }
    this.long = [];
  }

  podsNamedIn(args: readonly string[]): PodNeedles[] {
    if (this.windows.size === 0) this.build();
    const found = new Set<PodNeedles>();
    for (const a of args) {
      for (const e of this.plain) if (a.includes(e.needle)) found.add(e.pod);
      for (const e of this.long) if (a.includes(e.needle)) found.add(e.pod);
      if (this.windows.size === 0) continue;
      for (let i = 0; i + WINDOW <= a.length; i++) {
        const list = this.windows.get(a.slice(i, i + WINDOW));
        if (list === undefined) continue;
        for (const e of list) if (a.startsWith(e.needle, i)) found.add(e.pod);
      }
    }
    return [...found];
  }
}
