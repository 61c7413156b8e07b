#!/usr/bin/env node
// Copy what a generator wrote (scratch/root/run and scratch/root/var/lib) into a fixture's
// host/ tree, with its manifest. Git keeps neither empty directories nor sockets, so they are
// listed in the fixture's tree.json (path, kind) and test/upstream/fixture.ts recreates the
// directories (sockets become empty regular files, as in test/fixtures/layouts). Nothing else
// is changed: file contents are the runtime's bytes.
//
//   node test/upstream/collect.mjs <scratch> <fixture-dir>
import { copyFileSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [scratch, out] = process.argv.slice(2);
if (scratch === undefined || out === undefined) {
  console.error("usage: collect.mjs <scratch> <fixture-dir>");
  process.exit(2);
}

// Not the runtime's: mount(8) keeps its userspace mount table in /run/mount/utab, and the
// generator's bind mounts are made in the same scratch /run.
const EXCLUDE = new Set(["run/mount"]);

const entries = [];

function walk(rel) {
  const src = join(scratch, "root", rel);
  const dst = join(out, "host", rel);
  const names = readdirSync(src).sort();
  mkdirSync(dst, { recursive: true });
  if (names.length === 0) entries.push({ path: rel, kind: "empty_dir" });
  for (const name of names) {
    const r = `${rel}/${name}`;
    if (EXCLUDE.has(r)) continue;
    const st = lstatSync(join(src, name));
    if (st.isDirectory()) walk(r);
    else if (st.isFile()) copyFileSync(join(src, name), join(out, "host", r));
    else if (st.isSocket()) entries.push({ path: r, kind: "socket" });
    else if (st.isFIFO()) entries.push({ path: r, kind: "fifo" });
    else if (st.isSymbolicLink()) entries.push({ path: r, kind: "symlink" });
    else entries.push({ path: r, kind: "other" });
  }
}

for (const top of ["run", "var/lib"]) walk(top);
copyFileSync(join(scratch, "manifest.json"), join(out, "manifest.json"));
writeFileSync(join(out, "tree.json"), `${JSON.stringify(entries, null, 2)}\n`);
