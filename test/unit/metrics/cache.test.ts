import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ExpositionCache, gzipJoin } from "../../../src/metrics/cache.js";
import { ALL_COLLECTORS, SNAPSHOT_COLLECTORS } from "../../../src/metrics/collectors/index.js";
import type { Collector } from "../../../src/metrics/exposition.js";
import { SelfMetrics } from "../../../src/metrics/self.js";
import type { ProcessSample } from "../../../src/scan/pod-processes.js";
import type { Snapshot } from "../../../src/scan/snapshot.js";
import { deflateRawSync, constants, crc32 } from "node:zlib";
import { EXAMPLE_HOST, scanTree } from "./helpers.js";

describe("gzipJoin", () => {
  it("makes one gzip member that any gunzip reads whole", () => {
    const body = Buffer.from("a".repeat(100_000) + "head\n");
    const tail = Buffer.from("tail line\n".repeat(50));
    const head = {
      deflated: deflateRawSync(body, { finishFlush: constants.Z_SYNC_FLUSH }),
      crc: crc32(body),
      length: body.length,
    };
    const out = gzipJoin(head, tail);
    expect(gunzipSync(Buffer.concat(out)).toString()).toBe(body.toString() + tail.toString());
  });

  it("chains several cached parts", () => {
    const parts = [Buffer.from("one\n".repeat(1000)), Buffer.from("two\n".repeat(10))];
    let crc = 0;
    const heads = parts.map((p) => {
      crc = crc32(p, crc);
      return { deflated: deflateRawSync(p, { finishFlush: constants.Z_SYNC_FLUSH }), crc, length: p.length };
    });
    const out = gunzipSync(Buffer.concat(gzipJoin(heads, Buffer.from("three\n")))).toString();
    expect(out).toBe(`${parts.join("")}three\n`);
  });

  it("works with an empty cached part", () => {
    const head = {
      deflated: deflateRawSync(Buffer.alloc(0), { finishFlush: constants.Z_SYNC_FLUSH }),
      crc: 0,
      length: 0,
    };
    expect(gunzipSync(Buffer.concat(gzipJoin(head, Buffer.from("x 1\n")))).toString()).toBe("x 1\n");
  });
});

describe("ExpositionCache", () => {
  it("serves the same text plain and gzipped, snapshot part then self metrics", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, self);
    cache.update(await scanTree(EXAMPLE_HOST));
    const plain = Buffer.concat(await cache.render(false)).toString();
    const gz = gunzipSync(Buffer.concat(await cache.render(true))).toString();
    const strip = (t: string) =>
      t.split("\n").filter((l) => !/^(process_|nodejs_|# )/.test(l) && !l.includes("_seconds"));
    expect(strip(gz)).toEqual(strip(plain));
    expect(plain.indexOf("virtcontainers_pod_info")).toBeLessThan(
      plain.indexOf("virtcontainers_exporter_build_info"),
    );
    expect(gz).toContain('virtcontainers_exporter_build_info{version="');
    expect(gz).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it("isolates a failing collector: its families go, the rest stays, success is 0", async () => {
    const broken: Collector = {
      name: "broken",
      families: [
        {
          name: "virtcontainers_broken",
          help: "always fails",
          type: "gauge",
          samples: () => {
            throw new Error("boom");
          },
        },
      ],
    };
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache([broken, ...SNAPSHOT_COLLECTORS], self);
    const failures = cache.update(await scanTree(EXAMPLE_HOST));
    expect(failures.map((f) => f.collector)).toEqual(["broken"]);
    const text = Buffer.concat(await cache.render(false)).toString();
    expect(text).not.toContain("virtcontainers_broken");
    expect(text).toContain('virtcontainers_collector_success{collector="broken"} 0');
    expect(text).toContain('virtcontainers_collector_success{collector="pods"} 1');
    expect(text).toMatch(/^virtcontainers_pod_info\{/m);
  });

  it("drops a pod's series when the pod is gone (no stale series)", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, self);
    const s = await scanTree(EXAMPLE_HOST);
    cache.update(s);
    const gone = s.pods[0]?.id ?? "";
    expect(Buffer.concat(await cache.render(false)).toString()).toContain(gone);
    cache.update({ ...s, pods: s.pods.slice(1) });
    expect(Buffer.concat(await cache.render(false)).toString()).not.toContain(gone);
  });
});

describe("ExpositionCache reuse", () => {
  it("does not render again for a snapshot with the same pod records", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, self);
    const s = await scanTree(EXAMPLE_HOST);
    cache.update(s);
    const v = cache.version;
    cache.update({ ...s, takenAt: s.takenAt + 60, pods: [...s.pods] });
    expect(cache.version).toBe(v);
    cache.update({ ...s, pods: s.pods.slice(1) });
    expect(cache.version).toBe(v + 1);
  });

  it("renders a changed pod's new record next to the unchanged pod's memoized lines", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, self);
    const s = await scanTree(EXAMPLE_HOST);
    cache.update(s);
    const [a, b] = s.pods;
    if (a === undefined || b === undefined) throw new Error("example tree has two pods");
    // The same record with a different state would render differently if it were re-rendered;
    // a new record object for pod b must show its new state.
    const changed = { ...b, state: "paused" as const };
    cache.update({ ...s, pods: [a, changed] });
    const text = Buffer.concat(await cache.render(false)).toString();
    expect(text).toContain(`virtcontainers_pod_state{pod_id="${b.id}",namespace="",pod="",state="paused"} 1`);
    expect(text).toContain(
      `virtcontainers_pod_state{pod_id="${a.id}",namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",state="running"} 1`,
    );
  });
});

