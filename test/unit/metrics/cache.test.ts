import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ExpositionCache, gzipJoin } from "../../../src/metrics/cache.js";
import { SNAPSHOT_COLLECTORS } from "../../../src/metrics/collectors/index.js";
import type { Collector } from "../../../src/metrics/exposition.js";
import { SelfMetrics } from "../../../src/metrics/self.js";
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
