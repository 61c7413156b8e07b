/**
 * A real (envtest-style) Kubernetes control plane for integration tests:
 * etcd + kube-apiserver built by test/cluster/build-testbin.sh, started on
 * loopback ports chosen at run time, with a per-run data dir, CA, serving
 * certificate, admin client certificate (group system:masters) and
 * service-account signing key.
 *
 * There is no controller manager, scheduler or kubelet: tests create Nodes,
 * bind Pods to them via spec.nodeName and write pod status themselves.
 *
 *   const cluster = await startCluster();
 *   ...
 *   await cluster.stop();
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   @kubernetes/client-node's generated models (V1Pod, V1ObjectMeta, ...) are
   data-only classes (just static type maps); the client serializes plain
   objects and its own documentation builds request bodies as literals. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, generateKeyPairSync } from "node:crypto";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ContainerStatus,
  type V1Node,
  type V1Pod,
  type V1ServiceAccount,
} from "@kubernetes/client-node";

const execFileAsync = promisify(execFile);

export const BUILD_SCRIPT = fileURLToPath(new URL("./build-testbin.sh", import.meta.url));

export interface TestBinaries {
  etcd: string;
  kubeApiserver: string;
  helm: string;
}

export interface StartClusterOptions {
  /**
   * Build missing binaries by running build-testbin.sh (a cold build takes
   * tens of minutes). Default: true only if VCE_TESTBIN_AUTOBUILD=1;
   * otherwise a missing binary is an error that says how to build it.
   */
  autoBuild?: boolean;
  /** Max time to wait for etcd health and apiserver /readyz. Default 90 s. */
  readyTimeoutMs?: number;
  /**
   * Enable the apiserver watch cache. Default false: watches are served
   * straight from etcd, so compactEtcd() deterministically makes old
   * resourceVersions answer 410 Gone / Expired.
   */
  watchCache?: boolean;
  /** Extra kube-apiserver flags (appended; later flags win). */
  extraApiserverArgs?: string[];
  /** Keep the data dir (certs, logs, etcd data) after stop(). Also VCE_CLUSTER_KEEP=1. */
  keepDataDir?: boolean;
}

export interface ContainerStatusInput {
  /** Container name; defaults to the pod's spec container at the same index. */
  name?: string;
  /** Defaults to a fresh `cri-o://<64 hex>`. */
  containerID?: string;
  ready?: boolean;
  state?: "running" | "waiting" | "terminated";
  restartCount?: number;
}

export interface CreatePodOptions {
  namespace?: string;
  name: string;
  nodeName: string;
  /** Container names (default ["main"]). */
  containers?: string[];
  labels?: Record<string, string>;
  /** Pod annotations (for example kubernetes.io/config.mirror, as a mirror pod of a static pod). */
  annotations?: Record<string, string>;
}

/** Plain-object form of an RBAC PolicyRule. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

export interface Cluster {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  kubeconfigPath: string;
  /** http://127.0.0.1:<port> (etcd client URL, also serves the v3 gRPC gateway). */
  etcdUrl: string;
  dataDir: string;
  binaries: TestBinaries;
  /** PEM of the cluster CA. */
  caPem: string;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  /** Log files of the two processes (inside dataDir). */
  logPaths: { etcd: string; kubeApiserver: string };
  stop(): Promise<void>;

  createNamespace(name: string): Promise<void>;
  createNode(name: string, labels?: Record<string, string>): Promise<V1Node>;
  deleteNode(name: string): Promise<void>;
  /** Create a pod already bound to opts.nodeName (no scheduler involved). */
  createPod(opts: CreatePodOptions): Promise<V1Pod>;
  /**
   * Write status.containerStatuses (and phase Running) through the status
   * subresource. Returns the updated pod.
   */
  setPodContainerStatuses(namespace: string, name: string, statuses?: ContainerStatusInput[]): Promise<V1Pod>;
  /** Delete immediately (grace period 0) and wait until it is gone. */
  deletePod(namespace: string, name: string): Promise<void>;
  /** Delete then create again with the same spec: new UID, same name. */
  recreatePod(opts: CreatePodOptions): Promise<V1Pod>;
  createServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount>;
  /**
   * Write a kubeconfig authenticating as the ServiceAccount with a token from
   * the TokenRequest API (the ServiceAccount is created if missing). Returns its path.
   */
  kubeconfigForServiceAccount(
    namespace: string,
    name: string,
    opts?: { expirationSeconds?: number },
  ): Promise<string>;
  /**
   * Grant a ServiceAccount cluster-wide `rules` via a ClusterRole and
   * ClusterRoleBinding both named `vce-test:<namespace>:<name>` (replaced
   * rules are not merged: call once per account).
   */
  grantServiceAccount(namespace: string, name: string, rules: PolicyRule[]): Promise<void>;
  /** Current etcd revision (== latest resourceVersion). */
  etcdRevision(): Promise<number>;
  /** Compact etcd at its current revision; returns that revision. */
  compactEtcd(): Promise<number>;
}

