import { rmSync, truncateSync, unlinkSync } from "node:fs";
import { join, posix } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REFERENCE_SET } from "../../../src/format/layout.js";
import { FileLoader, type LoadTarget, type Loaded } from "../../../src/scan/loader.js";
import type { ResourceValues } from "../../../src/scan/parsers.js";
import { scanPod } from "../../../src/scan/pod.js";
import { DEFAULT_MAX_FILE_BYTES, Scanner } from "../../../src/scan/scanner.js";
import { allProblems, type FileProblem, type PodRecord, type Snapshot } from "../../../src/scan/snapshot.js";
import {
  cfgRel,
  copyExample,
  DOCKER_POD,
  DOCKER_POD_FILES,
  INFER,
  K8S_POD,
  K8S_POD_FILES,
  LOADER,
  read,
  runRel,
  TempDirs,
  write,
} from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

function pod(s: Snapshot, id: string): PodRecord {
  const p = s.pods.find((x) => x.id === id);
  if (p === undefined) throw new Error(`pod ${id} not in snapshot`);
  return p;
}

function brief(p: FileProblem) {
  return { file: p.file, path: p.path, containerId: p.containerId, reason: p.reason, stale: p.stale };
}

/** A delay that records its calls and runs `action` instead of waiting. */
function fakeDelay(action: () => void = () => undefined) {
  const calls: number[] = [];
  const delay = (ms: number): Promise<void> => {
    calls.push(ms);
    action();
    return Promise.resolve();
  };
  return { calls, delay };
}

