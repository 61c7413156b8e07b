/**
 * The HTTP(S) server of `serve`. Without a web configuration it is a plain node:http server
 * around the app (nothing else on the request path). With one: TLS as the file says, response
 * headers, basic authentication on every path but /healthz and /readyz, and a watcher that
 * re-reads the file and its certificate files when they change: a valid new configuration is
 * applied to new connections (certificates through setSecureContext, no restart), an invalid one
 * is logged and the last good one is kept.
 */
import { statSync } from "node:fs";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { TLSSocket, type Server as TlsServer } from "node:tls";

/** node:tls reads these per connection; setSecureContext leaves them. */
type ReconfigurableTlsServer = TlsServer & { requestCert: boolean; rejectUnauthorized: boolean };
import type { Logger } from "../log.js";
import type { WebMetrics } from "../metrics/web.js";
import { BasicAuth } from "./basic-auth.js";
import { loadWebConfig, type ClientAuthType, type WebConfig } from "./web-config.js";

/** Paths served without basic authentication (still over TLS): the kubelet's probes cannot send credentials. */
export const UNAUTHENTICATED_PATHS: readonly string[] = ["/healthz", "/readyz"];

export const DEFAULT_RELOAD_CHECK_MS = 3000;

export interface WebServerOptions {
  readonly app: RequestListener;
  /** The configuration loaded at start; null: plain HTTP, no authentication. */
  readonly config: WebConfig | null;
  readonly metrics: WebMetrics | null;
  readonly log: Logger;
  /** How often the files are checked for changes. */
  readonly reloadCheckMs?: number;
}

interface ClientCertSettings {
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

function clientCertSettings(mode: ClientAuthType): ClientCertSettings {
  return {
    requestCert: mode !== "NoClientCert",
    rejectUnauthorized: mode === "RequireAndVerifyClientCert",
  };
}

/** Whether a TLS connection passes the client certificate rule OpenSSL does not enforce itself. */
function clientCertAccepted(mode: ClientAuthType | undefined, socket: TLSSocket): boolean {
  if (mode !== "RequireAnyClientCert" && mode !== "VerifyClientCertIfGiven") return true;
  const given = Object.keys(socket.getPeerCertificate()).length > 0;
  return mode === "RequireAnyClientCert" ? given : !given || socket.authorized;
}

function pathOf(url: string | undefined): string {
  const u = url ?? "";
  const q = u.indexOf("?");
  return q < 0 ? u : u.slice(0, q);
}

export class WebServer {
  readonly server: Server;
  private readonly tlsServer: ReconfigurableTlsServer | null = null;
  private current: WebConfig | null;
  private auth: BasicAuth | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSignature = "";
  /** A changed signature waits one more check: a file being written is not read half-way. */
  private pendingSignature = "";
  private attemptedFiles: readonly string[] = [];
  private failing = false;

  constructor(private readonly opts: WebServerOptions) {
    this.current = opts.config;
    const config = opts.config;
    if (config === null) {
      this.server = createHttpServer(opts.app);
      return;
    }
    this.auth = config.spec.users.size === 0 ? null : new BasicAuth(config.spec.users);
    const handler: RequestListener = (req, res) => {
      this.handle(req, res);
    };
    if (config.tlsOptions === null) {
      this.server = createHttpServer(handler);
      return;
    }
    const clientCerts = clientCertSettings(config.spec.tls?.clientAuth ?? "NoClientCert");
    const server = createHttpsServer({ ...config.tlsOptions, ...clientCerts }, handler);
    server.on("tlsClientError", (err: Error, socket: TLSSocket) => {
      // A client that hangs up without a TLS error (a kubelet TCP probe, a port scan) is no failure;
      // an untrusted client certificate also ends in a hang-up, with its verification error.
      const hangUp = "code" in err && err.code === "ECONNRESET";
      if (hangUp && (socket.authorizationError ?? null) === null) return;
      opts.metrics?.tlsHandshakeFailures.inc();
      opts.log.debug({ err: err.message }, "TLS handshake failed");
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      if (!clientCertAccepted(this.current?.spec.tls?.clientAuth, socket)) {
        opts.metrics?.tlsHandshakeFailures.inc();
        socket.destroy();
      }
    });
    this.server = server;
    this.tlsServer = Object.assign(server, clientCerts);
  }

