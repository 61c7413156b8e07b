/**
 * Kubernetes identity of a virtcontainers container (spec section 10). The OCI spec the
 * engine handed to the runtime is stored, as a JSON string, in an annotation of the
 * container config; its own `annotations` carry the CRI/kubelet keys. A missing or
 * malformed embedded spec gives an `unknown` identity, never an error for the pod.
 */
import { isObj } from "./decode.js";
import { parseJsonText, type Parsed } from "./result.js";

export const VC_ANNOTATION_PREFIX = "com.github.containers.virtcontainers.pkg.oci.";
export const OCI_CONFIG_KEY = `${VC_ANNOTATION_PREFIX}config`;
export const BUNDLE_PATH_KEY = `${VC_ANNOTATION_PREFIX}bundle_path`;
export const CONTAINER_TYPE_KEY = `${VC_ANNOTATION_PREFIX}container_type`;

/**
 * Every prefix the runtime has used for its `pkg.oci.*` annotations, oldest first:
 * virtcontainers and Kata <= 1.8 (`com.github.containers.virtcontainers.`), Kata 1.9.x
 * (`io.kata-containers.`, kata-containers/runtime 1.9.0 pkg/annotations/annotations.go) and
 * Kata 1.10+ / 2.x / 3.x (`io.katacontainers.`, commit 91bd095e).
 */
export const VC_ANNOTATION_PREFIXES = [
  VC_ANNOTATION_PREFIX,
  "io.kata-containers.pkg.oci.",
  "io.katacontainers.pkg.oci.",
] as const;

/** The runtime's own `pkg.oci.*` annotation names (`config` exists only up to Kata 1.8). */
export type VcAnnotationName = "config" | "bundle_path" | "container_type";

/** Each name's full keys, oldest prefix first (built once, not on every lookup). */
const VC_KEYS: Readonly<Record<VcAnnotationName, readonly string[]>> = {
  config: VC_ANNOTATION_PREFIXES.map((p) => `${p}config`),
  bundle_path: VC_ANNOTATION_PREFIXES.map((p) => `${p}bundle_path`),
  container_type: VC_ANNOTATION_PREFIXES.map((p) => `${p}container_type`),
};