describe("a file rewritten during a scan", () => {
  it("an empty pod state.json is read once more after the delay, and the retried read wins", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    const full = read(root, rel);
    write(root, rel, "");
    const { calls, delay } = fakeDelay(() => write(root, rel, full));
    const s = await new Scanner({ hostRoot: root, retryDelayMs: 7, delay }).scan();
    expect(calls).toEqual([7]);
    expect(s.stats.retried).toBe(1);
    expect(pod(s, DOCKER_POD).state).toBe("running");
    expect(pod(s, DOCKER_POD).stateFile?.state).toBe("running");
    expect(allProblems(s)).toEqual([]);
    // The retried pod is read again whole (forced): its files count twice.
    expect(s.stats.filesRead).toBe(K8S_POD_FILES + 2 * DOCKER_POD_FILES);
  });

  it("a container state.json cut short is retried and the complete content wins", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, LOADER, "state.json");
    const full = read(root, rel);
    write(root, rel, full.slice(0, 12));
    const { calls, delay } = fakeDelay(() => write(root, rel, full));
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    expect(calls).toEqual([50]); // the default retry delay
    expect(s.stats.retried).toBe(1);
    expect(pod(s, K8S_POD).containers.find((c) => c.id === LOADER)?.state).toBe("ready");
    expect(allProblems(s)).toEqual([]);
  });

  it("no delay and no retry when nothing is empty or truncated", async () => {
    const root = copyExample(temp);
    write(root, runRel(DOCKER_POD, "state.json"), "{not json");
    const { calls, delay } = fakeDelay();
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    expect(calls).toEqual([]);
    expect(s.stats.retried).toBe(0);
    expect(allProblems(s).map(brief)).toEqual([
      {
        file: "pod_state",
        path: runRel(DOCKER_POD, "state.json"),
        containerId: null,
        reason: "invalid_json",
        stale: false,
      },
    ]);
  });

  it("still empty after the retry and never seen good: a problem, no value", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    write(root, rel, "");
    const { calls, delay } = fakeDelay();
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    expect(calls).toHaveLength(1);
    expect(s.stats.retried).toBe(1);
    expect(pod(s, DOCKER_POD).state).toBe("unknown");
    expect(pod(s, DOCKER_POD).stateFile).toBeNull();
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_state", path: rel, containerId: null, reason: "empty", stale: false },
    ]);
  });

  it("truncated after a good scan and still truncated after the retry: the last good value is served stale", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    const { calls, delay } = fakeDelay();
    const scanner = new Scanner({ hostRoot: root, delay });
    const good = await scanner.scan();
    expect(pod(good, DOCKER_POD).state).toBe("running");

    write(root, rel, '{"state":"stop');
    const s = await scanner.scan();
    expect(calls).toHaveLength(1);
    expect(s.stats.retried).toBe(1);
    expect(pod(s, DOCKER_POD).state).toBe("running");
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_state", path: rel, containerId: null, reason: "truncated", stale: true },
    ]);

    // Unchanged since: reused from the cache, still stale, no second retry.
    const again = await scanner.scan();
    expect(again.stats).toMatchObject({ filesRead: 0, retried: 0 });
    expect(calls).toHaveLength(1);
    expect(pod(again, DOCKER_POD).state).toBe("running");
    expect(allProblems(again).map(brief)).toEqual([
      { file: "pod_state", path: rel, containerId: null, reason: "truncated", stale: true },
    ]);

    // The rewrite completes: the new value, no problem.
    write(root, rel, '{"state":"stopped"}');
    const done = await scanner.scan();
    expect(pod(done, DOCKER_POD).state).toBe("stopped");
    expect(allProblems(done)).toEqual([]);
  });

  it("emptied after a good scan: the last good value is served stale with reason empty", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, INFER, "state.json");
    const { delay } = fakeDelay();
    const scanner = new Scanner({ hostRoot: root, delay });
    await scanner.scan();
    truncateSync(join(root, rel), 0);
    const s = await scanner.scan();
    expect(s.stats.retried).toBe(1);
    expect(pod(s, K8S_POD).containers.find((c) => c.id === INFER)?.state).toBe("running");
    expect(allProblems(s).map(brief)).toEqual([
      { file: "container_state", path: rel, containerId: INFER, reason: "empty", stale: true },
    ]);
  });

  it("stale values survive an incremental re-read of the pod", async () => {
    const root = copyExample(temp);
    const rel = runRel(DOCKER_POD, "state.json");
    const { delay } = fakeDelay();
    const scanner = new Scanner({ hostRoot: root, delay });
    await scanner.scan();
    write(root, rel, "");
    const s = await scanner.scanPods([DOCKER_POD]);
    expect(s.stats).toMatchObject({ kind: "incremental", retried: 1 });
    expect(pod(s, DOCKER_POD).state).toBe("running");
    expect(allProblems(s).map(brief)).toEqual([
      { file: "pod_state", path: rel, containerId: null, reason: "empty", stale: true },
    ]);
  });
});

