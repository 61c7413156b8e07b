import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // No test may depend on an idle machine: vitest's 5 s default fails light tests on a
          // busy 2-core box. Heavy property/robustness cases set their own, longer timeouts
          // (HEAVY_TIMEOUT_MS in test/unit/format/helpers.ts); speed targets live in benchmarks.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // every tool checked once, before any test starts (one line per missing tool)
          globalSetup: ["test/support/tools-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
