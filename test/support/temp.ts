/** Temporary trees for tests: directories removed by `cleanup()`, writable copies of examples/host. */
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const EXAMPLE_HOST = new URL("../../examples/host", import.meta.url).pathname;

/** Temporary directories; `cleanup()` (in afterEach/afterAll) removes every one made so far. */
export class TempDirs {
  private readonly dirs: string[] = [];

  constructor(private readonly prefix = "vce-test-") {}

  make(prefix = this.prefix): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Make every directory writable and every file read-write (a checkout may be read-only). */
export function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) makeWritable(p);
    else if (e.isFile()) chmodSync(p, 0o644);
  }
}

/** A writable copy of examples/host in `root` (a new temporary directory when omitted). */
export function copyExample(temp: TempDirs, root = temp.make()): string {
  cpSync(EXAMPLE_HOST, root, { recursive: true });
  makeWritable(root);
  return root;
}
