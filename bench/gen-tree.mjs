// Generates a synthetic virtcontainers host tree made of N clones of the Kubernetes (CRI-O) example pod.
// Every per-pod identifier is replaced consistently in every path and file text by a fresh value drawn
// from a seeded PRNG, so the same (pods, seed) always yields the same tree.
//
// CLI: node bench/gen-tree.mjs DIR N [SEED]
import { Buffer } from "node:buffer";
import { mkdirSync, writeFileSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

export const EXAMPLE_ROOT = fileURLToPath(new URL("../examples/host", import.meta.url));
export const TEMPLATE_POD_ID = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
export const POD_ROOTS = ["run/virtcontainers/pods", "var/lib/virtcontainers/pods"];

const OCI_CONFIG_KEY = "com.github.containers.virtcontainers.pkg.oci.config";
const NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const STATE_WEIGHTS = [
  ["stopped", 0.1],
  ["paused", 0.05],
];

/** mulberry32: small, fast, deterministic 32-bit PRNG. */
export function createRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export function randomHex(rng, length) {
  let out = "";
  while (out.length < length) out += rng().toString(16).padStart(8, "0");
  return out.slice(0, length);
}

function randomUuid(rng) {
  const h = randomHex(rng, 32);
  const variant = "89ab"[rng() % 4];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20)}`;
}

function randomChars(rng, alphabet, length) {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[rng() % alphabet.length];
  return out;
}

function randomDigits(rng, length) {
  return String(1_000_000_000 + (rng() % 3_000_000_000)).slice(0, length);
}

export function pickState(rng) {
  let r = rng() / 2 ** 32;
  for (const [state, weight] of STATE_WEIGHTS) {
    if (r < weight) return state;
    r -= weight;
  }
  return "running";
}

// ---------------------------------------------------------------------------------------------------------
// Template: the example pod's files, with every per-pod identifier located.

export async function walk(root, rel, out) {
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = path.posix.join(rel, entry.name);
    if (entry.isDirectory()) {
      out.dirs.push(child);
      await walk(root, child, out);
    } else if (entry.isFile()) {
      out.files.push({ rel: child, text: await readFile(path.join(root, child), "utf8") });
    }
  }
}

/** Per-pod values found in the template pod: the old value of every identifier we replace. */
export async function findIdentifiers(exampleRoot, podId) {
  const podConfig = JSON.parse(
    await readFile(path.join(exampleRoot, POD_ROOTS[1], podId, "config.json"), "utf8"),
  );
  const hypervisor = JSON.parse(
    await readFile(path.join(exampleRoot, POD_ROOTS[0], podId, "hypervisor.json"), "utf8"),
  );
  const sandbox = podConfig.Containers.find((c) => c.ID === podId);
  const annotations = JSON.parse(sandbox.Annotations[OCI_CONFIG_KEY]).annotations;
  return {
    podId,
    containerIds: podConfig.Containers.map((c) => c.ID).filter((id) => id !== podId),
    overlayIds: podConfig.Containers.map((c) => /\/overlay\/([0-9a-f]{64})\//.exec(c.RootFs)[1]),
    podName: annotations["io.kubernetes.pod.name"],
    templateHash: annotations["pod-template-hash"],
    podUid: annotations["io.kubernetes.pod.uid"],
    qemuUuid: hypervisor.UUID,
  };
}

/** Draws fresh values for one pod; returns old value -> new value. */
export function freshValues(rng, ids) {
  const map = new Map([[ids.podId, randomHex(rng, 64)]]);
  for (const id of [...ids.containerIds, ...ids.overlayIds]) map.set(id, randomHex(rng, 64));
  const hash = randomDigits(rng, ids.templateHash.length);
  const base = ids.podName.split("-").slice(0, -2).join("-");
  map.set(ids.templateHash, hash);
  map.set(ids.podName, `${base}-${hash}-${randomChars(rng, NAME_SUFFIX_ALPHABET, 5)}`);
  map.set(ids.podUid, randomUuid(rng));
  const qemuUuid = randomUuid(rng);
  map.set(ids.qemuUuid, qemuUuid);
  map.set(ids.qemuUuid.slice(0, 13), qemuUuid.slice(0, 13)); // short form used in socket names
  return map;
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Splits text into literal strings and the old values to substitute (odd indices). */
export function compile(text, pattern) {
  return text.split(pattern);
}

export function render(parts, map) {
  let out = "";
  for (let i = 0; i < parts.length; i++) out += i % 2 === 0 ? parts[i] : map.get(parts[i]);
  return out;
}

export async function loadTemplate(exampleRoot = EXAMPLE_ROOT, podId = TEMPLATE_POD_ID) {
  const ids = await findIdentifiers(exampleRoot, podId);
  const sample = freshValues(createRng(0), ids);
  const olds = [...sample.keys()].sort((a, b) => b.length - a.length); // longest first
  const pattern = new RegExp(`(${olds.map(escapeRegExp).join("|")})`);
  const tree = { dirs: [], files: [] };
  for (const root of POD_ROOTS) {
    const podDir = path.posix.join(root, podId);
    tree.dirs.push(podDir);
    await walk(exampleRoot, podDir, tree);
  }
  return {
    ids,
    olds,
    dirs: tree.dirs.map((rel) => compile(rel, pattern)),
    files: tree.files.map(({ rel, text }) => ({
      path: compile(rel, pattern),
      text: compile(text, pattern),
      isState: rel.startsWith(POD_ROOTS[0]) && path.posix.basename(rel) === "state.json",
      isPodLevel: rel.split("/").length === 5,
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Generation

/** Pod-level state.json gets the pod state; container state is forced only for stopped/paused pods. */
function applyState(text, file, podState) {
  if (!file.isState || (podState === "running" && !file.isPodLevel)) return text;
  return JSON.stringify({ ...JSON.parse(text), state: podState });
}

// Synchronous writes on purpose: for ~100k tiny files they are several times faster than fs/promises,
// whose thread-pool round trips and directory-lock contention dominate.
function writePod(dir, template, pod, stateOf) {
  for (const parts of template.dirs) mkdirSync(path.join(dir, render(parts, pod.map)), { recursive: true });
  let bytes = 0;
  for (const file of template.files) {
    const text = stateOf(render(file.text, pod.map), file, pod.state);
    writeFileSync(path.join(dir, render(file.path, pod.map)), text);
    bytes += Buffer.byteLength(text);
  }
  return bytes;
}

/** One entry per pod: its fresh values (old -> new), its ID and its state; `template.ids` as from findIdentifiers. */
export function planPods(template, count, seed) {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const map = freshValues(rng, template.ids);
    return { id: map.get(template.ids.podId), map, state: pickState(rng) };
  });
}

/**
 * Writes `pods` clones of `template` under `dir` (after creating `roots`), each with its fresh values;
 * `stateOf(text, file, podState)` sets a pod's state in the files that hold it. Returns
 * { pods, files, bytes, states, podIds }. Shared by every layout's generator.
 */
export function writeClones(dir, template, pods, seed, roots, stateOf) {
  for (const root of roots) mkdirSync(path.join(dir, root), { recursive: true });
  const plan = planPods(template, pods, seed);
  let bytes = 0;
  for (const pod of plan) bytes += writePod(dir, template, pod, stateOf);
  const states = {};
  for (const { state } of plan) states[state] = (states[state] ?? 0) + 1;
  return { pods, files: pods * template.files.length, bytes, states, podIds: plan.map((p) => p.id) };
}

/**
 * Creates DIR/run/virtcontainers/pods and DIR/var/lib/virtcontainers/pods holding `pods` clones of the
 * Kubernetes example pod. Returns { pods, files, bytes, states, podIds }.
 */
export async function generateTree(dir, pods, { seed = 1, template } = {}) {
  const tpl = template ?? (await loadTemplate());
  return writeClones(dir, tpl, pods, seed, POD_ROOTS, applyState);
}

/** The command line of a generator: `node bench/<script> DIR N [SEED]`, one JSON line of figures. */
export async function generatorCli([dir, count, seed = "1"], script, generate) {
  if (!dir || !(Number(count) >= 0)) {
    console.error(`usage: node bench/${script} DIR N [SEED]`);
    process.exit(2);
  }
  const start = performance.now();
  const stats = await generate(dir, Number(count), { seed: Number(seed) });
  const ms = performance.now() - start;
  const { podIds, ...summary } = stats;
  console.log(JSON.stringify({ dir, ...summary, firstPodId: podIds[0], ms: Math.round(ms) }));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await generatorCli(process.argv.slice(2), "gen-tree.mjs", generateTree);
}
