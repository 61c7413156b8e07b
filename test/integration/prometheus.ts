/**
 * A real Prometheus for integration tests: the apt package's server (2.42 in CI) as a child
 * process on 127.0.0.1, with a generated config, a throwaway TSDB and typed access to its HTTP
 * API (instant and range queries, label values).
 *
 *   const prom = await startPrometheus(dir, [{ job_name: "x", static_configs: [{ targets: [...] }] }]);
 *   const up = await prom.query('up{job="x"}');
 *   await prom.stop();
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Child, childEnv, freePort, pollUntil } from "./helpers.js";

/** The Prometheus server binary, when installed: on PATH, or `apt-get install prometheus`. */
export const PROMETHEUS_BIN = [
  ...(process.env.PATH ?? "")
    .split(":")
    .filter((d) => d !== "")
    .map((d) => join(d, "prometheus")),
  "/usr/bin/prometheus",
  "/usr/local/bin/prometheus",
].find((p) => existsSync(p));

export interface PromSample {
  readonly metric: Readonly<Record<string, string>>;
  /** [unix seconds, value as Prometheus formats it: "1", "NaN", "+Inf", ...] */
  readonly value: readonly [number, string];
}

export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>;
  readonly values: readonly (readonly [number, string])[];
}

interface ApiResponse<T> {
  readonly status: string;
  readonly error?: string;
  readonly errorType?: string;
  readonly data?: T;
}

type QueryData =
  | { readonly resultType: "vector"; readonly result: PromSample[] }
  | { readonly resultType: "scalar" | "string"; readonly result: readonly [number, string] }
  | { readonly resultType: "matrix"; readonly result: PromSeries[] };

export interface RangeOptions {
  /** Unix seconds. */
  readonly start: number;
  /** Unix seconds. */
  readonly end: number;
  /** Seconds. */
  readonly step: number;
}

export interface Prometheus {
  readonly child: Child;
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** /api/v1/query: the vector (a scalar result becomes one sample without labels). Throws on an API error. */
  query(promql: string): Promise<PromSample[]>;
  /** /api/v1/query_range: the matrix. Throws on an API error. */
  queryRange(promql: string, range: RangeOptions): Promise<PromSeries[]>;
  /** /api/v1/label/<name>/values, optionally restricted to series matching `match`. */
  labelValues(label: string, match?: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

async function apiGet<T>(
  base: string,
  path: string,
  params: readonly (readonly [string, string])[],
): Promise<T> {
  const qs = new URLSearchParams(params.map(([k, v]): [string, string] => [k, v]));
  const res = await fetch(`${base}${path}?${qs.toString()}`);
  const body = (await res.json()) as ApiResponse<T>;
  if (body.status !== "success" || body.data === undefined) {
    const why =
      body.error === undefined ? JSON.stringify(body) : `${body.errorType ?? "error"}: ${body.error}`;
    throw new Error(
      `${path} ${JSON.stringify(Object.fromEntries(params))} failed (HTTP ${res.status}): ${why}`,
    );
  }
  return body.data;
}

/**
 * Starts Prometheus with `scrapeConfigs` (the `scrape_configs` list, as objects), scraping every
 * `scrapeInterval` (default 1s), its TSDB under `dir`; resolves once /-/ready answers 200.
 */
export async function startPrometheus(
  dir: string,
  scrapeConfigs: readonly Readonly<Record<string, unknown>>[],
  opts: { readonly scrapeInterval?: string } = {},
): Promise<Prometheus> {
  if (PROMETHEUS_BIN === undefined) {
    throw new Error(
      "prometheus is not installed (looked for /usr/bin/prometheus and /usr/local/bin/prometheus); " +
        "install it with `apt-get install prometheus` (CI does this in .ci/run)",
    );
  }
  const interval = opts.scrapeInterval ?? "1s";
  const config = join(dir, "prometheus.yml");
  // JSON is YAML.
  writeFileSync(
    config,
    JSON.stringify(
      {
        global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
        scrape_configs: scrapeConfigs,
      },
      null,
      2,
    ),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = new Child(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    childEnv(),
    dir,
  );
  try {
    await pollUntil(
      `Prometheus at ${base} to be ready`,
      async () => {
        if (child.exitStatus !== null) throw new Error("prometheus exited");
        return (await fetch(`${base}/-/ready`)).status === 200 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, describe: () => child.describe() },
    );
  } catch (err: unknown) {
    await child.stop();
    throw err;
  }

  return {
    child,
    base,
    async query(promql) {
      const data = await apiGet<QueryData>(base, "/api/v1/query", [["query", promql]]);
      switch (data.resultType) {
        case "vector":
          return data.result;
        case "scalar":
          return [{ metric: {}, value: data.result }];
        default:
          throw new Error(`query ${promql}: unexpected result type ${data.resultType}`);
      }
    },
    async queryRange(promql, { start, end, step }) {
      const data = await apiGet<QueryData>(base, "/api/v1/query_range", [
        ["query", promql],
        ["start", String(start)],
        ["end", String(end)],
        ["step", String(step)],
      ]);
      if (data.resultType !== "matrix") {
        throw new Error(`range query ${promql}: unexpected result type ${data.resultType}`);
      }
      return data.result;
    },
    labelValues(label, match = []) {
      return apiGet<string[]>(
        base,
        `/api/v1/label/${encodeURIComponent(label)}/values`,
        match.map((m) => ["match[]", m] as const),
      );
    },
    async stop() {
      await child.stop();
    },
  };
}
