/**
 * For tests of `serve --web.config.file`: HTTPS requests with a chosen CA, client certificate
 * and credentials; a directory laid out like a Kubernetes Secret volume (files are symlinks
 * into ..data, which points to a versioned directory and is swapped atomically); and starting
 * the built exporter with a web configuration.
 */
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import bcrypt from "bcryptjs";
import { Child, freePort, pollUntil, serveArgs, startCli } from "./helpers.js";

export interface HttpsOptions {
  readonly ca?: string;
  /** Client certificate and key files. */
  readonly client?: { readonly cert: string; readonly key: string };
  readonly user?: string;
  readonly password?: string;
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

/** One GET on a new connection (no keep-alive, no session reuse). */
export function httpsGet(url: string, o: HttpsOptions = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.user !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${o.user}:${o.password ?? ""}`).toString("base64")}`;
    }
    const req = request(
      url,
      {
        method: "GET",
        headers,
        agent: false,
        ca: o.ca === undefined ? undefined : readFileSync(o.ca),
        cert: o.client === undefined ? undefined : readFileSync(o.client.cert),
        key: o.client === undefined ? undefined : readFileSync(o.client.key),
      },
      (res) => {
        const socket = res.socket;
        const fingerprint = socket instanceof TLSSocket ? socket.getPeerCertificate().fingerprint256 : "";
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            fingerprint,
          });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** A bcrypt hash at the lowest cost (the format is what is tested, not the cost). */
export function hash(password: string): string {
  return bcrypt.hashSync(password, 4).replace(/^\$2b\$/, "$2y$");
}

/**
 * A directory like a Secret volume: `<dir>/<name>` -> `..data/<name>`, `..data` -> `..v<N>`.
 * `publish(files)` writes a new version and swaps `..data` to it in one rename.
 */
export class SecretDir {
  private version = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** `files`: name -> contents (a string) or { copy: path }. */
  publish(files: Readonly<Record<string, string | { readonly copy: string }>>): void {
    this.version++;
    const v = `..v${this.version}`;
    mkdirSync(join(this.dir, v));
    for (const [name, content] of Object.entries(files)) {
      if (typeof content === "string") writeFileSync(join(this.dir, v, name), content);
      else copyFileSync(content.copy, join(this.dir, v, name));
    }
    symlinkSync(v, join(this.dir, "..data_tmp"));
    renameSync(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    for (const name of Object.keys(files)) {
      try {
        symlinkSync(join("..data", name), join(this.dir, name));
      } catch (err: unknown) {
        if (!(err instanceof Error && "code" in err && err.code === "EEXIST")) throw err;
      }
    }
  }
}

export interface WebExporter {
  readonly child: Child;
  /** https://127.0.0.1:<port> */
  readonly base: string;
  readonly port: number;
}

/** Starts the exporter with --web.config.file and waits until /readyz answers 200. */
export async function startWebExporter(
  hostRoot: string,
  webConfig: string,
  probe: HttpsOptions,
): Promise<WebExporter> {
  const port = await freePort();
  const child = startCli(serveArgs(hostRoot, port, ["--kubernetes", "off", "--web.config.file", webConfig]));
  const base = `https://127.0.0.1:${port}`;
  try {
    await pollUntil(
      `${base}/readyz to answer 200`,
      async () => {
        if (child.exitStatus !== null) throw new Error("the exporter exited");
        return (await httpsGet(`${base}/readyz`, probe)).status === 200 ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, describe: () => child.describe() },
    );
  } catch (err: unknown) {
    await child.stop();
    throw err;
  }
  return { child, base, port };
}

/** The value of one sample (`name{labels}` exactly as exposed) in an exposition text, or NaN. */
export function sampleValue(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}
