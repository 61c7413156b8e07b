// Sanity checks for a tree made by gen-tree.mjs: every file parses as JSON (except empty `lock` files),
// every embedded OCI spec string parses, no identifier of the template pod remains, pod directories
// match the IDs in their config.json. A tree made by gen-persist-tree.mjs (it has run/vc/sbs) is checked
// the same way, except that its empty files are the sockets, `pid` is the QEMU pid file, and sandbox
// directories must match `SandboxContainer` in their persist.json.
//
// CLI: node bench/check-tree.mjs DIR
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadPersistTemplate, SANDBOX_ROOT } from "./gen-persist-tree.mjs";
import { loadTemplate, POD_ROOTS } from "./gen-tree.mjs";

const OCI_CONFIG_KEY = "com.github.containers.virtcontainers.pkg.oci.config";

async function* walkFiles(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFiles(child);
    else if (entry.isFile()) yield child;
  }
}

/** Parses every embedded OCI spec string found anywhere in `value`; returns how many it parsed. */
function parseEmbeddedSpecs(value) {
  if (value === null || typeof value !== "object") return 0;
  let count = 0;
  for (const [key, child] of Object.entries(value)) {
    if (key === OCI_CONFIG_KEY && typeof child === "string") {
      JSON.parse(child);
      count++;
    } else count += parseEmbeddedSpecs(child);
  }
  return count;
}

function checkPersistFile(file, text, report) {
  const name = path.basename(file);
  if (text === "") {
    if (!name.endsWith(".sock")) report.errors.push(`${file}: empty`);
    return;
  }
  if (name === "pid") {
    if (!/^[1-9][0-9]*\n$/.test(text)) report.errors.push(`${file}: not a pid file`);
    return;
  }
  const json = JSON.parse(text);
  report.specs += parseEmbeddedSpecs(json);
  if (name !== "persist.json") return;
  const dir = path.basename(path.dirname(file));
  if (path.basename(path.dirname(path.dirname(file))) === "sbs") {
    report.states[json.State] = (report.states[json.State] ?? 0) + 1;
    if (json.SandboxContainer !== dir) {
      report.errors.push(`${file}: SandboxContainer ${json.SandboxContainer} does not match its directory`);
    }
  } else if (json.Process?.Token !== dir) {
    report.errors.push(`${file}: Process.Token ${json.Process?.Token} does not match its directory`);
  }
}

function checkFile(file, text, olds, report, persist) {
  report.files++;
  report.bytes += Buffer.byteLength(text);
  const leftover = olds.find((old) => text.includes(old) || file.includes(old));
  if (leftover) report.errors.push(`${file}: template value ${leftover} remains`);
  if (persist) {
    checkPersistFile(file, text, report);
    return;
  }
  if (text === "") {
    if (path.basename(file) !== "lock") report.errors.push(`${file}: empty`);
    return;
  }
  const json = JSON.parse(text);
  report.specs += parseEmbeddedSpecs(json);
  if (path.basename(file) === "state.json") report.states[json.state] = (report.states[json.state] ?? 0) + 1;
  if (path.basename(file) === "config.json" && path.basename(path.dirname(file)) !== json.ID) {
    report.errors.push(`${file}: ID ${json.ID} does not match its directory`);
  }
}

export async function checkTree(dir) {
  const persist = existsSync(path.join(dir, SANDBOX_ROOT));
  const { olds } = await (persist ? loadPersistTemplate() : loadTemplate());
  const report = {
    layout: persist ? "persist" : "virtcontainers",
    pods: 0,
    files: 0,
    bytes: 0,
    specs: 0,
    states: {},
    errors: [],
  };
  report.pods = (await readdir(path.join(dir, persist ? SANDBOX_ROOT : POD_ROOTS[0]))).length;
  for await (const file of walkFiles(dir)) {
    try {
      checkFile(file, await readFile(file, "utf8"), olds, report, persist);
    } catch (err) {
      report.errors.push(`${file}: ${err.message}`);
    }
  }
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await checkTree(process.argv[2]);
  console.log(JSON.stringify({ ...report, errors: report.errors.slice(0, 20) }, null, 2));
  if (report.errors.length > 0) process.exit(1);
}
