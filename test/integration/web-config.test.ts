/**
 * `serve --web.config.file` end to end: the built CLI with certificates made by openssl, over
 * real TLS connections. TLS with basic auth, mTLS, plain HTTP refused, a certificate rotated on
 * disk (a Secret volume's ..data swap) served without a restart, an invalid change that keeps
 * the last good configuration, and malformed files refused at start.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  Child,
  childEnv,
  copyExample,
  ensureBuilt,
  httpGet,
  pollUntil,
  REPO,
  TempDirs,
} from "./helpers.js";
import { fingerprint, makeCa, makeCert, type CertFiles } from "../support/tls.js";
import { SecretDir, hash, httpsGet, sampleValue, startWebExporter } from "./web.js";

const temp = new TempDirs();
const children: Child[] = [];
let hostRoot = "";
let certs = "";
let ca: CertFiles;
let server: CertFiles;
let server2: CertFiles;
let client: CertFiles;
let otherCa: CertFiles;
let stranger: CertFiles;

beforeAll(() => {
  ensureBuilt();
  hostRoot = copyExample(temp);
  certs = temp.make("vce-certs-");
  ca = makeCa(certs, "ca");
  server = makeCert(certs, ca, "server", "server");
  server2 = makeCert(certs, ca, "server2", "server");
  client = makeCert(certs, ca, "client", "client");
  otherCa = makeCa(certs, "other-ca");
  stranger = makeCert(certs, otherCa, "stranger", "client");
}, 120_000);

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

afterAll(() => {
  temp.cleanup();
});

/** Writes <dir>/web.yml atomically (the exporter never sees half a file). */
function writeConfig(dir: string, lines: readonly string[]): string {
  const path = join(dir, "web.yml");
  writeFileSync(`${path}.tmp`, lines.join("\n") + "\n");
  renameSync(`${path}.tmp`, path);
  return path;
}

const TLS_AUTH = (cert: CertFiles) => [
  "tls_server_config:",
  `  cert_file: ${cert.cert}`,
  `  key_file: ${cert.key}`,
  "http_server_config:",
  "  headers:",
  "    X-Content-Type-Options: nosniff",
  "basic_auth_users:",
  `  prometheus: "${hash("s3cret")}"`,
];

describe("TLS with basic auth", () => {
  it("serves /metrics to the right credentials only, with WWW-Authenticate on a refusal", async () => {
    const dir = temp.make("vce-web-");
    const exp = await startWebExporter(hostRoot, writeConfig(dir, TLS_AUTH(server)), { ca: ca.cert });
    children.push(exp.child);
    const good = { ca: ca.cert, user: "prometheus", password: "s3cret" };

    const ok = await httpsGet(`${exp.base}/metrics`, good);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("virtcontainers_pods{");
    expect(ok.headers["x-content-type-options"]).toBe("nosniff");
    expect(ok.fingerprint).toBe(fingerprint(server.cert));

    for (const creds of [
      { user: "prometheus", password: "wrong" },
      { user: "nobody", password: "s3cret" },
      {},
    ]) {
      const r = await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, ...creds });
      expect(r.status, JSON.stringify(creds)).toBe(401);
      expect(r.headers["www-authenticate"]).toMatch(/^Basic realm="virtcontainers-exporter"/);
      expect(r.body).not.toContain("virtcontainers_");
    }
    expect((await httpsGet(`${exp.base}/`, { ca: ca.cert })).status).toBe(401);
    expect((await httpsGet(`${exp.base}/metrics?x=1`, { ca: ca.cert })).status).toBe(401);
    // The probes' paths need no credentials.
    expect((await httpsGet(`${exp.base}/healthz`, { ca: ca.cert })).status).toBe(200);
    expect((await httpsGet(`${exp.base}/readyz`, { ca: ca.cert })).status).toBe(200);

    // Plain HTTP on the TLS port gets no HTTP answer.
    await expect(httpGet(`http://127.0.0.1:${exp.port}/metrics`)).rejects.toThrow();
    // A TCP connection closed before any TLS (a kubelet tcpSocket probe) is not a failed handshake.
    await tcpConnectAndClose(exp.port);

    const text = (await httpsGet(`${exp.base}/metrics`, good)).body;
    expect(sampleValue(text, 'virtcontainers_web_auth_failures_total{reason="invalid"}')).toBe(2);
    expect(sampleValue(text, 'virtcontainers_web_auth_failures_total{reason="missing"}')).toBe(3);
    expect(sampleValue(text, "virtcontainers_web_tls_handshake_failures_total")).toBe(1);
  });

  it("a client that does not trust the certificate refuses it", async () => {
    const dir = temp.make("vce-web-");
    const exp = await startWebExporter(hostRoot, writeConfig(dir, TLS_AUTH(server)), { ca: ca.cert });
    children.push(exp.child);
    await expect(httpsGet(`${exp.base}/healthz`, { ca: otherCa.cert })).rejects.toThrow(/certificate/);
  });
});

