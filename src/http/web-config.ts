/**
 * The web configuration file of `serve --web.config.file`: the Prometheus exporter-toolkit
 * format (tls_server_config, http_server_config.headers, basic_auth_users). parseWebConfig is
 * pure (text in, a typed spec or one error line out); loadWebConfig reads the file and the
 * certificates it names and checks that they can be served.
 */
import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { parseDocument } from "yaml";

/** exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType names). */
export const CLIENT_AUTH_TYPES = [
  "NoClientCert",
  "RequestClientCert",
  "RequireAnyClientCert",
  "VerifyClientCertIfGiven",
  "RequireAndVerifyClientCert",
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = { TLS10: "TLSv1", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3" } as const;
type TlsVersionName = keyof typeof TLS_VERSIONS;

/**
 * Go's cipher suite names (crypto/tls CipherSuites(), the ones exporter-toolkit accepts) and
 * their OpenSSL names. The TLS 1.3 suites are accepted and, as in Go, not configurable.
 */
const CIPHER_SUITES: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: "AES128-SHA",
  TLS_RSA_WITH_AES_256_CBC_SHA: "AES256-SHA",
  TLS_RSA_WITH_AES_128_GCM_SHA256: "AES128-GCM-SHA256",
  TLS_RSA_WITH_AES_256_GCM_SHA384: "AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: "ECDHE-ECDSA-AES128-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: "ECDHE-ECDSA-AES256-SHA",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: "ECDHE-RSA-AES128-SHA",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: "ECDHE-RSA-AES256-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};
/** The TLS 1.3 suites OpenSSL enables by default; `ciphers` must name them or TLS 1.3 has none. */
const TLS13_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

/** Go's curve names and OpenSSL's. */
const CURVES: Readonly<Record<string, string>> = {
  CurveP256: "P-256",
  CurveP384: "P-384",
  CurveP521: "P-521",
  X25519: "X25519",
};

/**
 * The response headers exporter-toolkit lets a file set, with the values it allows (null: any).
 * Every other header is refused, as there.
 */
export const ALLOWED_HEADERS: Readonly<Record<string, readonly string[] | null>> = {
  "Content-Security-Policy": null,
  "Strict-Transport-Security": null,
  "X-Content-Type-Options": ["nosniff"],
  "X-Frame-Options": ["deny", "sameorigin"],
  "X-XSS-Protection": null,
};

/** A PEM given inline in the file or as a file (an absolute path, resolved against the file's directory). */
export type PemSource =
  { readonly kind: "inline"; readonly text: string } | { readonly kind: "file"; readonly path: string };

export interface TlsSpec {
  readonly cert: PemSource;
  readonly key: PemSource;
  readonly clientCa: PemSource | null;
  readonly clientAuth: ClientAuthType;
  readonly minVersion: TlsVersionName;
  readonly maxVersion: TlsVersionName;
  /** OpenSSL cipher list, or null for OpenSSL's defaults. */
  readonly ciphers: string | null;
  readonly honorCipherOrder: boolean;
  /** OpenSSL curve list, or null for the defaults. */
  readonly ecdhCurve: string | null;
}

export interface WebConfigSpec {
  /** null: plain HTTP. */
  readonly tls: TlsSpec | null;
  /** Response headers, sorted by name. */
  readonly headers: readonly (readonly [string, string])[];
  /** user -> bcrypt hash; empty: no basic auth. */
  readonly users: ReadonlyMap<string, string>;
}

export type ParsedWebConfig =
  { readonly ok: true; readonly spec: WebConfigSpec } | { readonly ok: false; readonly error: string };

/** A bcrypt hash as htpasswd -B, Go's x/crypto/bcrypt and bcryptjs write it. */
const BCRYPT = /^\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;

class Invalid extends Error {}

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function section(v: unknown, where: string, keys: readonly string[]): Obj {
  if (v === null || v === undefined) return {};
  if (!isObj(v)) throw new Invalid(`${where}: must be a mapping`);
  const unknown = Object.keys(v).filter((k) => !keys.includes(k));
  if (unknown[0] !== undefined) {
    throw new Invalid(`${where === "" ? "" : `${where}: `}unknown key "${unknown[0]}"`);
  }
  return v;
}

function str(o: Obj, key: string, where: string): string | null {
  const v = o[key];
  if (v === null || v === undefined || v === "") return null;
  if (typeof v !== "string") throw new Invalid(`${where}.${key}: must be a string`);
  return v;
}

function strList(o: Obj, key: string, where: string): string[] {
  const v = o[key];
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) {
    throw new Invalid(`${where}.${key}: must be a list of strings`);
  }
  return v;
}

function bool(o: Obj, key: string, where: string, def: boolean): boolean {
  const v = o[key];
  if (v === null || v === undefined) return def;
  if (typeof v !== "boolean") throw new Invalid(`${where}.${key}: must be true or false`);
  return v;
}

function pem(o: Obj, inlineKey: string, fileKey: string, dir: string): PemSource | null {
  const where = "tls_server_config";
  const inline = str(o, inlineKey, where);
  const file = str(o, fileKey, where);
  if (inline !== null && file !== null) {
    throw new Invalid(`${where}: ${inlineKey} and ${fileKey} are exclusive (give one)`);
  }
  if (inline !== null) return { kind: "inline", text: inline };
  if (file !== null) return { kind: "file", path: isAbsolute(file) ? file : join(dir, file) };
  return null;
}

function version(o: Obj, key: string, def: TlsVersionName): TlsVersionName {
  const v = str(o, key, "tls_server_config") ?? def;
  if (!(v in TLS_VERSIONS)) {
    throw new Invalid(
      `tls_server_config.${key}: "${v}" is not one of ${Object.keys(TLS_VERSIONS).join(", ")}`,
    );
  }
  return v as TlsVersionName;
}

function clientAuth(o: Obj): ClientAuthType {
  const v = str(o, "client_auth_type", "tls_server_config") ?? "NoClientCert";
  // exporter-toolkit keeps RequireClientCert as an old name of RequireAnyClientCert.
  if (v === "RequireClientCert") return "RequireAnyClientCert";
  if (!(CLIENT_AUTH_TYPES as readonly string[]).includes(v)) {
    throw new Invalid(
      `tls_server_config.client_auth_type: "${v}" is not one of ${CLIENT_AUTH_TYPES.join(", ")}`,
    );
  }
  return v as ClientAuthType;
}

function ciphers(o: Obj): string | null {
  const names = strList(o, "cipher_suites", "tls_server_config");
  if (names.length === 0) return null;
  const openssl: string[] = [];
  for (const n of names) {
    if (!(n in CIPHER_SUITES))
      throw new Invalid(`tls_server_config.cipher_suites: unknown cipher suite "${n}"`);
    const name = CIPHER_SUITES[n];
    if (name !== null && name !== undefined) openssl.push(name);
  }
  if (openssl.length === 0) {
    throw new Invalid(
      "tls_server_config.cipher_suites: lists only TLS 1.3 suites, which are not configurable; name TLS 1.2 suites or remove the key",
    );
  }
  return `${TLS13_SUITES}:${openssl.join(":")}`;
}

function curves(o: Obj): string | null {
  const names = strList(o, "curve_preferences", "tls_server_config");
  if (names.length === 0) return null;
  return names
    .map((n) => {
      const c = CURVES[n];
      if (c === undefined) throw new Invalid(`tls_server_config.curve_preferences: unknown curve "${n}"`);
      return c;
    })
    .join(":");
}

const TLS_KEYS = [
  "cert",
  "key",
  "client_ca",
  "cert_file",
  "key_file",
  "client_auth_type",
  "client_ca_file",
  "client_allowed_sans",
  "min_version",
  "max_version",
  "cipher_suites",
  "prefer_server_cipher_suites",
  "curve_preferences",
];

function tlsSpec(v: unknown, dir: string): TlsSpec | null {
  const o = section(v, "tls_server_config", TLS_KEYS);
  if (strList(o, "client_allowed_sans", "tls_server_config").length > 0) {
    throw new Invalid("tls_server_config.client_allowed_sans: not supported by this exporter");
  }
  const cert = pem(o, "cert", "cert_file", dir);
  const key = pem(o, "key", "key_file", dir);
  const clientCa = pem(o, "client_ca", "client_ca_file", dir);
  const spec = {
    clientAuth: clientAuth(o),
    minVersion: version(o, "min_version", "TLS12"),
    maxVersion: version(o, "max_version", "TLS13"),
    ciphers: ciphers(o),
    honorCipherOrder: bool(o, "prefer_server_cipher_suites", "tls_server_config", true),
    ecdhCurve: curves(o),
  };
  if (cert === null && key === null) {
    // exporter-toolkit serves plain HTTP then; a TLS setting without a certificate is a mistake.
    const set = Object.keys(o).filter(
      (k) => o[k] !== null && o[k] !== "" && !k.startsWith("cert") && k !== "key",
    );
    if (set[0] !== undefined) {
      throw new Invalid(`tls_server_config.${set[0]}: given without cert_file and key_file`);
    }
    return null;
  }
  if (cert === null) throw new Invalid("tls_server_config: key_file given without cert_file");
  if (key === null) throw new Invalid("tls_server_config: cert_file given without key_file");
  const order = Object.keys(TLS_VERSIONS);
  if (order.indexOf(spec.minVersion) > order.indexOf(spec.maxVersion)) {
    throw new Invalid(
      `tls_server_config: min_version ${spec.minVersion} is above max_version ${spec.maxVersion}`,
    );
  }
  const verifies =
    spec.clientAuth === "VerifyClientCertIfGiven" || spec.clientAuth === "RequireAndVerifyClientCert";
  if (verifies && clientCa === null) {
    throw new Invalid(`tls_server_config: client_auth_type ${spec.clientAuth} needs client_ca_file`);
  }
  if (clientCa !== null && spec.clientAuth === "NoClientCert") {
    throw new Invalid(
      "tls_server_config: client_ca_file given with client_auth_type NoClientCert (set RequireAndVerifyClientCert)",
    );
  }
  return { cert, key, clientCa, ...spec };
}

function headerList(v: unknown): [string, string][] {
  const o = section(v, "http_server_config", ["headers", "http2"]);
  bool(o, "http2", "http_server_config", true);
  const h = o.headers;
  if (h === null || h === undefined) return [];
  if (!isObj(h)) throw new Invalid("http_server_config.headers: must be a mapping");
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(h)) {
    const allowed = ALLOWED_HEADERS[name];
    if (allowed === undefined) {
      throw new Invalid(
        `http_server_config.headers: "${name}" cannot be set (allowed: ${Object.keys(ALLOWED_HEADERS).join(", ")})`,
      );
    }
    if (value === null || value === "") continue;
    if (typeof value !== "string" || !/^[\t\x20-\x7e]*$/.test(value)) {
      throw new Invalid(`http_server_config.headers.${name}: must be a printable ASCII string`);
    }
    if (allowed !== null && !allowed.includes(value)) {
      throw new Invalid(`http_server_config.headers.${name}: "${value}" is not one of ${allowed.join(", ")}`);
    }
    out.push([name, value]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

function userMap(v: unknown): Map<string, string> {
  const users = new Map<string, string>();
  if (v === null || v === undefined) return users;
  if (!isObj(v)) throw new Invalid("basic_auth_users: must be a mapping of user names to bcrypt hashes");
  for (const [user, hash] of Object.entries(v)) {
    if (user === "" || user.includes(":")) {
      throw new Invalid(`basic_auth_users: "${user}" cannot be a user name (empty or with ":")`);
    }
    const m = typeof hash === "string" ? BCRYPT.exec(hash) : null;
    const cost = Number(m?.[1]);
    if (m === null || cost < 4 || cost > 31) {
      throw new Invalid(
        `basic_auth_users.${user}: not a bcrypt hash (expected $2y$<cost>$<53 characters>, e.g. from htpasswd -nBC 10 "")`,
      );
    }
    users.set(user, hash as string);
  }
  return users;
}

/** Parses the text of a web configuration file found in `dir` (relative paths resolve there). */
export function parseWebConfig(text: string, dir: string): ParsedWebConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    return { ok: false, error: `not valid YAML: ${yamlError.message.split("\n")[0] ?? ""}` };
  }
  try {
    const top = section(doc.toJS() as unknown, "", [
      "tls_server_config",
      "http_server_config",
      "basic_auth_users",
      "rate_limit",
    ]);
    if (top.rate_limit !== undefined && top.rate_limit !== null) {
      throw new Invalid("rate_limit: not supported by this exporter");
    }
    return {
      ok: true,
      spec: {
        tls: tlsSpec(top.tls_server_config, dir),
        headers: headerList(top.http_server_config),
        users: userMap(top.basic_auth_users),
      },
    };
  } catch (err: unknown) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
}

/** A checked configuration, ready to serve. */
export interface WebConfig {
  readonly path: string;
  readonly spec: WebConfigSpec;
  /** For tls.createServer / setSecureContext; null without TLS. */
  readonly tlsOptions: SecureContextOptions | null;
  /** The files to watch for changes: the configuration and the certificate files it names. */
  readonly files: readonly string[];
  /** Hash of the file and of every PEM: two loads with equal fingerprints serve the same thing. */
  readonly fingerprint: string;
}

export type LoadedWebConfig =
  | { readonly ok: true; readonly config: WebConfig }
  | { readonly ok: false; readonly error: string; readonly files: readonly string[] };

/** Largest web configuration or PEM file read. */
const MAX_FILE_BYTES = 1024 * 1024;

function readText(path: string): string {
  const buf = readFileSync(path);
  if (buf.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
  return buf.toString("utf8");
}

function oneLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/\s*\n\s*/g, " ").trim();
}

