/**
 * Writes charts/virtcontainers-exporter/files/dashboard.json from virtcontainers.ts
 * (`npm run dashboard`). With --check, writes nothing and exits 1 when the file differs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { dashboardJson } from "./virtcontainers.js";

// compiled to build/dashboards/: the repository is two levels up
const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FILE = join(REPO, "charts", "virtcontainers-exporter", "files", "dashboard.json");

const text = dashboardJson();
if (process.argv.includes("--check")) {
  if (readFileSync(FILE, "utf8") !== text) {
    console.error(`${FILE} is not what dashboards/virtcontainers.ts generates: run npm run dashboard`);
    process.exit(1);
  }
} else {
  writeFileSync(FILE, text);
  console.log(`wrote ${FILE}`);
}