describe("mTLS (RequireAndVerifyClientCert)", () => {
  it("serves a client with a certificate from the client CA and refuses the handshake otherwise", async () => {
    const dir = temp.make("vce-web-");
    const config = writeConfig(dir, [
      "tls_server_config:",
      `  cert_file: ${server.cert}`,
      `  key_file: ${server.key}`,
      `  client_ca_file: ${ca.cert}`,
      "  client_auth_type: RequireAndVerifyClientCert",
      "  min_version: TLS13",
    ]);
    const exp = await startWebExporter(hostRoot, config, { ca: ca.cert, client });
    children.push(exp.child);

    const ok = await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("virtcontainers_pods{");

    await expect(httpsGet(`${exp.base}/healthz`, { ca: ca.cert })).rejects.toThrow();
    await expect(httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client: stranger })).rejects.toThrow();
    await expect(httpGet(`http://127.0.0.1:${exp.port}/healthz`)).rejects.toThrow();

    const text = (await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client })).body;
    expect(sampleValue(text, "virtcontainers_web_tls_handshake_failures_total")).toBeGreaterThanOrEqual(3);
  });

  it("VerifyClientCertIfGiven serves a client without a certificate or with a trusted one, and refuses a foreign one", async () => {
    const dir = temp.make("vce-web-");
    const config = writeConfig(dir, [
      "tls_server_config:",
      `  cert_file: ${server.cert}`,
      `  key_file: ${server.key}`,
      `  client_ca_file: ${ca.cert}`,
      "  client_auth_type: VerifyClientCertIfGiven",
    ]);
    const exp = await startWebExporter(hostRoot, config, { ca: ca.cert });
    children.push(exp.child);
    expect((await httpsGet(`${exp.base}/metrics`, { ca: ca.cert })).status).toBe(200);
    expect((await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client })).status).toBe(200);
    await expect(httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client: stranger })).rejects.toThrow();
  });

  it("RequireAnyClientCert refuses a connection without a certificate and takes any certificate", async () => {
    const dir = temp.make("vce-web-");
    const config = writeConfig(dir, [
      "tls_server_config:",
      `  cert_file: ${server.cert}`,
      `  key_file: ${server.key}`,
      "  client_auth_type: RequireAnyClientCert",
    ]);
    const exp = await startWebExporter(hostRoot, config, { ca: ca.cert, client: stranger });
    children.push(exp.child);
    expect((await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, client: stranger })).status).toBe(200);
    await expect(httpsGet(`${exp.base}/metrics`, { ca: ca.cert })).rejects.toThrow();
  });
});

