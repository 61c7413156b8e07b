/** `agent.json` — proxy PID and agent/proxy URL (spec 4.6). */
import { asObj, str, uint } from "./decode.js";
import type { AgentInfo } from "./model.js";
import { decodeText, type Parsed } from "./result.js";

export function parseAgent(text: string): Parsed<AgentInfo> {
  return decodeText(text, (value) => {
    const o = asObj(value, "$");
    return { proxyPid: uint(o, "ProxyPid", "$"), url: str(o, "URL", "$") };
  });
}
