/**
 * A real Prometheus scrapes protected exporters: one over TLS with basic auth, one with mTLS
 * (RequireAndVerifyClientCert). Both report up == 1 and the exporter's series; the negative
 * controls (a wrong password, no client certificate, plain HTTP) report up == 0, and the
 * exporter counts the refused attempts.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyExample, ensureBuilt, pollUntil, TempDirs } from "./helpers.js";
import { startPrometheus, type Prometheus } from "./prometheus.js";
import { makeCa, makeCert } from "../support/tls.js";
import { hash, startWebExporter, type WebExporter } from "./web.js";

const temp = new TempDirs();
let basic: WebExporter | null = null;
let mtls: WebExporter | null = null;
let prom: Prometheus | null = null;

beforeAll(async () => {
  ensureBuilt();
  const hostRoot = copyExample(temp);
  const dir = temp.make("vce-web-prom-");
  const ca = makeCa(dir, "ca");
  makeCert(dir, ca, "server", "server");
  const client = makeCert(dir, ca, "prometheus", "client");
  writeFileSync(join(dir, "password"), "scrape-pw");
  writeFileSync(join(dir, "wrong-password"), "not-it");

  const basicConfig = join(dir, "basic.yml");
  writeFileSync(
    basicConfig,
    [
      "tls_server_config:",
      "  cert_file: server.crt",
      "  key_file: server.key",
      "basic_auth_users:",
      `  prometheus: "${hash("scrape-pw")}"`,
      "",
    ].join("\n"),
  );
  const mtlsConfig = join(dir, "mtls.yml");
  writeFileSync(
    mtlsConfig,
    [
      "tls_server_config:",
      "  cert_file: server.crt",
      "  key_file: server.key",
      "  client_ca_file: ca.crt",
      "  client_auth_type: RequireAndVerifyClientCert",
      "",
    ].join("\n"),
  );
  basic = await startWebExporter(hostRoot, basicConfig, { ca: ca.cert });
  mtls = await startWebExporter(hostRoot, mtlsConfig, { ca: ca.cert, client });

  const target = (e: WebExporter) => ({ targets: [`127.0.0.1:${e.port}`] });
  prom = await startPrometheus(temp.make("vce-prom-"), [
    {
      job_name: "basic",
      scheme: "https",
      tls_config: { ca_file: ca.cert },
      basic_auth: { username: "prometheus", password_file: join(dir, "password") },
      static_configs: [target(basic)],
    },
    {
      job_name: "mtls",
      scheme: "https",
      tls_config: { ca_file: ca.cert, cert_file: client.cert, key_file: client.key },
      static_configs: [target(mtls)],
    },
    {
      job_name: "wrong-password",
      scheme: "https",
      tls_config: { ca_file: ca.cert },
      basic_auth: { username: "prometheus", password_file: join(dir, "wrong-password") },
      static_configs: [target(basic)],
    },
    {
      job_name: "no-client-cert",
      scheme: "https",
      tls_config: { ca_file: ca.cert },
      static_configs: [target(mtls)],
    },
    { job_name: "plain-http", static_configs: [target(basic)] },
  ]);
}, 120_000);

afterAll(async () => {
  try {
    await prom?.stop();
  } finally {
    try {
      await Promise.all([basic?.child.stop(), mtls?.child.stop()]);
    } finally {
      temp.cleanup();
    }
  }
});

async function upOf(job: string): Promise<string | undefined> {
  const p = prom;
  if (p === null) throw new Error("no Prometheus");
  const r = await p.query(`up{job="${job}"}`);
  return r[0]?.value[1];
}

describe("Prometheus scrapes a protected exporter", () => {
  it("over TLS with basic auth and with mTLS: up == 1 and the exporter's series", async () => {
    const p = prom;
    if (p === null) throw new Error("no Prometheus");
    for (const job of ["basic", "mtls"]) {
      await pollUntil(`up{job="${job}"} == 1`, async () => ((await upOf(job)) === "1" ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 250,
        describe: () => p.child.describe(),
      });
      const pods = await p.query(`virtcontainers_pods{job="${job}"}`);
      expect(pods.length, job).toBeGreaterThan(0);
      const info = await p.query(`virtcontainers_pod_info{job="${job}"}`);
      expect(info.length, job).toBe(2);
    }
  });

  it("a wrong password, no client certificate and plain HTTP are refused: up == 0", async () => {
    const p = prom;
    if (p === null) throw new Error("no Prometheus");
    for (const job of ["wrong-password", "no-client-cert", "plain-http"]) {
      await pollUntil(`up{job="${job}"} == 0`, async () => ((await upOf(job)) === "0" ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 250,
        describe: () => p.child.describe(),
      });
      expect(await p.query(`virtcontainers_pods{job="${job}"}`), job).toEqual([]);
    }
    // The exporters counted the refusals, and Prometheus scraped the counts.
    await pollUntil(
      "the refusals in the scraped counters",
      async () => {
        const auth = await p.query(
          'virtcontainers_web_auth_failures_total{job="basic",reason="invalid"} > 0',
        );
        const tls = await p.query('virtcontainers_web_tls_handshake_failures_total{job="mtls"} > 0');
        const plain = await p.query('virtcontainers_web_tls_handshake_failures_total{job="basic"} > 0');
        return auth.length === 1 && tls.length === 1 && plain.length === 1 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, describe: () => p.child.describe() },
    );
  });
});
