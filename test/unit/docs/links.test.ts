/**
 * README.md and docs/: every relative link names a file of the repository, and every `#anchor`
 * one of that page's headings (as GitHub makes anchors), so moving a section cannot leave a dead
 * link behind. README.md stays a front door: short enough to read in a few minutes.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const REPO = new URL("../../../", import.meta.url).pathname;
const PAGES = [
  "README.md",
  "CHANGELOG.md",
  ...readdirSync(join(REPO, "docs")).map((f) => `docs/${f}`),
].filter((p) => p.endsWith(".md"));

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      (m[1] ?? "")
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, "")
        .replace(/ /g, "-"),
    ),
  );
}

function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? "").filter((l) => !/^[a-z]+:/.test(l));
}

describe("documentation links", () => {
  it("covers the front door and at least the reference pages the README names", () => {
    for (const p of ["docs/metrics.md", "docs/configuration.md", "docs/gc.md", "docs/monitoring.md"]) {
      expect(PAGES).toContain(p);
    }
  });

  it.each(PAGES)("%s: every relative link and anchor resolves", (page) => {
    const file = join(REPO, page);
    const dead: string[] = [];
    for (const link of links(readFileSync(file, "utf8"))) {
      const [path = "", anchor] = link.split("#");
      const target = path === "" ? file : join(dirname(file), path);
      if (!existsSync(target)) dead.push(`${link} (no file ${relative(REPO, target)})`);
      else if (anchor !== undefined && target.endsWith(".md") && !anchors(target).has(anchor)) {
        dead.push(`${link} (no heading #${anchor})`);
      }
    }
    expect(dead).toEqual([]);
  });

  it("keeps README.md a front door (under 12 KB), with the reference in docs/", () => {
    expect(readFileSync(join(REPO, "README.md")).length).toBeLessThan(12_000);
  });
});
