import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWebConfig, parseWebConfig, type WebConfigSpec } from "../../../src/http/web-config.js";
import { TempDirs } from "../../support/temp.js";
import { makeCa, makeCert, type CertFiles } from "../../support/tls.js";

const HASH = bcrypt.hashSync("secret", 4);

function ok(text: string, dir = "/etc/vce"): WebConfigSpec {
  const r = parseWebConfig(text, dir);
  if (!r.ok) throw new Error(`expected a valid file, got: ${r.error}`);
  return r.spec;
}

function error(text: string): string {
  const r = parseWebConfig(text, "/etc/vce");
  if (r.ok) throw new Error(`expected an error for:\n${text}`);
  expect(r.error).not.toContain("\n");
  return r.error;
}

describe("parseWebConfig: valid files", () => {
  it("an empty file means plain HTTP, no authentication, no headers", () => {
    for (const text of ["", "---\n", "{}", "tls_server_config: {}\nbasic_auth_users:\n"]) {
      const s = ok(text);
      expect(s.tls).toBeNull();
      expect(s.users.size).toBe(0);
      expect(s.headers).toEqual([]);
    }
  });

  it("reads every supported key; relative paths resolve against the file's directory", () => {
    const s = ok(
      [
        "tls_server_config:",
        "  cert_file: tls/server.crt",
        "  key_file: /abs/server.key",
        "  client_ca_file: ../ca.crt",
        "  client_auth_type: RequireAndVerifyClientCert",
        "  min_version: TLS13",
        "  max_version: TLS13",
        "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]",
        "  prefer_server_cipher_suites: false",
        "  curve_preferences: [X25519, CurveP256]",
        "http_server_config:",
        "  http2: false",
        "  headers:",
        "    X-Frame-Options: deny",
        "    Content-Security-Policy: \"default-src 'none'\"",
        '    X-XSS-Protection: ""',
        "basic_auth_users:",
        `  alice: ${HASH}`,
        `  "bob smith": '${HASH.replace("$2b$", "$2y$")}'`,
      ].join("\n"),
    );
    expect(s.tls).toEqual({
      cert: { kind: "file", path: "/etc/vce/tls/server.crt" },
      key: { kind: "file", path: "/abs/server.key" },
      clientCa: { kind: "file", path: "/etc/ca.crt" },
      clientAuth: "RequireAndVerifyClientCert",
      minVersion: "TLS13",
      maxVersion: "TLS13",
      ciphers:
        "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256",
      honorCipherOrder: false,
      ecdhCurve: "X25519:P-256",
    });
    expect(s.headers).toEqual([
      ["Content-Security-Policy", "default-src 'none'"],
      ["X-Frame-Options", "deny"],
    ]);
    expect([...s.users.keys()]).toEqual(["alice", "bob smith"]);
  });

  it("defaults: TLS 1.2 to 1.3, no client certificate, OpenSSL's ciphers; RequireClientCert is the old name", () => {
    const s = ok("tls_server_config:\n  cert: PEM\n  key: PEM\n  client_auth_type: RequireClientCert\n");
    expect(s.tls).toMatchObject({
      cert: { kind: "inline", text: "PEM" },
      clientAuth: "RequireAnyClientCert",
      minVersion: "TLS12",
      maxVersion: "TLS13",
      ciphers: null,
      honorCipherOrder: true,
      ecdhCurve: null,
    });
  });
});

