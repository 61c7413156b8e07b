#!/usr/bin/env bash
# Regenerate one upstream-written fixture: build our generator inside an extracted upstream
# source tree, run it as root in a private mount namespace whose /run, /var/lib, /sys/dev,
# /sys/kernel/iommu_groups and /sys/fs/cgroup are scratch directories, and copy the state
# trees it wrote into test/fixtures/upstream/<fixture>/host/.
#
#   test/upstream/regenerate.sh <fixture> <source-dir>
#
# <fixture> is a name listed in test/upstream/fixtures.json (family, build mode, upstream ref).
# <source-dir> is the upstream tree at that ref, extracted by you (see README.md): for a
# GOPATH-mode family it must sit at <gopath>/src/github.com/<owner>/<repo>.
# Nothing is fetched. Needs root, unshare(1), mount(1) and Go.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fixture=${1:?fixture name}
src=$(cd "${2:?source dir}" && pwd)

line=$(node -e '
  const f = require(process.argv[1]).find((x) => x.name === process.argv[2]);
  if (f) console.log([f.build, f.pkgdir ?? ".", f.upstream, f.features, f.go.join(" ")].join("\t"));
' "$here/fixtures.json" "$fixture")
[ -n "$line" ] || { echo "regenerate: unknown fixture $fixture (see fixtures.json)" >&2; exit 2; }
IFS=$'\t' read -r mode pkgdir upstream features gofiles <<<"$line"
[ "$(id -u)" = 0 ] || { echo "regenerate: must run as root (mount namespace, bind mounts)" >&2; exit 2; }

gen="$src/$pkgdir/vcegen"
rm -rf "$gen"
mkdir -p "$gen"
for f in $gofiles; do cp "$here/go/$f" "$gen/"; done

scratch=$(mktemp -d /tmp/vcegen.XXXXXX)
bin="$scratch/vcegen"
case "$mode" in
  gopath)
    gopath=${src%/src/*}
    (cd "$gen" && GOPATH="$gopath" GO111MODULE=off GOFLAGS= go build -o "$bin" .) ;;
  vendor) (cd "$gen" && GO111MODULE=on GOFLAGS=-mod=vendor go build -o "$bin" .) ;;
  mod) (cd "$gen" && GO111MODULE=on GOFLAGS=-mod=mod go build -o "$bin" .) ;;
  *) echo "regenerate: unknown build mode $mode" >&2; exit 2 ;;
esac
rm -rf "$gen"

for d in run var/lib sys/dev sys/kernel/iommu_groups cgroup; do mkdir -p "$scratch/root/$d"; done
# Every hard-coded runtime path is a scratch directory in a private mount namespace, so the
# real /run, /var/lib and /sys are never written. /sys/fs/cgroup is shadowed by a directory
# holding one empty sub-directory per mounted v1 controller: the runtime's cgroup library
# finds the controllers in /proc/self/mountinfo and writes plain files under the shadow.
unshare -m --propagation private bash -euc '
  s=$1; bin=$2; up=$3; feats=$4
  mount --make-rprivate /
  mount --bind "$s/root/run" /run
  mount --bind "$s/root/var/lib" /var/lib
  mount --bind "$s/root/sys/dev" /sys/dev
  mount --bind "$s/root/sys/kernel/iommu_groups" /sys/kernel/iommu_groups
  for c in $(awk '"'"'$9=="cgroup"{print $5}'"'"' /proc/self/mountinfo); do mkdir -p "$s/root/cgroup${c#/sys/fs/cgroup}"; done
  mount --bind "$s/root/cgroup" /sys/fs/cgroup
  cd /
  "$bin" -manifest "$s/manifest.json" -upstream "$up" -features "$feats"
' _ "$scratch" "$bin" "$upstream" "$features"

out="$repo/test/fixtures/upstream/$fixture"
rm -rf "$out"
mkdir -p "$out/host"
node "$here/collect.mjs" "$scratch" "$out"
rm -rf "$scratch"
echo "regenerate: wrote $out"
