/**
 * End to end with a real Prometheus: the built exporter serves a copy of examples/host, a
 * Prometheus child process scrapes it every second (gzip, as Prometheus always asks for it)
 * and the PromQL answers are checked. Both processes listen on 127.0.0.1 only.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Child,
  childEnv,
  copyExample,
  ensureBuilt,
  freePort,
  httpGet,
  K8S_POD,
  pollUntil,
  startExporter,
  TempDirs,
  type Exporter,
} from "./helpers.js";

const PROMETHEUS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((p) => existsSync(p));

interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

interface QueryResponse {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: VectorSample[] };
}

const temp = new TempDirs();
let exporter: Exporter | null = null;
let prometheus: Child | null = null;
let promBase = "";

async function query(promql: string): Promise<VectorSample[]> {
  const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as QueryResponse;
  if (body.status !== "success" || body.data === undefined) {
    throw new Error(`query ${promql} failed: ${res.status} ${body.error ?? JSON.stringify(body)}`);
  }
  if (body.data.resultType !== "vector") throw new Error(`query ${promql}: ${body.data.resultType}`);
  return body.data.result;
}

/** The single value of a query that must return exactly one series. */
async function scalar(promql: string): Promise<number> {
  const r = await query(promql);
  if (r.length !== 1 || r[0] === undefined) {
    throw new Error(`query ${promql} returned ${r.length} series: ${JSON.stringify(r)}`);
  }
  return Number(r[0].value[1]);
}

beforeAll(async () => {
  if (PROMETHEUS === undefined) {
    throw new Error(
      "prometheus is not installed (looked for /usr/bin/prometheus and /usr/local/bin/prometheus); " +
        "install it with `apt-get install prometheus` (CI does this in .ci/run)",
    );
  }
  ensureBuilt();
  const work = temp.make("vce-e2e-");
  const hostRoot = copyExample(temp);
  exporter = await startExporter(hostRoot);

  const promPort = await freePort();
  promBase = `http://127.0.0.1:${promPort}`;
  const config = join(work, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: vce",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${exporter.port}"]`,
      "",
    ].join("\n"),
  );
  prometheus = new Child(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(work, "data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ],
    childEnv(),
    work,
  );
  const prom = prometheus;
  await pollUntil(
    'Prometheus to report up{job="vce"} == 1',
    async () => ((await query('up{job="vce"} == 1')).length === 1 ? true : undefined),
    { timeoutMs: 30_000, intervalMs: 250, describe: () => prom.describe() },
  );
});

afterAll(async () => {
  // Each step runs even when an earlier one failed.
  try {
    await prometheus?.stop();
  } finally {
    try {
      await exporter?.child.stop();
    } finally {
      temp.cleanup();
    }
  }
});

describe("Prometheus scraping the exporter", () => {
  it("scrapes successfully with gzip and stores every sample", async () => {
    expect(await scalar('up{job="vce"}')).toBe(1);
    const scraped = await scalar('scrape_samples_scraped{job="vce"}');
    expect(scraped).toBeGreaterThan(100);
    // The exporter answers Prometheus's request headers with a gzip body.
    const r = await httpGet(`${exporter?.base ?? ""}/metrics`, {
      "Accept-Encoding": "gzip",
      Accept: "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    });
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(r.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    // Prometheus counted its scrapes on the exporter.
    expect(await scalar('virtcontainers_scrapes_total{job="vce"}')).toBeGreaterThanOrEqual(1);
  });

  it("sees both pods", async () => {
    expect(await scalar("count(virtcontainers_pod_info)")).toBe(2);
    const ml = await query('virtcontainers_pod_info{namespace="ml-serving"}');
    expect(ml).toHaveLength(1);
    expect(ml[0]?.metric).toMatchObject({
      pod: "resnet-infer-1684375908-7xq2p",
      pod_id: K8S_POD,
      job: "vce",
    });
    expect(ml[0]?.value[1]).toBe("1");
  });

  it("counts the devices by type", async () => {
    const byType = await query("sum by (type) (virtcontainers_devices)");
    const counts = Object.fromEntries(
      byType.map((s): [string, number] => [s.metric.type ?? "", Number(s.value[1])]),
    );
    expect(counts).toEqual({ vfio: 1, block: 1, generic: 1 });
  });

  it("has the VFIO device with its PCI address", async () => {
    const vfio = await query('virtcontainers_device_info{type="vfio"}');
    expect(vfio).toHaveLength(1);
    expect(vfio[0]?.metric).toMatchObject({
      bdf: "0000:04:00.0",
      host_path: "/dev/vfio/42",
      container: "infer",
      namespace: "ml-serving",
    });
  });

  it("reports the vCPUs and the ready container", async () => {
    expect(await scalar('virtcontainers_pod_vcpus{namespace="ml-serving"}')).toBe(18);
    expect(await scalar('sum(virtcontainers_container_state{state="ready"})')).toBe(1);
    const ready = await query('virtcontainers_container_state{state="ready"} == 1');
    expect(ready.map((s) => s.metric.container)).toEqual(["loader"]);
  });
});
