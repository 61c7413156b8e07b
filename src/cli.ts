#!/usr/bin/env node
/**
 * Entry point: picks the subcommand and loads only its code (so `scan` starts without the
 * Kubernetes client or the HTTP stack). Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
import { ConfigError, StartupError } from "./config/values.js";
import { HostRootError } from "./scan/scanner.js";

const USAGE = `Usage: virtcontainers-exporter <command> [flags]

Commands:
  serve    serve Prometheus metrics (the default when no command is given)
  scan     print one snapshot of the virtcontainers state trees (table or JSON)
  gc       garbage-collect orphan pod state once, from a shell (--dry-run to only report)

Run 'virtcontainers-exporter <command> --help' for its flags. --version prints the version.`;

type Command = (argv: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>;

async function loadCommand(name: string): Promise<{ run: Command; usage: string } | null> {
  switch (name) {
    case "scan": {
      const [{ runScan }, { SCAN_USAGE }] = await Promise.all([
        import("./commands/scan.js"),
        import("./config/scan-config.js"),
      ]);
      return { run: runScan, usage: SCAN_USAGE };
    }
    case "serve": {
      const [{ runServe }, { SERVE_USAGE }] = await Promise.all([
        import("./commands/serve.js"),
        import("./config/serve-config.js"),
      ]);
      return { run: runServe, usage: SERVE_USAGE };
    }
    case "gc": {
      const [{ runGc }, { GC_USAGE }] = await Promise.all([
        import("./commands/gc.js"),
        import("./config/gc-config.js"),
      ]);
      return { run: runGc, usage: GC_USAGE };
    }
    default:
      return null;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  // No command, or flags first: serve.
  const [first, ...rest] =
    argv[0] === undefined || (argv[0].startsWith("--") && !["--help", "--version"].includes(argv[0]))
      ? ["serve", ...argv]
      : argv;
  if (first === "--version" || first === "version") {
    const { VERSION } = await import("./version.js");
    process.stdout.write(`virtcontainers-exporter ${VERSION}\n`);
    return 0;
  }
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const command = await loadCommand(first);
  if (command === null) {
    process.stderr.write(`virtcontainers-exporter: unknown command "${first}"\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.usage + "\n");
    return 0;
  }
  return command.run(rest, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const usage = err instanceof ConfigError;
    const known = usage || err instanceof HostRootError || err instanceof StartupError;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `virtcontainers-exporter: ${known ? message : `unexpected error: ${err instanceof Error && err.stack !== undefined ? err.stack : message}`}\n`,
    );
    process.exitCode = usage ? 2 : 1;
  },
);
