import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  errnoReason,
  listDir,
  readOpen,
  readRegularFile,
  sameKey,
  statEntry,
} from "../../../src/scan/fsread.js";
import { FifoGuard, TempDirs } from "./helpers.js";

const temp = new TempDirs();
afterEach(() => {
  temp.cleanup();
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** A FIFO where a state file should be: refused as not a regular file, and never opened blocking. */
function expectFifoRefused(read: (path: string, maxBytes: number) => unknown): void {
  const fifo = join(temp.make(), "state.json");
  execFileSync("mkfifo", [fifo]);
  const guard = new FifoGuard([fifo], temp.make());
  try {
    expect(read(fifo, 1024)).toEqual({
      ok: false,
      reason: "not_regular_file",
      message: "not a regular file",
      mtimeMs: 0,
    });
    expect(guard.fired()).toBe(false);
  } finally {
    guard.stop();
  }
}
describe("errnoReason", () => {
  it.each([
    ["EACCES", "permission"],
    ["EPERM", "permission"],
    ["ENOENT", "missing"],
    ["ENOTDIR", "missing"],
    ["ELOOP", "symlink"],
    ["EISDIR", "not_regular_file"],
    ["EIO", "io_error"],
    ["EMFILE", "io_error"],
  ] as const)("maps %s to %s and keeps the code as the message", (code, reason) => {
    expect(errnoReason(errno(code))).toEqual({ ok: false, reason, message: code });
  });

  it("maps an error without a code to io_error", () => {
    expect(errnoReason(new Error("boom"))).toEqual({ ok: false, reason: "io_error", message: "I/O error" });
    expect(errnoReason(undefined)).toEqual({ ok: false, reason: "io_error", message: "I/O error" });
  });
});

describe("statEntry", () => {
  it("tells files, directories, symlinks and other entries apart without following links", () => {
    const dir = temp.make();
    writeFileSync(join(dir, "f"), "abc");
    mkdirSync(join(dir, "d"));
    symlinkSync(join(dir, "f"), join(dir, "l"));
    execFileSync("mkfifo", [join(dir, "p")]);
    const kind = (name: string) => {
      const st = statEntry(join(dir, name));
      return st.ok ? st.kind : st.reason;
    };
    expect(kind("f")).toBe("file");
    expect(kind("d")).toBe("dir");
    expect(kind("l")).toBe("symlink");
    expect(kind("p")).toBe("other");
    expect(kind("nope")).toBe("missing");
    expect(kind("f/below-a-file")).toBe("missing"); // ENOTDIR
  });

  it("gives a key that changes with the size", () => {
    const dir = temp.make();
    const f = join(dir, "f");
    writeFileSync(f, "abc");
    const a = statEntry(f);
    writeFileSync(f, "abcd");
    const b = statEntry(f);
    if (!a.ok || !b.ok) throw new Error("stat failed");
    expect(a.key.size).toBe(3);
    expect(b.key.size).toBe(4);
    expect(sameKey(a.key, a.key)).toBe(true);
    expect(sameKey(a.key, b.key)).toBe(false);
  });
});

describe("listDir", () => {
  it("lists entries and maps errors", () => {
    const dir = temp.make();
    writeFileSync(join(dir, "a"), "");
    const ok = listDir(dir);
    expect(ok.ok && ok.entries.map((e) => e.name)).toEqual(["a"]);
    expect(listDir(join(dir, "missing"))).toMatchObject({ ok: false, reason: "missing" });
    expect(listDir(join(dir, "a"))).toMatchObject({ ok: false, reason: "missing" }); // ENOTDIR
  });
});

describe("readRegularFile", () => {
  it("reads a regular file with its stat key", () => {
    const dir = temp.make();
    const f = join(dir, "f.json");
    writeFileSync(f, '{"state":"ready"}');
    const r = readRegularFile(f, 1024);
    expect(r).toMatchObject({ ok: true, text: '{"state":"ready"}', key: { size: 17 } });
  });

  it("refuses a symlink (O_NOFOLLOW) and never returns the target's content", () => {
    const dir = temp.make();
    const outside = join(temp.make(), "secret.json");
    writeFileSync(outside, "OUTSIDE_CONTENT_4711");
    const link = join(dir, "state.json");
    symlinkSync(outside, link);
    const r = readRegularFile(link, 1024);
    expect(r).toEqual({ ok: false, reason: "symlink", message: "is a symlink", mtimeMs: 0 });
    // A symlink swapped in after the lstat or listing is still refused by O_NOFOLLOW at open.
    expect(readOpen(link, 1024)).toEqual({ ok: false, reason: "symlink", message: "ELOOP", mtimeMs: 0 });
  });

  it("refuses a directory", () => {
    const dir = temp.make();
    expect(readRegularFile(dir, 1024)).toMatchObject({ ok: false, reason: "not_regular_file" });
  });

  it("does not block on a FIFO", { timeout: 5_000 }, () => {
    expectFifoRefused(readRegularFile);
  });

  it("refuses a file over the cap without reading it", () => {
    const dir = temp.make();
    const big = join(dir, "big.json");
    writeFileSync(big, "");
    truncateSync(big, 100 * 1024 * 1024);
    expect(readRegularFile(big, 16 * 1024 * 1024)).toEqual({
      ok: false,
      reason: "too_large",
      message: `larger than ${16 * 1024 * 1024} bytes`,
      mtimeMs: expect.any(Number) as unknown,
    });
    writeFileSync(join(dir, "eleven"), "12345678901");
    expect(readRegularFile(join(dir, "eleven"), 10)).toMatchObject({ ok: false, reason: "too_large" });
    expect(readRegularFile(join(dir, "eleven"), 11)).toMatchObject({ ok: true, text: "12345678901" });
  });

  it("maps a missing file", () => {
    expect(readRegularFile(join(temp.make(), "nope"), 10)).toMatchObject({ ok: false, reason: "missing" });
  });

  // A /proc file reports size 0 but has content: the same path as a file that grew
  // between fstat and read. The reader keeps reading up to the cap.
  it.skipIf(process.platform !== "linux")("keeps reading a file that is longer than fstat said", () => {
    const r = readRegularFile("/proc/self/status", 1024 * 1024);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.key.size).toBe(0);
      expect(r.text).toContain("Pid:");
      expect(r.text.length).toBeGreaterThan(100);
    }
    expect(readRegularFile("/proc/self/status", 16)).toMatchObject({ ok: false, reason: "too_large" });
  });
});