describe("changes on disk", () => {
  it("serves a certificate rotated by a Secret volume's ..data swap without a restart", async () => {
    const secret = new SecretDir(temp.make("vce-secret-"));
    const config = ["tls_server_config:", "  cert_file: tls.crt", "  key_file: tls.key"].join("\n");
    secret.publish({ "web.yml": config, "tls.crt": { copy: server.cert }, "tls.key": { copy: server.key } });
    const exp = await startWebExporter(hostRoot, join(secret.dir, "web.yml"), { ca: ca.cert });
    children.push(exp.child);
    const pid = exp.child.proc.pid;
    expect((await httpsGet(`${exp.base}/healthz`, { ca: ca.cert })).fingerprint).toBe(
      fingerprint(server.cert),
    );

    secret.publish({
      "web.yml": config,
      "tls.crt": { copy: server2.cert },
      "tls.key": { copy: server2.key },
    });
    await pollUntil(
      "the rotated certificate to be served",
      async () => {
        const r = await httpsGet(`${exp.base}/healthz`, { ca: ca.cert });
        return r.fingerprint === fingerprint(server2.cert) ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: () => exp.child.describe() },
    );
    expect(exp.child.exitStatus).toBeNull();
    expect(exp.child.proc.pid).toBe(pid);
    const text = (await httpsGet(`${exp.base}/metrics`, { ca: ca.cert })).body;
    expect(sampleValue(text, 'virtcontainers_web_config_reloads_total{result="success"}')).toBe(1);
    expect(exp.child.stdout).toContain('"msg":"web configuration reloaded"');
  });

  it("serves a certificate rewritten in place (new files at the same paths)", async () => {
    const dir = temp.make("vce-web-");
    const cert = join(dir, "tls.crt");
    const key = join(dir, "tls.key");
    writeFileSync(cert, readText(server.cert));
    writeFileSync(key, readText(server.key));
    const exp = await startWebExporter(
      hostRoot,
      writeConfig(dir, ["tls_server_config:", "  cert_file: tls.crt", "  key_file: tls.key"]),
      { ca: ca.cert },
    );
    children.push(exp.child);
    writeFileSync(key, readText(server2.key));
    writeFileSync(cert, readText(server2.cert));
    await pollUntil(
      "the rewritten certificate to be served",
      async () =>
        (await httpsGet(`${exp.base}/healthz`, { ca: ca.cert })).fingerprint === fingerprint(server2.cert)
          ? true
          : undefined,
      { timeoutMs: 20_000, intervalMs: 250, describe: () => exp.child.describe() },
    );
  });

  it("a change to an invalid file keeps the last good configuration and logs it; fixing it applies", async () => {
    const dir = temp.make("vce-web-");
    const config = writeConfig(dir, TLS_AUTH(server));
    const exp = await startWebExporter(hostRoot, config, { ca: ca.cert });
    children.push(exp.child);
    const good = { ca: ca.cert, user: "prometheus", password: "s3cret" };

    // The new certificate with the old key: refused, the old certificate and users stay.
    writeConfig(dir, [
      "tls_server_config:",
      `  cert_file: ${server2.cert}`,
      `  key_file: ${server.key}`,
      "basic_auth_users:",
      `  prometheus: "${hash("other")}"`,
    ]);
    await pollUntil(
      "the warning",
      () => (exp.child.stdout.includes("keeping the last good one") ? true : undefined),
      {
        timeoutMs: 20_000,
        describe: () => exp.child.describe(),
      },
    );
    const line = exp.child.stdout.split("\n").find((l) => l.includes("keeping the last good one")) ?? "";
    expect(JSON.parse(line)).toMatchObject({ level: 40, file: config });
    expect(line).toContain("is not the key of the certificate");
    const r = await httpsGet(`${exp.base}/metrics`, good);
    expect(r.status).toBe(200);
    expect(r.fingerprint).toBe(fingerprint(server.cert));
    expect(sampleValue(r.body, 'virtcontainers_web_config_reloads_total{result="failure"}')).toBe(1);
    expect(sampleValue(r.body, "virtcontainers_web_config_last_reload_successful")).toBe(0);

    // Not YAML at all: still the old configuration.
    writeConfig(dir, ["tls_server_config: ["]);
    await pollUntil(
      "the second failure",
      async () => {
        const t = (await httpsGet(`${exp.base}/metrics`, good)).body;
        return sampleValue(t, 'virtcontainers_web_config_reloads_total{result="failure"}') === 2
          ? true
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: () => exp.child.describe() },
    );

    // Fixed: the new certificate and password apply.
    writeConfig(dir, [...TLS_AUTH(server2).slice(0, -1), `  prometheus: "${hash("other")}"`]);
    await pollUntil(
      "the fixed configuration",
      async () => {
        const t = await httpsGet(`${exp.base}/metrics`, { ...good, password: "other" });
        return t.status === 200 && t.fingerprint === fingerprint(server2.cert) ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, describe: () => exp.child.describe() },
    ).then((t) => {
      expect(sampleValue(t.body, "virtcontainers_web_config_last_reload_successful")).toBe(1);
    });
    expect((await httpsGet(`${exp.base}/metrics`, good)).status).toBe(401);
  });
});

