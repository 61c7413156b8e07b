/**
 * A fault-injecting reverse proxy in front of the test cluster's kube-apiserver
 * (test/cluster/cluster.ts), for reproducing API failures the real server will
 * not produce on demand: HTTP errors, connection resets, slow answers, watches
 * that stall silently or end with 410 Expired.
 *
 *   const proxy = await startChaosProxy(cluster);
 *   const token = await serviceAccountToken(cluster, "vce", "exporter");
 *   const kc = new KubeConfig();
 *   kc.loadFromFile(await proxy.kubeconfigWithToken(token));
 *   proxy.failRequests({ status: 500, count: 2, match: { pathPrefix: "/api/v1/pods" } });
 *   ...
 *   await proxy.close();
 *
 * The proxy serves HTTPS with a throwaway self-signed certificate by default,
 * because @kubernetes/client-node 1.4 refuses an http:// server unless the
 * kubeconfig also sets insecure-skip-tls-verify (KubeConfig.createAgent); pass
 * `{ tls: false }` for plain HTTP (its kubeconfigs then set that flag).
 * Towards the API server it always speaks HTTPS, verifying the cluster CA, and
 * passes the client's Authorization header through, so the RBAC of whoever
 * the client authenticates as applies (client certificates do not pass a proxy).
 *
 * Rules: every request first takes the first matching delayRequests() rule
 * (if any), then the first matching fault rule (failRequests, resetRequests,
 * stallWatches, expireWatches) in the order they were installed; each rule
 * answers its next `count` matches and is then dropped. passThrough() drops
 * all rules. Independently of the rules, forceListLimit(n) pages every
 * forwarded list (the API server answers pages of n and continue tokens).
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   @kubernetes/client-node's generated models are data-only classes; request
   bodies are plain objects (as in cluster.ts). */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

import { ApiException } from "@kubernetes/client-node";

import type { Cluster } from "./cluster.js";

const execFileAsync = promisify(execFile);

/** Which requests a rule applies to; every given field must match. */
export interface RequestMatch {
  /** HTTP method, case-insensitive. */
  method?: string;
  /** Prefix of the URL path (query excluded), e.g. "/api/v1/pods" or "/api/v1/nodes/". */
  pathPrefix?: string;
  /** true: only watch requests; false: only non-watch requests. */
  watch?: boolean;
  /** Only requests whose query has this parameter (e.g. "continue": the later pages of a list). */
  hasQuery?: string;
}

/** The injected fault that answered a request. */
export type ProxyFault = "fail" | "reset" | "stall" | "expire";

export interface ProxyRequestRecord {
  /** 0, 1, 2, ... in arrival order. */
  readonly seq: number;
  /** Upper case. */
  readonly method: string;
  readonly path: string;
  /** Query parameters (for a repeated key, the last value). */
  readonly query: Readonly<Record<string, string>>;
  /** `watch=true|1` in the query or `/watch/` in the path. */
  readonly watch: boolean;
  /**
   * HTTP status answered to the client; undefined if none was (reset, client
   * gone first, or still waiting for the API server / a delay).
   */
  readonly status: number | undefined;
  /** The injected fault that answered it; undefined when forwarded. */
  readonly fault: ProxyFault | undefined;
  /** How long a delayRequests() rule held the answer back (0 if none). */
  readonly delayedMs: number;
  /** Why forwarding failed (then the proxy answered 502 if it still could). */
  readonly upstreamError: string | undefined;
}

