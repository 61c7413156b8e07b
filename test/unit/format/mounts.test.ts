import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { parseMounts } from "../../../src/format/mounts.js";
import {
  DEEP_ARRAY,
  HUGE_STRING_JSON,
  INFER,
  POD1,
  POD2,
  darr,
  describeRobustness,
  dobj,
  errorOf,
  okValue,
  readBytes,
  readText,
  roundTripProperty,
  runFile,
  truncationFailures,
  withPath,
  wrongValues,
  type FieldKind,
  type Json,
} from "./helpers.js";

const SHARED = `/run/hyper/shared/pods/${POD1}`;

describe("parseMounts on the example tree", () => {
  it("pod 1 sandbox: 8 mounts, resolv.conf and hostname shared into the VM", () => {
    expect(parseMounts(readText(runFile(POD1, POD1, "mounts.json")))).toEqual({
      ok: true,
      value: [
        { destination: "/proc", type: "proc", hostPath: "" },
        { destination: "/dev", type: "tmpfs", hostPath: "" },
        { destination: "/dev/pts", type: "devpts", hostPath: "" },
        { destination: "/dev/mqueue", type: "mqueue", hostPath: "" },
        { destination: "/sys", type: "sysfs", hostPath: "" },
        {
          destination: "/etc/resolv.conf",
          type: "bind",
          hostPath: `${SHARED}/${POD1}-c54e12a888725b7b-resolv.conf`,
        },
        { destination: "/dev/shm", type: "bind", hostPath: "" },
        {
          destination: "/etc/hostname",
          type: "bind",
          hostPath: `${SHARED}/${POD1}-6d4831b33fd8f109-hostname`,
        },
      ],
    });
  });

  it("pod 1 infer: 13 mounts, the shared ones are exactly the bind mounts outside /dev, /proc, /sys", () => {
    const mounts = okValue(parseMounts(readText(runFile(POD1, INFER, "mounts.json"))));
    expect(mounts).toHaveLength(13);
    expect(mounts.filter((m) => m.hostPath !== "").map((m) => m.destination)).toEqual([
      "/etc/resolv.conf",
      "/etc/hostname",
      "/etc/hosts",
      "/models",
      "/var/run/secrets/kubernetes.io/serviceaccount",
    ]);
    expect(mounts.find((m) => m.destination === "/models")).toEqual({
      destination: "/models",
      type: "bind",
      hostPath: `${SHARED}/${INFER}-916fda219e142877-models`,
    });
    expect(mounts.find((m) => m.destination === "/dev/termination-log")?.hostPath).toBe("");
    for (const m of mounts) expect(Object.keys(m).sort()).toEqual(["destination", "hostPath", "type"]);
  });

  it("pod 2 (Docker): 11 mounts, the -v volume shared", () => {
    const mounts = okValue(parseMounts(readText(runFile(POD2, POD2, "mounts.json"))));
    expect(mounts).toHaveLength(11);
    expect(mounts[6]).toEqual({
      destination: "/usr/share/nginx/html",
      type: "bind",
      hostPath: `/run/hyper/shared/pods/${POD2}/${POD2}-c535492962e7f774-html`,
    });
  });
});

