/**
 * The processes collector against real processes: programs renamed with `exec -a` into each
 * generation's hypervisor, shims, proxy and virtiofsd for the example pod, burning a known
 * amount of CPU and touching a known amount of memory, read by the built exporter in the
 * host's /proc. Ground truth is what each process measured of itself (getrusage, its RSS).
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hostProcVisibility } from "../../src/scan/procfs.js";
import {
  Child,
  childEnv,
  copyExample,
  ensureBuilt,
  httpGet,
  K8S_POD,
  makeWritable,
  parseExposition,
  pollUntil,
  REPO,
  RUN,
  select,
  startExporter,
  TempDirs,
  type ParsedSample,
} from "./helpers.js";

const temp = new TempDirs("vce-proc-it-");
const children: Child[] = [];

beforeAll(() => {
  ensureBuilt();
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});
afterAll(() => {
  temp.cleanup();
});

const INFER = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
const UUID = "9a746c47-1e81-42ee-9a42-f80a33309555";
const MIB = 1024 * 1024;

/** Touch `mb` MiB, burn `cpuMs` of CPU, report what it measured of itself, then idle. */
const BURNER = `
const mb = Number(process.env.BURN_MB), cpuMs = Number(process.env.BURN_CPU_MS);
const mem = Buffer.alloc(mb * 1024 * 1024, 1);
const t0 = process.cpuUsage();
for (;;) { const u = process.cpuUsage(t0); if ((u.user + u.system) / 1000 >= cpuMs) break; }
const u = process.cpuUsage();
process.stdout.write(JSON.stringify({ cpu: (u.user + u.system) / 1e6, rss: process.memoryUsage().rss }) + "\\n");
setInterval(() => { mem[0]++; }, 5000);
`;

interface Burner {
  readonly child: Child;
  readonly pid: number;
  /** CPU seconds and RSS bytes the process measured of itself once done burning. */
  readonly cpu: number;
  readonly rss: number;
}

/** `exec -a <name> node -e BURNER -- <args>`: argv[0] is `name`, the rest the role's arguments. */
async function burner(name: string, args: readonly string[], mb: number, cpuMs: number): Promise<Burner> {
  const quoted = [name, process.execPath, "-e", BURNER, "--", ...args].map(
    (a) => `'${a.replace(/'/g, "'\\''")}'`,
  );
  const child = new Child(
    "bash",
    ["-c", `exec -a ${quoted.join(" ")}`],
    childEnv({ BURN_MB: String(mb), BURN_CPU_MS: String(cpuMs) }),
  );
  children.push(child);
  const report = await pollUntil(
    `${name} to burn its CPU`,
    () => {
      if (child.exitStatus !== null) throw new Error("exited");
      const line = child.stdout.split("\n")[0] ?? "";
      return line.endsWith("}") ? (JSON.parse(line) as { cpu: number; rss: number }) : undefined;
    },
    { timeoutMs: 60_000, describe: () => child.describe() },
  );
  const pid = child.proc.pid ?? 0;
  expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe(name);
  return { child, pid, ...report };
}

function processSeries(samples: readonly ParsedSample[], pod: string) {
  const byRole = new Map<string, { cpu: number; rss: number; n: number }>();
  for (const s of select(samples, "virtcontainers_pod_processes", { pod_id: pod })) {
    const role = s.labels.role ?? "";
    const one = (name: string) => select(samples, name, { pod_id: pod, role })[0]?.value ?? NaN;
    byRole.set(role, {
      n: s.value,
      cpu: one("virtcontainers_pod_process_cpu_seconds_total"),
      rss: one("virtcontainers_pod_process_resident_memory_bytes"),
    });
  }
  return byRole;
}

async function scrape(base: string): Promise<ParsedSample[]> {
  return parseExposition((await httpGet(`${base}/metrics`)).body.toString("utf8"));
}

/** Within 0.15 s (clock ticks of 10 ms, a sample taken a moment later) and 10 % of RSS. */
function expectMatches(
  got: { cpu: number; rss: number; n: number } | undefined,
  want: readonly Burner[],
): void {
  expect(got?.n).toBe(want.length);
  const cpu = want.reduce((n, b) => n + b.cpu, 0);
  const rss = want.reduce((n, b) => n + b.rss, 0);
  expect(got?.cpu).toBeGreaterThanOrEqual(cpu - 0.15);
  expect(got?.cpu).toBeLessThanOrEqual(cpu + 0.15);
  expect(Math.abs((got?.rss ?? 0) - rss) / rss).toBeLessThan(0.1);
}

const visible = hostProcVisibility({ root: "/proc" }) === "visible";