describe("what a reload cannot change", () => {
  it("a file that turns TLS off is refused while running (a restart is needed); HTTPS goes on", async () => {
    const dir = temp.make("vce-web-");
    const exp = await startWebExporter(hostRoot, writeConfig(dir, TLS_AUTH(server)), { ca: ca.cert });
    children.push(exp.child);
    writeConfig(dir, ["basic_auth_users:", `  prometheus: "${hash("s3cret")}"`]);
    await pollUntil(
      "the warning",
      () => (exp.child.stdout.includes("turning TLS off needs a restart") ? true : undefined),
      { timeoutMs: 20_000, describe: () => exp.child.describe() },
    );
    const r = await httpsGet(`${exp.base}/metrics`, { ca: ca.cert, user: "prometheus", password: "s3cret" });
    expect(r.status).toBe(200);
    expect(sampleValue(r.body, "virtcontainers_web_config_last_reload_successful")).toBe(0);
  });
});

describe("a malformed file stops serve at start with one line naming the file", () => {
  function run(args: readonly string[]) {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: "utf8",
      timeout: 30_000,
      env: childEnv(),
      cwd: REPO,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it.each([
    ["bad YAML", ["tls_server_config: ["], /not valid YAML/],
    ["an unknown key", ["basic_auth_user: {}"], /unknown key "basic_auth_user"/],
    [
      "a hash that is not bcrypt",
      ["basic_auth_users:", "  a: secret"],
      /basic_auth_users.a: not a bcrypt hash/,
    ],
    [
      "a missing key file",
      ["tls_server_config:", "  cert_file: tls.crt", "  key_file: nope.key"],
      /key_file .*nope\.key: ENOENT/,
    ],
    [
      "a certificate and key that differ",
      ["tls_server_config:", "  cert_file: CERT", "  key_file: KEY2"],
      /is not the key of the certificate/,
    ],
  ])("%s", (_what, lines, message) => {
    const dir = temp.make("vce-web-");
    const text = lines
      .join("\n")
      .replace("CERT", server.cert)
      .replace("KEY2", server2.key)
      .replace("tls.crt", server.cert);
    const config = join(dir, "web.yml");
    writeFileSync(config, text + "\n");
    const r = run([
      "serve",
      "--host-root",
      hostRoot,
      "--kubernetes",
      "off",
      "--listen",
      "127.0.0.1:0",
      "--web.config.file",
      config,
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const out = r.stderr.trimEnd().split("\n");
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^virtcontainers-exporter: --web.config.file /);
    expect(out[0]).toContain(config);
    expect(out[0]).toMatch(message);
  });

  it("a missing file, through VCE_WEB_CONFIG_FILE", () => {
    const r = spawnSync(process.execPath, [CLI, "serve", "--host-root", hostRoot, "--kubernetes", "off"], {
      encoding: "utf8",
      timeout: 30_000,
      env: childEnv({ VCE_WEB_CONFIG_FILE: "/nonexistent/web.yml" }),
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^virtcontainers-exporter: --web.config.file \/nonexistent\/web.yml: ENOENT[^\n]*\n$/,
    );
  });
});

function tcpConnectAndClose(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end();
    });
    socket.on("error", reject);
    socket.on("close", () => {
      // Let the server see the close before the next request.
      setTimeout(resolve, 200);
    });
  });
}

function readText(path: string): string {
  return readFileSync(path, "utf8");
}