describe("readOpen (a file the listing showed as regular, opened without lstat)", () => {
  it("closes a FIFO swapped in after the listing unread, without blocking", { timeout: 5_000 }, () => {
    expectFifoRefused(readOpen);
  });

  it("refuses a directory", () => {
    expect(readOpen(temp.make(), 1024)).toMatchObject({ ok: false, reason: "not_regular_file" });
  });

  it("reads files larger than its buffer, and UTF-8 beyond ASCII, exactly", () => {
    const dir = temp.make();
    const big = `{"a":"${"x".repeat(300_000)}"}`;
    const utf8 = `{"a":"${"é€😀".repeat(3000)}"}`;
    writeFileSync(join(dir, "big"), big);
    writeFileSync(join(dir, "utf8"), utf8);
    writeFileSync(join(dir, "small"), '"é"');
    expect(readOpen(join(dir, "big"), 1024 * 1024)).toMatchObject({ ok: true, text: big, bytes: big.length });
    expect(readOpen(join(dir, "utf8"), 1024 * 1024)).toMatchObject({ ok: true, text: utf8 });
    expect(readOpen(join(dir, "small"), 1024)).toMatchObject({ ok: true, text: '"é"', bytes: 4 });
    // the buffer shrank back after the large file: a later small read is still exact
    expect(readOpen(join(dir, "small"), 1024)).toMatchObject({ ok: true, text: '"é"' });
  });

  it("checks the cap on the open descriptor: cap bytes are read, cap + 1 are refused", () => {
    const dir = temp.make();
    writeFileSync(join(dir, "ten"), "1234567890");
    expect(readOpen(join(dir, "ten"), 10)).toMatchObject({ ok: true, text: "1234567890", key: { size: 10 } });
    expect(readOpen(join(dir, "ten"), 9)).toMatchObject({ ok: false, reason: "too_large" });
  });

  it("gives the stat key of the file it read", () => {
    const dir = temp.make();
    const f = join(dir, "f");
    writeFileSync(f, "abc");
    const st = statEntry(f);
    const r = readOpen(f, 1024);
    if (!st.ok || !r.ok) throw new Error("read failed");
    expect(sameKey(st.key, r.key)).toBe(true);
  });
});
