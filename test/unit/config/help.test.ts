import { describe, expect, it } from "vitest";
import { GC_USAGE } from "../../../src/config/gc-config.js";
import { SCAN_USAGE } from "../../../src/config/scan-config.js";
import { SERVE_USAGE } from "../../../src/config/serve-config.js";
import { flagRows } from "../../../src/config/values.js";

/** The column where each flag line's description starts (after the flag and two spaces). */
function textColumns(usage: string): number[] {
  return usage
    .split("\n")
    .filter((l) => l.startsWith("  --"))
    .map((l) => {
      const m = /^ {2}\S+(?: \S+)*? {2,}(?=\S)/.exec(l);
      if (m === null) throw new Error(`no two spaces between flag and text: ${l}`);
      return m[0].length;
    });
}

describe("--help", () => {
  it.each([
    ["serve", SERVE_USAGE],
    ["scan", SCAN_USAGE],
    ["gc", GC_USAGE],
  ])("%s: every flag's description starts in one column", (_name, usage) => {
    const cols = textColumns(usage);
    expect(cols.length).toBeGreaterThan(3);
    expect(new Set(cols).size).toBe(1);
  });

  it("flagRows pads to the longest flag plus two spaces", () => {
    expect(
      flagRows([
        ["--a", "x"],
        ["--long-flag", "y"],
      ]),
    ).toEqual(["  --a          x", "  --long-flag  y"]);
  });
});
