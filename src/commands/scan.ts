/** `virtcontainers-exporter scan`: one snapshot, printed. Loads no Kubernetes or HTTP code. */
import { loadScanConfig } from "../config/scan-config.js";
import { toJsonReport, toTable } from "../scan/report.js";
import { Scanner } from "../scan/scanner.js";

export async function runScan(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadScanConfig(argv, env);
  const scanner = new Scanner({
    hostRoot: config.hostRoot,
    maxFileBytes: config.maxFileBytes,
    layouts: config.layouts,
  });
  const snapshot = await scanner.scan();
  const out = config.output === "json" ? JSON.stringify(toJsonReport(snapshot)) + "\n" : toTable(snapshot);
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(out, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
  return 0;
}