describe("parseMounts: variants", () => {
  it.each([
    ["null (no mounts)", "null", []],
    ["[]", "[]", []],
    [
      "before 2017-12-14: no ReadOnly key",
      '[{"Source":"/a","Destination":"/b","Type":"bind","Options":["rbind"],"HostPath":"/s/b"}]',
      [{ destination: "/b", type: "bind", hostPath: "/s/b" }],
    ],
    [
      "Options null and sorted keys",
      '[{"Destination":"/b","HostPath":"","Options":null,"ReadOnly":true,"Source":"/a","Type":"bind"}]',
      [{ destination: "/b", type: "bind", hostPath: "" }],
    ],
    ["missing keys default", "[{}]", [{ destination: "", type: "", hostPath: "" }]],
    [
      "HTML escapes and non-ASCII",
      '[{"Destination":"/d\\u0026a\\u003cta\\u003e","Type":"bind","HostPath":"/s/données-模型"}]',
      [{ destination: "/d&a<ta>", type: "bind", hostPath: "/s/données-模型" }],
    ],
  ])("%s", (_label, text, expected) => {
    expect(parseMounts(text)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["an object", '{"Destination":"/b"}', "$: expected an array or null"],
    ["a string", '"mounts"', "$: expected an array or null"],
    ["a null entry", "[null]", "$[0]: expected an object"],
    ["an array entry", `[{"Destination":"/a"},${DEEP_ARRAY}]`, "$[1]: expected an object"],
    ["a deeply nested field", `[{"Destination":${DEEP_ARRAY}}]`, "$[0].Destination: expected a string"],
  ])("%s is a schema error", (_label, text, message) => {
    expect(errorOf(parseMounts(text))).toEqual({ reason: "schema", message });
  });

  it("keeps a 4 MiB host path intact (not bounded)", () => {
    const v = okValue(parseMounts(`[{"Destination":"/x","HostPath":${HUGE_STRING_JSON}}]`));
    expect(v[0]?.hostPath.length).toBe(4 * 1024 * 1024);
  });

  it("a multi-byte file cut inside a character is still truncated", () => {
    const text =
      '[{"Source":"/srv/données","Destination":"/模型/😀","Type":"bind","Options":null,"HostPath":"/s/é","ReadOnly":false}]';
    expect(okValue(parseMounts(text))).toEqual([{ destination: "/模型/😀", type: "bind", hostPath: "/s/é" }]);
    expect(truncationFailures(parseMounts, Buffer.from(text, "utf8"))).toEqual([]);
  });
});

describe("parseMounts: wrong types of every used field", () => {
  const base = JSON.parse(readText(runFile(POD1, POD1, "mounts.json"))) as Json;
  const fields: [string, FieldKind][] = [
    ["Destination", "string"],
    ["Type", "string"],
    ["HostPath", "string"],
  ];
  it.each(fields.flatMap(([k, kind]) => wrongValues(kind).map((v) => [k, JSON.stringify(v), v] as const)))(
    "$[5].%s = %s",
    (key, _shown, value) => {
      expect(parseMounts(JSON.stringify(withPath(base, [5, key], value)))).toEqual({
        ok: false,
        error: { reason: "schema", message: `$[5].${key}: expected a string` },
      });
    },
  );

  it("fields that are not read may have any type", () => {
    const edited = withPath(withPath(base, [0, "Options"], 7), [0, "ReadOnly"], "yes");
    expect(okValue(parseMounts(JSON.stringify(edited)))).toHaveLength(8);
  });
});

describe("parseMounts: property (c)", () => {
  const mount = fc.record({
    source: fc.string(),
    destination: fc.string(),
    type: fc.constantFrom("bind", "proc", "tmpfs", "sysfs"),
    options: fc.option(fc.array(fc.string(), { maxLength: 3 })),
    hostPath: fc.string(),
    readOnly: fc.option(fc.boolean()),
  });
  it("extra unknown keys and shuffled order do not change the value", () => {
    roundTripProperty(
      parseMounts,
      fc.option(fc.array(mount, { maxLength: 6 })),
      (g) =>
        g === null
          ? null
          : darr(
              g.map((m) =>
                dobj({
                  Source: m.source,
                  Destination: m.destination,
                  Type: m.type,
                  Options: m.options,
                  HostPath: m.hostPath,
                  ...(m.readOnly === null ? {} : { ReadOnly: m.readOnly }),
                }),
              ),
            ),
      (v, g) => {
        expect(v).toEqual(
          (g ?? []).map((m) => ({ destination: m.destination, type: m.type, hostPath: m.hostPath })),
        );
      },
    );
  });
});

describeRobustness("parseMounts", parseMounts, {
  top: "array",
  realFiles: [
    runFile(POD1, POD1, "mounts.json"),
    runFile(POD1, INFER, "mounts.json"),
    runFile(POD2, POD2, "mounts.json"),
  ],
  knownKeys: ["Source", "Destination", "Type", "HostPath", "Options", "ReadOnly"],
});

it("the example files are plain ASCII (the multi-byte truncation case above covers UTF-8 cuts)", () => {
  for (const f of [runFile(POD1, INFER, "mounts.json"), runFile(POD2, POD2, "mounts.json")]) {
    expect(readBytes(f).every((b) => b < 0x80)).toBe(true);
  }
});
