import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { BasicAuth } from "../../../src/http/basic-auth.js";

const ALICE = bcrypt.hashSync("alice-pw", 4);
const BOB = bcrypt.hashSync("bob:pw:with:colons", 4).replace("$2b$", "$2y$");
const USERS = new Map([
  ["alice", ALICE],
  ["bob", BOB],
]);

function header(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** Real bcrypt, with the calls recorded. */
function counting() {
  const calls: string[] = [];
  return {
    calls,
    compare: (password: string, hash: string) => {
      calls.push(hash);
      return bcrypt.compare(password, hash);
    },
  };
}

describe("BasicAuth", () => {
  it("accepts the right password, htpasswd's $2y$ hashes and passwords with colons", async () => {
    const auth = new BasicAuth(USERS);
    expect(await auth.check(header("alice", "alice-pw"))).toBe("ok");
    expect(await auth.check(header("bob", "bob:pw:with:colons"))).toBe("ok");
    expect(await auth.check(`basic   ${Buffer.from("alice:alice-pw").toString("base64")}`)).toBe("ok");
  });

  it("refuses a wrong password, an unknown user, and missing or malformed credentials", async () => {
    const auth = new BasicAuth(USERS);
    expect(await auth.check(header("alice", "alice-pw "))).toBe("invalid");
    expect(await auth.check(header("alice", ""))).toBe("invalid");
    expect(await auth.check(header("carol", "alice-pw"))).toBe("invalid");
    expect(await auth.check(header("Alice", "alice-pw"))).toBe("invalid");
    expect(await auth.check(undefined)).toBe("missing");
    expect(await auth.check("")).toBe("missing");
    expect(await auth.check("Bearer abc")).toBe("invalid");
    expect(await auth.check(`Basic ${Buffer.from("alice").toString("base64")}`)).toBe("invalid");
    expect(await auth.check("Basic !!!")).toBe("invalid");
    expect(auth.cached).toBe(0);
  });

  it("an unknown user costs one bcrypt comparison, as a wrong password does", async () => {
    const c = counting();
    const auth = new BasicAuth(USERS, { compare: c.compare });
    await auth.check(header("alice", "wrong"));
    await auth.check(header("nobody", "wrong"));
    expect(c.calls).toHaveLength(2);
    expect(USERS.has("nobody")).toBe(false);
    // The unknown user was checked against a configured hash, not skipped.
    expect([ALICE, BOB]).toContain(c.calls[1]);
  });

  it("refuses a password longer than bcrypt's 72 bytes, even one whose first 72 bytes match", async () => {
    const long = "p".repeat(72);
    const auth = new BasicAuth(new Map([["alice", bcrypt.hashSync(long, 4)]]));
    expect(await auth.check(header("alice", long))).toBe("ok");
    expect(await auth.check(header("alice", `${long}extra`))).toBe("invalid");
  });

  it("an unknown user given a configured user's password is refused", async () => {
    const auth = new BasicAuth(new Map([["alice", ALICE]]));
    expect(await auth.check(header("mallory", "alice-pw"))).toBe("invalid");
  });

  it("caches successes only: a repeated good password costs no bcrypt, a repeated wrong one always does", async () => {
    const c = counting();
    const auth = new BasicAuth(USERS, { compare: c.compare });
    for (let i = 0; i < 5; i++) expect(await auth.check(header("alice", "alice-pw"))).toBe("ok");
    expect(c.calls).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect(await auth.check(header("alice", "nope"))).toBe("invalid");
    expect(c.calls).toHaveLength(4);
    expect(auth.cached).toBe(1);
  });

  it("the cache is bounded and drops the least recently used entry", async () => {
    const users = new Map(["a", "b", "c"].map((u) => [u, bcrypt.hashSync(`${u}-pw`, 4)]));
    const c = counting();
    const auth = new BasicAuth(users, { compare: c.compare, cacheSize: 2 });
    await auth.check(header("a", "a-pw"));
    await auth.check(header("b", "b-pw"));
    await auth.check(header("a", "a-pw")); // a is now the most recent
    await auth.check(header("c", "c-pw")); // evicts b
    expect(auth.cached).toBe(2);
    expect(c.calls).toHaveLength(3);
    await auth.check(header("a", "a-pw"));
    expect(c.calls).toHaveLength(3);
    await auth.check(header("b", "b-pw"));
    expect(c.calls).toHaveLength(4);
  });

  it("runs one check at a time and refuses when too many wait", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let running = 0;
    let maxRunning = 0;
    const auth = new BasicAuth(USERS, {
      maxWaiting: 2,
      compare: async (pw, hash) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate;
        const ok = await bcrypt.compare(pw, hash);
        running--;
        return ok;
      },
    });
    const a = auth.check(header("alice", "x"));
    const b = auth.check(header("alice", "y"));
    expect(await auth.check(header("alice", "alice-pw"))).toBe("overloaded");
    release();
    expect(await Promise.all([a, b])).toEqual(["invalid", "invalid"]);
    expect(maxRunning).toBe(1);
    expect(await auth.check(header("alice", "alice-pw"))).toBe("ok");
  });

  it("a comparison that throws is a refusal, and later checks still run", async () => {
    let fail = true;
    const auth = new BasicAuth(USERS, {
      compare: (pw, hash) => (fail ? Promise.reject(new Error("boom")) : bcrypt.compare(pw, hash)),
    });
    expect(await auth.check(header("alice", "alice-pw"))).toBe("invalid");
    fail = false;
    expect(await auth.check(header("alice", "alice-pw"))).toBe("ok");
  });

  it("knows whether a reload changed the users", () => {
    const auth = new BasicAuth(USERS);
    expect(auth.sameUsers(new Map(USERS))).toBe(true);
    expect(auth.sameUsers(new Map([["alice", ALICE]]))).toBe(false);
    expect(auth.sameUsers(new Map([...USERS, ["bob", ALICE]]))).toBe(false);
  });
});
