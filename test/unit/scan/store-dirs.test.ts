/**
 * The Kata 1.6-1.10 store's own directory `raw/` (in every sandbox directory of both trees) is
 * not a container; elsewhere a directory of that name is a container like any other. The
 * upstream-written trees (test/unit/scan/upstream.test.ts) check the real thing; these pin
 * the edges.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Scanner } from "../../../src/scan/scanner.js";
import { allProblems } from "../../../src/scan/snapshot.js";
import { materialize } from "../../support/upstream.js";
import { copyExample, K8S_POD, runRel, TempDirs } from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

/** crio-running of test/fixtures/upstream/kata-1.10: sandbox, infer, loader. */
const POD = "13fd88aaee6175ba67691e166471f5e3b69099c2ec959c1fea3e92f80ad599f0";

describe("store directories", () => {
  it("Kata 1.x raw/ (with files in it, in both trees) is neither a container nor a problem", async () => {
    const root = materialize(temp, "kata-1.10");
    // The store writes raw files there (filesystem.raw); a non-empty raw/ must read the same.
    writeFileSync(join(root, "run/vc/sbs", POD, "raw", "raw-0123"), "x");
    writeFileSync(join(root, "var/lib/vc/sbs", POD, "raw", "raw-4567"), "x");
    const s = await new Scanner({ hostRoot: root }).scan();
    const pod = s.pods.find((p) => p.id === POD);
    expect(pod?.containers.map((c) => c.id)).not.toContain("raw");
    expect(pod?.containers).toHaveLength(3);
    expect(allProblems(s)).toEqual([]);
  });

  it("a raw/ directory in a virtcontainers pod is read as a container (no store there)", async () => {
    const root = copyExample(temp);
    mkdirSync(join(root, runRel(K8S_POD, "raw")));
    const s = await new Scanner({ hostRoot: root }).scan();
    const pod = s.pods.find((p) => p.id === K8S_POD);
    expect(pod?.containers.map((c) => c.id)).toContain("raw");
  });
});
