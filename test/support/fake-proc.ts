/**
 * A fixture /proc (for --proc-root): per PID the three files the exporter reads, shaped as the
 * kernel writes them (proc(5)): `stat` with 52 fields, `statm` with 7, `cmdline` NUL-separated.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FakeProcess {
  readonly args: readonly string[];
  /** Default: the basename of args[0], cut to 15 characters as the kernel does. */
  readonly comm?: string;
  readonly state?: string;
  readonly utime?: number;
  readonly stime?: number;
  /** Field 22, clock ticks after boot. */
  readonly start?: number;
  readonly residentPages?: number;
}

/** Mark the tree as the host's PID namespace (2/comm is kthreadd). */
export function hostNamespace(root: string): void {
  writeProcess(root, 2, { args: [], comm: "kthreadd", state: "S", start: 0 });
}

export function writeProcess(root: string, pid: number, p: FakeProcess): void {
  const dir = join(root, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const comm = p.comm ?? (p.args[0] ?? "").split("/").pop()?.slice(0, 15) ?? "";
  writeFileSync(join(dir, "comm"), `${comm}\n`);
  writeFileSync(join(dir, "stat"), statLine(pid, comm, p));
  const rss = p.residentPages ?? 0;
  writeFileSync(join(dir, "statm"), `${rss * 4 + 1000} ${rss} ${Math.floor(rss / 4)} 1234 0 ${rss * 2} 0\n`);
  writeFileSync(join(dir, "cmdline"), p.args.length === 0 ? "" : `${p.args.join("\0")}\0`);
}

/** The 52 fields of a real stat line (values other than ours taken from a live QEMU's). */
function statLine(pid: number, comm: string, p: FakeProcess): string {
  const f: (string | number)[] = [
    p.state ?? "S",
    1, // ppid
    pid,
    pid,
    0,
    -1,
    4194560,
    12057,
    0,
    7,
    0,
    p.utime ?? 0,
    p.stime ?? 0,
    0,
    0,
    20,
    0,
    4, // threads
    0,
    p.start ?? 1000,
    2573213696,
    p.residentPages ?? 0,
    "18446744073709551615",
    ...Array.from({ length: 27 }, (_, i) => (i === 12 ? 17 : 0)), // field 38: exit signal SIGCHLD
  ];
  return `${pid} (${comm}) ${f.join(" ")}\n`;
}
