/**
 * Collector `problems`: files that could not be used in the current snapshot, and which of the
 * state trees exist (a host root with none of them is a broken mount, not an idle node).
 */
import { treeSet } from "../../format/layout.js";
import { allProblems } from "../../scan/snapshot.js";
import type { Collector, Family } from "../exposition.js";

const families: Family[] = [
  {
    name: "virtcontainers_file_problems",
    help: "Files (or directories) with a problem in the current snapshot, by file kind and reason.",
    type: "gauge",
    *samples(s) {
      const counts = new Map<string, { file: string; reason: string; n: number }>();
      for (const p of allProblems(s)) {
        const key = `${p.file}\0${p.reason}`;
        const e = counts.get(key) ?? { file: p.file, reason: p.reason, n: 0 };
        e.n++;
        counts.set(key, e);
      }
      for (const e of [...counts.values()].sort((a, b) => (a.file + a.reason < b.file + b.reason ? -1 : 1))) {
        yield {
          labels: [
            ["file", e.file],
            ["reason", e.reason],
          ],
          value: e.n,
        };
      }
    },
  },
  {
    name: "virtcontainers_state_tree_present",
    help: "1 if the state tree (its directory under the host root) could be listed, 0 if it is missing or unusable; one series per layout the tree holds.",
    type: "gauge",
    *samples(s) {
      for (const t of s.trees) {
        for (const layout of treeSet(t.set).layouts) {
          yield {
            labels: [
              ["layout", layout],
              ["tree", t.path],
            ],
            value: t.present ? 1 : 0,
          };
        }
      }
    },
  },
];

export const problemsCollector: Collector = { name: "problems", families };
