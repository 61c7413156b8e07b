/** JSON-lines logging (pino) to stdout. Only the server loads this. */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { name: "virtcontainers-exporter" }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? process.stdout,
  );
}