/** A runtime `pkg.oci.<name>` annotation under any of its prefixes (oldest prefix wins). */
export function vcAnnotation(
  annotations: Annotations | null | undefined,
  name: VcAnnotationName,
): string | undefined {
  if (annotations === null || annotations === undefined) return undefined;
  for (const key of VC_KEYS[name]) {
    const v = annotations[key];
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The `pkg.oci.container_type` annotation when it holds one of its two stored values. */
export function vcContainerType(
  annotations: Annotations | null | undefined,
): "pod_sandbox" | "pod_container" | null {
  const v = vcAnnotation(annotations, "container_type");
  return v === "pod_sandbox" || v === "pod_container" ? v : null;
}

/** True when `key` is one of the runtime's own `pkg.oci.*` annotations (any prefix). */
export function isVcAnnotationKey(key: string): boolean {
  return VC_ANNOTATION_PREFIXES.some(
    (prefix) =>
      key === `${prefix}config` || key === `${prefix}bundle_path` || key === `${prefix}container_type`,
  );
}

export type CriFlavor = "cri-o" | "containerd" | "dockershim" | "none";

export interface Identity {
  /**
   * `known`: Kubernetes keys found; `none`: a readable spec without any Kubernetes key
   * (plain Docker/podman: unmanaged); `unknown`: no readable spec, so we cannot tell.
   */
  readonly status: "known" | "none" | "unknown";
  readonly flavor: CriFlavor;
  /** CRI container type: the pod's sandbox (infra) container or a workload container. */
  readonly kind: "sandbox" | "container" | null;
  readonly sandboxId: string | null;
  readonly namespace: string | null;
  readonly podName: string | null;
  readonly podUid: string | null;
  readonly containerName: string | null;
  readonly image: string | null;
  /** CRI-O's creation time of the container or sandbox, Unix seconds. */
  readonly createdSeconds: number | null;
  /** Why the identity is unknown or partial (no content quoted). */
  readonly problem: string | null;
}

const EMPTY: Omit<Identity, "status" | "problem"> = {
  flavor: "none",
  kind: null,
  sandboxId: null,
  namespace: null,
  podName: null,
  podUid: null,
  containerName: null,
  image: null,
  createdSeconds: null,
};

export function unknownIdentity(problem: string): Identity {
  return { ...EMPTY, status: "unknown", problem };
}

type Annotations = Readonly<Record<string, string>>;

/**
 * Identities already derived while decoding one file, with their embedded spec text. A list
 * compared with `===`, not a Map: a Map hashes every character of each multi-kilobyte spec
 * text (measured: about a tenth of a cold scan), while `===` stops at a differing length or
 * at the first differing character. Bounded, so that a hostile file with thousands of
 * same-length specs cannot make the lookups quadratic.
 */
export type IdentityMemo = [string, Identity][];

const MEMO_ENTRIES = 16;

function memoGet(memo: IdentityMemo | undefined, specText: string): Identity | undefined {
  if (memo === undefined) return undefined;
  for (const [text, identity] of memo) if (text === specText) return identity;
  return undefined;
}

/**
 * Identity from a container (or pod) config's `Annotations` map. A pod config holds the
 * sandbox's spec twice (its own annotations and its first container's): `memo` parses it once.
 */
export function identityFromVcAnnotations(annotations: Annotations | null, memo?: IdentityMemo): Identity {
  const specText = vcAnnotation(annotations, "config");
  if (specText === undefined) return unknownIdentity("no embedded OCI spec");
  const known = memoGet(memo, specText);
  if (known !== undefined) return known;
  const spec = parseEmbeddedSpecAnnotations(specText);
  const identity = spec.ok
    ? identityFromOciAnnotations(spec.value)
    : unknownIdentity(`embedded OCI spec: ${spec.error.message}`);
  if (memo !== undefined && memo.length < MEMO_ENTRIES) memo.push([specText, identity]);
  return identity;
}

/**
 * Identity from an OCI bundle's `config.json` (its top-level `annotations`): Kata 1.9+ no
 * longer embeds the spec, so the bundle is the only place left. Pure; bad input gives an
 * `unknown` identity with the reason.
 */
export function identityFromBundleConfig(text: string): Identity {
  const spec = parseEmbeddedSpecAnnotations(text);
  return spec.ok
    ? identityFromOciAnnotations(spec.value)
    : unknownIdentity(`bundle config.json: ${spec.error.message}`);
}

/** The `annotations` object of an embedded OCI spec, string values only. */
export function parseEmbeddedSpecAnnotations(specText: string): Parsed<Annotations> {
  const parsed = parseJsonText(specText);
  if (!parsed.ok) return parsed;
  if (!isObj(parsed.value))
    return { ok: false, error: { reason: "schema", message: "spec is not an object" } };
  return { ok: true, value: stringsOnly(parsed.value.annotations) };
}

/** The string-valued entries of an object; the object itself when all are strings (no copy). */
function stringsOnly(raw: unknown): Annotations {
  if (!isObj(raw)) return {};
  for (const k in raw) {
    if (typeof raw[k] !== "string") {
      const out: Record<string, string> = {};
      for (const [key, v] of Object.entries(raw)) if (typeof v === "string") out[key] = v;
      return out;
    }
  }
  return raw as Annotations;
}

interface FlavorKeys {
  readonly flavor: CriFlavor;
  readonly type: string;
  readonly sandboxValue: string;
  readonly sandboxId: string;
}

/** Checked in this order, as the runtime does (spec 10.1). */
const FLAVORS: readonly FlavorKeys[] = [
  {
    flavor: "containerd",
    type: "io.kubernetes.cri.container-type",
    sandboxValue: "sandbox",
    sandboxId: "io.kubernetes.cri.sandbox-id",
  },
  {
    flavor: "cri-o",
    type: "io.kubernetes.cri-o.ContainerType",
    sandboxValue: "sandbox",
    sandboxId: "io.kubernetes.cri-o.SandboxID",
  },
  {
    flavor: "dockershim",
    type: "io.kubernetes.docker.type",
    sandboxValue: "podsandbox",
    sandboxId: "io.kubernetes.sandbox.id",
  },
];

const POD_NAME_KEYS = [
  "io.kubernetes.pod.name",
  "io.kubernetes.cri.sandbox-name",
  "io.kubernetes.cri-o.KubeName",
];
const NAMESPACE_KEYS = ["io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"];
const UID_KEYS = ["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"];
const CONTAINER_NAME_KEYS = ["io.kubernetes.container.name", "io.kubernetes.cri.container-name"];
const IMAGE_KEYS = [
  "io.kubernetes.cri-o.ImageName",
  "io.kubernetes.cri-o.Image",
  "io.kubernetes.cri.image-name",
];

/** Identity from the OCI annotations themselves. Pure; values are validated before use. */
export function identityFromOciAnnotations(a: Annotations): Identity {
  const flavor = FLAVORS.find((f) => a[f.type] !== undefined);
  const meta = criOMetadata(a);
  const problems: string[] = [];
  // The first non-empty value of the keys, then the fallback; one that fails validation is a
  // problem and gives null (the later ones are not tried).
  const check = (v: string, valid: (v: string) => boolean): string | null => {
    if (valid(v)) return v;
    problems.push("an identity value failed validation");
    return null;
  };
  const pick = (keys: readonly string[], fallback: string | undefined, valid: (v: string) => boolean) => {
    for (const k of keys) {
      const v = a[k];
      if (v !== undefined && v !== "") return check(v, valid);
    }
    return fallback === undefined || fallback === "" ? null : check(fallback, valid);
  };
  const namespace = pick(NAMESPACE_KEYS, meta.namespace, isDnsLabel);
  const podName = pick(
    POD_NAME_KEYS,
    flavor?.flavor === "cri-o" && isSandbox(a, flavor) ? meta.name : undefined,
    isDnsSubdomain,
  );
  const podUid = pick(UID_KEYS, meta.uid, isUid);
  const kind = flavor === undefined ? null : isSandbox(a, flavor) ? "sandbox" : "container";
  const containerName =
    kind === "sandbox"
      ? null
      : pick(CONTAINER_NAME_KEYS, kind === "container" ? meta.name : undefined, isDnsLabel);
  const sandboxId = flavor === undefined ? null : pick([flavor.sandboxId], undefined, isId);
  const image = pick(IMAGE_KEYS, undefined, isImageRef);
  const created = a["io.kubernetes.cri-o.Created"];
  const hasKube = flavor !== undefined || namespace !== null || podName !== null || podUid !== null;
  return {
    status: hasKube ? "known" : "none",
    flavor: flavor?.flavor ?? "none",
    kind,
    sandboxId,
    namespace,
    podName,
    podUid,
    containerName,
    image,
    createdSeconds: created === undefined ? null : rfc3339Seconds(created),
    problem: problems.length > 0 ? problems.join("; ") : null,
  };
}

function isSandbox(a: Annotations, f: FlavorKeys): boolean {
  return a[f.type] === f.sandboxValue;
}

/** CRI-O's `Metadata` annotation: a JSON string `{"name","uid","namespace","attempt"}`. */
function criOMetadata(a: Annotations): { name?: string; uid?: string; namespace?: string } {
  const text = a["io.kubernetes.cri-o.Metadata"];
  if (text === undefined || text.length > 4096) return {};
  const parsed = parseJsonText(text);
  if (!parsed.ok || !isObj(parsed.value)) return {};
  const v = parsed.value;
  const s = (k: string) => (typeof v[k] === "string" ? v[k] : undefined);
  return { name: s("name"), uid: s("uid"), namespace: s("namespace") };
}

function rfc3339Seconds(text: string): number | null {
  const ms = Date.parse(text);
  return /^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(ms) ? ms / 1000 : null;
}

// Validation keeps metric labels bounded and free of control characters even when a
// hostile tree writes arbitrary annotation values.
export const isDnsLabel = (v: string): boolean => v.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v);
export const isDnsSubdomain = (v: string): boolean =>
  v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v);
export const isUid = (v: string): boolean => v.length <= 64 && /^[A-Za-z0-9][A-Za-z0-9-]*$/.test(v);
const isId = (v: string): boolean => v.length <= 128 && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v);
const isImageRef = (v: string): boolean => v.length <= 512 && /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/.test(v);
