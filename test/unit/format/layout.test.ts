import { existsSync, statSync } from "node:fs";

import fc from "fast-check";
import { describe, expect, it } from "vitest";

import {
  CONTAINER_RUN_RESOURCES,
  MAX_ID_LENGTH,
  POD_RUN_RESOURCES,
  RESOURCES,
  TREE_DIRS,
  dirPath,
  printableName,
  resourcePath,
  underRoot,
  validateId,
  type Resource,
} from "../../../src/format/layout.js";
import { HOST, INFER, LOADER, POD1, POD2, errorOf, okValue } from "./helpers.js";

const ALL_RESOURCES = Object.keys(RESOURCES) as Resource[];
const CONFIG_PREFIX = "var/lib/virtcontainers/pods/";
const RUN_PREFIX = "run/virtcontainers/pods/";

describe("TREE_DIRS / RESOURCES", () => {
  it("maps the two trees to their host directories", () => {
    expect(TREE_DIRS).toEqual({ run: "run/virtcontainers/pods", config: "var/lib/virtcontainers/pods" });
  });

  it("knows every file of the reference layout (spec section 3)", () => {
    expect(RESOURCES).toEqual({
      pod_config: { tree: "config", scope: "pod", file: "config.json" },
      pod_state: { tree: "run", scope: "pod", file: "state.json" },
      network: { tree: "run", scope: "pod", file: "network.json" },
      hypervisor: { tree: "run", scope: "pod", file: "hypervisor.json" },
      agent: { tree: "run", scope: "pod", file: "agent.json" },
      lock: { tree: "run", scope: "pod", file: "lock" },
      container_config: { tree: "config", scope: "container", file: "config.json" },
      container_state: { tree: "run", scope: "container", file: "state.json" },
      process: { tree: "run", scope: "container", file: "process.json" },
      mounts: { tree: "run", scope: "container", file: "mounts.json" },
      devices: { tree: "run", scope: "container", file: "devices.json" },
    });
  });

  it("the run-resource lists are run-tree resources of the right scope", () => {
    expect([...POD_RUN_RESOURCES].sort()).toEqual(["agent", "hypervisor", "network", "pod_state"]);
    expect([...CONTAINER_RUN_RESOURCES].sort()).toEqual(["container_state", "devices", "mounts", "process"]);
    for (const r of POD_RUN_RESOURCES) expect(RESOURCES[r]).toMatchObject({ tree: "run", scope: "pod" });
    for (const r of CONTAINER_RUN_RESOURCES)
      expect(RESOURCES[r]).toMatchObject({ tree: "run", scope: "container" });
  });
});

describe("validateId", () => {
  it.each([
    ["empty", ""],
    ["dot", "."],
    ["dot-dot", ".."],
    ["hidden", ".hidden"],
    ["dot-dot-slash", "../etc"],
    ["slash", "a/b"],
    ["leading slash", "/abs"],
    ["trailing slash", "abc/"],
    ["NUL", "a\0b"],
    ["space", "a b"],
    ["leading space", " abc"],
    ["newline", "a\nb"],
    ["trailing newline", `${POD1}\n`],
    ["tab", "a\tb"],
    ["carriage return", "a\rb"],
    ["DEL", "a\u007fb"],
    ["non-ASCII", "café"],
    ["fullwidth slash", "a\uff0fb"],
    ["over-long", "a".repeat(MAX_ID_LENGTH + 1)],
    ["very long", "a".repeat(100_000)],
  ])("rejects %s", (_label, id) => {
    const e = errorOf(validateId(id));
    expect(e.reason).toBe("invalid_id");
    expect(e.message).not.toContain(id === "" ? "\u0000" : id);
  });

  it.each([
    ["a 64-hex container ID", POD1],
    ["another 64-hex ID", INFER],
    ["one character", "a"],
    ["the longest allowed", "a".repeat(MAX_ID_LENGTH)],
    ["dots and dashes inside", "pod-1_a.b"],
    ["a dot-dot inside (no slash, so no traversal)", "a..b"],
    ["a backslash (an ordinary byte on Linux)", "a\\b"],
  ])("accepts %s", (_label, id) => {
    expect(validateId(id)).toEqual({ ok: true, value: id });
  });

  it("MAX_ID_LENGTH is 128", () => {
    expect(MAX_ID_LENGTH).toBe(128);
  });
});

describe("dirPath", () => {
  it("joins a validated pod (and container) ID under the tree", () => {
    expect(dirPath("run", POD1)).toEqual({ ok: true, value: `${RUN_PREFIX}${POD1}` });
    expect(dirPath("config", POD1, INFER)).toEqual({ ok: true, value: `${CONFIG_PREFIX}${POD1}/${INFER}` });
  });

  it("rejects a bad pod or container ID", () => {
    expect(errorOf(dirPath("run", "..")).reason).toBe("invalid_id");
    expect(errorOf(dirPath("run", POD1, "../../etc")).reason).toBe("invalid_id");
    expect(errorOf(dirPath("config", POD1, "")).reason).toBe("invalid_id");
  });
});

