import { describe, expect, it } from "vitest";
import {
  hasExited,
  parsePidFile,
  parseProcStat,
  parseProcStatm,
  roleOfCommand,
  searchMatch,
  splitCmdline,
} from "../../../src/format/proc.js";

const POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";
const UUID = "9a746c47-1e81-42ee-9a42-f80a33309555";

describe("parseProcStat", () => {
  it("reads state, utime, stime and the start time from a real line", () => {
    const line =
      "2890 (cat) R 2887 2887 8224 0 -1 4194304 99 0 0 0 7 3 0 0 20 0 1 0 97073 3133440 375 18446744073709551615 94876767256576 94876767276457 140731772070000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94876767292464 94876767294080 94877035978752 140731772074691 140731772074711 140731772074711 140731772076011 0\n";
    expect(parseProcStat(line)).toEqual({
      ok: true,
      value: { state: "R", utimeTicks: 7, stimeTicks: 3, startTimeTicks: 97073 },
    });
  });

  it("counts fields from the last parenthesis: a comm with spaces and parentheses", () => {
    const rest = "S 1 1 1 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 555 0 0 0";
    expect(parseProcStat(`77 (qemu (x) y) ${rest}`)).toMatchObject({
      ok: true,
      value: { utimeTicks: 11, stimeTicks: 22, startTimeTicks: 555 },
    });
  });

  it("refuses what is not a stat line, never throws", () => {
    for (const bad of [
      "",
      "garbage",
      "1 (x)",
      "1 (x) S 1 2",
      "x (y) S " + "1 ".repeat(30),
      "1 (x) S " + "a ".repeat(30),
    ])
      expect(parseProcStat(bad).ok).toBe(false);
  });
});

describe("parseProcStatm", () => {
  it("takes the resident pages", () => {
    expect(parseProcStatm("765 444 416 5 0 123 0\n")).toEqual({ ok: true, value: 444 });
    expect(parseProcStatm("765 444").ok).toBe(false);
    expect(parseProcStatm("").ok).toBe(false);
    expect(parseProcStatm("1 -2 3 4 5 6 7").ok).toBe(false);
  });
});

describe("hasExited", () => {
  it("is true for zombies and dead processes only", () => {
    const s = (state: string) => ({ state, utimeTicks: 0, stimeTicks: 0, startTimeTicks: 0 });
    expect(["Z", "X"].map((x) => hasExited(s(x)))).toEqual([true, true]);
    expect(["R", "S", "D", "T"].map((x) => hasExited(s(x)))).toEqual([false, false, false, false]);
  });
});

describe("roleOfCommand", () => {
  it("knows every generation's programs, by argv[0]'s base name", () => {
    const cases: [string, string | null][] = [
      ["/usr/bin/qemu-lite-system-x86_64", "hypervisor"],
      ["/usr/bin/qemu-system-x86_64", "hypervisor"],
      ["/opt/kata/bin/qemu-system-aarch64", "hypervisor"],
      ["/usr/libexec/qemu-kvm", "hypervisor"],
      ["/usr/bin/cloud-hypervisor", "hypervisor"],
      ["/opt/kata/bin/firecracker", "hypervisor"],
      ["/usr/libexec/clear-containers/cc-shim", "shim"],
      ["/usr/libexec/kata-containers/kata-shim", "shim"],
      ["/usr/local/bin/containerd-shim-kata-v2", "shim"],
      ["/usr/libexec/clear-containers/cc-proxy", "proxy"],
      ["/usr/libexec/kata-containers/kata-proxy", "proxy"],
      ["/usr/libexec/kata-qemu/virtiofsd", "virtiofsd"],
      ["qemu-system-x86_64 -name sandbox-x", "hypervisor"],
      ["/usr/bin/bash", null],
      ["qemuish", null],
      ["containerd-shim-runc-v2", null],
      ["", null],
    ];
    for (const [arg0, role] of cases) expect(roleOfCommand([arg0, "-x"]), arg0).toBe(role);
    expect(roleOfCommand([])).toBeNull();
  });
});

describe("searchMatch", () => {
  const needles = { podId: POD, uuid: UUID };
  it("says hypervisor for the UUID or QEMU's -name, sandbox for the ID alone, null otherwise", () => {
    expect(searchMatch(["qemu", "-uuid", UUID], needles)?.role).toBe("hypervisor");
    expect(searchMatch(["qemu", "-name", `sandbox-${POD}`], needles)?.role).toBe("hypervisor");
    expect(searchMatch(["qemu", "-name", `pod-${POD}`], needles)?.role).toBe("hypervisor");
    expect(searchMatch(["containerd-shim-kata-v2", "-id", POD], needles)?.role).toBe("sandbox");
    expect(searchMatch(["virtiofsd", `--socket-path=/run/vc/vm/${POD}/vhost-fs.sock`], needles)?.role).toBe(
      "sandbox",
    );
    expect(searchMatch(["qemu", "-name", "sandbox-other"], needles)).toBeNull();
    expect(searchMatch(["x", POD], { podId: "", uuid: "" })).toBeNull();
  });

  it("matches a short pod ID alone only as a whole argument", () => {
    expect(searchMatch(["shim", "-id", "abc"], { podId: "abc", uuid: "" })?.role).toBe("sandbox");
    expect(searchMatch(["shim", "-id", "xabcx", "/tmp/abc/sock"], { podId: "abc", uuid: "" })).toBeNull();
    expect(searchMatch(["qemu", "-name", "pod-abc"], { podId: "abc", uuid: "" })?.role).toBe("hypervisor");
  });
});

describe("splitCmdline and parsePidFile", () => {
  it("split on NUL, drop empties; a pid file is one decimal PID above 1", () => {
    expect(splitCmdline("a\0b c\0\0")).toEqual(["a", "b c"]);
    expect(splitCmdline("")).toEqual([]);
    expect(parsePidFile("20462\n")).toEqual({ ok: true, value: 20462 });
    for (const bad of ["", "1\n", "0", "-5", "12a", "99999999"]) expect(parsePidFile(bad).ok).toBe(false);
  });
});
