/**
 * Fixtures written by the real upstream runtimes (test/fixtures/upstream, made by
 * test/upstream/regenerate.sh): the list, a usable copy of a fixture's host tree, and the
 * manifest of what its generator asked the runtime for.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TempDirs } from "./temp.js";

export const UPSTREAM_FIXTURES = new URL("../fixtures/upstream", import.meta.url).pathname;
const FIXTURE_LIST = new URL("../upstream/fixtures.json", import.meta.url).pathname;

/** One entry of test/upstream/fixtures.json. */
export interface UpstreamFixture {
  readonly name: string;
  readonly family: string;
  readonly upstream: string;
  /** The exporter's layout every pod of the fixture has. */
  readonly layout: "virtcontainers" | "kata1" | "persist";
  /** Manifest facts this release's files cannot carry: `field` is a dotted scan JSON path. */
  readonly unrepresentable: readonly { readonly field: string; readonly reason: string }[];
  /**
   * Device types the runtime does not hot-plug though it attaches them (default: vfio and
   * block are hot-plugged at container create, generic never), with the reason.
   */
  readonly hotplugged?: { readonly vfio?: boolean; readonly block?: boolean; readonly reason: string };
}

export interface ManifestDevice {
  readonly kind: "vfio" | "block" | "generic";
  readonly containerPath: string;
  readonly hostPath: string;
  readonly devType: string;
  readonly major: number;
  readonly minor: number;
  /** sysfs form DDDD:BB:DD.F (vfio only). */
  readonly bdf?: string;
}

export interface ManifestContainer {
  readonly name: string;
  readonly id: string;
  readonly sandbox: boolean;
  readonly image: string;
  readonly devices: readonly ManifestDevice[] | null;
  readonly specMounts: number;
  readonly bundle: string;
  /** What the runtime's status API reported after the run. */
  readonly state: string;
  readonly pid: number;
  readonly startTime: string;
}

export interface ManifestPod {
  readonly label: string;
  readonly id: string;
  readonly engine: "cri-o" | "containerd" | "docker";
  readonly goal: string;
  readonly namespace: string;
  readonly podName: string;
  readonly uid: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly containers: readonly ManifestContainer[];
  readonly state: string;
}

export interface Manifest {
  readonly generator: string;
  readonly upstream: string;
  readonly runtime: Readonly<Record<string, string>>;
  readonly pods: readonly ManifestPod[];
}

interface TreeEntry {
  readonly path: string;
  readonly kind: "empty_dir" | "socket" | "fifo" | "symlink" | "other";
}

export function upstreamFixtures(): UpstreamFixture[] {
  const listed = JSON.parse(readFileSync(FIXTURE_LIST, "utf8")) as UpstreamFixture[];
  const present = new Set(readdirSync(UPSTREAM_FIXTURES));
  return listed.filter((f) => present.has(f.name));
}

export function readManifest(name: string): Manifest {
  return JSON.parse(readFileSync(join(UPSTREAM_FIXTURES, name, "manifest.json"), "utf8")) as Manifest;
}

/**
 * A copy of the fixture's host tree with what git cannot hold put back (tree.json): empty
 * directories (Kata 1.x `raw/`), and sockets as empty regular files named like them.
 */
export function materialize(temp: TempDirs, name: string): string {
  const root = temp.make("vce-upstream-");
  cpSync(join(UPSTREAM_FIXTURES, name, "host"), root, { recursive: true });
  const entries = JSON.parse(readFileSync(join(UPSTREAM_FIXTURES, name, "tree.json"), "utf8")) as TreeEntry[];
  for (const e of entries) {
    const abs = join(root, e.path);
    if (e.kind === "empty_dir") mkdirSync(abs, { recursive: true });
    else if (e.kind === "socket") {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, "");
    }
  }
  return root;
}
