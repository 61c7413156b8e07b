/**
 * globalSetup of the integration project: every external tool the integration tests run must
 * be there before any starts. A missing one fails the run once, with one line per tool naming
 * the command that provides it, instead of a failure in every file that needs it.
 */
import { missingTools } from "./tools.js";

export default function setup(): void {
  const missing = missingTools();
  if (missing.length > 0) {
    const err = new Error(`integration tests need tools that are not there:\n  ${missing.join("\n  ")}`);
    err.stack = err.message;
    throw err;
  }
}