  /** Starts watching the configuration (no-op without one). */
  start(): void {
    if (this.current === null || this.timer !== null) return;
    this.attemptedFiles = this.current.files;
    this.timer = setInterval(() => {
      this.check();
    }, this.opts.reloadCheckMs ?? DEFAULT_RELOAD_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private handle: RequestListener = (req, res) => {
    const config = this.current;
    if (config === null) return;
    const tls = config.spec.tls;
    if (tls !== null && req.socket instanceof TLSSocket && !clientCertAccepted(tls.clientAuth, req.socket)) {
      req.socket.destroy();
      return;
    }
    for (const [name, value] of config.spec.headers) res.setHeader(name, value);
    const auth = this.auth;
    if (auth === null || UNAUTHENTICATED_PATHS.includes(pathOf(req.url))) {
      this.opts.app(req, res);
      return;
    }
    void auth.check(req.headers.authorization).then((result) => {
      if (result === "ok") {
        this.opts.app(req, res);
        return;
      }
      this.opts.metrics?.authFailures.inc({ reason: result });
      if (result === "overloaded") {
        res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "1" });
        res.end("too many authentication checks waiting\n");
        return;
      }
      res.writeHead(401, {
        "Content-Type": "text/plain; charset=utf-8",
        "WWW-Authenticate": 'Basic realm="virtcontainers-exporter", charset="UTF-8"',
      });
      res.end("unauthorized\n");
    });
  };

  /**
   * Re-reads the configuration when the file or a certificate file it names changed and then
   * stayed unchanged for one check (a truncated file read mid-write could otherwise weaken it).
   */
  check(): void {
    const current = this.current;
    if (current === null) return;
    const files = [...new Set([...current.files, ...this.attemptedFiles])];
    const signature = files.map(fileSignature).join("|");
    if (signature === this.lastSignature) return;
    if (signature !== this.pendingSignature) {
      this.pendingSignature = signature;
      return;
    }
    this.lastSignature = signature;
    const loaded = loadWebConfig(current.path);
    this.attemptedFiles = loaded.ok ? loaded.config.files : loaded.files;
    if (!loaded.ok) {
      this.fail(loaded.error);
      return;
    }
    const next = loaded.config;
    if (next.fingerprint === current.fingerprint) {
      if (this.failing) this.succeed("web configuration valid again (the one served)");
      return;
    }
    if ((next.tlsOptions === null) !== (current.tlsOptions === null)) {
      this.fail(`tls_server_config: turning TLS ${next.tlsOptions === null ? "off" : "on"} needs a restart`);
      return;
    }
    this.apply(next);
    this.succeed("web configuration reloaded");
  }

  private apply(next: WebConfig): void {
    const server = this.tlsServer;
    if (next.tlsOptions !== null && server !== null) {
      server.setSecureContext(next.tlsOptions);
      const cc = clientCertSettings(next.spec.tls?.clientAuth ?? "NoClientCert");
      server.requestCert = cc.requestCert;
      server.rejectUnauthorized = cc.rejectUnauthorized;
    }
    const users = next.spec.users;
    this.auth = users.size === 0 ? null : this.auth?.sameUsers(users) ? this.auth : new BasicAuth(users);
    this.current = next;
  }

  private succeed(message: string): void {
    this.failing = false;
    this.opts.metrics?.reloaded(true);
    this.opts.log.info({ file: this.current?.path, ...describeWebConfig(this.current) }, message);
  }

  private fail(error: string): void {
    this.failing = true;
    this.opts.metrics?.reloaded(false);
    this.opts.log.warn(
      { file: this.current?.path, err: error },
      "web configuration invalid; keeping the last good one",
    );
  }
}

/** What the configuration does, for the log (never a hash or a key). */
export function describeWebConfig(c: WebConfig | null): Record<string, unknown> {
  if (c === null) return { tls: false, basicAuthUsers: 0 };
  const t = c.spec.tls;
  return {
    tls: t !== null,
    ...(t === null ? {} : { clientAuth: t.clientAuth, minVersion: t.minVersion, maxVersion: t.maxVersion }),
    basicAuthUsers: c.spec.users.size,
    headers: c.spec.headers.map(([n]) => n),
  };
}

/** Identity and version of a file as stat (following symlinks) sees it; a Secret's ..data swap changes it. */
function fileSignature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch (err: unknown) {
    return `error:${err instanceof Error && "code" in err ? String(err.code) : "unknown"}`;
  }
}