/** A containerID as CRI-O reports it: `cri-o://<64 hex>`. */
export function randomContainerId(runtime = "cri-o"): string {
  return `${runtime}://${randomBytes(32).toString("hex")}`;
}

// ---------------------------------------------------------------------------
// binaries

function binariesFromEnv(): Partial<TestBinaries> {
  const out: Partial<TestBinaries> = {};
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    out.etcd = join(assets, "etcd");
    out.kubeApiserver = join(assets, "kube-apiserver");
    out.helm = join(assets, "helm");
  }
  if (process.env.VCE_ETCD_BIN) out.etcd = process.env.VCE_ETCD_BIN;
  if (process.env.VCE_KUBE_APISERVER_BIN) out.kubeApiserver = process.env.VCE_KUBE_APISERVER_BIN;
  if (process.env.VCE_HELM_BIN) out.helm = process.env.VCE_HELM_BIN;
  return out;
}

function parseScriptOutput(stdout: string): Partial<TestBinaries> {
  const out: Partial<TestBinaries> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(\S+) (.+)$/.exec(line.trim());
    if (!m) continue;
    const [, tool, path] = m;
    if (tool === "etcd") out.etcd = path;
    else if (tool === "kube-apiserver") out.kubeApiserver = path;
    else if (tool === "helm") out.helm = path;
  }
  return out;
}

/**
 * Paths of the pinned test binaries (as build-testbin.sh lays them out),
 * overridable with KUBEBUILDER_ASSETS or VCE_{ETCD,KUBE_APISERVER,HELM}_BIN.
 * Does not check that they exist.
 */
export async function testBinaryPaths(): Promise<TestBinaries> {
  let fromScript: Partial<TestBinaries> = {};
  try {
    const { stdout } = await execFileAsync("bash", [BUILD_SCRIPT, "--print"]);
    fromScript = parseScriptOutput(stdout);
  } catch (err: unknown) {
    // exit code 3 == "some are missing": stdout still lists the paths.
    const stdout = (err as { stdout?: unknown }).stdout;
    if (typeof stdout === "string") fromScript = parseScriptOutput(stdout);
  }
  const merged = { ...fromScript, ...binariesFromEnv() };
  if (!merged.etcd || !merged.kubeApiserver || !merged.helm) {
    throw new Error(`could not determine test binary paths from ${BUILD_SCRIPT} --print`);
  }
  return { etcd: merged.etcd, kubeApiserver: merged.kubeApiserver, helm: merged.helm };
}

