/**
 * Shared helpers of the integration tests: temporary host roots, free ports, polling with a
 * deadline, child processes that are always reaped, raw HTTP and a small exposition parser.
 */
export { TempDirs, copyExample, makeWritable } from "../support/temp.js";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(REPO, "dist", "cli.js");
export const EXAMPLE = join(REPO, "examples", "host");
export const RUN = "run/virtcontainers/pods";
export const CFG = "var/lib/virtcontainers/pods";

/** The CRI-O Kubernetes pod (3 containers, 3 devices) and the Docker pod of the example tree. */
export const K8S_POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
export const DOCKER_POD = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than a source file. */
export function ensureBuilt(): void {
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestMtime(join(REPO, "src"))) {
    execFileSync("npm", ["run", "build"], { cwd: REPO, stdio: "pipe" });
  }
}

/** Number of regular files under `dir`. */
export function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countFiles(join(dir, e.name));
    else if (e.isFile()) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// bench/gen-tree.mjs, typed

export interface GeneratedTree {
  readonly pods: number;
  readonly files: number;
  readonly podIds: readonly string[];
  readonly states: Readonly<Record<string, number>>;
}

export interface GenTree {
  readonly generateTree: (
    dir: string,
    pods: number,
    opts?: { seed?: number; template?: unknown },
  ) => Promise<GeneratedTree>;
  readonly loadTemplate: () => Promise<unknown>;
}

const GEN_TREE_URL = pathToFileURL(join(REPO, "bench", "gen-tree.mjs")).href;

/** The tree generator (a plain .mjs module without type declarations). */
export async function loadGenTree(): Promise<GenTree> {
  return (await import(GEN_TREE_URL)) as GenTree;
}

// ---------------------------------------------------------------------------------------------
// Time

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` until it returns something other than undefined; fails after `timeoutMs`
 * with `what` and the last thing `describe` reported (or the last error thrown by `probe`).
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> | string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = null;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      let detail = lastError instanceof Error ? lastError.message : "";
      if (opts.describe !== undefined) detail = `${detail} ${await opts.describe()}`.trim();
      throw new Error(`timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${what}; ${detail}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}

// ---------------------------------------------------------------------------------------------
// Ports and processes

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error("no port from the kernel"));
      });
    });
  });
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process whose output is kept and whose exit is a promise. */
export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  private out = "";
  private err = "";
  private exit: Exit | null = null;

  constructor(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string) {
    this.proc = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      this.out += d;
    });
    this.proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.err += d;
    });
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.once("error", (error) => {
        this.err += `spawn error: ${error.message}\n`;
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** null while running. */
  get exitStatus(): Exit | null {
    return this.exit;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<Exit> {
    if (this.exit !== null) return this.exit;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (this.exit === null) this.proc.kill("SIGKILL");
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Everything written to stdout and stderr so far. */
  get output(): string {
    return this.out + this.err;
  }

  describe(): string {
    const status = this.exit === null ? "running" : `exited ${JSON.stringify(this.exit)}`;
    return `[${status}] stdout: ${this.out.slice(-2000)} stderr: ${this.err.slice(-2000)}`;
  }
}

/** The environment for a child: PATH only, plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", ...extra };
}

/** Starts `node dist/cli.js serve ...`. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = childEnv()): Child {
  return new Child(process.execPath, [CLI, ...args], env, REPO);
}

export interface Exporter {
  readonly child: Child;
  readonly base: string;
  readonly port: number;
}

/** `serve` on `hostRoot`, listening on 127.0.0.1:`port` as node-a, then `extraArgs`. */
export function serveArgs(hostRoot: string, port: number, extraArgs: readonly string[] = []): string[] {
  return [
    "serve",
    "--host-root",
    hostRoot,
    "--listen",
    `127.0.0.1:${port}`,
    "--node-name",
    "node-a",
    ...extraArgs,
  ];
}

/** Starts the exporter on 127.0.0.1:<free port> and waits for /readyz 200. */
export async function startExporter(hostRoot: string, extraArgs: readonly string[] = []): Promise<Exporter> {
  const port = await freePort();
  const child = startCli(serveArgs(hostRoot, port, extraArgs));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base, child);
  } catch (err: unknown) {
    await child.stop();
    throw err;
  }
  return { child, base, port };
}

export async function waitReady(base: string, child: Child): Promise<void> {
  await pollUntil(
    `${base}/readyz to answer 200`,
    async () => {
      if (child.exitStatus !== null) throw new Error("the exporter exited");
      return (await httpGet(`${base}/readyz`)).status === 200 ? true : undefined;
    },
    { timeoutMs: 10_000, describe: () => child.describe() },
  );
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as sent (not decompressed). */
  readonly body: Buffer;
}

/** GET without any automatic decompression (global fetch would gunzip). */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Exposition text

export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a text-format 0.0.4 exposition (comments and blank lines skipped). */
export function parseExposition(text: string): ParsedSample[] {
  const out: ParsedSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m?.[1] === undefined || m[3] === undefined) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL_PAIR)) {
      if (l[1] !== undefined && l[2] !== undefined) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples of `name` whose labels include every pair of `match`. */
export function select(
  samples: readonly ParsedSample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): ParsedSample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample of `name` matching `match`; undefined when there is none. */
export function valueOf(
  samples: readonly ParsedSample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number | undefined {
  const found = select(samples, name, match);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}`);
  return found[0]?.value;
}

/** The `# TYPE` lines of an exposition, sorted. */
export function typeLines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("# TYPE "))
    .sort();
}
