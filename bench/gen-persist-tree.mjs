// Generates a synthetic Kata 2.x host tree (layout `persist`) made of N clones of the example's Kubernetes
// pod as test/fixtures/layouts/kata-2.x/host writes it: per pod /run/vc/sbs/<id> (persist.json of the
// sandbox and of each container, shim-monitor.sock), /run/vc/vm/<id> (QEMU pid file, sockets) and the
// three CRI-O bundles /run/containers/storage/overlay-containers/<cid>/userdata/config.json.
//
// The fixture is built from the reference example (test/fixtures/layouts/build.mjs), so it carries the
// example's identifiers; they are found in the example as gen-tree.mjs does and replaced consistently in
// every path and file text by the same seeded values (sandbox ID, container IDs, overlay storage IDs, pod
// name and pod-template-hash, pod UID, QEMU UUID). The same (pods, seed) always yields the same tree.
//
// CLI: node bench/gen-persist-tree.mjs DIR N [SEED]
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  EXAMPLE_ROOT,
  TEMPLATE_POD_ID,
  compile,
  createRng,
  escapeRegExp,
  findIdentifiers,
  freshValues,
  generatorCli,
  walk,
  writeClones,
} from "./gen-tree.mjs";

export const PERSIST_FIXTURE_ROOT = fileURLToPath(
  new URL("../test/fixtures/layouts/kata-2.x/host", import.meta.url),
);
export const SANDBOX_ROOT = "run/vc/sbs";

/**
 * Go's encoding/json escapes <, >, & and U+2028/U+2029 inside strings (HTML-safe); JSON.stringify does
 * not. Outside strings JSON has none of these characters, so escaping the whole text is exact.
 */
function goJson(value) {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** persist.json with its `State` set, written as json.Encoder writes it (compact, HTML-safe, "\n"). */
function withState(text, state) {
  return `${goJson({ ...JSON.parse(text), State: state })}\n`;
}

/** Where a file of the template sits: the sandbox persist.json, a container's, or anything else. */
function kindOf(rel, podId) {
  const parts = rel.split("/");
  if (parts.at(-1) !== "persist.json" || parts.slice(0, 4).join("/") !== `${SANDBOX_ROOT}/${podId}`)
    return "other";
  return parts.length === 5 ? "sandbox" : "container";
}

export async function loadPersistTemplate(
  fixtureRoot = PERSIST_FIXTURE_ROOT,
  exampleRoot = EXAMPLE_ROOT,
  podId = TEMPLATE_POD_ID,
) {
  const ids = await findIdentifiers(exampleRoot, podId);
  const olds = [...freshValues(createRng(0), ids).keys()].sort((a, b) => b.length - a.length); // longest first
  const pattern = new RegExp(`(${olds.map(escapeRegExp).join("|")})`);
  const tree = { dirs: [], files: [] };
  await walk(fixtureRoot, "", tree);

  const all = tree.files.map((f) => `${f.rel}\n${f.text}`).join("\n");
  const missing = olds.filter((old) => !all.includes(old));
  if (missing.length > 0) {
    throw new Error(`${fixtureRoot} does not hold the example's ${missing.join(", ")}: rebuild the fixtures`);
  }
  const shared = tree.files.filter((f) => compile(f.rel, pattern).length === 1);
  if (shared.length > 0) {
    throw new Error(
      `files of ${fixtureRoot} outside any pod's directories: ${shared.map((f) => f.rel).join(", ")}`,
    );
  }
  const files = tree.files.map(({ rel, text }) => {
    const kind = kindOf(rel, podId);
    // the state rewrite must give back the fixture's bytes when the state does not change
    if (kind !== "other" && withState(text, JSON.parse(text).State) !== text) {
      throw new Error(`${rel}: JSON.stringify does not reproduce the fixture's encoding`);
    }
    return { path: compile(rel, pattern), text: compile(text, pattern), kind };
  });
  return {
    ids,
    olds,
    // only the directories that belong to the pod; their parents are created with them
    dirs: tree.dirs.map((rel) => compile(rel, pattern)).filter((parts) => parts.length > 1),
    files,
  };
}

/** The sandbox persist.json gets the pod state; containers' only for stopped and paused pods (as gen-tree). */
function applyState(text, file, podState) {
  if (file.kind === "other" || (podState === "running" && file.kind === "container")) return text;
  return withState(text, podState);
}

/**
 * Creates DIR/run/vc/sbs, DIR/run/vc/vm and DIR/run/containers/storage/overlay-containers holding `pods`
 * clones of the Kata 2.x fixture pod. Returns { pods, files, bytes, states, podIds }, as generateTree.
 */
export async function generatePersistTree(dir, pods, { seed = 1, template } = {}) {
  const tpl = template ?? (await loadPersistTemplate());
  return writeClones(dir, tpl, pods, seed, [SANDBOX_ROOT], applyState);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await generatorCli(process.argv.slice(2), "gen-persist-tree.mjs", generatePersistTree);
}
