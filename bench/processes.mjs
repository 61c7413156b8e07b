// Benchmark section "processes": the processes collector (per-pod host CPU and memory of the VM's
// processes), in process, on the built code, at 110 and 1,000 pods only. A fixture /proc (under
// os.tmpdir(), like the tree) holds 4 processes per pod, as the runtime leaves them: QEMU (found by
// searching command lines: Clear Containers records no QEMU PID), the proxy and two shims (recorded
// PIDs, verified by command line), plus 300 unrelated processes. Measured beside the same cache
// without the collector, in the same run:
// - the collector's cost per sample: the first (every pod searched and verified) and the steady one
//   (every process known: stat + statm of each), median of 10;
// - what a sample costs the rendered-output cache (the process part rendered again);
// - a scrape's cost (the cache's render, plain and gzip, median of 50) and size, with and without.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { median } from "./measure.mjs";
import { makeTempDir, removeTempDir } from "./procs.mjs";
import { fmt, row, targetRow } from "./report.mjs";

const dist = (p) => pathToFileURL(fileURLToPath(new URL(`../dist/${p}`, import.meta.url))).href;
const SIZES = [110, 1000];
const PER_POD = 4;
const OTHERS = 300;
const SCRAPES = 50;

// A sample every 15 s (the default --process-interval) must stay under 1 % of one core; a scrape
// with the collector must cost about what it costs without (the sample is rendered once, not per
// scrape).
const INTERVAL_MS = 15_000;
export const TARGETS = { sampleCpuPercent: { max: 1 }, scrapeRatio: { max: 1.5 } };

function writeProc(root, pid, args, start, ticks, pages) {
  const dir = path.join(root, String(pid));
  mkdirSync(dir);
  const comm = path.basename(args[0]).slice(0, 15);
  const rest = ["S", 1, pid, pid, 0, -1, 4194560, 1, 0, 0, 0, ticks, ticks >> 2, 0, 0, 20, 0, 4, 0, start];
  writeFileSync(path.join(dir, "stat"), `${pid} (${comm}) ${[...rest, ...Array(30).fill(0)].join(" ")}\n`);
  writeFileSync(path.join(dir, "statm"), `${pages * 2} ${pages} 10 10 0 ${pages} 0\n`);
  writeFileSync(path.join(dir, "cmdline"), `${args.join("\0")}\0`);
}

/** The fixture /proc and the snapshot with the recorded PIDs pointing into it. */
function fixture(root, snapshot) {
  writeProc(root, 2, ["kthreadd"], 0, 0, 0);
  writeFileSync(path.join(root, "2", "comm"), "kthreadd\n");
  let pid = 1000;
  for (let i = 0; i < OTHERS; i++) writeProc(root, pid++, ["/usr/bin/bash", "-c", `sleep ${i}`], pid, 1, 100);
  const pods = snapshot.pods.map((p) => {
    const url = `unix:///run/virtcontainers/pods/${p.id}/proxy.sock`;
    const qemu = pid++;
    writeProc(
      root,
      qemu,
      [
        "/usr/bin/qemu-lite-system-x86_64",
        "-name",
        `pod-${p.id}`,
        "-uuid",
        p.hypervisor?.uuid ?? "x",
        "-machine",
        "pc,accel=kvm",
        "-m",
        "2048M",
        "-kernel",
        "/usr/share/clear-containers/vmlinux.container",
        "-append",
        "tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k console=hvc0 console=hvc1 iommu=off cryptomgr.notests net.ifnames=0 pci=lastbus=0 root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro rw rootfstype=ext4 quiet systemd.show_status=false panic=1 nr_cpus=4 init=/usr/lib/systemd/systemd systemd.unit=container.target systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd.socket",
      ],
      qemu,
      5000,
      60000,
    );
    const proxy = pid++;
    writeProc(root, proxy, ["/usr/libexec/clear-containers/cc-proxy", "-uri", url], proxy, 100, 2000);
    const containers = p.containers.map((c, j) => {
      if (j >= PER_POD - 2) return { ...c, process: null };
      const shim = pid++;
      writeProc(
        root,
        shim,
        ["/usr/libexec/clear-containers/cc-shim", "-c", c.id, "-t", "dG9rZW4=", "-u", url],
        shim,
        50,
        1500,
      );
      return { ...c, process: { pid: shim, startTime: "", startTimeSeconds: null } };
    });
    return { ...p, agent: { proxyPid: proxy, url }, containers };
  });
  return { ...snapshot, pods };
}

async function scrapeMs(cache, gzip) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) {
    const t = performance.now();
    const chunks = await cache.render(gzip);
    times.push(performance.now() - t);
    bytes = chunks.reduce((n, c) => n + c.length, 0);
  }
  return { ms: median(times), bytes };
}

