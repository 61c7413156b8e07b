// Bytes a render allocates, in process on the built code: `node --expose-gc --max-semi-space-size=512
// --min-semi-space-size=512 bench/render-alloc.mjs [PODS] [RUNS]` (npm run build first). With a new space
// larger than one render's garbage, no scavenge runs during a render (checked: a run during which V8
// collected is discarded), so the growth of the used heap across it is what it allocated. Prints, for a
// full render of a PODS-pod snapshot and for a render after one pod changed, the median over RUNS of the
// allocated MiB and the wall time, and the live heap after the full render.
import { PerformanceObserver, performance } from "node:perf_hooks";
import { pathToFileURL, fileURLToPath } from "node:url";
import v8 from "node:v8";
import { generateTree } from "./gen-tree.mjs";
import { median } from "./measure.mjs";
import { makeTempDir, removeTempDir } from "./procs.mjs";

const dist = (p) => pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href;
const MiB = 2 ** 20;

if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const pods = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 7);

const [{ Scanner }, { ExpositionCache }, { SNAPSHOT_COLLECTORS }, { SelfMetrics }] = await Promise.all([
  import(dist("scan/scanner.js")),
  import(dist("metrics/cache.js")),
  import(dist("metrics/collectors/index.js")),
  import(dist("metrics/self.js")),
]);

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ["gc"] });
const flushObserver = () => new Promise((resolve) => setTimeout(resolve, 20));
const used = () => v8.getHeapStatistics().used_heap_size;

/** Allocated bytes and ms of `fn()`; retried (up to 5 times) while a GC ran during it. */
async function allocation(fn) {
  for (let attempt = 0; attempt < 5; attempt++) {
    globalThis.gc();
    await flushObserver();
    const gcsBefore = gcs;
    const before = used();
    const start = performance.now();
    fn();
    const ms = performance.now() - start;
    const bytes = used() - before;
    await flushObserver();
    if (gcs === gcsBefore) return { bytes, ms };
  }
  throw new Error("a GC ran during every attempt: give a larger --max-semi-space-size/--min-semi-space-size");
}

const dir = makeTempDir("vc-render-alloc-");
try {
  await generateTree(dir, pods, { seed: 1 });
  const snapshot = await new Scanner({ hostRoot: dir }).scan();
  const full = [];
  const onePod = [];
  let live = 0;
  let bodyBytes = 0;
  for (let i = 0; i < runs; i++) {
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("node-a"));
    full.push(await allocation(() => cache.update(snapshot)));
    globalThis.gc();
    live = used();
    bodyBytes = cache.snapshotBytes;
    // one pod's record replaced (as a rescan does for a changed pod), every other record kept
    const k = (i * 7919) % snapshot.pods.length;
    const changed = snapshot.pods[k];
    const pods2 = snapshot.pods.slice();
    pods2[k] = { ...changed, state: changed.state === "running" ? "paused" : "running" };
    const next = { ...snapshot, pods: pods2 };
    onePod.push(await allocation(() => cache.update(next)));
  }
  const mib = (list) => median(list.map((r) => r.bytes / MiB)).toFixed(1);
  const ms = (list) => median(list.map((r) => r.ms)).toFixed(1);
  console.log(
    JSON.stringify({
      pods,
      runs,
      bodyBytes,
      fullRender: { allocatedMiB: mib(full), ms: ms(full) },
      onePodRender: { allocatedMiB: mib(onePod), ms: ms(onePod) },
      liveHeapAfterFullRenderMiB: (live / MiB).toFixed(1),
    }),
  );
} finally {
  removeTempDir(dir);
}
