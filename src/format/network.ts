/** `network.json` — NetworkNamespace (spec 4.4). */
import { asObj, bool, each, objOrNull, str, type Obj } from "./decode.js";
import type { EndpointInfo, NetworkInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseNetwork(text: string): Parsed<NetworkInfo> {
  return decodeText(text, decodeNetwork);
}

function decodeNetwork(value: unknown): NetworkInfo {
  const o = asObj(value, "$");
  return {
    netNsPath: str(o, "NetNsPath", "$"),
    netNsCreated: bool(o, "NetNsCreated", "$"),
    endpoints: each(o, "Endpoints", "$", decodeEndpoint),
  };
}

function decodeEndpoint(value: unknown, path: string): EndpointInfo {
  const o = asObj(value, path);
  const data = objOrNull(o, "Data", path) ?? {};
  const props = objOrNull(data, "EndpointProperties", `${path}.Data`) ?? {};
  const iface = objOrNull(props, "Iface", `${path}.Data.EndpointProperties`) ?? {};
  return {
    type: str(o, "Type", path),
    ifaceName:
      str(iface, "Name", `${path}.Data.EndpointProperties.Iface`) || str(data, "IfaceName", `${path}.Data`),
    ipv4: ipv4Addrs(props, `${path}.Data.EndpointProperties`),
  };
}

function ipv4Addrs(props: Obj, path: string): string[] {
  return each(props, "Addrs", path, (v, p) => str(asObj(v, p), "IP", p)).filter((ip) =>
    /^\d{1,3}(\.\d{1,3}){3}$/.test(ip),
  );
}