describe("resourcePath", () => {
  it.each([
    ["pod_config", undefined, `${CONFIG_PREFIX}${POD1}/config.json`],
    ["pod_state", undefined, `${RUN_PREFIX}${POD1}/state.json`],
    ["network", undefined, `${RUN_PREFIX}${POD1}/network.json`],
    ["hypervisor", undefined, `${RUN_PREFIX}${POD1}/hypervisor.json`],
    ["agent", undefined, `${RUN_PREFIX}${POD1}/agent.json`],
    ["lock", undefined, `${RUN_PREFIX}${POD1}/lock`],
    ["container_config", INFER, `${CONFIG_PREFIX}${POD1}/${INFER}/config.json`],
    ["container_state", INFER, `${RUN_PREFIX}${POD1}/${INFER}/state.json`],
    ["process", INFER, `${RUN_PREFIX}${POD1}/${INFER}/process.json`],
    ["mounts", INFER, `${RUN_PREFIX}${POD1}/${INFER}/mounts.json`],
    ["devices", INFER, `${RUN_PREFIX}${POD1}/${INFER}/devices.json`],
  ] as const)("%s -> %s", (resource, ctr, expected) => {
    expect(resourcePath(resource, POD1, ctr)).toEqual({ ok: true, value: expected });
  });

  it("config files are in the config tree, everything else in the run tree", () => {
    for (const r of ALL_RESOURCES) {
      const p = okValue(resourcePath(r, POD1, INFER));
      const inConfig = r === "pod_config" || r === "container_config";
      expect(p.startsWith(inConfig ? CONFIG_PREFIX : RUN_PREFIX)).toBe(true);
    }
  });

  it("every resource of the example pods is where resourcePath says", () => {
    const expectPresent = (r: Resource, pod: string, ctr?: string) => {
      const p = okValue(resourcePath(r, pod, ctr));
      const full = underRoot(HOST, p);
      expect(existsSync(full), full).toBe(true);
      expect(statSync(full).isFile()).toBe(true);
    };
    for (const pod of [POD1, POD2]) {
      for (const r of ["pod_config", "pod_state", "network", "hypervisor", "agent", "lock"] as const) {
        expectPresent(r, pod);
      }
    }
    for (const [pod, ctr] of [
      [POD1, POD1],
      [POD1, INFER],
      [POD1, LOADER],
      [POD2, POD2],
    ] as const) {
      for (const r of ["container_config", "container_state", "process", "devices"] as const) {
        expectPresent(r, pod, ctr);
      }
    }
    // A hyperstart container that was never started has no mounts.json (spec 3.1).
    expect(existsSync(underRoot(HOST, okValue(resourcePath("mounts", POD1, LOADER))))).toBe(false);
    expectPresent("mounts", POD1, INFER);
  });

  it("a container resource needs a container ID", () => {
    for (const r of CONTAINER_RUN_RESOURCES) {
      expect(errorOf(resourcePath(r, POD1)).reason).toBe("invalid_id");
    }
    expect(errorOf(resourcePath("container_config", POD1)).reason).toBe("invalid_id");
  });

  it("a pod resource ignores a container ID", () => {
    expect(resourcePath("pod_state", POD1, INFER)).toEqual({
      ok: true,
      value: `${RUN_PREFIX}${POD1}/state.json`,
    });
  });

  it("rejects traversal in either ID", () => {
    for (const bad of ["..", ".", "../x", "x/..", "a/b", "", "a\0"]) {
      expect(errorOf(resourcePath("pod_config", bad)).reason).toBe("invalid_id");
      expect(errorOf(resourcePath("process", POD1, bad)).reason).toBe("invalid_id");
      expect(errorOf(resourcePath("container_config", bad, INFER)).reason).toBe("invalid_id");
    }
  });

  it("property: for any IDs the path is rejected or stays inside the pod directory", () => {
    const id = fc.oneof(
      fc.string({ unit: "binary", maxLength: 140 }),
      fc.string({ maxLength: 10 }),
      fc.constantFrom(".", "..", "...", "../..", "a/../b", "./a", "a/.", "%2e%2e", "..\\..", "a\u0000", " "),
      fc.stringMatching(/^[0-9a-f]{64}$/),
    );
    const resource = fc.constantFrom(...ALL_RESOURCES);
    fc.assert(
      fc.property(resource, id, fc.option(id, { nil: undefined }), (r, pod, ctr) => {
        const res = resourcePath(r, pod, ctr);
        const loc = RESOURCES[r];
        const podOk = validateId(pod).ok;
        const ctrOk = ctr !== undefined && validateId(ctr).ok;
        const expectOk = podOk && (loc.scope === "pod" || ctrOk);
        expect(res.ok).toBe(expectOk);
        if (!res.ok) {
          expect(res.error.reason).toBe("invalid_id");
          return;
        }
        const segments = res.value.split("/");
        expect(segments).not.toContain("..");
        expect(segments).not.toContain(".");
        expect(segments).not.toContain("");
        expect(res.value.startsWith("/")).toBe(false);
        const treeSegments = TREE_DIRS[loc.tree].split("/");
        const expected =
          loc.scope === "pod"
            ? [...treeSegments, pod, loc.file]
            : [...treeSegments, pod, ctr ?? "", loc.file];
        expect(segments).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("underRoot", () => {
  it("joins the host root and a relative path", () => {
    expect(underRoot("/host", `${RUN_PREFIX}${POD1}/state.json`)).toBe(
      `/host/${RUN_PREFIX}${POD1}/state.json`,
    );
    expect(underRoot("/", `${RUN_PREFIX}x/lock`)).toBe(`/${RUN_PREFIX}x/lock`);
    expect(underRoot("/host/", "run/virtcontainers/pods")).toBe("/host/run/virtcontainers/pods");
  });
});

describe("printableName", () => {
  it("escapes C0, DEL, C1, non-ASCII and backslashes, and keeps printable ASCII", () => {
    expect(printableName("abc-123_.:")).toBe("abc-123_.:");
    expect(printableName("a\nb")).toBe("a\\u000ab");
    expect(printableName("del\x7f")).toBe("del\\u007f");
    expect(printableName("csi\u009b[2J")).toBe("csi\\u009b[2J");
    expect(printableName("é")).toBe("\\u00e9");
    expect(printableName("a\\u000ab")).toBe("a\\\\u000ab");
  });
});
