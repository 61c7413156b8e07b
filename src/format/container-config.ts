/** `/var/lib/virtcontainers/pods/<podID>/<containerID>/config.json` (spec 4.2). */
import { arrOrNull, asObj, int, isObj, objOrNull, str, stringMapOrNull, uint, type Obj } from "./decode.js";
import { identityFromVcAnnotations, vcAnnotation, vcContainerType, type IdentityMemo } from "./identity.js";
import type { ContainerConfigInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseContainerConfig(text: string): Parsed<ContainerConfigInfo> {
  return decodeText(text, (v) => decodeContainerConfig(v, "$"));
}

/** Also used for each entry of the pod config's `Containers`. */
export function decodeContainerConfig(
  value: unknown,
  path: string,
  memo?: IdentityMemo,
): ContainerConfigInfo {
  const o = asObj(value, path);
  const annotations = stringMapOrNull(o, "Annotations", path);
  const vcType = vcContainerType(annotations);
  const cpu = cpuResources(objOrNull(o, "Resources", path), `${path}.Resources`);
  return {
    id: str(o, "ID", path),
    rootFs: rootFs(o, path),
    vcType: vcType === "pod_sandbox" || vcType === "pod_container" ? vcType : null,
    bundlePath: vcAnnotation(annotations, "bundle_path") ?? null,
    identity: identityFromVcAnnotations(annotations, memo),
    mounts: arrOrNull(o, "Mounts", path)?.length ?? 0,
    deviceInfos: arrOrNull(o, "DeviceInfos", path)?.length ?? 0,
    ...cpu,
  };
}

/**
 * A path string; Kata 1.7+ stores an object `{Target, Source, Type, Options, Mounted}` (its
 * `Target` is the path). Anything else is a schema error naming the string form.
 */
function rootFs(o: Obj, path: string): string {
  const v = o.RootFs;
  if (isObj(v) && typeof v.Target === "string") return v.Target;
  return str(o, "RootFs", path);
}

/** Reference form `{CPUQuota, CPUPeriod, CPUShares}`; Kata 1.5+ stores OCI `{cpu: {quota, period, shares}}`. */
function cpuResources(
  r: Obj | null,
  path: string,
): { cpuQuota: number; cpuPeriod: number; cpuShares: number } {
  if (r === null) return { cpuQuota: 0, cpuPeriod: 0, cpuShares: 0 };
  const oci = objOrNull(r, "cpu", path);
  if (oci !== null) {
    const p = `${path}.cpu`;
    return {
      cpuQuota: int(oci, "quota", p),
      cpuPeriod: uint(oci, "period", p),
      cpuShares: uint(oci, "shares", p),
    };
  }
  return {
    cpuQuota: int(r, "CPUQuota", path),
    cpuPeriod: uint(r, "CPUPeriod", path),
    cpuShares: uint(r, "CPUShares", path),
  };
}
