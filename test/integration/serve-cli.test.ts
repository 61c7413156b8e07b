/**
 * The `serve` command end to end: the built CLI (dist/cli.js) as a child process on
 * 127.0.0.1 with a free port, against a copy of examples/host.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  Child,
  childEnv,
  copyExample,
  ensureBuilt,
  freePort,
  httpGet,
  parseExposition,
  pollUntil,
  REPO,
  select,
  startCli,
  startExporter,
  TempDirs,
  waitReady,
} from "./helpers.js";

const temp = new TempDirs();
const children: Child[] = [];
let hostRoot = "";

beforeAll(() => {
  ensureBuilt();
  hostRoot = copyExample(temp);
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

afterAll(() => {
  temp.cleanup();
});

function track<T extends { child: Child } | Child>(x: T): T {
  children.push(x instanceof Child ? x : x.child);
  return x;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv = childEnv()) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env,
    cwd: REPO,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function text(url: string): Promise<{ status: number; type: string; body: string }> {
  const r = await httpGet(url);
  return { status: r.status, type: String(r.headers["content-type"]), body: r.body.toString("utf8") };
}

describe("serve: usage errors", () => {
  it.each([
    [["--listen", "nope"], "--listen"],
    [["--resync-interval", "5x"], "--resync-interval"],
    [["--log-level", "loud"], "--log-level"],
    [["--kubernetes", "maybe"], "--kubernetes"],
    [["--unknown"], "--unknown"],
  ])("%j exits 2 with one line naming %s", (args, flag) => {
    const r = run(["serve", "--host-root", hostRoot, ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.endsWith("\n")).toBe(true);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^virtcontainers-exporter: /);
    expect(lines[0]).toContain(flag);
  });

  it("names the bad value too", () => {
    expect(run(["serve", "--host-root", hostRoot, "--resync-interval", "5x"]).stderr).toBe(
      'virtcontainers-exporter: --resync-interval: "5x" is not a duration (examples: 500ms, 30s, 5m, 1h)\n',
    );
    expect(run(["serve", "--host-root", hostRoot, "--log-level", "loud"]).stderr).toBe(
      'virtcontainers-exporter: --log-level: "loud" is not one of debug, info, warn, error\n',
    );
  });

  it("--gc on without any Kubernetes configuration is refused with a clear message", () => {
    const env = { ...childEnv(), KUBECONFIG: "", KUBERNETES_SERVICE_HOST: "" };
    const r = run(["serve", "--host-root", hostRoot, "--gc", "on"], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "virtcontainers-exporter: --gc on: garbage collection needs the Kubernetes pod view (--kubernetes auto with --kubeconfig, in-cluster config or KUBECONFIG); none was found\n",
    );
    const off = run(["serve", "--host-root", hostRoot, "--gc", "dry-run", "--kubernetes", "off"], env);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(
      /^virtcontainers-exporter: --gc dry-run: garbage collection needs the Kubernetes pod view/,
    );
  });

  it("a --kubeconfig that does not exist is refused", () => {
    const r = run(["serve", "--host-root", hostRoot, "--kubeconfig", join(hostRoot, "nope.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^virtcontainers-exporter: --kubeconfig: .*nope\.yaml does not exist\n$/);
  });

  it("a host root that does not exist stops it at start with one line and exit 1", () => {
    const r = run(["serve", "--host-root", join(hostRoot, "no-such-dir"), "--listen", "127.0.0.1:0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^virtcontainers-exporter: host root .*no-such-dir is not usable: ENOENT\n$/);
  });

  it("an invalid value in the environment is refused the same way", () => {
    const r = run(["serve", "--host-root", hostRoot], childEnv({ VCE_LISTEN: "nope" }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^virtcontainers-exporter: --listen: "nope" is not HOST:PORT/);
  });
});

describe("serve: a running exporter", () => {
  it("logs JSON lines, answers its endpoints and stops on SIGTERM with code 0", async () => {
    const e = track(await startExporter(hostRoot, ["--node-name", "worker-7.example.com"]));

    const health = await text(`${e.base}/healthz`);
    expect(health).toMatchObject({ status: 200, body: "ok\n" });
    expect(health.type).toMatch(/^text\/plain/);
    expect(await text(`${e.base}/readyz`)).toMatchObject({ status: 200, body: "ok\n" });

    const landing = await text(`${e.base}/`);
    expect(landing.status).toBe(200);
    expect(landing.type).toMatch(/^text\/html/);
    expect(landing.body).toMatch(/^<!doctype html>/);
    expect(landing.body).toContain("<p>Node <b>worker-7.example.com</b></p>");
    expect(landing.body).toContain("<tr><td>running</td><td>2</td></tr>");
    expect(landing.body).toContain("4 containers, 3 devices, 0 file problems");

    const missing = await text(`${e.base}/no/such/page`);
    expect(missing).toMatchObject({ status: 404, body: "not found\n" });

    const metrics = await text(`${e.base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(select(parseExposition(metrics.body), "virtcontainers_pod_info")).toHaveLength(2);

    e.child.proc.kill("SIGTERM");
    const exit = await pollUntil(
      "the exporter to exit after SIGTERM",
      () => e.child.exitStatus ?? undefined,
      {
        timeoutMs: 2_000,
        intervalMs: 20,
        describe: () => e.child.describe(),
      },
    );
    expect(exit).toEqual({ code: 0, signal: null });
    expect(e.child.stderr).toBe("");

    const lines = e.child.stdout.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const logs = lines.map((l) => JSON.parse(l) as { msg?: unknown; level?: unknown });
    for (const l of logs) {
      expect(typeof l.msg).toBe("string");
      expect(typeof l.level).toBe("number");
    }
    const msgs = logs.map((l) => l.msg);
    expect(msgs[0]).toBe("starting");
    expect(msgs).toContain("listening");
    expect(msgs).toContain("first scan done; ready");
    expect(msgs.at(-1)).toBe("stopping");
  });

  it("--no-collector.devices drops the device families and keeps the pod families", async () => {
    // --no-collector.processes too: whether that one renders depends on the host's PID namespace.
    const e = track(await startExporter(hostRoot, ["--no-collector.devices", "--no-collector.processes"]));
    const body = (await text(`${e.base}/metrics`)).body;
    const samples = parseExposition(body);
    expect(body).not.toContain("virtcontainers_device_info");
    expect(select(samples, "virtcontainers_devices")).toEqual([]);
    expect(select(samples, "virtcontainers_pod_info")).toHaveLength(2);
    expect(select(samples, "virtcontainers_container_info")).toHaveLength(4);
    expect(select(samples, "virtcontainers_collector_success").map((s) => s.labels.collector)).toEqual([
      "pods",
      "containers",
      "problems",
    ]);
  });

  it("VCE_LISTEN is honoured, and --listen wins over it", async () => {
    const envPort = await freePort();
    const viaEnv = track(
      startCli(["serve", "--host-root", hostRoot], childEnv({ VCE_LISTEN: `127.0.0.1:${envPort}` })),
    );
    await waitReady(`http://127.0.0.1:${envPort}`, viaEnv);
    expect((await text(`http://127.0.0.1:${envPort}/healthz`)).status).toBe(200);
    await viaEnv.stop();

    const flagPort = await freePort();
    const unusedPort = await freePort();
    const both = track(
      startCli(
        ["serve", "--host-root", hostRoot, "--listen", `127.0.0.1:${flagPort}`],
        childEnv({ VCE_LISTEN: `127.0.0.1:${unusedPort}` }),
      ),
    );
    await waitReady(`http://127.0.0.1:${flagPort}`, both);
    const listening = both.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg?: string; port?: number })
      .find((l) => l.msg === "listening");
    expect(listening?.port).toBe(flagPort);
    await expect(httpGet(`http://127.0.0.1:${unusedPort}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