export interface ChaosProxy {
  /**
   * https://127.0.0.1:<port> (default; certificate in `caPem`) or, with
   * `{ tls: false }`, http://127.0.0.1:<port>. Towards the API server the
   * proxy always speaks HTTPS.
   */
  readonly url: string;
  /** PEM of the proxy's self-signed serving certificate (undefined with `{ tls: false }`). */
  readonly caPem: string | undefined;
  /**
   * Write a kubeconfig whose server is `url` and which authenticates with the
   * bearer `token` (namespace "default"); returns its path. It trusts `caPem`,
   * or sets insecure-skip-tls-verify for plain HTTP.
   */
  kubeconfigWithToken(token: string): Promise<string>;
  /** Forward everything (default): drops all rules. Streams already stalled stay stalled. */
  passThrough(): void;
  /**
   * Answer the next `count` matching requests (default: all, Infinity) with
   * HTTP `status` and a Kubernetes Status JSON body (reason derived from the
   * status, e.g. 500 InternalError, 429 TooManyRequests), without contacting
   * the API server.
   */
  failRequests(opts: {
    status: number;
    count?: number;
    match?: RequestMatch;
    /** Status.message (default: "chaos-proxy: injected HTTP <status>"). */
    message?: string;
    /** Also send a Retry-After header, as the API server does for 429. */
    retryAfterSeconds?: number;
  }): void;
  /**
   * Reset (TCP RST) the client connection of the next `count` matching
   * requests (default: all, Infinity) without any HTTP answer; the request is
   * not forwarded.
   */
  resetRequests(opts?: { count?: number; match?: RequestMatch }): void;
  /** Reset (TCP RST) every currently open watch stream now, upstream side included. */
  resetOpenWatches(): void;
  /**
   * For the next `count` matching watch requests (default 1): answer 200 with
   * headers, then send nothing at all and never end (not forwarded).
   */
  stallWatches(opts?: { count?: number; match?: RequestMatch }): void;
  /**
   * Currently open watch streams stop forwarding events (the API server's
   * output is read and dropped); the client connection stays open and silent.
   */
  stallOpenWatches(): void;
  /**
   * For the next `count` matching watch requests (default 1; large = "410
   * storm"): answer 200 with one ERROR event carrying a 410 Expired Status,
   * then end the stream (not forwarded).
   */
  expireWatches(opts?: { count?: number; match?: RequestMatch }): void;
  /**
   * Hold back the answer (status line and headers) to the next `count`
   * matching requests (default: all, Infinity) by `ms`. Forwarded requests
   * still reach the API server at once: only the response is late. Combines
   * with the fault rules (a delayed failure, a delayed reset...).
   */
  delayRequests(opts: { ms: number; count?: number; match?: RequestMatch }): void;
  /**
   * Page every list (non-watch GET) at most `limit` items, as a server may: the `limit` query
   * parameter is lowered (or added) before forwarding, so the API server answers a page and a
   * continue token; null stops. The record's `query` shows what the client asked.
   */
  forceListLimit(limit: number | null): void;
  /** Requests seen so far, in arrival order. */
  readonly log: readonly ProxyRequestRecord[];
  /** Watch streams currently open towards clients (forwarded or stalled). */
  readonly openWatches: number;
  /** Stop listening and destroy every open connection (client and upstream) and the temp dir. */
  close(): Promise<void>;
}

export interface StartChaosProxyOptions {
  /** Serve HTTPS with a throwaway self-signed certificate (default true); false: plain HTTP. */
  tls?: boolean;
  /** Where to write the certificate and kubeconfigs (default: a temp dir removed by close()). */
  dir?: string;
}

/**
 * A bearer token for the ServiceAccount namespace/name from the TokenRequest
 * API (the ServiceAccount is created if missing).
 */
export async function serviceAccountToken(
  cluster: Pick<Cluster, "core">,
  namespace: string,
  name: string,
  opts?: { expirationSeconds?: number },
): Promise<string> {
  try {
    await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
  } catch (err: unknown) {
    if (!(err instanceof ApiException) || (err as ApiException<unknown>).code !== 409) throw err;
  }
  const tr = await cluster.core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: opts?.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  return token;
}

// ---------------------------------------------------------------------------

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEndHeaders(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || drop.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function statusJson(code: number, message: string): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: STATUS_REASONS[code] ?? "Unknown",
    code,
  });
}

const EXPIRED_EVENT = `${JSON.stringify({
  type: "ERROR",
  object: {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "too old resource version",
    reason: "Expired",
    code: 410,
  },
})}\n`;

function isWatchUrl(url: URL): boolean {
  const w = url.searchParams.get("watch");
  return w === "true" || w === "1" || url.pathname.includes("/watch/");
}

interface RequestInfo {
  method: string;
  path: string;
  watch: boolean;
  query: URLSearchParams;
}

function matches(m: RequestMatch, r: RequestInfo): boolean {
  if (m.method !== undefined && m.method.toUpperCase() !== r.method) return false;
  if (m.pathPrefix !== undefined && !r.path.startsWith(m.pathPrefix)) return false;
  if (m.watch !== undefined && m.watch !== r.watch) return false;
  if (m.hasQuery !== undefined && !r.query.has(m.hasQuery)) return false;
  return true;
}