describe("ExpositionCache reuse of the previous body's bytes", () => {
  const selfFree = (t: string) => t.slice(0, t.indexOf("# HELP virtcontainers_scan_duration_seconds "));
  async function fresh(s: Snapshot): Promise<string> {
    const c = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("n1"));
    c.update(s);
    return Buffer.concat(await c.render(false)).toString();
  }

  it("gives the text of a fresh render after changes, reorders, removals and additions, plain and gzip", async () => {
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("n1"));
    const s = await scanTree(EXAMPLE_HOST);
    const [a, b] = s.pods;
    if (a === undefined || b === undefined) throw new Error("example tree has two pods");
    const steps: Snapshot[] = [
      s,
      { ...s, pods: [b, a] },
      { ...s, pods: [b, { ...a, state: "stopped" as const }] },
      { ...s, pods: [b] },
      {
        ...s,
        pods: [{ ...a, id: "f".repeat(64), identity: { ...a.identity, podName: "ünïcödé-pod" } }, b, a],
      },
      { ...s, pods: [a, b] },
    ];
    for (const step of steps) {
      cache.update(step);
      const plain = Buffer.concat(await cache.render(false)).toString();
      const gz = gunzipSync(Buffer.concat(await cache.render(true))).toString();
      expect(selfFree(plain)).toBe(selfFree(await fresh(step)));
      expect(selfFree(gz)).toBe(selfFree(plain));
    }
  });

  it("keeps no previous body reachable once a new one is rendered", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const cache = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("n1"));
    const s = await scanTree(EXAMPLE_HOST);
    const [a, b] = s.pods;
    if (a === undefined || b === undefined) throw new Error("example tree has two pods");
    cache.update(s);
    const ref = new WeakRef((await cache.render(false))[0]?.buffer ?? new ArrayBuffer(1));
    await cache.render(true); // a compressed form exists too
    cache.update({ ...s, pods: [a, { ...b, state: "paused" as const }] });
    const kept = Buffer.concat(await cache.render(false)).toString();
    await new Promise((r) => setTimeout(r, 0));
    gc();
    expect(ref.deref()).toBeUndefined();
    expect(kept).toContain(`pod_id="${a.id}"`); // a's reused bytes were copied over
  });
});

describe("ExpositionCache: the sampled part (collector processes)", () => {
  const usage = (processes: number, cpuSeconds: number, residentBytes: number) => ({
    processes,
    cpuSeconds,
    residentBytes,
  });
  function sample(pods: ProcessSample["pods"]): ProcessSample {
    return {
      pods,
      durationSeconds: 0.001,
      errors: new Map(),
      errorDetails: new Map(),
      searchedPods: 0,
      cmdlinesRead: 0,
    };
  }

  it("renders nothing of it before the first sample, then each sample without re-rendering the snapshot", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(ALL_COLLECTORS, self);
    const s = await scanTree(EXAMPLE_HOST);
    cache.update(s);
    const before = Buffer.concat(await cache.render(false)).toString();
    expect(before).not.toContain("virtcontainers_pod_process");
    expect(before).not.toContain('collector="processes"');
    const id = s.pods[0]?.id ?? "";
    cache.updateSample(sample(new Map([[id, new Map([["hypervisor", usage(1, 12.5, 4096)]])]])));
    let text = Buffer.concat(await cache.render(false)).toString();
    expect(text).toContain(
      `virtcontainers_pod_process_cpu_seconds_total{pod_id="${id}",namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",role="hypervisor"} 12.5`,
    );
    expect(text).toContain('virtcontainers_collector_success{collector="processes"} 1');
    cache.updateSample(sample(new Map([[id, new Map([["shim", usage(3, 1, 1)]])]])));
    text = Buffer.concat(await cache.render(false)).toString();
    expect(text).not.toContain('role="hypervisor"');
    expect(text).toContain(
      `virtcontainers_pod_processes{pod_id="${id}",namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",role="shim"} 3`,
    );
    // A pod that left the snapshot has no process series, whatever the sample says.
    cache.update({ ...s, pods: s.pods.slice(1) });
    expect(Buffer.concat(await cache.render(false)).toString()).not.toContain("role=");
  });

  it("serves the same text plain and gzipped with both cached parts, after changes to either", async () => {
    const self = new SelfMetrics("n1");
    const cache = new ExpositionCache(ALL_COLLECTORS, self);
    const s = await scanTree(EXAMPLE_HOST);
    cache.update(s);
    const id = s.pods[0]?.id ?? "";
    const strip = (t: string) =>
      t.split("\n").filter((l) => !/^(process_|nodejs_|# )/.test(l) && !l.includes("_seconds"));
    for (let i = 1; i <= 3; i++) {
      cache.updateSample(sample(new Map([[id, new Map([["proxy", usage(i, i, i)]])]])));
      if (i === 2) cache.update({ ...s, pods: [...s.pods].reverse() });
      const plain = Buffer.concat(await cache.render(false)).toString();
      const gz = gunzipSync(Buffer.concat(await cache.render(true))).toString();
      expect(strip(gz)).toEqual(strip(plain));
      expect(gz).toContain(`role="proxy"} ${i}`);
    }
  });
});
