// The one-command demo: the exporter on a copy of the bundled example host tree, Kubernetes
// off, with a pod changing state and a pod added and removed every few seconds.
// Usage: npm run demo [-- --listen HOST:PORT] (default 127.0.0.1:10482). Ctrl-C stops it.
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateTree, loadTemplate } from "../bench/gen-tree.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
const listenArg = process.argv.indexOf("--listen");
const listen = listenArg > 0 ? process.argv[listenArg + 1] : "127.0.0.1:10482";
const STATES = ["paused", "stopped", "running"];
const STEP_MS = 3000;

const root = mkdtempSync(path.join(tmpdir(), "vce-demo-"));
cpSync(path.join(repo, "examples/host"), root, { recursive: true });
const template = await loadTemplate();
const extra = await generateTree(root, 3, { seed: 7, template });

const logFile = path.join(root, "exporter.log");
const exporter = spawn(
  process.execPath,
  [path.join(repo, "dist/cli.js"), "serve", "--host-root", root, "--listen", listen, "--kubernetes", "off"],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const log = [];
exporter.stdout.on("data", (chunk) => {
  log.push(chunk);
  writeFileSync(logFile, Buffer.concat(log));
});
exporter.on("exit", (code, signal) => {
  if (!stopping) {
    console.error(`exporter exited (${code ?? signal}); its log: ${logFile}`);
    cleanup(1);
  }
});

const url = `http://${listen}/`;
console.log(`virtcontainers-exporter demo on a copy of examples/host (${2 + extra.pods} pods) in ${root}`);
console.log(`  open ${url} and ${url}metrics   (exporter log: ${logFile}; Ctrl-C stops)`);

const podStatePath = (id) => path.join(root, "run/virtcontainers/pods", id, "state.json");
function setPodState(id, state) {
  const text = readFileSync(podStatePath(id), "utf8");
  writeFileSync(podStatePath(id), JSON.stringify({ ...JSON.parse(text), state }));
}
// Start with pods in several states: the examples are running; one clone stopped, one ready.
setPodState(extra.podIds[1], "stopped");
setPodState(extra.podIds[2], "ready");
const changing = extra.podIds[0];
let step = 0;
let added = null;
const timer = setInterval(() => {
  step++;
  if (step % 3 === 1) {
    const next = STATES[((step / 3) | 0) % STATES.length];
    setPodState(changing, next);
    console.log(`  pod ${changing.slice(0, 12)} -> ${next}`);
  } else if (added === null) {
    void generateTree(root, 1, { seed: 1000 + step, template }).then(({ podIds: [id] }) => {
      added = id;
      console.log(`  pod ${id.slice(0, 12)} added`);
    });
  } else {
    for (const tree of ["run/virtcontainers/pods", "var/lib/virtcontainers/pods"]) {
      rmSync(path.join(root, tree, added), { recursive: true, force: true });
    }
    console.log(`  pod ${added.slice(0, 12)} removed`);
    added = null;
  }
}, STEP_MS);

let stopping = false;
function cleanup(code) {
  stopping = true;
  clearInterval(timer);
  exporter.kill("SIGTERM");
  exporter.once("exit", () => {
    rmSync(root, { recursive: true, force: true });
    process.exit(code);
  });
  setTimeout(() => process.exit(code), 2000).unref();
}
process.on("SIGINT", () => cleanup(0));
process.on("SIGTERM", () => cleanup(0));