describe("parseWebConfig: every class of bad file is one line naming the problem", () => {
  it.each([
    ["not YAML", "tls_server_config: [\n", /not valid YAML/],
    ["a duplicate key", `basic_auth_users:\n  a: ${HASH}\n  a: ${HASH}\n`, /not valid YAML.*unique/i],
    ["not a mapping", "- a\n- b\n", /must be a mapping/],
    ["an unknown top-level key", "tls_config: {}\n", /unknown key "tls_config"/],
    [
      "an unknown TLS key",
      "tls_server_config:\n  certfile: a\n",
      /tls_server_config: unknown key "certfile"/,
    ],
    [
      "an unknown HTTP key",
      "http_server_config:\n  header: {}\n",
      /http_server_config: unknown key "header"/,
    ],
    ["rate_limit", "rate_limit:\n  interval: 1s\n  burst: 2\n", /rate_limit: not supported/],
    [
      "client_allowed_sans",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_allowed_sans: [x]\n",
      /client_allowed_sans: not supported/,
    ],
    [
      "a number as a path",
      "tls_server_config:\n  cert_file: 1\n  key_file: b\n",
      /cert_file: must be a string/,
    ],
    ["cert without key", "tls_server_config:\n  cert_file: a\n", /cert_file given without key_file/],
    ["key without cert", "tls_server_config:\n  key_file: a\n", /key_file given without cert_file/],
    [
      "inline and file cert",
      "tls_server_config:\n  cert: x\n  cert_file: a\n  key_file: b\n",
      /cert and cert_file are exclusive/,
    ],
    [
      "a TLS setting without a certificate",
      "tls_server_config:\n  min_version: TLS13\n",
      /min_version: given without cert_file/,
    ],
    [
      "an unknown client_auth_type",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n",
      /client_auth_type: "Always" is not one of/,
    ],
    [
      "a verifying client_auth_type without a CA",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
      /needs client_ca_file/,
    ],
    [
      "a CA with NoClientCert",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
      /client_ca_file given with client_auth_type NoClientCert/,
    ],
    [
      "an unknown TLS version",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS1.2\n",
      /min_version: "TLS1.2" is not one of TLS10/,
    ],
    [
      "min above max",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
      /min_version TLS13 is above max_version TLS12/,
    ],
    [
      "an unknown cipher suite",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [RC4]\n",
      /unknown cipher suite "RC4"/,
    ],
    [
      "only TLS 1.3 suites",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
      /only TLS 1.3 suites/,
    ],
    [
      "cipher_suites not a list",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: TLS_RSA_WITH_AES_128_CBC_SHA\n",
      /must be a list of strings/,
    ],
    [
      "an unknown curve",
      "tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P-256]\n",
      /unknown curve "P-256"/,
    ],
    [
      "a header exporter-toolkit refuses",
      "http_server_config:\n  headers:\n    Server: x\n",
      /"Server" cannot be set/,
    ],
    [
      "a header in another case",
      "http_server_config:\n  headers:\n    x-frame-options: deny\n",
      /"x-frame-options" cannot be set/,
    ],
    [
      "a header value outside its list",
      "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
      /"allow" is not one of deny, sameorigin/,
    ],
    [
      "a header value with a line break",
      'http_server_config:\n  headers:\n    Content-Security-Policy: "a\\r\\nSet-Cookie: x"\n',
      /printable ASCII/,
    ],
    ["http2 not a boolean", "http_server_config:\n  http2: yes\n", /http2: must be true or false/],
    ["a plain password", "basic_auth_users:\n  alice: secret\n", /basic_auth_users.alice: not a bcrypt hash/],
    [
      "a hash of another kind",
      `basic_auth_users:\n  alice: "$6$salt$${"x".repeat(86)}"\n`,
      /not a bcrypt hash/,
    ],
    ["a truncated bcrypt hash", `basic_auth_users:\n  alice: "${HASH.slice(0, -1)}"\n`, /not a bcrypt hash/],
    [
      "a bcrypt cost out of range",
      `basic_auth_users:\n  alice: "${HASH.replace("$04$", "$03$")}"\n`,
      /not a bcrypt hash/,
    ],
    ["a user name with a colon", `basic_auth_users:\n  "a:b": "${HASH}"\n`, /"a:b" cannot be a user name/],
    ["users as a list", `basic_auth_users:\n  - "${HASH}"\n`, /basic_auth_users: must be a mapping/],
  ])("%s", (_what, text, message) => {
    expect(error(text)).toMatch(message);
  });
});

