/** `/var/lib/virtcontainers/pods/<podID>/<containerID>/config.json` (spec 4.2). */
import { arrOrNull, asObj, int, objOrNull, str, stringMapOrNull, uint, type Obj } from "./decode.js";
import {
  BUNDLE_PATH_KEY,
  CONTAINER_TYPE_KEY,
  identityFromVcAnnotations,
  type IdentityMemo,
} from "./identity.js";
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
  const vcType = annotations?.[CONTAINER_TYPE_KEY];
  const cpu = cpuResources(objOrNull(o, "Resources", path), `${path}.Resources`);
  return {
    id: str(o, "ID", path),
    rootFs: str(o, "RootFs", path),
    vcType: vcType === "pod_sandbox" || vcType === "pod_container" ? vcType : null,
    bundlePath: annotations?.[BUNDLE_PATH_KEY] ?? null,
    identity: identityFromVcAnnotations(annotations, memo),
    mounts: arrOrNull(o, "Mounts", path)?.length ?? 0,
    deviceInfos: arrOrNull(o, "DeviceInfos", path)?.length ?? 0,
    ...cpu,
  };
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
