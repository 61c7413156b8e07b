import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Scanner } from "../../../src/scan/scanner.js";
import { copyExample, DOCKER_POD, K8S_POD, runRel, TempDirs } from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

describe("pod record reuse", () => {
  it("a rescan of an unchanged tree returns the very same pod records", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    const second = await scanner.scan();
    expect(second.stats.filesRead).toBe(0);
    expect(second.pods).toHaveLength(2);
    second.pods.forEach((p, i) => {
      expect(p).toBe(first.pods[i]);
    });
  });

  it("a changed file gives its pod a new record and leaves the other pod's record alone", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    writeFileSync(
      join(root, runRel(DOCKER_POD, "state.json")),
      '{"state":"paused","blockIndex":0,"fstype":"","hotpluggedDrive":false}',
    );
    const second = await scanner.scan();
    const byId = (s: typeof first, id: string) => s.pods.find((p) => p.id === id);
    expect(byId(second, DOCKER_POD)).not.toBe(byId(first, DOCKER_POD));
    expect(byId(second, DOCKER_POD)?.state).toBe("paused");
    expect(byId(second, K8S_POD)).toBe(byId(first, K8S_POD));
  });

  it("a forced re-read never reuses a record, even with unchanged stat keys", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    const second = await scanner.scanPods([K8S_POD]);
    expect(second.pods.find((p) => p.id === K8S_POD)).not.toBe(first.pods.find((p) => p.id === K8S_POD));
    expect(second.pods.find((p) => p.id === DOCKER_POD)).toBe(first.pods.find((p) => p.id === DOCKER_POD));
  });

  it("a file that vanished changes the record although nothing was read", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    const first = await scanner.scan();
    const { rmSync } = await import("node:fs");
    rmSync(join(root, runRel(DOCKER_POD, "agent.json")));
    const second = await scanner.scan();
    expect(second.stats.filesRead).toBe(0);
    const docker = second.pods.find((p) => p.id === DOCKER_POD);
    expect(docker).not.toBe(first.pods.find((p) => p.id === DOCKER_POD));
    expect(docker?.agent).toBeNull();
  });
});
