// Benchmark section "scan": cold whole-process `scan` CLI run, its peak RSS, and in-process no-change rescans.
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compileFloor, measureFloor, median, run, timeRuns } from "./measure.mjs";
import { fmt, row, targetRow } from "./report.mjs";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const SCANNER = fileURLToPath(new URL("../dist/scan/scanner.js", import.meta.url));
const RESCAN_CHILD = fileURLToPath(new URL("./rescan-child.mjs", import.meta.url));
const GNU_TIME = "/usr/bin/time";
const RUNS = 5;

export const TARGETS = {
  coldOverBaseline: { max: 1.0, atPods: 1000 },
  coldOverFloor: { max: 3, atPods: 1000 },
  rescanOverCold: { max: 0.25 },
};

/** The compiled physical-floor program (bench/floor.c), or why there is none; set by preflight. */
let floor = { binary: null, why: "not compiled" };

function preflight() {
  for (const file of [CLI, SCANNER, GNU_TIME]) {
    if (!existsSync(file)) throw new Error(`${file} is missing (dist/ is built by \`npm run build\`)`);
  }
  floor = compileFloor();
  if (floor.binary === null) console.warn(`scan section: ${floor.why}`);
}

const scanArgs = (root) => [CLI, "scan", "--host-root", root, "--output", "json"];

function measureCold(root) {
  return timeRuns(() => run(process.execPath, scanArgs(root), { cwd: REPO_ROOT, discardStdout: true }).ms, {
    runs: RUNS,
  });
}

/** One scan under GNU time; %M is the peak resident set size in KiB, printed last on stderr. */
function measurePeakRss(root) {
  const { stdout, stderr } = run(GNU_TIME, ["-f", "%M", process.execPath, ...scanArgs(root)], {
    cwd: REPO_ROOT,
  });
  const kib = Number(stderr.trimEnd().split("\n").at(-1));
  if (!Number.isInteger(kib))
    throw new Error(`cannot parse peak RSS from GNU time output:\n${stderr.slice(-500)}`);
  return { peakRssMiB: kib / 1024, outputBytes: Buffer.byteLength(stdout), outputIsJson: isJson(stdout) };
}

function isJson(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function measureRescan(root) {
  const { stdout } = run(process.execPath, [RESCAN_CHILD, root, String(RUNS)], { cwd: REPO_ROOT });
  const child = JSON.parse(stdout);
  const bad = child.rescanFilesRead.filter((n) => n !== 0);
  if (bad.length > 0) {
    throw new Error(
      `no-change rescan read files: snapshot.stats.filesRead = ${child.rescanFilesRead.join(", ")}`,
    );
  }
  return { ...child, rescanMedianMs: median(child.rescanMs) };
}

/** Measures the scan section on the tree at `root`; `meta` carries pods, files, bytes and baselineMs. */
export async function benchScan(root, meta) {
  const floorRun = floor.binary === null ? null : await measureFloor(floor.binary, root);
  const cold = await measureCold(root);
  const rss = measurePeakRss(root);
  const rescan = measureRescan(root);
  const coldOverBaseline = cold.medianMs / meta.baselineMs;
  const rescanOverCold = rescan.rescanMedianMs / cold.medianMs;
  const coldOverFloor = floorRun === null ? null : cold.medianMs / floorRun.medianMs;
  const { max: coldMax, atPods } = TARGETS.coldOverBaseline;
  const results = { cold, ...rss, rescan, coldOverBaseline, floor: floorRun, coldOverFloor, rescanOverCold };
  const floorRows =
    floorRun === null
      ? [row("floor (C, raw reads)", `skipped: ${floor.why}`)]
      : [
          row("floor (C, raw reads, median)", fmt.ms(floorRun.medianMs)),
          targetRow("cold / floor", coldOverFloor, TARGETS.coldOverFloor.max, {
            applies: meta.pods === TARGETS.coldOverFloor.atPods,
            note: `at ${TARGETS.coldOverFloor.atPods} pods`,
          }),
        ];
  const rows = [
    row("cold scan (CLI, median)", fmt.ms(cold.medianMs)),
    targetRow("cold / baseline", coldOverBaseline, coldMax, {
      applies: meta.pods === atPods,
      note: `at ${atPods} pods`,
    }),
    ...floorRows,
    row("peak RSS (cold scan)", fmt.mib(rss.peakRssMiB)),
    row("scan output (JSON)", `${fmt.int(rss.outputBytes)} B${rss.outputIsJson ? "" : " NOT JSON"}`),
    row("in-process first scan", fmt.ms(rescan.firstMs)),
    row("  files read", String(rescan.firstFilesRead)),
    row("no-change rescan (median)", fmt.ms(rescan.rescanMedianMs)),
    row("  files read", String(rescan.rescanFilesRead.at(-1))),
    targetRow("rescan / cold", rescanOverCold, TARGETS.rescanOverCold.max),
    row("in-process RSS after rescans", fmt.mib(rescan.rssMiB)),
  ];
  return { results, rows };
}

// The scanner reads every layout; the targets are the same for each tree.
export const scanSection = {
  name: "scan",
  layouts: ["virtcontainers", "persist"],
  preflight,
  run: benchScan,
};