/** Resolve the binaries needed to run a cluster, building them if allowed. */
export async function ensureTestBinaries(
  autoBuild = process.env.VCE_TESTBIN_AUTOBUILD === "1",
): Promise<TestBinaries> {
  let bins = await testBinaryPaths();
  const missing = [bins.etcd, bins.kubeApiserver].filter((p) => !existsSync(p));
  if (missing.length === 0) return bins;
  if (!autoBuild) {
    throw new Error(
      `test cluster binaries missing: ${missing.join(", ")}\n` +
        `build them first (needs Go; a cold build takes tens of minutes):\n` +
        `  bash ${BUILD_SCRIPT}\n` +
        `or set VCE_TESTBIN_AUTOBUILD=1 to build on demand`,
    );
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, "etcd", "kube-apiserver"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${BUILD_SCRIPT} failed (code ${String(code)}, signal ${String(signal)})`));
    });
  });
  bins = await testBinaryPaths();
  return bins;
}

// ---------------------------------------------------------------------------
// processes

/**
 * sh wrapper: runs "$@" and kills it when our stdin pipe closes, i.e. when
 * this Node process dies without running any cleanup (SIGKILL, crash).
 */
const WATCHDOG = `
exec 3<&0
"$@" </dev/null 3<&- &
child=$!
(
  while read -r _ <&3; do :; done
  kill -TERM "$child" 2>/dev/null
  sleep 5
  kill -KILL "$child" 2>/dev/null
) &
watcher=$!
exec 3<&-
wait "$child"
rc=$?
kill "$watcher" 2>/dev/null
exit $rc
`;

interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** process group id (== wrapper pid, spawned detached) */
  pgid: number;
  logPath: string;
  exited: boolean;
  exitInfo: string;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

function startProcess(name: string, bin: string, args: string[], logPath: string): ManagedProcess {
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn("/bin/sh", ["-c", WATCHDOG, `vce-${name}`, bin, ...args], {
      detached: true,
      stdio: ["pipe", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn ${bin}`);
  const proc: ManagedProcess = { name, child, pgid: pid, logPath, exited: false, exitInfo: "" };
  child.on("exit", (code, signal) => {
    proc.exited = true;
    proc.exitInfo = signal ? `signal ${signal}` : `code ${String(code)}`;
  });
  child.on("error", (err) => {
    proc.exited = true;
    proc.exitInfo = err.message;
  });
  // Never let the pipe keep the event loop alive or throw EPIPE at us.
  const stdin = child.stdin;
  if (stdin) {
    stdin.on("error", () => undefined);
    if ("unref" in stdin && typeof stdin.unref === "function") (stdin.unref as () => void).call(stdin);
  }
  child.unref();
  return proc;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function stopProcess(proc: ManagedProcess, graceMs = 10_000): Promise<void> {
  signalGroup(proc.pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(proc.pgid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(proc.pgid)) {
    signalGroup(proc.pgid, "SIGKILL");
    const hardDeadline = Date.now() + 5_000;
    while (groupAlive(proc.pgid) && Date.now() < hardDeadline) await sleep(50);
  }
  proc.child.stdin?.destroy();
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// Clusters still running, killed synchronously if the process exits.
const live = new Set<{ procs: ManagedProcess[]; dataDir: string; keep: boolean }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const c of live) {
      for (const p of c.procs) signalGroup(p.pgid, "SIGKILL");
      if (!c.keep) {
        try {
          rmSync(c.dataDir, { recursive: true, force: true });
        } catch {
          // best effort
        }
      }
    }
  });
}

const DATA_DIR_PREFIX = "vce-cluster-";
const OWNER_FILE = "owner";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return (err as { code?: unknown }).code === "EPERM";
  }
}

/**
 * Remove data dirs left behind by test processes that were killed before
 * they could clean up (their etcd/apiserver died with them via the watchdog).
 */
