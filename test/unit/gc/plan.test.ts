import { describe, expect, it } from "vitest";
import { planRun, type GcPolicy, type OrphanHistory, type PlanInput } from "../../../src/gc/plan.js";
import { matchPods } from "../../../src/kube/match.js";
import { NO_IDENTITY, hexId, identity, kubePod, record, snapshot } from "../../support/records.js";

const MIN = 60_000;
const POLICY: GcPolicy = { mode: "on", graceMs: 10 * MIN, maxDeletionsPerRun: 5, maxOrphanFraction: 0.5 };

function owned(n: number) {
  return record({ id: hexId(n), identity: identity({ podUid: `uid-${n}` }) });
}
function orphan(n: number, newestMtimeMs = 0) {
  return record({ id: hexId(n), identity: identity({ podUid: `gone-${n}` }), newestMtimeMs });
}

function input(pods: ReturnType<typeof record>[], over: Partial<PlanInput> = {}): PlanInput {
  const kube = pods.flatMap((p, i) =>
    p.identity.podUid?.startsWith("uid-") === true ? [kubePod({ uid: `uid-${i + 1}` })] : [],
  );
  const apiPods = over.viewUsable === false ? null : kube.map((k) => k);
  return {
    pods,
    matches: matchPods({ snapshot: snapshot(pods), pods: apiPods }),
    history: new Map(),
    nowMs: 100 * MIN,
    policy: POLICY,
    viewUsable: true,
    nodeConfirmed: true,
    ...over,
  };
}

/** Run the plan `runs` times, one minute apart, carrying the history. */
function runs(pods: ReturnType<typeof record>[], count: number, over: Partial<PlanInput> = {}) {
  let history: OrphanHistory = new Map();
  let plan = planRun(input(pods, { ...over, history }));
  for (let i = 1; i < count; i++) {
    history = plan.history;
    plan = planRun(input(pods, { ...over, history, nowMs: (over.nowMs ?? 100 * MIN) + i * MIN }));
  }
  return plan;
}

describe("planRun", () => {
  it("rule 1: no candidates while the view is not usable or the Node is not confirmed", () => {
    const pods = [owned(1), owned(2), orphan(3)];
    expect(planRun(input(pods, { viewUsable: false })).blocked).toBe("view_not_synced");
    const p = planRun(input(pods, { nodeConfirmed: false, history: new Map([[hexId(3), 0]]) }));
    expect(p.blocked).toBe("node_not_confirmed");
    expect(p.candidates).toEqual([]);
    // the orphan history still follows the pods while the Node is unconfirmed
    expect(p.history.get(hexId(3))).toBe(0);
  });

  it("rule 2: an orphan first seen this run waits for the next run", () => {
    const p = planRun(input([owned(1), owned(2), orphan(3)], { policy: { ...POLICY, graceMs: 0 } }));
    expect(p.candidates).toEqual([]);
    expect(p.skips).toEqual([expect.objectContaining({ podId: hexId(3), reason: "first_seen" })]);
    const second = planRun(
      input([owned(1), owned(2), orphan(3)], { policy: { ...POLICY, graceMs: 0 }, history: p.history }),
    );
    expect(second.candidates.map((c) => c.record.id)).toEqual([hexId(3)]);
  });

  it("rule 2: an orphan must stay one for the grace period, and its newest file must be older", () => {
    const pods = [owned(1), owned(2), orphan(3)];
    expect(runs(pods, 10).skips[0]?.reason).toBe("orphan_grace"); // 9 minutes
    expect(runs(pods, 11).candidates).toHaveLength(1); // 10 minutes
    const fresh = [owned(1), owned(2), orphan(3, 105 * MIN)];
    const p = runs(fresh, 11);
    expect(p.skips[0]).toMatchObject({ reason: "recently_modified" });
    expect(runs(fresh, 16).candidates).toHaveLength(1);
  });

  it("rule 2: an orphan that is matched again starts over", () => {
    const pods = [owned(1), owned(2), orphan(3)];
    const p = runs(pods, 11);
    const back = record({ id: hexId(3), identity: identity({ podUid: "uid-3" }) });
    const matched = planRun(input([owned(1), owned(2), back], { history: p.history }));
    expect(matched.history.has(hexId(3))).toBe(false);
    const again = planRun(input(pods, { history: matched.history, nowMs: 200 * MIN }));
    expect(again.skips[0]?.reason).toBe("first_seen");
  });

  it("never plans matched, unmanaged or unknown pods", () => {
    const pods = [owned(1), record({ id: hexId(2), identity: NO_IDENTITY }), record({ id: hexId(3) })];
    const p = runs(pods, 20);
    expect(p.candidates).toEqual([]);
    expect(p.skips).toEqual([]);
    expect(p.managed).toBe(1);
  });

  it("rule 4: the orphan fraction opens the circuit", () => {
    const p = runs([owned(1), orphan(2), orphan(3)], 12);
    expect(p.fraction).toBeCloseTo(2 / 3);
    expect(p.circuitOpen).toBe(true);
    expect(runs([owned(1), owned(2), orphan(3)], 12).circuitOpen).toBe(false);
    expect(runs([owned(1), orphan(2)], 12).circuitOpen).toBe(false); // exactly 0.5 is allowed
  });

  it("orders candidates longest-orphaned first", () => {
    const pods = [owned(1), owned(2), owned(3), orphan(4), orphan(5)];
    const history = new Map([
      [hexId(4), 50 * MIN],
      [hexId(5), 10 * MIN],
    ]);
    const p = planRun(input(pods, { history }));
    expect(p.candidates.map((c) => c.record.id)).toEqual([hexId(5), hexId(4)]);
    expect(p.candidates[0]?.orphanSinceMs).toBe(10 * MIN);
  });
});
