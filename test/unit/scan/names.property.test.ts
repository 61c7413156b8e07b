import { mkdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { Scanner } from "../../../src/scan/scanner.js";
import { allProblems } from "../../../src/scan/snapshot.js";
import { RUN, TempDirs } from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

/** Independent statement of the ID rule (format/layout.ts validateId). */
function validName(name: string): boolean {
  return name.length <= 128 && !name.startsWith(".") && /^[\x21-\x7e]+$/.test(name);
}

/** Anything a Linux directory name can be: no "/" or NUL, not "." or "..", at most 255 bytes. */
const dirName = fc
  .oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 20 }),
    fc.string({
      unit: fc.constantFrom(".", "a", "F", "0", "-", " ", "\n", "\t", "é"),
      minLength: 1,
      maxLength: 12,
    }),
    fc.string({ unit: fc.constantFrom("a", "b"), minLength: 120, maxLength: 140 }),
  )
  .filter(
    (n) =>
      !n.includes("/") &&
      !n.includes("\0") &&
      n !== "." &&
      n !== ".." &&
      Buffer.byteLength(n) <= 255 &&
      Buffer.from(n, "utf8").toString("utf8") === n,
  );

describe("pod directory names", () => {
  it("valid names become pods, every other name is one invalid_id problem, never a raw control character", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(dirName, { minLength: 1, maxLength: 8 }), async (names) => {
        const root = temp.make();
        for (const n of names) mkdirSync(join(root, RUN, n), { recursive: true });
        const s = await new Scanner({ hostRoot: root }).scan();
        const valid = names.filter(validName).sort();
        expect(s.pods.map((p) => p.id)).toEqual(valid);
        expect(s.pods.every((p) => p.presence === "run_only")).toBe(true);
        const problems = allProblems(s);
        // Dot names are skipped silently (the runtime makes none; the GC's tombstones are dot-named).
        const dotted = names.filter((n) => n.startsWith(".")).length;
        expect(problems.filter((p) => p.reason === "invalid_id")).toHaveLength(
          names.length - valid.length - dotted,
        );
        // The other problems are the missing pod state.json of each (empty) valid pod.
        expect(
          problems
            .filter((p) => p.reason !== "invalid_id")
            .map((p) => p.podId)
            .sort(),
        ).toEqual(valid);
        for (const p of problems) {
          expect(p.path.startsWith(`${RUN}/`)).toBe(true);
          expect(
            Array.from({ length: p.path.length }, (_, i) => p.path.charCodeAt(i)).some((c) => c < 0x20),
          ).toBe(false);
        }
        temp.cleanup();
      }),
      { numRuns: 40 },
    );
  });
});
