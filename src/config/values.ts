/** Parsers for flag values. Each returns the value or throws ConfigError with one clear line. */
export class ConfigError extends Error {}

export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (m?.[1] === undefined || m[2] === undefined) {
    throw new ConfigError(`${flag}: "${text}" is not a duration (examples: 500ms, 30s, 5m, 1h)`);
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}

export function parseEnum<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`${flag}: "${text}" is not one of ${allowed.join(", ")}`);
}

export function parseBytes(flag: string, text: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(text.trim());
  if (m?.[1] === undefined)
    throw new ConfigError(`${flag}: "${text}" is not a size (examples: 1048576, 16Mi)`);
  const mult = m[2] === "Ki" ? 1024 : m[2] === "Mi" ? 1024 ** 2 : m[2] === "Gi" ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${flag}: "${text}" is out of range`);
  return n;
}

export function parseInteger(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${flag}: "${text}" is not a whole number from ${min} to ${max}`);
  }
  return n;
}

export function parseFraction(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new ConfigError(`${flag}: "${text}" is not a number from 0 to 1`);
  }
  return n;
}

export function parseListen(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`${flag}: "${text}" is not HOST:PORT (examples: :9843, 0.0.0.0:9843, [::1]:9843)`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

export function parsePath(flag: string, text: string): string {
  if (text.trim() === "" || text.includes("\0")) throw new ConfigError(`${flag}: a path is required`);
  return text;
}

/** A Kubernetes node name (a DNS subdomain); empty means the hostname. */
export function parseNodeName(flag: string, text: string, fallback: string): string {
  const name = text === "" ? fallback : text;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw new ConfigError(`${flag}: "${name}" is not a valid Kubernetes node name`);
  }
  return name;
}

/** A comma-separated subset of `allowed`, in the given order, without repeats; at least one. */
export function parseSubset<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  if (items.length === 0) throw new ConfigError(`${flag}: give at least one of ${allowed.join(", ")}`);
  const out: T[] = [];
  for (const item of items) {
    const v = parseEnum(flag, item, allowed);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/**
 * The exporter's own pod: all three of namespace, name and UID, or none (null). Names as the API
 * allows them (a namespace is a DNS label, a pod name a DNS subdomain); a UID as the API server
 * writes it (letters, digits, dashes).
 */
export function parseSelfPod(
  flags: { readonly namespace: string; readonly name: string; readonly uid: string },
  text: { readonly namespace: string; readonly name: string; readonly uid: string },
): { namespace: string; name: string; uid: string } | null {
  const given = [text.namespace, text.name, text.uid].filter((v) => v !== "").length;
  if (given === 0) return null;
  if (given < 3) {
    throw new ConfigError(
      `${flags.namespace}, ${flags.name} and ${flags.uid}: give all three or none (the chart sets them from the downward API)`,
    );
  }
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text.namespace))
    throw new ConfigError(`${flags.namespace}: "${text.namespace}" is not a valid Kubernetes namespace`);
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(text.name))
    throw new ConfigError(`${flags.name}: "${text.name}" is not a valid Kubernetes pod name`);
  if (!/^[0-9A-Za-z][-0-9A-Za-z]{0,127}$/.test(text.uid))
    throw new ConfigError(`${flags.uid}: "${text.uid}" is not a Kubernetes UID`);
  return { namespace: text.namespace, name: text.name, uid: text.uid };
}