async function sweepStaleDataDirs(): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(tmpdir());
  } catch {
    return;
  }
  for (const name of entries) {
    if (!name.startsWith(DATA_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    try {
      const [pidLine, flag] = (await readFile(join(dir, OWNER_FILE), "utf8")).split("\n");
      const pid = Number(pidLine);
      if (flag === "keep" || !Number.isInteger(pid) || pid <= 0 || pidAlive(pid)) continue;
      await rm(dir, { recursive: true, force: true });
    } catch {
      // no owner file (yet): not ours to judge
    }
  }
}

// ---------------------------------------------------------------------------
// ports, PKI

/** n distinct free loopback TCP ports (all held open while choosing). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => {
            resolve(s);
          });
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) =>
          s.close(() => {
            r();
          }),
        ),
    ),
  );
  return ports;
}

const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = vce-test
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt_names
[alt_names]
DNS.1 = localhost
DNS.2 = kubernetes
DNS.3 = kubernetes.default
DNS.4 = kubernetes.default.svc
DNS.5 = kubernetes.default.svc.cluster.local
IP.1 = 127.0.0.1
IP.2 = 10.0.0.1
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

function ecKeyPem(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync("openssl", args, { cwd });
  } catch (err: unknown) {
    const e = err as { code?: unknown; stderr?: unknown; message?: unknown };
    if (e.code === "ENOENT") throw new Error("openssl not found on PATH (apt-get install openssl)");
    throw new Error(`openssl ${args.join(" ")} failed: ${String(e.stderr ?? e.message)}`);
  }
}

async function makePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const cnf = join(dir, "openssl.cnf");
  await writeFile(cnf, OPENSSL_CNF);
  const p = (f: string): string => join(dir, f);
  await writeFile(p("ca.key"), ecKeyPem(), { mode: 0o600 });
  await writeFile(p("server.key"), ecKeyPem(), { mode: 0o600 });
  await writeFile(p("admin.key"), ecKeyPem(), { mode: 0o600 });
  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  await writeFile(p("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), {
    mode: 0o600,
  });
  await writeFile(p("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }).toString());

  const days = "7";
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-config",
      cnf,
      "-extensions",
      "v3_ca",
      "-key",
      "ca.key",
      "-subj",
      "/CN=vce-test-ca",
      "-days",
      days,
      "-out",
      "ca.crt",
    ],
    dir,
  );
  const sign = async (name: string, subj: string, ext: string): Promise<void> => {
    await openssl(
      ["req", "-new", "-config", cnf, "-key", `${name}.key`, "-subj", subj, "-out", `${name}.csr`],
      dir,
    );
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        `0x${randomBytes(12).toString("hex")}`,
        "-days",
        days,
        "-extfile",
        cnf,
        "-extensions",
        ext,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
  };
  await sign("server", "/CN=kube-apiserver", "v3_server");
  await sign("admin", "/O=system:masters/CN=vce-admin", "v3_client");
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}

function kubeconfigYaml(server: string, caPem: string, user: string, auth: Record<string, string>): string {
  const authLines = Object.entries(auth)
    .map(([k, v]) => `    ${k}: ${v}`)
    .join("\n");
  return `apiVersion: v1
kind: Config
clusters:
- name: vce-test
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(caPem)}
users:
- name: ${user}
  user:
${authLines}
contexts:
- name: ${user}@vce-test
  context:
    cluster: vce-test
    user: ${user}
    namespace: default
current-context: ${user}@vce-test
`;
}

// ---------------------------------------------------------------------------
// HTTP probes

interface HttpResult {
  status: number;
  body: string;
}

function httpsGet(
  url: string,
  tls: { ca: string; cert: string; key: string },
  timeoutMs = 5_000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: "GET", ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function etcdPost(etcdUrl: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${etcdUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd POST ${path}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

function isApiStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && (err as ApiException<unknown>).code === code;
}

// ---------------------------------------------------------------------------

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const keep = opts.keepDataDir ?? process.env.VCE_CLUSTER_KEEP === "1";
  const binaries = await ensureTestBinaries(opts.autoBuild);

  await sweepStaleDataDirs();
  const dataDir = await mkdtemp(join(tmpdir(), DATA_DIR_PREFIX));
  await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n${keep ? "keep\n" : ""}`);
  const procs: ManagedProcess[] = [];
  const entry = { procs, dataDir, keep };
  installExitHook();
  live.add(entry);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // apiserver first so it does not spin on a vanished etcd
    for (const p of [...procs].reverse()) await stopProcess(p);
    live.delete(entry);
    if (!keep) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(join(dataDir, "pki"));
    const [etcdPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const etcd = startProcess(
      "etcd",
      binaries.etcd,
      [
        "--name=default",
        `--data-dir=${join(dataDir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        "--initial-cluster-state=new",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      join(dataDir, "etcd.log"),
    );
    procs.push(etcd);

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (etcd.exited) throw new Error(`etcd exited (${etcd.exitInfo}):\n${await tail(etcd.logPath)}`);
      try {
        const res = await fetch(`${etcdUrl}/health`);
        const body = (await res.json()) as { health?: unknown };
        if (res.ok && body.health === "true") break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline)
        throw new Error(`etcd not healthy after ${readyTimeoutMs} ms:\n${await tail(etcd.logPath)}`);
      await sleep(100);
    }

    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // Recent releases refuse a loopback advertise address with the default
      // (lease) endpoint reconciler; nothing here needs the kubernetes Service endpoints.
      "--endpoint-reconciler-type=none",
      `--cert-dir=${join(dataDir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=Node,RBAC",
      // ServiceAccount admission needs the token/SA controllers of a
      // controller manager (default ServiceAccount per namespace).
      "--disable-admission-plugins=ServiceAccount",
      "--allow-privileged=true",
      `--watch-cache=${opts.watchCache ? "true" : "false"}`,
      "--v=1",
      ...(opts.extraApiserverArgs ?? []),
    ];
    const apiserver = startProcess(
      "kube-apiserver",
      binaries.kubeApiserver,
      apiArgs,
      join(dataDir, "kube-apiserver.log"),
    );
    procs.push(apiserver);

    const caPem = await readFile(pki.caCert, "utf8");
    const tls = {
      ca: caPem,
      cert: await readFile(pki.adminCert, "utf8"),
      key: await readFile(pki.adminKey, "utf8"),
    };
    let last = "";
    const failStart = async (why: string): Promise<never> => {
      throw new Error(
        `kube-apiserver ${why}${last ? ` (last /readyz: ${last})` : ""}\n` +
          `--- kube-apiserver log (tail) ---\n${await tail(apiserver.logPath)}\n` +
          `--- etcd log (tail) ---\n${await tail(etcd.logPath, 10)}`,
      );
    };
    for (;;) {
      if (apiserver.exited) await failStart(`exited (${apiserver.exitInfo})`);
      if (etcd.exited) await failStart(`lost etcd (etcd ${etcd.exitInfo})`);
      try {
        const res = await httpsGet(`${server}/readyz`, tls);
        if (res.status === 200 && res.body.trim() === "ok") {
          // The system namespaces are created asynchronously after startup.
          const ns = await httpsGet(`${server}/api/v1/namespaces/default`, tls);
          if (ns.status === 200) break;
          last = `readyz ok, namespace default: HTTP ${ns.status}`;
        } else {
          last = `HTTP ${res.status}: ${res.body.slice(-300)}`;
        }
      } catch (err: unknown) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) await failStart(`not ready after ${readyTimeoutMs} ms`);
      await sleep(200);
    }

    const kubeconfigPath = join(dataDir, "admin.kubeconfig");
    await writeFile(
      kubeconfigPath,
      kubeconfigYaml(server, caPem, "vce-admin", {
        "client-certificate-data": b64(tls.cert),
        "client-key-data": b64(tls.key),
      }),
      { mode: 0o600 },
    );
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);

    const createPod = async (o: CreatePodOptions): Promise<V1Pod> => {
      const namespace = o.namespace ?? "default";
      return core.createNamespacedPod({
        namespace,
        body: {
          metadata: {
            name: o.name,
            namespace,
            ...(o.labels ? { labels: o.labels } : {}),
            ...(o.annotations ? { annotations: o.annotations } : {}),
          },
          spec: {
            nodeName: o.nodeName,
            containers: (o.containers ?? ["main"]).map((name) => ({
              name,
              image: "registry.invalid/vce-test:1",
            })),
          },
        },
      });
    };

    const deletePod = async (namespace: string, name: string): Promise<void> => {
      try {
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
      } catch (err: unknown) {
        if (!isApiStatus(err, 404)) throw err;
      }
      const until = Date.now() + 30_000;
      for (;;) {
        try {
          await core.readNamespacedPod({ namespace, name });
        } catch (err: unknown) {
          if (isApiStatus(err, 404)) return;
          throw err;
        }
        if (Date.now() > until) throw new Error(`pod ${namespace}/${name} still present 30 s after deletion`);
        await sleep(100);
      }
    };

    const setPodContainerStatuses = async (
      namespace: string,
      name: string,
      statuses?: ContainerStatusInput[],
    ): Promise<V1Pod> => {
      for (let attempt = 0; ; attempt++) {
        const pod = await core.readNamespacedPod({ namespace, name });
        const containers = pod.spec?.containers ?? [];
        const inputs: ContainerStatusInput[] = statuses ?? containers.map(() => ({}));
        const now = new Date();
        const containerStatuses: V1ContainerStatus[] = inputs.map((s, i) => {
          const cname = s.name ?? containers[i]?.name ?? `c${i}`;
          const image = containers.find((c) => c.name === cname)?.image ?? "registry.invalid/vce-test:1";
          const state = s.state ?? "running";
          return {
            name: cname,
            image,
            imageID: `${image}@sha256:${"0".repeat(64)}`,
            containerID: s.containerID ?? randomContainerId(),
            ready: s.ready ?? state === "running",
            restartCount: s.restartCount ?? 0,
            started: state === "running",
            state:
              state === "running"
                ? { running: { startedAt: now } }
                : state === "waiting"
                  ? { waiting: { reason: "ContainerCreating" } }
                  : { terminated: { exitCode: 0, reason: "Completed", startedAt: now, finishedAt: now } },
          };
        });
        const allReady = containerStatuses.length > 0 && containerStatuses.every((c) => c.ready);
        const status = (pod.status ??= {});
        status.phase = "Running";
        status.hostIP = "127.0.0.1";
        status.podIP = "10.244.0.10";
        status.startTime ??= now;
        status.conditions = [
          { type: "Ready", status: allReady ? "True" : "False", lastTransitionTime: now },
          { type: "ContainersReady", status: allReady ? "True" : "False", lastTransitionTime: now },
        ];
        status.containerStatuses = containerStatuses;
        try {
          return await core.replaceNamespacedPodStatus({ namespace, name, body: pod });
        } catch (err: unknown) {
          if (!isApiStatus(err, 409) || attempt >= 5) throw err;
        }
      }
    };

    const createServiceAccount = async (namespace: string, name: string): Promise<V1ServiceAccount> =>
      core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });

    const etcdRevision = async (): Promise<number> => {
      // any key works: the response header carries the store revision
      const res = (await etcdPost(etcdUrl, "/v3/kv/range", { key: b64("/registry/"), limit: 1 })) as {
        header?: { revision?: string | number };
      };
      const rev = Number(res.header?.revision);
      if (!Number.isFinite(rev) || rev <= 0)
        throw new Error(`etcd range: no header.revision in ${JSON.stringify(res)}`);
      return rev;
    };

    const cluster: Cluster = {
      server,
      kubeconfigPath,
      etcdUrl,
      dataDir,
      binaries,
      caPem,
      kubeConfig,
      core,
      rbac,
      logPaths: { etcd: etcd.logPath, kubeApiserver: apiserver.logPath },
      stop,
      createNamespace: async (name) => {
        await core.createNamespace({ body: { metadata: { name } } });
      },
      createNode: async (name, labels) =>
        core.createNode({
          body: { metadata: { name, labels: { "kubernetes.io/hostname": name, ...(labels ?? {}) } } },
        }),
      deleteNode: async (name) => {
        try {
          await core.deleteNode({ name });
        } catch (err: unknown) {
          if (!isApiStatus(err, 404)) throw err;
        }
      },
      createPod,
      setPodContainerStatuses,
      deletePod,
      recreatePod: async (o) => {
        await deletePod(o.namespace ?? "default", o.name);
        return createPod(o);
      },
      createServiceAccount,
      kubeconfigForServiceAccount: async (namespace, name, o) => {
        try {
          await createServiceAccount(namespace, name);
        } catch (err: unknown) {
          if (!isApiStatus(err, 409)) throw err;
        }
        const tr = await core.createNamespacedServiceAccountToken({
          namespace,
          name,
          body: { spec: { audiences: [], expirationSeconds: o?.expirationSeconds ?? 3600 } },
        });
        const token = tr.status?.token;
        if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
        const path = join(dataDir, `sa-${namespace}-${name}.kubeconfig`);
        await writeFile(path, kubeconfigYaml(server, caPem, `sa-${namespace}-${name}`, { token }), {
          mode: 0o600,
        });
        return path;
      },
      grantServiceAccount: async (namespace, name, rules) => {
        const roleName = `vce-test:${namespace}:${name}`;
        await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules } });
        await rbac.createClusterRoleBinding({
          body: {
            metadata: { name: roleName },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
            subjects: [{ kind: "ServiceAccount", name, namespace }],
          },
        });
      },
      etcdRevision,
      compactEtcd: async () => {
        const revision = await etcdRevision();
        await etcdPost(etcdUrl, "/v3/kv/compaction", { revision: String(revision), physical: true });
        return revision;
      },
    };
    return cluster;
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
