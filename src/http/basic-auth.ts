/**
 * HTTP basic authentication against bcrypt hashes (basic_auth_users of the web configuration).
 *
 * bcrypt costs about 100 ms per check at cost 10: a successful check is cached (keyed by a
 * SHA-256 of user, hash and password, never the password itself; bounded, least recently used
 * out first), so a scrape every 15 s costs one bcrypt per password change, not one per scrape.
 * Failures are never cached. An unknown user is checked against a configured hash, so it costs
 * what a wrong password costs; bcryptjs compares the hashes in constant time. Checks run one at a
 * time (bcrypt is CPU work); when too many wait, a request is refused at once.
 */
import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";

export type AuthResult = "ok" | "missing" | "invalid" | "overloaded";

export interface BasicAuthOptions {
  /** Cached successful checks (default 256). */
  readonly cacheSize?: number;
  /** Checks that may wait for the one running (default 32). */
  readonly maxWaiting?: number;
  /** The bcrypt comparison (tests count calls). */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

const MAX_PASSWORD_BYTES = 72;
const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

export class BasicAuth {
  private readonly cache = new Map<string, true>();
  private readonly cacheSize: number;
  private readonly maxWaiting: number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;
  /** The hash an unknown user is checked against: the costliest configured one. */
  private readonly decoy: string;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    opts: BasicAuthOptions = {},
  ) {
    if (users.size === 0) throw new Error("BasicAuth needs at least one user");
    this.cacheSize = opts.cacheSize ?? 256;
    this.maxWaiting = opts.maxWaiting ?? 32;
    this.compare = opts.compare ?? ((password, hash) => bcrypt.compare(password, hash));
    this.decoy = [...users.values()].reduce((a, b) => (cost(b) > cost(a) ? b : a));
  }

  /** Whether these users are the ones this instance checks (a reload keeps the cache then). */
  sameUsers(users: ReadonlyMap<string, string>): boolean {
    return users.size === this.users.size && [...users].every(([u, h]) => this.users.get(u) === h);
  }

  /** Checks an Authorization header. */
  async check(header: string | undefined): Promise<AuthResult> {
    if (header === undefined || header === "") return "missing";
    const m = BASIC.exec(header);
    if (m?.[1] === undefined) return "invalid";
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return "invalid";
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    // bcrypt reads 72 bytes; longer passwords would match on their first 72 (Go's bcrypt refuses them).
    if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) return "invalid";
    const hash = this.users.get(user);
    const known = hash !== undefined;
    const key = createHash("sha256")
      .update(user)
      .update("\0")
      .update(hash ?? this.decoy)
      .update("\0")
      .update(password)
      .digest("base64");
    if (known && this.cache.delete(key)) {
      this.cache.set(key, true);
      return "ok";
    }
    if (this.waiting >= this.maxWaiting) return "overloaded";
    this.waiting++;
    const run = this.queue.then(() => this.compare(password, hash ?? this.decoy));
    this.queue = run.catch(() => undefined);
    let match: boolean;
    try {
      match = await run;
    } catch {
      match = false;
    } finally {
      this.waiting--;
    }
    if (!(match && known)) return "invalid";
    this.cache.set(key, true);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    return "ok";
  }

  /** Cached successful checks (for tests). */
  get cached(): number {
    return this.cache.size;
  }
}

function cost(hash: string): number {
  return Number(hash.split("$")[2] ?? 0);
}
