/**
 * Live updates of the exposition: ExporterService in-process on a temporary host root, real
 * file events (inotify) or polling, short debounce and root-check periods. Every
 * check polls the rendered exposition with a 5 s deadline; nothing asserts on timing.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { COLLECTOR_NAMES } from "../../src/metrics/collectors/index.js";
import { ExporterService, type ServiceOptions } from "../../src/service.js";
import {
  CFG,
  copyExample,
  countFiles,
  DOCKER_POD,
  K8S_POD,
  loadGenTree,
  parseExposition,
  pollUntil,
  RUN,
  select,
  TempDirs,
  valueOf,
  type ParsedSample,
} from "./helpers.js";

const temp = new TempDirs();
const services: ExporterService[] = [];

afterEach(async () => {
  try {
    await Promise.all(services.splice(0).map((s) => s.stop()));
  } finally {
    temp.cleanup();
  }
});

/** A service on `hostRoot` with this file's settings, not started yet. */
function newService(hostRoot: string, opts: Partial<ServiceOptions> = {}): ExporterService {
  const service = new ExporterService({
    hostRoot,
    nodeName: "node-a",
    resyncIntervalMs: 3_600_000,
    pollIntervalMs: 5_000,
    watch: "inotify",
    maxFileBytes: 16 * 1024 * 1024,
    collectors: COLLECTOR_NAMES,
    log: createLogger("silent"),
    debounceMs: 20,
    rootCheckMs: 200,
    ...opts,
  });
  services.push(service);
  return service;
}

async function startService(hostRoot: string, opts: Partial<ServiceOptions> = {}): Promise<ExporterService> {
  const service = newService(hostRoot, opts);
  await service.start();
  return service;
}

async function samples(service: ExporterService): Promise<ParsedSample[]> {
  return parseExposition(Buffer.concat(await service.cache.render(false)).toString("utf8"));
}

/** Polls the exposition (5 s deadline) until `check` returns something other than undefined. */
function eventually<T>(
  service: ExporterService,
  what: string,
  check: (s: ParsedSample[]) => T | undefined,
): Promise<T> {
  return pollUntil(what, async () => check(await samples(service)), {
    timeoutMs: 5_000,
    intervalMs: 25,
    describe: async () => {
      const s = await samples(service);
      const pods = select(s, "virtcontainers_pod_info").map((p) => p.labels.pod_id?.slice(0, 12));
      return `pods now: ${JSON.stringify(pods)}`;
    },
  });
}

const podIdsOf = (s: readonly ParsedSample[]): string[] =>
  select(s, "virtcontainers_pod_info")
    .map((p) => p.labels.pod_id ?? "")
    .sort();

const seriesWithPod = (s: readonly ParsedSample[], podId: string): ParsedSample[] =>
  s.filter((x) => x.labels.pod_id === podId);

function setPodState(root: string, podId: string, state: string): void {
  const path = join(root, RUN, podId, "state.json");
  const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...json, state }));
}

