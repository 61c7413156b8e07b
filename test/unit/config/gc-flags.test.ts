import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadGcCommandConfig } from "../../../src/config/gc-config.js";
import { kubeConfigSource, loadServeConfig } from "../../../src/config/serve-config.js";

const dir = mkdtempSync(join(tmpdir(), "vce-config-"));
const kubeconfig = join(dir, "kubeconfig");
writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const serve = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  loadServeConfig(["--node-name", "node-a", ...args], env);

describe("serve: Kubernetes and GC flags", () => {
  it("defaults: pod view auto, GC off with the documented values", () => {
    const c = serve([], { KUBECONFIG: kubeconfig });
    expect(c.kubernetes).toBe("auto");
    expect(c.kubeconfig).toEqual({ kind: "file", path: kubeconfig });
    expect(c.gc).toEqual({
      mode: "off",
      intervalMs: 60_000,
      graceMs: 600_000,
      maxDeletionsPerRun: 5,
      maxOrphanFraction: 0.5,
      processChecks: "auto",
      procRoot: "/proc",
      self: null,
    });
  });

  it("reads every GC flag, and the same from the environment", () => {
    const flags = serve([
      "--kubeconfig",
      kubeconfig,
      "--gc",
      "dry-run",
      "--gc-interval",
      "30s",
      "--gc-grace",
      "0s",
      "--gc-max-deletions-per-run",
      "100",
      "--gc-max-orphan-fraction",
      "1",
      "--gc-process-checks",
      "required",
      "--proc-root",
      "/host/proc",
    ]);
    const env = serve([], {
      VCE_KUBECONFIG: kubeconfig,
      VCE_GC: "dry-run",
      VCE_GC_INTERVAL: "30s",
      VCE_GC_GRACE: "0",
      VCE_GC_MAX_DELETIONS_PER_RUN: "100",
      VCE_GC_MAX_ORPHAN_FRACTION: "1",
      VCE_GC_PROCESS_CHECKS: "required",
      VCE_PROC_ROOT: "/host/proc",
    });
    for (const c of [flags, env]) {
      expect(c.gc).toEqual({
        mode: "dry-run",
        intervalMs: 30_000,
        graceMs: 0,
        maxDeletionsPerRun: 100,
        maxOrphanFraction: 1,
        processChecks: "required",
        procRoot: "/host/proc",
        self: null,
      });
    }
  });

  it.each([
    [["--gc", "yes"], /^--gc: "yes" is not one of off, dry-run, on$/],
    [["--gc-interval", "500ms"], /^--gc-interval: must be at least 1s$/],
    [["--gc-grace", "ten"], /^--gc-grace: "ten" is not a duration/],
    [
      ["--gc-max-deletions-per-run", "0"],
      /^--gc-max-deletions-per-run: "0" is not a whole number from 1 to 10000$/,
    ],
    [["--gc-max-orphan-fraction", "1.5"], /^--gc-max-orphan-fraction: "1.5" is not a number from 0 to 1$/],
    [["--gc-process-checks", "maybe"], /^--gc-process-checks: "maybe" is not one of auto, required, off$/],
    [["--gc", "on", "--gc-process-checks", "off"], /^--gc-process-checks off: not allowed when GC deletes/],
    [["--kubernetes", "on"], /^--kubernetes: "on" is not one of auto, off$/],
    [["--kubeconfig", "/nonexistent/kubeconfig"], /^--kubeconfig: \/nonexistent\/kubeconfig does not exist$/],
  ])("refuses %j with one clear line", (args, message) => {
    expect(() => serve(args, { KUBECONFIG: kubeconfig })).toThrow(message);
  });

  it("GC needs the pod view", () => {
    expect(() => serve(["--gc", "on"])).toThrow(/^--gc on: garbage collection needs the Kubernetes pod view/);
    expect(() => serve(["--gc", "on", "--kubernetes", "off"], { KUBECONFIG: kubeconfig })).toThrow(
      /^--gc on: garbage collection needs the Kubernetes pod view \(--kubernetes auto with --kubeconfig, in-cluster config or KUBECONFIG\)$/,
    );
    expect(serve(["--kubernetes", "off"], { KUBECONFIG: kubeconfig }).kubeconfig).toBeNull();
  });

  it("finds the API configuration in order: --kubeconfig, in-cluster, KUBECONFIG (its first existing file)", () => {
    expect(kubeConfigSource("", {})).toBeNull();
    expect(kubeConfigSource("", { KUBECONFIG: `/nonexistent:${kubeconfig}` })).toEqual({
      kind: "file",
      path: kubeconfig,
    });
    expect(kubeConfigSource(kubeconfig, { KUBECONFIG: "/nonexistent" })).toEqual({
      kind: "file",
      path: kubeconfig,
    });
    // in-cluster needs the service host and port and the token file (absent on this machine)
    expect(
      kubeConfigSource("", { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    ).toBeNull();
  });

  it("reads the exporter's own pod (downward API variables or flags): all three or none, validated", () => {
    const self = { namespace: "monitoring", name: "vce-x7k2p", uid: "5f0c2a7e-1b2d-4c3e-9f8a-7b6c5d4e3f21" };
    const fromEnv = serve([], {
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: self.namespace,
      POD_NAME: self.name,
      POD_UID: self.uid,
    });
    expect(fromEnv.gc.self).toEqual(self);
    const fromFlags = serve(
      ["--pod-namespace", self.namespace, "--pod-name", self.name, "--pod-uid", self.uid],
      { KUBECONFIG: kubeconfig, POD_NAME: "other" },
    );
    expect(fromFlags.gc.self).toEqual(self);
    expect(() => serve([], { POD_NAME: self.name, POD_UID: self.uid })).toThrow(
      /^--pod-namespace, --pod-name and --pod-uid: give all three or none/,
    );
    expect(() => serve(["--pod-namespace", "Mon", "--pod-name", "a", "--pod-uid", "u"])).toThrow(
      /^--pod-namespace: "Mon" is not a valid Kubernetes namespace$/,
    );
    expect(() => serve(["--pod-namespace", "m", "--pod-name", "a_b", "--pod-uid", "u"])).toThrow(
      /^--pod-name: "a_b" is not a valid Kubernetes pod name$/,
    );
    expect(() => serve(["--pod-namespace", "m", "--pod-name", "a", "--pod-uid", "u id"])).toThrow(
      /^--pod-uid: "u id" is not a Kubernetes UID$/,
    );
    const gc = loadGcCommandConfig(["--kubeconfig", kubeconfig, "--node-name", "n"], {
      POD_NAMESPACE: self.namespace,
      POD_NAME: self.name,
      POD_UID: self.uid,
    });
    expect(gc.gc.self).toEqual(self);
    expect(loadGcCommandConfig(["--kubeconfig", kubeconfig, "--node-name", "n"], {}).gc.self).toBeNull();
  });

  it("validates the node name", () => {
    expect(() => serve(["--node-name", "Node_A"])).toThrow(
      /^--node-name: "Node_A" is not a valid Kubernetes node name$/,
    );
  });
});

describe("the gc command's flags", () => {
  it("runs on by default and dry-run with --dry-run, with the serve flags' environment", () => {
    const on = loadGcCommandConfig(["--kubeconfig", kubeconfig, "--node-name", "n"], {});
    expect(on.gc.mode).toBe("on");
    expect(on.gc.intervalMs).toBe(10_000);
    expect(on.output).toBe("text");
    expect(on.logLevel).toBe("error");
    const dry = loadGcCommandConfig(["--dry-run", "--output", "json"], {
      VCE_KUBECONFIG: kubeconfig,
      NODE_NAME: "n",
      VCE_GC_GRACE: "1m",
    });
    expect(dry.gc).toMatchObject({ mode: "dry-run", graceMs: 60_000 });
    expect(dry.output).toBe("json");
  });

  it("needs an API configuration and refuses --gc", () => {
    expect(() => loadGcCommandConfig(["--node-name", "n"], {})).toThrow(/^gc needs the Kubernetes API/);
    expect(() => loadGcCommandConfig(["--gc", "on"], { KUBECONFIG: kubeconfig })).toThrow(
      /Unknown option '--gc'/,
    );
  });
});