interface Rule<A> {
  action: A;
  remaining: number;
  match: RequestMatch;
}

/** Consume one use of the first rule matching `r`. */
function takeRule<A>(rules: Rule<A>[], r: RequestInfo): A | undefined {
  const i = rules.findIndex((rule) => rule.remaining > 0 && matches(rule.match, r));
  const rule = rules[i];
  if (!rule) return undefined;
  rule.remaining -= 1;
  if (rule.remaining <= 0) rules.splice(i, 1);
  return rule.action;
}

function checkCount(count: number | undefined, dflt: number): number {
  const n = count ?? dflt;
  if (!(n >= 0) || (!Number.isInteger(n) && n !== Infinity)) {
    throw new Error(`chaos-proxy: count must be a non-negative integer or Infinity, got ${String(count)}`);
  }
  return n;
}

type FaultAction =
  | { kind: "fail"; status: number; message: string; retryAfterSeconds: number | undefined }
  | { kind: "reset" }
  | { kind: "stall" }
  | { kind: "expire" };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface OpenStream {
  res: ServerResponse;
  socket: Socket;
  /** Upstream response being piped to `res` (absent for a stall rule's stream). */
  upstream: IncomingMessage | undefined;
  stalled: boolean;
}

const SELF_SIGNED_CNF = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = vce-chaos-proxy
[v3]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = IP:127.0.0.1,DNS:localhost
`;

async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  await writeFile(join(dir, "proxy-openssl.cnf"), SELF_SIGNED_CNF);
  const args = [
    "req",
    "-x509",
    "-config",
    "proxy-openssl.cnf",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "proxy.key",
    "-out",
    "proxy.crt",
    "-days",
    "2",
  ];
  try {
    await execFileAsync("openssl", args, { cwd: dir });
  } catch (err: unknown) {
    const e = err as { code?: unknown; stderr?: unknown; message?: unknown };
    if (e.code === "ENOENT") throw new Error("openssl not found on PATH (apt-get install openssl)");
    throw new Error(`openssl ${args.join(" ")} failed: ${String(e.stderr ?? e.message)}`);
  }
  return {
    cert: await readFile(join(dir, "proxy.crt"), "utf8"),
    key: await readFile(join(dir, "proxy.key"), "utf8"),
  };
}

export async function startChaosProxy(
  cluster: Pick<Cluster, "server" | "caPem">,
  opts: StartChaosProxyOptions = {},
): Promise<ChaosProxy> {
  const useTls = opts.tls ?? true;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "vce-chaos-proxy-")));
  const upstreamUrl = new URL(cluster.server);
  if (upstreamUrl.protocol !== "https:")
    throw new Error(`chaos-proxy: need an https:// server, got ${cluster.server}`);
  const upstreamBase = upstreamUrl.pathname.replace(/\/+$/, "");
  const agent = new HttpsAgent({ ca: cluster.caPem, keepAlive: false, maxSockets: Infinity });

  const log: Mutable<ProxyRequestRecord>[] = [];
  let faultRules: Rule<FaultAction>[] = [];
  let delayRules: Rule<number>[] = [];
  let listLimit: number | null = null;
  const streams = new Set<OpenStream>();
  const upstreamRequests = new Set<ClientRequest>();
  /** TCP sockets of client connections by remote port (under TLS, req.socket is the TLSSocket). */
  const tcpSockets = new Map<number, Socket>();
  let closed = false;

  const tcpSocketOf = (socket: Socket): Socket => {
    const port = socket.remotePort;
    return (port !== undefined ? tcpSockets.get(port) : undefined) ?? socket;
  };

  /** Abort the connection with a TCP RST (falls back to a plain close). */
  const resetConnection = (socket: Socket): void => {
    const tcp = tcpSocketOf(socket);
    try {
      tcp.resetAndDestroy();
    } catch {
      tcp.destroy();
    }
    socket.destroy();
  };

  const sendStatus = (
    res: ServerResponse,
    rec: Mutable<ProxyRequestRecord>,
    code: number,
    message: string,
    extra: OutgoingHttpHeaders = {},
  ): void => {
    const body = statusJson(code, message);
    rec.status = code;
    res.writeHead(code, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };

  const openStream = (s: OpenStream): void => {
    streams.add(s);
    s.res.on("close", () => streams.delete(s));
  };

  const stall = (s: OpenStream): void => {
    if (s.stalled) return;
    s.stalled = true;
    if (s.upstream) {
      s.upstream.unpipe(s.res);
      // keep draining the API server's events so nothing backs up; drop them
      s.upstream.on("data", () => undefined);
      s.upstream.resume();
    }
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    rec: Mutable<ProxyRequestRecord>,
    info: RequestInfo,
    holdBack: () => Promise<boolean>,
  ): void => {
    let target = req.url ?? "/";
    if (listLimit !== null && info.method === "GET" && !info.watch) {
      const asked = Number(info.query.get("limit") ?? "0");
      if (!(asked > 0 && asked <= listLimit)) {
        const q = new URLSearchParams(info.query);
        q.set("limit", String(listLimit));
        target = `${info.path}?${q.toString()}`;
      }
    }
    const up = httpsRequest({
      protocol: "https:",
      hostname: upstreamUrl.hostname,
      port: upstreamUrl.port,
      method: info.method,
      path: upstreamBase + target,
      headers: { ...endToEndHeaders(req.headers, ["host"]), host: upstreamUrl.host },
      agent,
    });
    upstreamRequests.add(up);
    up.on("close", () => upstreamRequests.delete(up));
    res.on("close", () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on("error", (err) => {
      rec.upstreamError = err.message;
      if (!res.headersSent && !res.destroyed) {
        sendStatus(res, rec, 502, `chaos-proxy: forwarding to ${cluster.server} failed: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    up.on("response", (upRes) => {
      void holdBack().then((go) => {
        if (!go || res.destroyed) {
          upRes.destroy();
          return;
        }
        const status = upRes.statusCode ?? 502;
        rec.status = status;
        res.writeHead(status, endToEndHeaders(upRes.headers));
        let stream: OpenStream | undefined;
        if (info.watch && status === 200) {
          res.flushHeaders();
          stream = { res, socket: req.socket, upstream: upRes, stalled: false };
          openStream(stream);
        }
        upRes.on("error", () => undefined);
        upRes.on("close", () => {
          // the API server broke off mid-response: break off towards the client too
          if (!upRes.complete && !(stream?.stalled ?? false)) res.destroy();
        });
        upRes.pipe(res);
      });
    });
    req.pipe(up);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://chaos-proxy.invalid");
    const info: RequestInfo = {
      method: (req.method ?? "GET").toUpperCase(),
      path: url.pathname,
      watch: isWatchUrl(url),
      query: url.searchParams,
    };
    const rec: Mutable<ProxyRequestRecord> = {
      seq: log.length,
      method: info.method,
      path: info.path,
      query: Object.fromEntries(url.searchParams),
      watch: info.watch,
      status: undefined,
      fault: undefined,
      delayedMs: 0,
      upstreamError: undefined,
    };
    log.push(rec);
    req.on("error", () => undefined);
    res.on("error", () => undefined);

    const delayMs = takeRule(delayRules, info);
    const fault = takeRule(faultRules, info);
    // aborted once the client connection is gone (incl. close())
    const gone = new AbortController();
    res.on("close", () => {
      gone.abort();
    });
    const holdBack = async (): Promise<boolean> => {
      if (delayMs !== undefined && delayMs > 0) {
        rec.delayedMs = delayMs;
        try {
          await sleep(delayMs, undefined, { signal: gone.signal });
        } catch {
          return false;
        }
      }
      return !gone.signal.aborted;
    };

    if (!fault) {
      forward(req, res, rec, info, holdBack);
      return;
    }
    rec.fault = fault.kind;
    req.resume();
    void holdBack().then((go) => {
      if (!go) return;
      switch (fault.kind) {
        case "reset":
          resetConnection(req.socket);
          return;
        case "fail":
          sendStatus(
            res,
            rec,
            fault.status,
            fault.message,
            fault.retryAfterSeconds !== undefined ? { "retry-after": String(fault.retryAfterSeconds) } : {},
          );
          return;
        case "expire":
          rec.status = 200;
          res.writeHead(200, { "content-type": "application/json" });
          res.end(EXPIRED_EVENT);
          return;
        case "stall":
          rec.status = 200;
          res.writeHead(200, { "content-type": "application/json" });
          res.flushHeaders();
          openStream({ res, socket: req.socket, upstream: undefined, stalled: true });
          return;
      }
    });
  };

  let cert: { cert: string; key: string } | undefined;
  let server: Server;
  if (useTls) {
    cert = await selfSignedCert(dir);
    server = createHttpsServer({ cert: cert.cert, key: cert.key }, handle);
  } else {
    server = createHttpServer(handle);
  }
  server.on("connection", (socket: Socket) => {
    const port = socket.remotePort;
    if (closed) {
      socket.destroy();
      return;
    }
    if (port === undefined) return;
    tcpSockets.set(port, socket);
    socket.on("close", () => {
      if (tcpSockets.get(port) === socket) tcpSockets.delete(port);
    });
  });
  server.on("clientError", (_err, socket) => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `${useTls ? "https" : "http"}://127.0.0.1:${port}`;

  let kubeconfigs = 0;
  const proxy: ChaosProxy = {
    url,
    caPem: cert?.cert,
    kubeconfigWithToken: async (token) => {
      const trust = cert
        ? `certificate-authority-data: ${Buffer.from(cert.cert).toString("base64")}`
        : "insecure-skip-tls-verify: true";
      const path = join(dir, `chaos-proxy-${port}-${kubeconfigs++}.kubeconfig`);
      await writeFile(
        path,
        `apiVersion: v1
kind: Config
clusters:
- name: chaos-proxy
  cluster:
    server: ${url}
    ${trust}
users:
- name: chaos-proxy-user
  user:
    token: ${JSON.stringify(token)}
contexts:
- name: chaos-proxy
  context:
    cluster: chaos-proxy
    user: chaos-proxy-user
    namespace: default
current-context: chaos-proxy
`,
        { mode: 0o600 },
      );
      return path;
    },
    passThrough: () => {
      faultRules = [];
      delayRules = [];
    },
    failRequests: (o) => {
      if (!Number.isInteger(o.status) || o.status < 100 || o.status > 599) {
        throw new Error(`chaos-proxy: bad HTTP status ${String(o.status)}`);
      }
      faultRules.push({
        action: {
          kind: "fail",
          status: o.status,
          message: o.message ?? `chaos-proxy: injected HTTP ${o.status}`,
          retryAfterSeconds: o.retryAfterSeconds,
        },
        remaining: checkCount(o.count, Infinity),
        match: { ...o.match },
      });
    },
    resetRequests: (o) => {
      faultRules.push({
        action: { kind: "reset" },
        remaining: checkCount(o?.count, Infinity),
        match: { ...o?.match },
      });
    },
    resetOpenWatches: () => {
      for (const s of [...streams]) {
        streams.delete(s);
        resetConnection(s.socket);
      }
    },
    stallWatches: (o) => {
      faultRules.push({
        action: { kind: "stall" },
        remaining: checkCount(o?.count, 1),
        match: { ...o?.match, watch: true },
      });
    },
    stallOpenWatches: () => {
      for (const s of streams) stall(s);
    },
    expireWatches: (o) => {
      faultRules.push({
        action: { kind: "expire" },
        remaining: checkCount(o?.count, 1),
        match: { ...o?.match, watch: true },
      });
    },
    delayRequests: (o) => {
      if (!(o.ms >= 0) || !Number.isFinite(o.ms)) throw new Error(`chaos-proxy: bad delay ${String(o.ms)}`);
      delayRules.push({ action: o.ms, remaining: checkCount(o.count, Infinity), match: { ...o.match } });
    },
    forceListLimit: (limit) => {
      if (limit !== null && !(Number.isInteger(limit) && limit > 0))
        throw new Error(`chaos-proxy: bad list limit ${String(limit)}`);
      listLimit = limit;
    },
    get log(): readonly ProxyRequestRecord[] {
      return log;
    },
    get openWatches(): number {
      return streams.size;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      faultRules = [];
      delayRules = [];
      const stopped = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      streams.clear();
      for (const up of upstreamRequests) up.destroy();
      for (const s of tcpSockets.values()) s.destroy();
      server.closeAllConnections();
      agent.destroy();
      await stopped;
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return proxy;
}