describe("live updates with file events", () => {
  it("a pod turning paused re-reads only that pod", async () => {
    const { generateTree } = await loadGenTree();
    const root = copyExample(temp);
    await generateTree(root, 6, { seed: 11 });
    const totalFiles = countFiles(root);
    expect(totalFiles).toBeGreaterThan(100);
    const service = await startService(root);

    const before = await samples(service);
    expect(podIdsOf(before)).toHaveLength(8);
    expect(valueOf(before, "virtcontainers_pod_state", { pod_id: DOCKER_POD, state: "running" })).toBe(1);
    const readBefore = valueOf(before, "virtcontainers_files_read_total") ?? NaN;
    const fullBefore = valueOf(before, "virtcontainers_scans_total", { kind: "full" });
    expect(readBefore).toBeGreaterThan(0);
    expect(readBefore).toBeLessThanOrEqual(totalFiles);

    setPodState(root, DOCKER_POD, "paused");
    const after = await eventually(service, "the Docker pod to be paused", (s) =>
      valueOf(s, "virtcontainers_pod_state", { pod_id: DOCKER_POD, state: "paused" }) === 1 ? s : undefined,
    );
    // only the current state has a series: the running one is gone
    expect(
      select(after, "virtcontainers_pod_state", { pod_id: DOCKER_POD }).map((x) => [x.labels.state, x.value]),
    ).toEqual([["paused", 1]]);
    expect(valueOf(after, "virtcontainers_pod_state", { pod_id: K8S_POD, state: "running" })).toBe(1);
    expect(valueOf(after, "virtcontainers_pods", { state: "paused" })).toBeGreaterThanOrEqual(1);
    const grown = (valueOf(after, "virtcontainers_files_read_total") ?? NaN) - readBefore;
    expect(grown).toBeGreaterThanOrEqual(1);
    expect(grown).toBeLessThan(totalFiles);
    // No full scan ran: only incremental ones.
    expect(fullBefore).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, "virtcontainers_scans_total", { kind: "full" })).toBe(fullBefore);
    expect(valueOf(after, "virtcontainers_scans_total", { kind: "incremental" })).toBeGreaterThanOrEqual(1);
  });

  it("a new pod adds its series", async () => {
    const { generateTree } = await loadGenTree();
    const root = copyExample(temp);
    const service = await startService(root);
    expect(podIdsOf(await samples(service))).toEqual([K8S_POD, DOCKER_POD].sort());

    const { podIds } = await generateTree(root, 1, { seed: 99 });
    const id = podIds[0] ?? "";
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const s = await eventually(service, "the new pod with its 3 containers and 3 devices", (x) =>
      valueOf(x, "virtcontainers_pod_containers", { pod_id: id }) === 3 &&
      select(x, "virtcontainers_device_info", { pod_id: id }).length === 3
        ? x
        : undefined,
    );
    expect(podIdsOf(s)).toEqual([K8S_POD, DOCKER_POD, id].sort());
    expect(select(s, "virtcontainers_pod_info", { pod_id: id })[0]?.labels).toMatchObject({
      namespace: "ml-serving",
      presence: "both",
    });
    expect(select(s, "virtcontainers_container_info", { pod_id: id })).toHaveLength(3);
    expect(valueOf(s, "virtcontainers_devices", { type: "vfio" })).toBe(2);
  });

  it("a deleted pod leaves no series behind", async () => {
    const root = copyExample(temp);
    const service = await startService(root);
    const before = await samples(service);
    expect(seriesWithPod(before, K8S_POD).length).toBeGreaterThan(20);

    rmSync(join(root, RUN, K8S_POD), { recursive: true });
    rmSync(join(root, CFG, K8S_POD), { recursive: true });
    const s = await eventually(service, "every series of the deleted pod to go", (x) =>
      seriesWithPod(x, K8S_POD).length === 0 ? x : undefined,
    );
    const text = Buffer.concat(await service.cache.render(false)).toString("utf8");
    expect(text).not.toContain(K8S_POD);
    expect(text).not.toContain("ml-serving");
    expect(podIdsOf(s)).toEqual([DOCKER_POD]);
    expect(valueOf(s, "virtcontainers_pods", { state: "running" })).toBe(1);
    for (const type of ["vfio", "block", "generic"]) {
      expect(valueOf(s, "virtcontainers_devices", { type })).toBe(0);
    }
  });

  it("adding and deleting a container directory changes the pod's container count", async () => {
    const root = copyExample(temp);
    const service = await startService(root);
    const containers = (s: ParsedSample[]) =>
      valueOf(s, "virtcontainers_pod_containers", { pod_id: DOCKER_POD });
    expect(containers(await samples(service))).toBe(1);

    const ctr = "c0ffee".padEnd(64, "0");
    const dir = join(root, RUN, DOCKER_POD, ctr);
    mkdirSync(dir);
    writeFileSync(join(dir, "state.json"), '{"state":"ready"}');
    const added = await eventually(service, "2 containers in the Docker pod", (s) =>
      containers(s) === 2 ? s : undefined,
    );
    expect(
      select(added, "virtcontainers_container_info", { pod_id: DOCKER_POD, container_id: ctr }),
    ).toHaveLength(1);
    expect(
      valueOf(added, "virtcontainers_container_state", {
        pod_id: DOCKER_POD,
        container_id: ctr,
        state: "ready",
      }),
    ).toBe(1);

    rmSync(dir, { recursive: true });
    const removed = await eventually(service, "1 container in the Docker pod again", (s) =>
      containers(s) === 1 ? s : undefined,
    );
    expect(removed.filter((x) => x.labels.container_id === ctr)).toEqual([]);
  });
});

describe("readiness", () => {
  it("is not ready after the first scan while the file watches are set up and the catch-up scan runs", async () => {
    const { generateTree } = await loadGenTree();
    const root = temp.make();
    await generateTree(root, 3, { seed: 11 });
    const service = newService(root);
    // Look at readiness at the moment the watcher is started (after the first scan).
    const hooks = service as unknown as { startWatcher: () => Promise<void> };
    const startWatcher = hooks.startWatcher.bind(service);
    const seen: { scanned: boolean; ready: boolean }[] = [];
    hooks.startWatcher = async () => {
      seen.push({ scanned: service.snapshot !== null, ready: service.ready });
      await startWatcher();
      seen.push({ scanned: service.snapshot !== null, ready: service.ready });
    };
    await service.start();
    expect(seen).toEqual([
      { scanned: true, ready: false },
      { scanned: true, ready: false },
    ]);
    expect(service.ready).toBe(true);
  });
});

