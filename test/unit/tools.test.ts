/** scripts/provision.mjs --print and test/support/tools.ts: where tests find tools, and the one line for a missing one. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingMessage, PROVISION_SCRIPT, TOOLS, type ToolEntry } from "../support/tools.js";

function print(env: NodeJS.ProcessEnv): Record<string, ToolEntry> {
  return JSON.parse(
    execFileSync(process.execPath, [PROVISION_SCRIPT, "--print"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    }),
  ) as Record<string, ToolEntry>;
}

describe("npm run provision --print", () => {
  it("names every tool under the cache, none present in an empty cache, pinned versions in the paths", () => {
    const cache = mkdtempSync(join(tmpdir(), "vce-cache-"));
    try {
      const t = print({ XDG_CACHE_HOME: cache });
      expect(Object.keys(t).sort()).toEqual([...TOOLS].sort());
      for (const name of TOOLS) {
        expect(t[name]?.path.startsWith(join(cache, "virtcontainers-exporter"))).toBe(true);
        expect(t[name]?.present).toBe(false);
      }
      expect(t.prometheus?.path).toMatch(/\/prometheus-v3\.\d+\.\d+\/prometheus$/);
      expect(t["promtool-lts"]?.path).toMatch(/\/promtool-v2\.53\.\d+\/promtool$/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("takes a tool from VCE_<TOOL>_BIN, and KUBEBUILDER_ASSETS for the cluster binaries", () => {
    const t = print({ VCE_PROMTOOL_LTS_BIN: "/bin/sh", KUBEBUILDER_ASSETS: "/nowhere" });
    expect(t["promtool-lts"]).toEqual({ path: "/bin/sh", present: true, overridden: true });
    expect(t.etcd).toEqual({ path: "/nowhere/etcd", present: false, overridden: true });
  });
});

describe("a missing tool", () => {
  it("is one line naming the command that provides it", () => {
    const m = missingMessage("helm", { path: "/c/helm-v3/helm", present: false, overridden: false });
    expect(m).toBe(
      "helm not found at /c/helm-v3/helm: run `npm run provision` (npm test does it first), or set VCE_HELM_BIN",
    );
    expect(m).not.toContain("\n");
  });
});
