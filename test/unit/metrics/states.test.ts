/**
 * The state families export only the current state: one series per pod and per container, value
 * 1, `state` the stored state (`unknown` when none is known), with the identity labels; the node
 * totals `virtcontainers_pods{state}` stay a full set.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VC_STATES, type VcState } from "../../../src/format/model.js";
import { container, hexId, identity, record, snapshot } from "../../support/records.js";
import { EXAMPLE_HOST, normalise, renderSnapshot, scanTree } from "./helpers.js";

const K8S_POD = "042f7fc8d580080c035a2417d20f1a578b563e51cde6b44d53d41c437eddf45e";

/** The sample lines of one family, order-insensitive (labels sorted). */
function samples(text: string, family: string): string[] {
  return normalise(text).filter((l) => l.startsWith(`${family}{`));
}

describe("virtcontainers_pod_state and virtcontainers_container_state", () => {
  it("say the example's states in one series each, with namespace, pod and container", async () => {
    const text = renderSnapshot(await scanTree(EXAMPLE_HOST));
    expect(samples(text, "virtcontainers_pod_state")).toEqual([
      `virtcontainers_pod_state{namespace="",pod="",pod_id="b6557d11c510e36706a73c90c252527d42328154deb1d3c759a0c8ba25061901",state="running"} 1`,
      `virtcontainers_pod_state{namespace="ml-serving",pod="resnet-infer-1684375908-7xq2p",pod_id="${K8S_POD}",state="running"} 1`,
    ]);
    const k8s = samples(text, "virtcontainers_container_state").filter((l) => l.includes(K8S_POD));
    expect(k8s.map((l) => /container="([^"]*)".*state="([^"]*)"\} 1$/.exec(l)?.slice(1))).toEqual([
      ["", "running"],
      ["infer", "running"],
      ["loader", "ready"],
    ]);
  });

  it("render exactly one series per pod and container, 1, for any states; the totals keep every state", () => {
    const state = fc.constantFrom<VcState>(...VC_STATES);
    fc.assert(
      fc.property(
        fc.array(fc.record({ state, containers: fc.array(state, { maxLength: 3 }) }), { maxLength: 6 }),
        (pods) => {
          const records = pods
            .map((p, i) =>
              record({
                id: hexId(i + 1),
                identity: identity({ namespace: "ns", podName: `p${i}` }),
                containers: p.containers.map((st, j) => ({
                  ...container(hexId(100 * (i + 1) + j), identity({ containerName: `c${j}` })),
                  state: st,
                })),
              }),
            )
            .map((r, i) => ({ ...r, state: pods[i]?.state ?? "unknown" }));
          const text = renderSnapshot(snapshot(records));

          const podLines = samples(text, "virtcontainers_pod_state");
          expect(podLines).toEqual(
            normalise(
              records
                .map(
                  (r) =>
                    `virtcontainers_pod_state{pod_id="${r.id}",namespace="ns",pod="${r.identity.podName ?? ""}",state="${r.state}"} 1`,
                )
                .join("\n"),
            ),
          );
          const ctrLines = samples(text, "virtcontainers_container_state");
          expect(ctrLines).toHaveLength(records.reduce((n, r) => n + r.containers.length, 0));
          for (const r of records)
            for (const c of r.containers)
              expect(ctrLines).toContain(
                normalise(
                  `virtcontainers_container_state{pod_id="${r.id}",container_id="${c.id}",namespace="ns",pod="${r.identity.podName ?? ""}",container="${c.identity.containerName ?? ""}",state="${c.state}"} 1`,
                )[0],
              );

          // the node totals: every state, 0 included, summing to the pods
          expect(samples(text, "virtcontainers_pods")).toEqual(
            normalise(
              VC_STATES.map(
                (st) => `virtcontainers_pods{state="${st}"} ${records.filter((r) => r.state === st).length}`,
              ).join("\n"),
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);
});
