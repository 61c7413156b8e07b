/** `virtcontainers-exporter serve` (the default): wiring only. */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { loadServeConfig, type ServeConfig } from "../config/serve-config.js";
import { ConfigError } from "../config/values.js";
import { createApp } from "../http/app.js";
import { createLogger, type Logger } from "../log.js";
import { checkHostRoot } from "../scan/scanner.js";
import { ExporterService, type KubernetesServiceOptions } from "../service.js";

export async function runServe(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadServeConfig(argv, env);
  // A host root that is not there is a configuration error: say so once and exit (the trees
  // below it may be missing; that is a node without pods and is served as such).
  checkHostRoot(config.hostRoot);
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
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await listen(server, config.listen.host, config.listen.port);
  const addr = server.address() as AddressInfo;
  log.info({ address: addr.address, port: addr.port }, "listening");

  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
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

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: host === "" ? undefined : host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
