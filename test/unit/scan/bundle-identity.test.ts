/**
 * Kata 1.9+ no longer embeds the OCI spec: the pod config's own identity is unknown, and the
 * sandbox's bundle decides. On the Kata 1.10.8-written tree: a plain Docker sandbox whose
 * bundle is readable and has no Kubernetes key is `none`; without its bundle it stays
 * `unknown` (never guessed), so GC keeps leaving it alone.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Scanner } from "../../../src/scan/scanner.js";
import { materialize } from "../../support/upstream.js";
import { TempDirs } from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

/** docker-running of test/fixtures/upstream/kata-1.10 and its bundle. */
const DOCKER = "839236a86275acc965724f339b1531be4fb781c803b237fdf58845846b95a583";
const BUNDLE = `run/containerd/io.containerd.runtime.v1.linux/moby/${DOCKER}/config.json`;

async function identity(root: string) {
  const s = await new Scanner({ hostRoot: root }).scan();
  return s.pods.find((p) => p.id === DOCKER)?.identity;
}

describe("identity of a Kata 1.9+ sandbox from its bundle", () => {
  it("a readable bundle without Kubernetes keys: none", async () => {
    expect(await identity(materialize(temp, "kata-1.10"))).toMatchObject({ status: "none", flavor: "none" });
  });

  it("no bundle: unknown, with the reason", async () => {
    const root = materialize(temp, "kata-1.10");
    rmSync(join(root, BUNDLE));
    expect(await identity(root)).toMatchObject({ status: "unknown", problem: "no embedded OCI spec" });
  });

  it("a malformed bundle: unknown", async () => {
    const root = materialize(temp, "kata-1.10");
    writeFileSync(join(root, BUNDLE), "{");
    expect((await identity(root))?.status).toBe("unknown");
  });
});
