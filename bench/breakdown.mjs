// Where the bytes of /metrics go, per pod: the snapshot collectors (Kubernetes off, as the metrics
// section runs the exporter) rendered over a generated tree of N example pods, each family's series
// and bytes per pod, and the share of the identity label pairs. HELP and TYPE lines are per family
// and left out. Needs dist/ (npm run build).
//
// CLI: node bench/breakdown.mjs [PODS] [SEED]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { generateTree, loadTemplate } from "./gen-tree.mjs";

const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const { Scanner } = await import(dist("scan/scanner.js"));
const { SNAPSHOT_COLLECTORS } = await import(dist("metrics/collectors/index.js"));
const { renderFamily } = await import(dist("metrics/exposition.js"));

const pods = Number(process.argv[2] ?? 1000);
const seed = Number(process.argv[3] ?? 1);
const bytes = (lines) => lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
/** Bytes per pod of the `name="value"` pairs of `labels` (with their separator). */
const labelBytes = (text, labels, n) =>
  [...text.matchAll(new RegExp(`[{,](${labels.join("|")})="(?:[^"\\\\]|\\\\.)*"`, "g"))].reduce(
    (sum, m) => sum + m[0].length,
    0,
  ) / n;

const root = mkdtempSync(path.join(os.tmpdir(), "vce-breakdown-"));
try {
  await generateTree(root, pods, { seed, template: await loadTemplate() });
  const snapshot = await new Scanner({ hostRoot: root }).scan();
  const n = snapshot.pods.length;
  const rows = [];
  let podText = "";
  for (const c of SNAPSHOT_COLLECTORS.filter((x) => x.needsKubernetes !== true)) {
    for (const f of c.families) {
      const lines = renderFamily(f, snapshot)
        .split("\n")
        .filter((l) => l.includes('pod_id="'));
      if (lines.length === 0) continue;
      podText += lines.join("\n") + "\n";
      rows.push({ family: f.name, series: lines.length / n, bytes: bytes(lines) / n });
    }
  }
  rows.sort((a, b) => b.bytes - a.bytes);
  console.log(`${n} pods (seed ${seed}): sample lines with a pod_id, per pod`);
  for (const r of rows)
    console.log(
      `  ${r.family.padEnd(48)} ${r.series.toFixed(1).padStart(5)} series ${r.bytes.toFixed(0).padStart(6)} B`,
    );
  const total = bytes(podText.split("\n").filter((l) => l !== "")) / n;
  console.log(
    `  ${"total".padEnd(48)} ${rows
      .reduce((s, r) => s + r.series, 0)
      .toFixed(1)
      .padStart(5)} series ${total.toFixed(0).padStart(6)} B`,
  );
  const ids = labelBytes(podText, ["pod_id", "container_id"], n);
  const names = labelBytes(podText, ["namespace", "pod", "container"], n);
  console.log(`  pod_id and container_id pairs: ${ids.toFixed(0)} B (${((100 * ids) / total).toFixed(0)}%)`);
  console.log(
    `  namespace, pod and container pairs: ${names.toFixed(0)} B (${((100 * names) / total).toFixed(0)}%)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