describe.skipIf(!visible)("processes collector on real processes", () => {
  it("Clear Containers (example tree): QEMU found by -name pod-<id>, cc-shim and cc-proxy by their recorded PIDs; exited ones disappear", async () => {
    const host = copyExample(temp);
    const pod = join(host, RUN, K8S_POD);
    const url = `unix:///run/virtcontainers/pods/${K8S_POD}/proxy.sock`;
    const qemu = await burner(
      "/usr/bin/qemu-lite-system-x86_64",
      ["-name", `pod-${K8S_POD}`, "-uuid", UUID, "-machine", "pc"],
      96,
      1500,
    );
    const shim = await burner(
      "/usr/libexec/clear-containers/cc-shim",
      ["-c", INFER, "-t", "dG9rZW4=", "-u", url],
      16,
      400,
    );
    const proxy = await burner("/usr/libexec/clear-containers/cc-proxy", ["-uri", url], 24, 600);
    // What the runtime records: the shim's PID in process.json, the proxy's in agent.json.
    const processJson = join(pod, INFER, "process.json");
    writeFileSync(processJson, readFileSync(processJson, "utf8").replace(/"Pid":\d+/, `"Pid":${shim.pid}`));
    writeFileSync(join(pod, "agent.json"), JSON.stringify({ ProxyPid: proxy.pid, URL: url }));

    const e = await startExporter(host, ["--kubernetes", "off", "--process-interval", "1s"]);
    children.push(e.child);
    const roles = await pollUntil(
      "the pod's hypervisor, shim and proxy series",
      async () => {
        const r = processSeries(await scrape(e.base), K8S_POD);
        return r.has("hypervisor") && r.has("shim") && r.has("proxy") ? r : undefined;
      },
      { timeoutMs: 30_000, describe: () => e.child.describe() },
    );
    expectMatches(roles.get("hypervisor"), [qemu]);
    expectMatches(roles.get("shim"), [shim]);
    expectMatches(roles.get("proxy"), [proxy]);
    expect(roles.get("virtiofsd")).toBeUndefined();
    const samples = await scrape(e.base);
    expect(
      select(samples, "virtcontainers_pod_processes", { pod_id: K8S_POD, role: "hypervisor" })[0]?.labels,
    ).toEqual({
      pod_id: K8S_POD,
      namespace: "ml-serving",
      pod: "resnet-infer-1684375908-7xq2p",
      role: "hypervisor",
    });
    expect(select(samples, "virtcontainers_process_scan_duration_seconds_count")[0]?.value).toBeGreaterThan(
      0,
    );

    await qemu.child.stop();
    const after = await pollUntil(
      "the hypervisor series to go",
      async () => {
        const r = processSeries(await scrape(e.base), K8S_POD);
        return r.has("hypervisor") ? undefined : r;
      },
      { timeoutMs: 30_000 },
    );
    expect([...after.keys()].sort()).toEqual(["proxy", "shim"]);
    await Promise.all([shim.child.stop(), proxy.child.stop()]);
    await pollUntil(
      "every series of the pod to go",
      async () => (processSeries(await scrape(e.base), K8S_POD).size === 0 ? true : undefined),
      { timeoutMs: 30_000 },
    );
    const landing = (await httpGet(`${e.base}/`)).body.toString("utf8");
    expect(landing).toMatch(/Process metrics: \d+ processes of \d+ pods; last sample /);
  }, 120_000);

  it("Kata 2.x (persist.json): QEMU and virtiofsd by their recorded PIDs, containerd-shim-kata-v2 by -id <sandbox>", async () => {
    const host = temp.make();
    cpSync(join(REPO, "test/fixtures/layouts/kata-2.x/host"), host, { recursive: true });
    makeWritable(host);
    const qemu = await burner(
      "/opt/kata/bin/qemu-system-x86_64",
      ["-name", `sandbox-${K8S_POD}`, "-uuid", UUID],
      64,
      800,
    );
    const vfs = await burner(
      "/opt/kata/libexec/virtiofsd",
      [`--socket-path=/run/vc/vm/${K8S_POD}/vhost-fs.sock`],
      16,
      300,
    );
    const shim = await burner(
      "/usr/local/bin/containerd-shim-kata-v2",
      ["-namespace", "k8s.io", "-id", K8S_POD],
      16,
      300,
    );
    const persist = join(host, "run/vc/sbs", K8S_POD, "persist.json");
    writeFileSync(
      persist,
      readFileSync(persist, "utf8")
        .replace(/"Pid":20462/, `"Pid":${qemu.pid}`)
        .replace(/"VirtiofsDaemonPid":20455/, `"VirtiofsDaemonPid":${vfs.pid}`),
    );
    const e = await startExporter(host, ["--kubernetes", "off", "--process-interval", "1s"]);
    children.push(e.child);
    const roles = await pollUntil(
      "the pod's hypervisor, shim and virtiofsd series",
      async () => {
        const r = processSeries(await scrape(e.base), K8S_POD);
        return r.has("hypervisor") && r.has("shim") && r.has("virtiofsd") ? r : undefined;
      },
      { timeoutMs: 30_000, describe: () => e.child.describe() },
    );
    expectMatches(roles.get("hypervisor"), [qemu]);
    expectMatches(roles.get("virtiofsd"), [vfs]);
    expectMatches(roles.get("shim"), [shim]);
    expect(roles.get("hypervisor")?.rss).toBeGreaterThan(64 * MIB);
  }, 120_000);
});

describe("processes collector without the host's PID namespace", () => {
  it("exports nothing, says so once in the log and on the landing page", async () => {
    const host = copyExample(temp);
    const proc = temp.make(); // no 2/comm: not the host's PID namespace
    const e = await startExporter(host, [
      "--kubernetes",
      "off",
      "--process-interval",
      "1s",
      "--proc-root",
      proc,
    ]);
    children.push(e.child);
    await new Promise((r) => setTimeout(r, 2500));
    const text = (await httpGet(`${e.base}/metrics`)).body.toString("utf8");
    expect(text).not.toContain("virtcontainers_pod_process");
    expect(text).not.toContain("virtcontainers_process_");
    expect(text).toContain("virtcontainers_pod_info");
    const landing = (await httpGet(`${e.base}/`)).body.toString("utf8");
    expect(landing).toContain("the host's PID namespace is not visible");
    const said = e.child.stdout.split("\n").filter((l) => l.includes("PID namespace is not visible"));
    expect(said).toHaveLength(1);
  });
});