describe("loadWebConfig: the files it names", () => {
  const temp = new TempDirs();
  let dir = "";
  let server: CertFiles;
  let other: CertFiles;
  let ca: CertFiles;

  beforeAll(() => {
    dir = temp.make("vce-webcfg-");
    mkdirSync(join(dir, "tls"));
    ca = makeCa(join(dir, "tls"));
    server = makeCert(join(dir, "tls"), ca, "server", "server");
    other = makeCert(join(dir, "tls"), ca, "other", "server");
    writeFileSync(join(dir, "not-pem"), "hello\n");
  }, 60_000);

  afterAll(() => {
    temp.cleanup();
  });

  function load(text: string) {
    const path = join(dir, "web.yml");
    writeFileSync(path, text);
    return loadWebConfig(path);
  }

  function loadError(text: string): string {
    const r = load(text);
    if (r.ok) throw new Error("expected an error");
    expect(r.error).not.toContain("\n");
    return r.error;
  }

  it("loads relative certificate paths and lists the files to watch", () => {
    const r = load(
      "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_ca_file: tls/ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.config.files).toEqual([join(dir, "web.yml"), server.cert, server.key, ca.cert]);
    expect(r.config.tlsOptions).toMatchObject({ minVersion: "TLSv1.2", maxVersion: "TLSv1.3" });
    expect(typeof r.config.tlsOptions?.ca).toBe("string");
  });

  it("the fingerprint changes when a certificate changes, not when nothing did", () => {
    const text = "tls_server_config:\n  cert_file: tls/cur.crt\n  key_file: tls/cur.key\n";
    copyFileSync(server.cert, join(dir, "tls/cur.crt"));
    copyFileSync(server.key, join(dir, "tls/cur.key"));
    const a = load(text);
    const b = load(text);
    copyFileSync(other.cert, join(dir, "tls/cur.crt"));
    copyFileSync(other.key, join(dir, "tls/cur.key"));
    const c = load(text);
    if (!a.ok || !b.ok || !c.ok) throw new Error("expected valid files");
    expect(a.config.fingerprint).toBe(b.config.fingerprint);
    expect(c.config.fingerprint).not.toBe(a.config.fingerprint);
  });

  it("a missing configuration file", () => {
    const r = loadWebConfig(join(dir, "nope.yml"));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/ENOENT/);
  });

  it.each([
    [
      "a missing cert_file",
      "cert_file: tls/none.crt\n  key_file: tls/server.key",
      /cert_file .*none\.crt: ENOENT/,
    ],
    [
      "a cert_file that is not PEM",
      "cert_file: not-pem\n  key_file: tls/server.key",
      /cert_file .*not-pem: not a PEM certificate/,
    ],
    [
      "a key_file that is not PEM",
      "cert_file: tls/server.crt\n  key_file: not-pem",
      /key_file .*not-pem: not an unencrypted PEM private key/,
    ],
    [
      "a certificate and a key that do not belong together",
      "cert_file: tls/server.crt\n  key_file: tls/other.key",
      /other\.key: is not the key of the certificate/,
    ],
    [
      "a client CA that is not PEM",
      "cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_ca_file: not-pem\n  client_auth_type: RequireAndVerifyClientCert",
      /client_ca_file .*not-pem: not a PEM certificate/,
    ],
    ["a directory as a certificate", "cert_file: tls\n  key_file: tls/server.key", /cert_file .*tls: EISDIR/],
  ])("%s", (_what, tls, message) => {
    expect(loadError(`tls_server_config:\n  ${tls}\n`)).toMatch(message);
  });

  it("a failed load still names the files to watch", () => {
    const r = load("tls_server_config:\n  cert_file: tls/none.crt\n  key_file: tls/server.key\n");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.files).toEqual([join(dir, "web.yml"), join(dir, "tls/none.crt"), server.key]);
  });
});
