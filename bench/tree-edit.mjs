// Live edits of a generated tree for the server sections: pod state changes (in place, in the runtime's
// compact JSON), added and removed pods. `restore()` puts the tree back as it was.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateTree, POD_ROOTS } from "./gen-tree.mjs";

export const STATES = ["running", "paused", "stopped"];
const ADDED_SEED_BASE = 0x5eed_0000;

export class TreeEdits {
  constructor(root, template) {
    this.root = root;
    this.template = template;
    this.originals = new Map(); // pod id -> original state.json text
    this.added = []; // pod ids, oldest first
    this.addedCount = 0;
  }

  /** Pod ids of the run tree, sorted. */
  podIds() {
    return readdirSync(path.join(this.root, POD_ROOTS[0])).sort();
  }

  statePath(id) {
    return path.join(this.root, POD_ROOTS[0], id, "state.json");
  }

  readState(id) {
    return JSON.parse(readFileSync(this.statePath(id), "utf8")).state;
  }

  /** Rewrites the pod's state.json in place (truncate + write, as the runtime does), key order kept. */
  setState(id, state) {
    const file = this.statePath(id);
    const text = readFileSync(file, "utf8");
    if (!this.originals.has(id)) this.originals.set(id, text);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(text), state }));
  }

  /** Adds one freshly generated pod (a new seed each time); returns its id. */
  async addPod() {
    const seed = ADDED_SEED_BASE + this.addedCount++;
    const { podIds } = await generateTree(this.root, 1, { seed, template: this.template });
    this.added.push(podIds[0]);
    return podIds[0];
  }

  /** Removes the oldest pod added by `addPod`, if any; returns its id. */
  removeOldestAdded() {
    const id = this.added.shift();
    if (id !== undefined) this.removePod(id);
    return id;
  }

  removePod(id) {
    for (const root of POD_ROOTS) rmSync(path.join(this.root, root, id), { recursive: true, force: true });
  }

  /** Removes every added pod and writes back every changed state file. */
  restore() {
    while (this.added.length > 0) this.removeOldestAdded();
    for (const [id, text] of this.originals) writeFileSync(this.statePath(id), text);
    this.originals.clear();
  }
}
