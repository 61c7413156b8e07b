/** Temporary host roots for the scanner tests. */
export { TempDirs, copyExample, makeWritable } from "../../support/temp.js";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const EXAMPLE_HOST = join(REPO_ROOT, "examples", "host");

export const RUN = "run/virtcontainers/pods";
export const CFG = "var/lib/virtcontainers/pods";

/** The CRI-O Kubernetes pod (3 containers) and the plain Docker pod of the example tree. */
export const K8S_POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
export const INFER = "44431ee052e546680bc0d25627f8e099f488dd974f38a2bc66825ee6f8be7e1a";
export const LOADER = "8c8ea9204a5e5b0bbace6b0b24c76aaa95772031a997cfe9e6c3d5855c540a18";
export const DOCKER_POD = "b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901";

/** Files of the example tree the scanner reads on a cold full scan (no container config.json). */
export const K8S_POD_FILES = 16;
export const DOCKER_POD_FILES = 9;

export function write(root: string, rel: string, text: string): string {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
  return abs;
}

export function read(root: string, rel: string): string {
  return readFileSync(join(root, rel), "utf8");
}

export function runRel(podId: string, ...rest: string[]): string {
  return [RUN, podId, ...rest].join("/");
}

export function cfgRel(podId: string, ...rest: string[]): string {
  return [CFG, podId, ...rest].join("/");
}

export const STATE_READY = '{"state":"ready","blockIndex":0,"fstype":"","hotpluggedDrive":false}';
export const STATE_RUNNING = '{"state":"running","blockIndex":0,"fstype":"","hotpluggedDrive":false}';

/** A small valid pod config.json without containers. */
export function minimalPodConfig(id: string, vcpus = 1, memMiB = 128): string {
  return JSON.stringify({
    ID: id,
    HypervisorType: "qemu",
    HypervisorConfig: { DefaultVCPUs: vcpus, DefaultMemSz: memMiB },
    VMConfig: { Memory: 0 },
    Containers: null,
  });
}

/** A minimal pod present in both trees: pod state + pod config, no container. */
export function writeMinimalPod(root: string, id: string, state = STATE_RUNNING): void {
  write(root, runRel(id, "state.json"), state);
  write(root, cfgRel(id, "config.json"), minimalPodConfig(id));
}

/**
 * Hang guard for FIFO tests. A blocking open(2) of a FIFO without a writer never returns
 * and a synchronous call cannot be interrupted by a test timeout. This child process waits
 * `afterMs`, records that it had to act, then opens the FIFO for writing without blocking:
 * that only succeeds while a reader is stuck in open, and releases it. A non-blocking
 * reader is long done by then and the child is stopped before it acts.
 */
export class FifoGuard {
  private readonly child: ChildProcess;
  private readonly marker: string;

  constructor(fifos: readonly string[], markerDir: string, afterMs = 4_000) {
    this.marker = join(markerDir, "fifo-reader-was-stuck");
    const script = `
      const fs = require("node:fs");
      const [marker, ...fifos] = process.argv.slice(1);
      setTimeout(() => {
        try { fs.writeFileSync(marker, ""); } catch {}
        for (const f of fifos) {
          try { fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch {}
        }
      }, ${afterMs});`;
    this.child = spawn(process.execPath, ["-e", script, this.marker, ...fifos], { stdio: "ignore" });
  }

  /** True when the guard had to act: some reader was still blocked `afterMs` later. */
  fired(): boolean {
    return existsSync(this.marker);
  }

  stop(): void {
    this.child.kill();
  }
}

const OCI_CONFIG = "com.github.containers.virtcontainers.pkg.oci.config";

interface RawContainer {
  Cmd?: { Envs?: { Var: string; Value: string }[] | null };
  Annotations?: Record<string, string> | null;
}

/** Add `NAME=value` to the process env of an embedded OCI spec annotation, if present. */
function addSpecEnv(
  annotations: Record<string, string> | null | undefined,
  name: string,
  value: string,
): number {
  const text = annotations?.[OCI_CONFIG];
  if (annotations == null || text === undefined) return 0;
  const spec = JSON.parse(text) as { process?: { env?: string[] } };
  if (spec.process === undefined) return 0;
  spec.process.env = [...(spec.process.env ?? []), `${name}=${value}`];
  annotations[OCI_CONFIG] = JSON.stringify(spec);
  return 1;
}

/**
 * Put an environment value everywhere the runtime stores one for a pod: each container's
 * Cmd.Envs in the pod config.json and in its own config.json, and the embedded OCI specs.
 * Returns how many places got it (so a test can check it really added something).
 */
export function addSecretEnv(root: string, podId: string, name: string, value: string): number {
  let added = 0;
  const editContainer = (c: RawContainer) => {
    if (c.Cmd?.Envs != null) {
      c.Cmd.Envs.push({ Var: name, Value: value });
      added++;
    }
    added += addSpecEnv(c.Annotations, name, value);
  };
  const podRel = cfgRel(podId, "config.json");
  const pod = JSON.parse(read(root, podRel)) as {
    Containers?: (RawContainer & { ID: string })[] | null;
    Annotations?: Record<string, string> | null;
  };
  for (const c of pod.Containers ?? []) {
    editContainer(c);
    const ownRel = cfgRel(podId, c.ID, "config.json");
    if (existsSync(join(root, ownRel))) {
      const own = JSON.parse(read(root, ownRel)) as RawContainer;
      editContainer(own);
      write(root, ownRel, JSON.stringify(own));
    }
  }
  added += addSpecEnv(pod.Annotations, name, value);
  write(root, podRel, JSON.stringify(pod));
  return added;
}
