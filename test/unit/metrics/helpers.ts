import { ExpositionCache } from "../../../src/metrics/cache.js";
import { SNAPSHOT_COLLECTORS } from "../../../src/metrics/collectors/index.js";
import { renderFamily, type RenderContext } from "../../../src/metrics/exposition.js";
import { Scanner } from "../../../src/scan/scanner.js";
import type { Snapshot } from "../../../src/scan/snapshot.js";

export const EXAMPLE_HOST = new URL("../../../examples/host", import.meta.url).pathname;

export async function scanTree(hostRoot: string): Promise<Snapshot> {
  return new Scanner({ hostRoot }).scan();
}

/**
 * The snapshot part of the exposition (no self or process metrics, which vary by run). Without
 * a context, as with Kubernetes off: the kubernetes collector is left out.
 */
export function renderSnapshot(s: Snapshot, ctx?: RenderContext): string {
  return SNAPSHOT_COLLECTORS.filter((c) => ctx !== undefined || c.needsKubernetes !== true)
    .flatMap((c) => c.families.map((f) => renderFamily(f, s, ctx)))
    .join("");
}

/** Order-insensitive form: sample lines with their labels sorted, the lines sorted. */
export function normalise(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (.*)$/.exec(l);
      if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return l;
      const labels = m[2].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
      return `${m[1]}{${[...labels].sort().join(",")}} ${m[3]}`;
    })
    .sort();
}

export { ExpositionCache };