export const processesSection = {
  name: "processes",
  async run(root, meta) {
    if (!SIZES.includes(meta.pods))
      return {
        results: { skipped: true },
        rows: [row("processes section", "skipped (110 and 1,000 pods only)")],
      };
    const [
      { Scanner },
      { PodProcesses },
      { ExpositionCache },
      { SNAPSHOT_COLLECTORS, ALL_COLLECTORS },
      { SelfMetrics },
    ] = await Promise.all([
      import(dist("scan/scanner.js")),
      import(dist("scan/pod-processes.js")),
      import(dist("metrics/cache.js")),
      import(dist("metrics/collectors/index.js")),
      import(dist("metrics/self.js")),
    ]);
    const proc = makeTempDir("vc-bench-proc-");
    try {
      const snapshot = fixture(proc, await new Scanner({ hostRoot: root }).scan());
      const tracker = new PodProcesses({ procRoot: proc, hostRoot: root, pageSize: 4096 });
      let t = performance.now();
      const first = await tracker.sample(snapshot);
      const firstMs = performance.now() - t;
      const found = [...first.pods.values()].reduce(
        (n, roles) => n + [...roles.values()].reduce((m, u) => m + u.processes, 0),
        0,
      );
      if (found !== snapshot.pods.length * PER_POD)
        throw new Error(`found ${found} processes, expected ${snapshot.pods.length * PER_POD}`);
      const steady = [];
      let last = first;
      for (let i = 0; i < 10; i++) {
        t = performance.now();
        last = await tracker.sample(snapshot);
        steady.push(performance.now() - t);
        if (last.cmdlinesRead !== 0 || last.searchedPods !== 0) throw new Error("a steady sample searched");
      }
      const steadyMs = median(steady);

      const without = new ExpositionCache(SNAPSHOT_COLLECTORS, new SelfMetrics("node-a"));
      without.update(snapshot);
      const withIt = new ExpositionCache(ALL_COLLECTORS, new SelfMetrics("node-a"));
      withIt.update(snapshot);
      const renders = [];
      for (let i = 0; i < 10; i++) {
        t = performance.now();
        withIt.updateSample(last);
        renders.push(performance.now() - t);
      }
      const renderMs = median(renders);
      const plainWithout = await scrapeMs(without, false);
      const plainWith = await scrapeMs(withIt, false);
      const gzWithout = await scrapeMs(without, true);
      const gzWith = await scrapeMs(withIt, true);
      // The first gzip scrape after a sample compresses the new process part once.
      withIt.updateSample(last);
      t = performance.now();
      await withIt.render(true);
      const gzAfterSampleMs = performance.now() - t;
      const n = snapshot.pods.length;
      const results = {
        pods: n,
        processes: found,
        firstSampleMs: firstMs,
        steadySampleMs: steadyMs,
        sampleRenderMs: renderMs,
        scrapePlainMs: { without: plainWithout.ms, with: plainWith.ms },
        scrapeGzipMs: { without: gzWithout.ms, with: gzWith.ms },
        gzipScrapeAfterSampleMs: gzAfterSampleMs,
        bytes: { without: plainWithout.bytes, with: plainWith.bytes },
      };
      return {
        results,
        rows: [
          row(
            `processes: first sample (${fmt.int(n)} pods searched, ${fmt.int(found)} processes verified)`,
            fmt.ms(firstMs),
          ),
          row("processes: steady sample (median of 10)", fmt.ms(steadyMs)),
          row("processes: steady sample per process", `${((steadyMs * 1000) / found).toFixed(1)} µs`),
          targetRow(
            "processes: steady sample + render, share of one core at 15 s",
            ((steadyMs + renderMs) / INTERVAL_MS) * 100,
            TARGETS.sampleCpuPercent.max,
            { format: fmt.pct, unit: " %" },
          ),
          row("processes: render of the process part per sample (median of 10)", fmt.ms(renderMs)),
          row(
            "scrape, plain, without / with the collector (median of 50)",
            `${fmt.ms(plainWithout.ms)} / ${fmt.ms(plainWith.ms)}`,
          ),
          targetRow("scrape, plain: with / without", plainWith.ms / plainWithout.ms, TARGETS.scrapeRatio.max),
          row(
            "scrape, gzip, without / with the collector (median of 50)",
            `${fmt.ms(gzWithout.ms)} / ${fmt.ms(gzWith.ms)}`,
          ),
          targetRow("scrape, gzip: with / without", gzWith.ms / gzWithout.ms, TARGETS.scrapeRatio.max),
          row("first gzip scrape after a sample (compresses the process part)", fmt.ms(gzAfterSampleMs)),
          row(
            "exposition bytes without / with",
            `${fmt.int(plainWithout.bytes)} / ${fmt.int(plainWith.bytes)}`,
          ),
          row("exposition bytes: with / without", fmt.ratio(plainWith.bytes / plainWithout.bytes)),
        ],
      };
    } finally {
      removeTempDir(proc);
    }
  },
};
