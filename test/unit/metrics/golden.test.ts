import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXAMPLE_HOST, normalise, renderSnapshot, scanTree } from "./helpers.js";

const GOLDEN = new URL("../../golden/", import.meta.url).pathname;

/** Compare order-insensitively with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function expectGolden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, normalise(text).join("\n") + "\n");
  const golden = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  expect(normalise(text)).toEqual(normalise(golden.join("\n")));
}

const temps: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

function copyExample(): string {
  const root = mkdtempSync(join(tmpdir(), "vce-golden-"));
  temps.push(root);
  cpSync(EXAMPLE_HOST, root, { recursive: true });
  return root;
}

describe("golden /metrics", () => {
  it("renders the example host tree", async () => {
    expectGolden("example-host.prom", renderSnapshot(await scanTree(EXAMPLE_HOST)));
  });

  it("renders a tree with problems, a run-only pod and a config-only pod", async () => {
    const root = copyExample();
    const run = join(root, "run/virtcontainers/pods");
    const lib = join(root, "var/lib/virtcontainers/pods");
    const k8s = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
    const docker = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";
    // The Docker pod lost its run tree (a reboot): config-only, state unknown.
    rmSync(join(run, docker), { recursive: true });
    // A container's state.json is not JSON, and a device type is unknown.
    writeFileSync(
      join(run, k8s, "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a/state.json"),
      "{oops",
    );
    const devices = join(
      run,
      k8s,
      "8c8ea9204a5e5b0bbace6b0b24c76aaa95772031a997cfe9e6c3d5855c540a18/devices.json",
    );
    const list = JSON.parse(readFileSync(devices, "utf8")) as { Type: string }[];
    if (list[1] !== undefined) list[1].Type = "quantum";
    writeFileSync(devices, JSON.stringify(list));
    // A pod being created: run tree only, no config yet.
    cpSync(join(run, k8s), join(run, "c0ffee"), { recursive: true });
    rmSync(join(lib, "c0ffee"), { recursive: true, force: true });
    // Its sandbox is not known (no config), so its start time is the lock file's mtime.
    utimesSync(join(run, "c0ffee", "lock"), 1_700_000_000, 1_700_000_000);
    expectGolden("problems.prom", renderSnapshot(await scanTree(root)));
  });
});