function readPem(src: PemSource, fileKey: string): string {
  if (src.kind === "inline") return src.text;
  try {
    return readText(src.path);
  } catch (err: unknown) {
    throw new Invalid(`tls_server_config.${fileKey} ${src.path}: ${oneLine(err)}`);
  }
}

function where(src: PemSource, inlineKey: string, fileKey: string): string {
  return src.kind === "inline"
    ? `tls_server_config.${inlineKey}`
    : `tls_server_config.${fileKey} ${src.path}`;
}

function tlsOptions(t: TlsSpec): { options: SecureContextOptions; pems: string[] } {
  const cert = readPem(t.cert, "cert_file");
  const key = readPem(t.key, "key_file");
  const ca = t.clientCa === null ? null : readPem(t.clientCa, "client_ca_file");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err: unknown) {
    throw new Invalid(`${where(t.cert, "cert", "cert_file")}: not a PEM certificate (${oneLine(err)})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err: unknown) {
    throw new Invalid(
      `${where(t.key, "key", "key_file")}: not an unencrypted PEM private key (${oneLine(err)})`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new Invalid(
      `${where(t.key, "key", "key_file")}: is not the key of the certificate ${where(t.cert, "cert", "cert_file")}`,
    );
  }
  if (ca !== null && t.clientCa !== null) {
    try {
      new X509Certificate(ca);
    } catch (err: unknown) {
      throw new Invalid(
        `${where(t.clientCa, "client_ca", "client_ca_file")}: not a PEM certificate (${oneLine(err)})`,
      );
    }
  }
  const options: SecureContextOptions = {
    cert,
    key,
    minVersion: TLS_VERSIONS[t.minVersion],
    maxVersion: TLS_VERSIONS[t.maxVersion],
    honorCipherOrder: t.honorCipherOrder,
    ...(ca === null ? {} : { ca }),
    ...(t.ciphers === null ? {} : { ciphers: t.ciphers }),
    ...(t.ecdhCurve === null ? {} : { ecdhCurve: t.ecdhCurve }),
  };
  try {
    createSecureContext(options);
  } catch (err: unknown) {
    throw new Invalid(`tls_server_config: OpenSSL refuses the settings (${oneLine(err)})`);
  }
  return { options, pems: [cert, key, ca ?? ""] };
}

function pemFiles(t: TlsSpec | null): string[] {
  if (t === null) return [];
  return [t.cert, t.key, t.clientCa].flatMap((s) => (s?.kind === "file" ? [s.path] : []));
}

/**
 * Reads and checks the file at `path` and every certificate and key it names. Never throws:
 * the error is one line (without the file's name, which the caller adds).
 */
export function loadWebConfig(path: string): LoadedWebConfig {
  let text: string;
  try {
    text = readText(path);
  } catch (err: unknown) {
    return { ok: false, error: oneLine(err), files: [path] };
  }
  const parsed = parseWebConfig(text, dirname(path));
  if (!parsed.ok) return { ok: false, error: parsed.error, files: [path] };
  const spec = parsed.spec;
  const files = [path, ...pemFiles(spec.tls)];
  try {
    const tls = spec.tls === null ? null : tlsOptions(spec.tls);
    const hash = createHash("sha256").update(text);
    for (const p of tls?.pems ?? []) hash.update("\0").update(p);
    return {
      ok: true,
      config: { path, spec, tlsOptions: tls?.options ?? null, files, fingerprint: hash.digest("hex") },
    };
  } catch (err: unknown) {
    if (err instanceof Invalid) return { ok: false, error: err.message, files };
    return { ok: false, error: oneLine(err), files };
  }
}
