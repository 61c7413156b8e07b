/**
 * Metrics of the protected HTTP surface (serve --web.config.file): configuration reloads,
 * refused credentials and failed TLS handshakes. Registered only with a web configuration.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export const RELOAD_RESULTS = ["success", "failure"] as const;
export const AUTH_FAILURE_REASONS = ["missing", "invalid", "overloaded"] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export class WebMetrics {
  private readonly reloads: Counter<"result">;
  private readonly lastReloadSuccessful: Gauge;
  readonly authFailures: Counter<"reason">;
  readonly tlsHandshakeFailures: Counter;

  constructor(registry: Registry) {
    this.reloads = new Counter({
      name: "virtcontainers_web_config_reloads_total",
      help: "Reloads of the web configuration file after it or a certificate file it names changed, by result (a failed one keeps the last good configuration).",
      labelNames: ["result"],
      registers: [registry],
    });
    this.lastReloadSuccessful = new Gauge({
      name: "virtcontainers_web_config_last_reload_successful",
      help: "Whether the last load of the web configuration succeeded (1) or failed and the previous one is still served (0).",
      registers: [registry],
    });
    this.authFailures = new Counter({
      name: "virtcontainers_web_auth_failures_total",
      help: "Requests refused by basic authentication: missing (no credentials), invalid (wrong user or password, or a malformed header), overloaded (too many checks waiting).",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.tlsHandshakeFailures = new Counter({
      name: "virtcontainers_web_tls_handshake_failures_total",
      help: "TLS connections refused before a request: failed handshakes (plain HTTP, no or an untrusted client certificate, no common version or cipher).",
      registers: [registry],
    });
    for (const r of RELOAD_RESULTS) this.reloads.inc({ result: r }, 0);
    for (const r of AUTH_FAILURE_REASONS) this.authFailures.inc({ reason: r }, 0);
    this.lastReloadSuccessful.set(1);
  }

  reloaded(ok: boolean): void {
    this.reloads.inc({ result: ok ? "success" : "failure" });
    this.lastReloadSuccessful.set(ok ? 1 : 0);
  }
}
