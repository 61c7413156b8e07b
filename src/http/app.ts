/** The HTTP surface: /metrics, /healthz, /readyz and a landing page. No domain logic here. */
import express, { type Express } from "express";
import { VC_STATES } from "../format/model.js";
import { CONTENT_TYPE } from "../metrics/cache.js";
import { allProblems, type Snapshot } from "../scan/snapshot.js";
import { VERSION } from "../version.js";

/** The Kubernetes side for the landing page; null with Kubernetes off. */
export interface KubernetesSummary {
  readonly synced: boolean;
  readonly nodeConfirmed: boolean;
  readonly orphans: number;
  readonly gcMode: string;
}

/** The processes collector for the landing page (absent: not shown). */
export type ProcessesLine =
  | { readonly state: "off" | "not_visible" | "starting" }
  | { readonly state: "on"; readonly pods: number; readonly processes: number; readonly takenAt: number };

export interface AppSource {
  readonly ready: boolean;
  readonly snapshot: Snapshot | null;
  readonly kubernetes?: KubernetesSummary | null;
  readonly processes?: ProcessesLine;
  render(gzip: boolean): Promise<readonly Buffer[]>;
  countScrape(): void;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function kubernetesLine(k: KubernetesSummary | null | undefined): string {
  if (k === undefined || k === null) return "<p>Kubernetes pod view: off.</p>";
  return `<p>Kubernetes pod view: ${k.synced ? "synced" : "<b>not synced</b>"}; Node ${
    k.nodeConfirmed ? "confirmed" : "<b>not confirmed</b>"
  }; ${k.orphans} orphan pods; GC ${escapeHtml(k.gcMode)}.</p>`;
}

function processesLine(p: ProcessesLine | undefined): string {
  if (p === undefined) return "";
  switch (p.state) {
    case "off":
      return "<p>Process metrics: off (--no-collector.processes).</p>";
    case "not_visible":
      return "<p>Process metrics: <b>off: the host's PID namespace is not visible</b> (run the pod with hostPID).</p>";
    case "starting":
      return "<p>Process metrics: first sample in progress.</p>";
    case "on":
      return `<p>Process metrics: ${p.processes} processes of ${p.pods} pods; last sample ${escapeHtml(
        new Date(p.takenAt * 1000).toISOString(),
      )}.</p>`;
  }
}

function landing(
  nodeName: string,
  s: Snapshot | null,
  k?: KubernetesSummary | null,
  p?: ProcessesLine,
): string {
  const rows =
    s === null
      ? "<p>First scan in progress.</p>"
      : `<table><tr><th>state</th><th>pods</th></tr>${VC_STATES.map(
          (st) => `<tr><td>${st}</td><td>${s.pods.filter((p) => p.state === st).length}</td></tr>`,
        ).join("")}</table>
<p>${s.pods.reduce((n, p) => n + p.containers.length, 0)} containers, ${s.pods.reduce(
          (n, p) => n + p.containers.reduce((m, c) => m + c.devices.length, 0),
          0,
        )} devices, ${allProblems(s).length} file problems; last scan ${escapeHtml(new Date(s.takenAt * 1000).toISOString())}.</p>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>virtcontainers-exporter</title></head>
<body><h1>virtcontainers-exporter ${escapeHtml(VERSION)}</h1>
<p>Node <b>${escapeHtml(nodeName)}</b></p>
${rows}
${kubernetesLine(k)}
${processesLine(p)}
<ul><li><a href="metrics">/metrics</a></li><li><a href="healthz">/healthz</a></li><li><a href="readyz">/readyz</a></li></ul>
</body></html>
`;
}

export function createApp(source: AppSource, nodeName: string): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");

  app.get("/metrics", (req, res, next) => {
    const gzip = req.acceptsEncodings("gzip", "identity") === "gzip";
    source.countScrape();
    source.render(gzip).then((chunks) => {
      res.setHeader("Content-Type", CONTENT_TYPE);
      res.setHeader("Vary", "Accept-Encoding");
      res.setHeader("Cache-Control", "no-store");
      res.setHeader(
        "Content-Length",
        chunks.reduce((n, c) => n + c.length, 0),
      );
      if (gzip) res.setHeader("Content-Encoding", "gzip");
      for (const c of chunks) res.write(c);
      res.end();
    }, next);
  });
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok\n");
  });
  app.get("/readyz", (_req, res) => {
    if (source.ready) res.type("text/plain").send("ok\n");
    else res.status(503).type("text/plain").send("not ready: first scan and file watches in progress\n");
  });
  app.get("/", (_req, res) => {
    res.type("html").send(landing(nodeName, source.snapshot, source.kubernetes, source.processes));
  });
  app.use((_req, res) => {
    res.status(404).type("text/plain").send("not found\n");
  });
  return app;
}