describe("tree roots that appear or are replaced", () => {
  it("trees created after start are picked up", async () => {
    const { generateTree } = await loadGenTree();
    const root = temp.make();
    const service = await startService(root);
    expect(service.ready).toBe(true);
    const empty = await samples(service);
    expect(podIdsOf(empty)).toEqual([]);
    expect(valueOf(empty, "virtcontainers_pods", { state: "running" })).toBe(0);

    const { podIds } = await generateTree(root, 2, { seed: 5 });
    const s = await eventually(service, "the 2 pods of the new trees", (x) =>
      podIdsOf(x).length === 2 ? x : undefined,
    );
    expect(podIdsOf(s)).toEqual([...podIds].sort());
    expect(select(s, "virtcontainers_container_info")).toHaveLength(6);
    // Pods that keep changing in the new trees are followed by file events too.
    const first = podIds[0] ?? "";
    setPodState(root, first, "stopped");
    await eventually(service, "the first new pod to be stopped", (x) =>
      valueOf(x, "virtcontainers_pod_state", { pod_id: first, state: "stopped" }) === 1 ? true : undefined,
    );
  });

  it("trees replaced wholesale: the new pods appear and the old ones disappear", async () => {
    const { generateTree } = await loadGenTree();
    const root = copyExample(temp);
    const service = await startService(root);
    const before = await samples(service);
    expect(podIdsOf(before)).toEqual([K8S_POD, DOCKER_POD].sort());
    const fullBefore = valueOf(before, "virtcontainers_scans_total", { kind: "full" }) ?? NaN;

    const staging = temp.make("vce-staging-");
    const { podIds } = await generateTree(staging, 3, { seed: 77 });
    // Both trees move away (as on a reboot of the runtime's state) and new ones take their place.
    renameSync(join(root, RUN), join(root, "old-run-pods"));
    renameSync(join(root, CFG), join(root, "old-lib-pods"));
    renameSync(join(staging, RUN), join(root, RUN));
    renameSync(join(staging, CFG), join(root, CFG));

    const s = await eventually(service, "exactly the 3 new pods", (x) => {
      const ids = podIdsOf(x);
      return ids.length === 3 && ids.every((id) => podIds.includes(id)) ? x : undefined;
    });
    expect(seriesWithPod(s, K8S_POD)).toEqual([]);
    expect(seriesWithPod(s, DOCKER_POD)).toEqual([]);
    expect(select(s, "virtcontainers_container_info")).toHaveLength(9);
    // The root check sees new inodes and rescans both trees in full.
    await eventually(service, "a full rescan after the roots were replaced", (x) =>
      (valueOf(x, "virtcontainers_scans_total", { kind: "full" }) ?? 0) > fullBefore ? true : undefined,
    );

    // The watcher follows the new trees.
    const first = podIds[0] ?? "";
    setPodState(root, first, "paused");
    const after = await eventually(service, "a new pod to be paused", (x) =>
      valueOf(x, "virtcontainers_pod_state", { pod_id: first, state: "paused" }) === 1 ? x : undefined,
    );
    expect(seriesWithPod(after, DOCKER_POD)).toEqual([]);
  });
});

describe("--watch polling", () => {
  it("picks up a change without file events and reports the polling mode", async () => {
    const root = copyExample(temp);
    const service = await startService(root, { watch: "polling", pollIntervalMs: 200 });
    const before = await samples(service);
    expect(valueOf(before, "virtcontainers_watch_mode", { mode: "polling" })).toBe(1);
    expect(valueOf(before, "virtcontainers_watch_mode", { mode: "inotify" })).toBe(0);

    setPodState(root, K8S_POD, "paused");
    const s = await eventually(service, "the Kubernetes pod to be paused", (x) =>
      valueOf(x, "virtcontainers_pod_state", { pod_id: K8S_POD, state: "paused" }) === 1 ? x : undefined,
    );
    expect(
      select(s, "virtcontainers_pod_state", { pod_id: K8S_POD }).map((x) => [x.labels.state, x.value]),
    ).toEqual([["paused", 1]]);
    expect(valueOf(s, "virtcontainers_watch_mode", { mode: "polling" })).toBe(1);
    expect(valueOf(s, "virtcontainers_scans_total", { kind: "full" })).toBeGreaterThanOrEqual(2);
    expect(valueOf(s, "virtcontainers_scans_total", { kind: "incremental" })).toBeUndefined();
  });
});
