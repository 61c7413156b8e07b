import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Scanner } from "../../../src/scan/scanner.js";
import { allProblems } from "../../../src/scan/snapshot.js";
import { CFG, minimalPodConfig, RUN, STATE_RUNNING, TempDirs } from "./helpers.js";

const temp = new TempDirs();
// Removing 30,000 entries can take several seconds on a busy disk.
afterEach(() => {
  temp.cleanup();
}, 120_000);

const PODS = 5_000;

describe("bounded resources", () => {
  // A low `ulimit -n` cannot be set in-process; the scanner opens one file at a time and
  // closes it, so 5,000 pods (10,000 files, 20,000 directories) must complete cleanly.
  it(`scans ${PODS} pods without running out of descriptors`, { timeout: 120_000 }, async () => {
    const root = temp.make();
    const ids: string[] = [];
    mkdirSync(join(root, RUN), { recursive: true });
    mkdirSync(join(root, CFG), { recursive: true });
    for (let i = 0; i < PODS; i++) {
      const id = i.toString(16).padStart(64, "0");
      ids.push(id);
      mkdirSync(join(root, RUN, id));
      mkdirSync(join(root, CFG, id));
      writeFileSync(join(root, RUN, id, "state.json"), STATE_RUNNING);
      writeFileSync(join(root, CFG, id, "config.json"), minimalPodConfig(id));
    }
    const scanner = new Scanner({ hostRoot: root });
    const s = await scanner.scan();
    expect(s.pods).toHaveLength(PODS);
    expect(allProblems(s)).toEqual([]);
    expect(s.pods.map((p) => p.id)).toEqual(ids); // sorted
    expect(s.pods.every((p) => p.presence === "both" && p.state === "running" && p.vcpus === 1)).toBe(true);
    expect(s.stats).toMatchObject({ filesRead: 2 * PODS, filesReused: 0, retried: 0 });

    const again = await scanner.scan();
    expect(again.stats).toMatchObject({ filesRead: 0, filesReused: 2 * PODS });
    expect(again.pods).toHaveLength(PODS);
  });
});