describe("files deleted during a scan", () => {
  it("a pod deleted between the pass and the retry is dropped without a problem", async () => {
    const root = copyExample(temp);
    write(root, runRel(DOCKER_POD, "state.json"), "");
    const { delay } = fakeDelay(() => {
      rmSync(join(root, runRel(DOCKER_POD)), { recursive: true });
      rmSync(join(root, cfgRel(DOCKER_POD)), { recursive: true });
    });
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    expect(s.stats.retried).toBe(1);
    expect(s.pods.map((p) => p.id)).toEqual([K8S_POD]);
    expect(allProblems(s)).toEqual([]);
  });

  it("a run directory deleted before the retry leaves a config-only pod", async () => {
    const root = copyExample(temp);
    write(root, runRel(DOCKER_POD, "state.json"), "{");
    const { delay } = fakeDelay(() => {
      rmSync(join(root, runRel(DOCKER_POD)), { recursive: true });
    });
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    expect(pod(s, DOCKER_POD).presence).toBe("config_only");
    expect(allProblems(s)).toEqual([]);
  });

  it("optional files deleted before the retry are no problem", async () => {
    const root = copyExample(temp);
    const rel = runRel(K8S_POD, "state.json");
    const full = read(root, rel);
    write(root, rel, "");
    const { delay } = fakeDelay(() => {
      write(root, rel, full);
      for (const f of ["process.json", "mounts.json", "devices.json"])
        unlinkSync(join(root, runRel(K8S_POD, INFER, f)));
      unlinkSync(join(root, runRel(K8S_POD, "network.json")));
    });
    const s = await new Scanner({ hostRoot: root, delay }).scan();
    const k = pod(s, K8S_POD);
    expect(allProblems(s)).toEqual([]);
    expect(k.network).toBeNull();
    const infer = k.containers.find((c) => c.id === INFER);
    expect(infer?.process).toBeNull();
    expect(infer?.devices).toEqual([]);
    expect(infer?.state).toBe("running");
  });

  it("a container directory deleted between scans disappears without a problem", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    await scanner.scan();
    rmSync(join(root, runRel(K8S_POD, LOADER)), { recursive: true });
    rmSync(join(root, cfgRel(K8S_POD, LOADER)), { recursive: true });
    const s = await scanner.scan();
    expect(pod(s, K8S_POD).containers.map((c) => c.id)).toEqual([K8S_POD, INFER]);
    expect(allProblems(s)).toEqual([]);
    expect(s.stats.filesRead).toBe(0);
  });

  it("a file that vanishes between readdir and open: optional is silent, required is missing", () => {
    const root = copyExample(temp);
    const doomed = new Set([runRel(K8S_POD, INFER, "process.json"), runRel(K8S_POD, INFER, "state.json")]);
    class VanishingLoader extends FileLoader {
      override load<R extends keyof ResourceValues>(
        resource: R,
        t: LoadTarget,
        force: boolean,
      ): Loaded<ResourceValues[R]> {
        if (doomed.has(t.rel)) unlinkSync(posix.join(root, t.rel));
        return super.load(resource, t, force);
      }
    }
    const loader = new VanishingLoader(root, DEFAULT_MAX_FILE_BYTES);
    const { record, transient } = scanPod(loader, root, REFERENCE_SET, K8S_POD, false);
    expect(transient).toBe(false);
    expect(record?.problems.map(brief)).toEqual([
      {
        file: "container_state",
        path: runRel(K8S_POD, INFER, "state.json"),
        containerId: INFER,
        reason: "missing",
        stale: false,
      },
    ]);
    const infer = record?.containers.find((c) => c.id === INFER);
    expect(infer?.process).toBeNull();
    expect(infer?.state).toBe("unknown");
  });

  it.each(["full", "incremental"] as const)(
    "a pod deleted and re-created with an empty state.json does not get the old pod's value (%s)",
    async (kind) => {
      const root = copyExample(temp);
      const { delay } = fakeDelay();
      const scanner = new Scanner({ hostRoot: root, delay });
      const rescan = () => (kind === "full" ? scanner.scan() : scanner.scanPods([DOCKER_POD]));
      await scanner.scan();
      rmSync(join(root, runRel(DOCKER_POD)), { recursive: true });
      rmSync(join(root, cfgRel(DOCKER_POD)), { recursive: true });
      expect((await rescan()).pods.map((p) => p.id)).toEqual([K8S_POD]);
      const rel = runRel(DOCKER_POD, "state.json");
      write(root, rel, "");
      const s = await rescan();
      expect(pod(s, DOCKER_POD).state).toBe("unknown");
      expect(allProblems(s).map(brief)).toEqual([
        { file: "pod_state", path: rel, containerId: null, reason: "empty", stale: false },
      ]);
    },
  );

  it("a pod deleted from one tree between scans changes its presence", async () => {
    const root = copyExample(temp);
    const scanner = new Scanner({ hostRoot: root });
    await scanner.scan();
    rmSync(join(root, cfgRel(DOCKER_POD)), { recursive: true });
    const s = await scanner.scan();
    expect(pod(s, DOCKER_POD).presence).toBe("run_only");
    expect(pod(s, DOCKER_POD).config).toBeNull();
    expect(s.stats.filesRead).toBe(0);
    expect(s.stats.filesReused).toBe(K8S_POD_FILES + DOCKER_POD_FILES - 1);
  });
});
