/** `virtcontainers-exporter serve` (the default): wiring only. */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { loadServeConfig, type ServeConfig } from "../config/serve-config.js";
import { ConfigError, StartupError } from "../config/values.js";
import { createApp } from "../http/app.js";
import { loadWebConfig, type WebConfig } from "../http/web-config.js";
import { describeWebConfig, WebServer } from "../http/web-server.js";
import { createLogger, type Logger } from "../log.js";
import { WebMetrics } from "../metrics/web.js";
import { checkHostRoot } from "../scan/scanner.js";
import { ExporterService, type KubernetesServiceOptions } from "../service.js";

export async function runServe(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadServeConfig(argv, env);
  // A host root that is not there is a configuration error: say so once and exit (the trees
  // below it may be missing; that is a node without pods and is served as such).
  checkHostRoot(config.hostRoot);
  const webConfig = openWebConfig(config.webConfigFile);
  const log = createLogger(config.logLevel);
  log.info({ config }, "starting");
  const service = new ExporterService({
    ...config,
    log,
    kubernetes: await kubernetesOptions(config, log),
    gc: { ...config.gc, policy: config.gc },
    processes: { procRoot: config.gc.procRoot, intervalMs: config.processIntervalMs },
  });
  const app = createApp(
    {
      get ready() {
        return service.ready;
      },
      get snapshot() {
        return service.snapshot;
      },
      get kubernetes() {
        return service.kubernetesSummary;
      },
      get processes() {
        return service.processesSummary;
      },
      render: (gzip) => service.cache.render(gzip),
      countScrape: () => {
        service.self.scrapes.inc();
      },
    },
    config.nodeName,
  );
  const web = new WebServer({
    app,
    config: webConfig,
    metrics: webConfig === null ? null : new WebMetrics(service.self.registry),
    log,
  });
  const server = web.server;
  server.keepAliveTimeout = 65_000;
  await listen(server, config.listen.host, config.listen.port);
  web.start();
  const addr = server.address() as AddressInfo;
  log.info({ address: addr.address, port: addr.port, web: describeWebConfig(webConfig) }, "listening");
  if (webConfig !== null && webConfig.tlsOptions === null && webConfig.spec.users.size > 0) {
    log.warn("basic authentication without tls_server_config: passwords cross the network in clear");
  }

  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      web.stop();
      server.close();
      server.closeAllConnections();
      void service.stop().then(() => {
        resolve(0);
      });
    };
    process.once("SIGTERM", () => {
      stop("SIGTERM");
    });
    process.once("SIGINT", () => {
      stop("SIGINT");
    });
  });
  await service.start();
  log.info({ pods: service.snapshot?.pods.length ?? 0 }, "first scan done; ready");
  return stopped;
}

/** The web configuration file checked at start: one line naming the file and the problem, exit 2. */
function openWebConfig(path: string | null): WebConfig | null {
  if (path === null) return null;
  const loaded = loadWebConfig(path);
  if (!loaded.ok) throw new ConfigError(`--web.config.file ${path}: ${loaded.error}`);
  return loaded.config;
}

/** The API client, loaded only when the pod view is on (so `--kubernetes off` never loads it). */
async function kubernetesOptions(config: ServeConfig, log: Logger): Promise<KubernetesServiceOptions | null> {
  if (config.kubernetes === "off") return null;
  if (config.kubeconfig === null) {
    log.warn(
      "--kubernetes auto: no --kubeconfig, no in-cluster service account and no KUBECONFIG; the Kubernetes pod view is off",
    );
    return null;
  }
  const { ClientNodeApi, loadKubeConfig } = await import("../kube/client.js");
  let kc;
  try {
    kc = loadKubeConfig(config.kubeconfig);
  } catch (err: unknown) {
    throw new ConfigError(`Kubernetes configuration: ${err instanceof Error ? err.message : String(err)}`);
  }
  log.info(
    { source: config.kubeconfig.kind, server: kc.getCurrentCluster()?.server },
    "Kubernetes pod view on",
  );
  return {
    api: new ClientNodeApi(kc, {
      nodeName: config.nodeName,
      requestTimeoutMs: 30_000,
      component: "virtcontainers-exporter",
    }),
  };
}

/** What a listen error code means, for the one line a user sees. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: "the address is already in use (another exporter, or another program on that port)",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "that address is not one of this host's",
};

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      const why = err.code === undefined ? undefined : LISTEN_ERRORS[err.code];
      if (why === undefined) {
        reject(err);
        return;
      }
      const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
      reject(
        new StartupError(
          `cannot listen on ${address}: ${why} (${err.code ?? ""}); choose another with --listen HOST:PORT (env VCE_LISTEN)`,
        ),
      );
    };
    server.once("error", fail);
    server.listen({ host: host === "" ? undefined : host, port }, () => {
      server.off("error", fail);
      resolve();
    });
  });
}
