/**
 * End to end with a real Prometheus, on each pinned line (the current 3.x release and the 2.53
 * LTS line): the built exporter serves a copy of examples/host, a Prometheus child process
 * scrapes it every second through a recording relay (so the test sees what Prometheus really asks for and what the exporter
 * answers: Accept, Accept-Encoding, Content-Type) and the PromQL answers are checked. Every
 * process listens on 127.0.0.1 only.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { PROMETHEUS_LINES } from "../support/tools.js";
import {
  copyExample,
  DOCKER_POD,
  ensureBuilt,
  K8S_POD,
  pollUntil,
  RUN,
  startExporter,
  TempDirs,
  type Exporter,
} from "./helpers.js";
import { startPrometheus, type PromSample, type Prometheus } from "./prometheus.js";

interface Exchange {
  readonly request: IncomingHttpHeaders;
  readonly status: number;
  readonly response: IncomingHttpHeaders;
}

/** An HTTP relay to `target` that keeps the headers of every exchange. */
async function startRelay(target: number): Promise<{ server: Server; port: number; seen: Exchange[] }> {
  const seen: Exchange[] = [];
  const server = createServer((req, res) => {
    const up = request(
      { host: "127.0.0.1", port: target, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        seen.push({ request: req.headers, status: upRes.statusCode ?? 0, response: upRes.headers });
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => {
      res.writeHead(502).end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

const temp = new TempDirs();
let exporter: Exporter | null = null;
let hostRoot = "";
let relay: Awaited<ReturnType<typeof startRelay>> | null = null;
const proms = new Map<string, Prometheus>();

beforeAll(async () => {
  ensureBuilt();
  hostRoot = copyExample(temp);
  exporter = await startExporter(hostRoot);
  relay = await startRelay(exporter.port);
  for (const { line, prometheus: tool } of PROMETHEUS_LINES) {
    const prom = await startPrometheus(
      temp.make("vce-e2e-"),
      [{ job_name: "vce", static_configs: [{ targets: [`127.0.0.1:${relay.port}`] }] }],
      { tool },
    );
    proms.set(line, prom);
    await pollUntil(
      `Prometheus ${prom.version} to report up{job="vce"} == 1`,
      async () => ((await prom.query('up{job="vce"} == 1')).length === 1 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250, describe: () => prom.child.describe() },
    );
  }
}, 180_000);

afterAll(async () => {
  // Each step runs even when an earlier one failed.
  try {
    for (const p of proms.values()) await p.stop();
  } finally {
    try {
      await exporter?.child.stop();
    } finally {
      relay?.server.close();
      temp.cleanup();
    }
  }
});

function prometheus(line: string): Prometheus {
  const p = proms.get(line);
  if (p === undefined) throw new Error(`Prometheus ${line} did not start`);
  return p;
}

/** The single value of a query that must return exactly one series. */
async function scalar(p: Prometheus, promql: string): Promise<number> {
  const r: PromSample[] = await p.query(promql);
  if (r.length !== 1 || r[0] === undefined) {
    throw new Error(`query ${promql} returned ${r.length} series: ${JSON.stringify(r)}`);
  }
  return Number(r[0].value[1]);
}

/** The exchanges of the Prometheus whose User-Agent names `version`. */
function exchangesOf(version: string): Exchange[] {
  return (relay?.seen ?? []).filter((x) => x.request["user-agent"]?.includes(`Prometheus/${version}`));
}

describe.each(PROMETHEUS_LINES.map(({ line }) => [line]))("Prometheus %s scraping the exporter", (line) => {
  it("runs the pinned version", () => {
    expect(prometheus(line).version).toMatch(line === "3.x" ? /^3\.\d+\.\d+$/ : /^2\.53\.\d+$/);
  });

  it("negotiates the text format 0.0.4 with gzip, and the scrape succeeds", async () => {
    const p = prometheus(line);
    expect(await scalar(p, 'up{job="vce"}')).toBe(1);
    expect(await scalar(p, 'scrape_samples_scraped{job="vce"}')).toBeGreaterThan(100);
    const mine = exchangesOf(p.version);
    expect(mine.length).toBeGreaterThan(0);
    for (const x of mine) {
      // What Prometheus offered: OpenMetrics first, the classic text format among the rest.
      expect(x.request.accept).toMatch(/application\/openmetrics-text/);
      expect(x.request.accept).toMatch(/text\/plain;\s*version=0\.0\.4/);
      expect(x.request["accept-encoding"]).toMatch(/gzip/);
      // What the exporter answered: a Content-Type Prometheus 3 accepts without a fallback
      // protocol (it fails a scrape whose Content-Type is missing or unknown), gzip-encoded.
      expect(x.status).toBe(200);
      expect(x.response["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(x.response["content-encoding"]).toBe("gzip");
    }
    if (line === "3.x") {
      // 3.x offers the UTF-8 escaping scheme; the exporter's names need none.
      expect(mine[0]?.request.accept).toMatch(/escaping=/);
    }
    expect(await scalar(p, 'virtcontainers_scrapes_total{job="vce"}')).toBeGreaterThanOrEqual(1);
  });

  it("sees both pods", async () => {
    const p = prometheus(line);
    expect(await scalar(p, "count(virtcontainers_pod_info)")).toBe(2);
    const ml = await p.query('virtcontainers_pod_info{namespace="ml-serving"}');
    expect(ml).toHaveLength(1);
    expect(ml[0]?.metric).toMatchObject({
      pod: "resnet-infer-1684375908-7xq2p",
      pod_id: K8S_POD,
      job: "vce",
    });
    expect(ml[0]?.value[1]).toBe("1");
  });

  it("counts the devices by type", async () => {
    const byType = await prometheus(line).query("sum by (type) (virtcontainers_devices)");
    const counts = Object.fromEntries(
      byType.map((s): [string, number] => [s.metric.type ?? "", Number(s.value[1])]),
    );
    expect(counts).toEqual({ vfio: 1, block: 1, generic: 1 });
  });

  it("has the VFIO device with its PCI address", async () => {
    const vfio = await prometheus(line).query('virtcontainers_device_info{type="vfio"}');
    expect(vfio).toHaveLength(1);
    expect(vfio[0]?.metric).toMatchObject({
      bdf: "0000:04:00.0",
      host_path: "/dev/vfio/42",
      container: "infer",
      namespace: "ml-serving",
    });
  });

  it("stores every family under the name the exporter gave it (legacy names: no UTF-8 escaping applies)", async () => {
    const p = prometheus(line);
    const names = await p.labelValues("__name__", ['{job="vce"}']);
    const exposed = new Set(
      [...(await (await fetch(`${exporter?.base ?? ""}/metrics`)).text()).matchAll(/^# TYPE (\S+) /gm)].map(
        (m) => m[1] ?? "",
      ),
    );
    for (const n of exposed) expect(n).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    // every stored series name is an exposed family's (a histogram's with its _bucket/_sum/_count)
    for (const n of names.filter((x) => x.startsWith("virtcontainers_"))) {
      expect(exposed.has(n) || exposed.has(n.replace(/_(bucket|sum|count)$/, "")), n).toBe(true);
    }
    expect(names).toContain("virtcontainers_pod_info");
  });

  it("reports the vCPUs and the ready container", async () => {
    const p = prometheus(line);
    expect(await scalar(p, 'virtcontainers_pod_vcpus{namespace="ml-serving"}')).toBe(18);
    // one state series per container, the current one
    expect(await scalar(p, "count(virtcontainers_container_state)")).toBe(4);
    expect(await p.query("count by (container_id) (virtcontainers_container_state) > 1")).toEqual([]);
    const ready = await p.query('virtcontainers_container_state{state="ready"}');
    expect(ready.map((s) => [s.metric.container, s.value[1]])).toEqual([["loader", "1"]]);
  });
});

describe("a state change seen by Prometheus", () => {
  it("ends the old state's series (stale at the next scrape) and starts the new one, on every line", async () => {
    const file = join(hostRoot, RUN, DOCKER_POD, "state.json");
    writeFileSync(
      file,
      JSON.stringify({ ...(JSON.parse(readFileSync(file, "utf8")) as object), state: "paused" }),
    );
    const pod = `pod_id="${DOCKER_POD}"`;
    for (const { line } of PROMETHEUS_LINES) {
      const p = prometheus(line);
      // within the 5-minute lookback the old series would still answer if it were not marked stale
      await pollUntil(
        `Prometheus ${p.version} to see the Docker pod paused and no longer running`,
        async () => {
          const [paused, running] = await Promise.all([
            p.query(`virtcontainers_pod_state{${pod}, state="paused"}`),
            p.query(`virtcontainers_pod_state{${pod}, state="running"}`),
          ]);
          return paused.length === 1 && running.length === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, describe: () => p.child.describe() },
      );
      expect(await p.query(`virtcontainers_pod_state{${pod}}`)).toHaveLength(1);
      expect(await scalar(p, `virtcontainers_pod_state{${pod}, state!="running"}`)).toBe(1);
      // the documented "changed state in the last hour" query finds it, and only it
      const changed = await p.query("count by (pod_id) (count_over_time(virtcontainers_pod_state[1h])) > 1");
      expect(changed.map((s) => s.metric.pod_id)).toEqual([DOCKER_POD]);
    }
  });
});
