#!/usr/bin/env bash
# Build the pinned binaries used by the "real test cluster" (envtest-style)
# integration tests: kube-apiserver, etcd and helm, all compiled from Go
# modules (the module proxy is the only thing this needs to reach).
#
# Output layout (outside the repository):
#   ${VCE_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virtcontainers-exporter/testbin}/<name>-<version>/<name>
#
# Idempotent: a binary that is already present and executable is not rebuilt.
# Builds go to a temporary file that is renamed into place only on success,
# so an interrupted build never leaves a half-written binary behind.
#
# Usage:
#   test/cluster/build-testbin.sh            build what is missing, print "<name> <path>" per tool
#   test/cluster/build-testbin.sh --print    only print "<name> <path>" (no build); exit 3 if any is missing
#   test/cluster/build-testbin.sh kube-apiserver etcd   restrict to the named tools
#
# Cold build on 2 cores takes tens of minutes (kube-apiserver dominates);
# the module cache (GOMODCACHE) and build cache (GOCACHE) make rebuilds cheap.
set -euo pipefail

HELM_VERSION="v3.22.0"
KUBE_VERSION="v1.37.2"
ETCD_VERSION="v3.6.16"

ALL_TOOLS=(etcd kube-apiserver helm)

TESTBIN_DIR="${VCE_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virtcontainers-exporter/testbin}"

# Never download a Go toolchain; fail instead if a module needs a newer Go.
export GOTOOLCHAIN=local
# Static binaries; nothing here needs cgo.
export CGO_ENABLED=0

print_only=0
tools=()
for arg in "$@"; do
  case "$arg" in
    --print) print_only=1 ;;
    -h | --help)
      sed -n '2,20p' "$0"
      exit 0
      ;;
    etcd | kube-apiserver | helm) tools+=("$arg") ;;
    *)
      echo "build-testbin.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done
if [[ ${#tools[@]} -eq 0 ]]; then
  tools=("${ALL_TOOLS[@]}")
fi

log() { echo "build-testbin: $*" >&2; }

version_of() {
  case "$1" in
    etcd) echo "$ETCD_VERSION" ;;
    kube-apiserver) echo "$KUBE_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
  esac
}

bin_path() { echo "$TESTBIN_DIR/$1-$(version_of "$1")/$1"; }

# Path of a module's go.mod file in the module cache (downloads it if needed).
gomod_file() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'
}

# Throwaway main module used to build a main package that lives in a module
# whose go.mod has replace directives (which `go install pkg@version` refuses).
#   $1 work dir, $2 module path, $3 version, $4 path of that module's go.mod,
#   remaining args: extra go.mod lines (replace directives)
write_throwaway_module() {
  local dir="$1" mod="$2" ver="$3" upstream_gomod="$4"
  shift 4
  local go_directive godebug
  go_directive="$(awk '$1 == "go" { print $2; exit }' "$upstream_gomod")"
  # godebug settings only apply from the main module: carry them over so the
  # binary behaves as it does when built in its own repository.
  godebug="$(grep -E '^godebug ' "$upstream_gomod" || true)"
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    echo "module vce.local/testbin/$(basename "$dir")"
    echo
    echo "go ${go_directive:-1.22}"
    if [[ -n "$godebug" ]]; then
      echo
      echo "$godebug"
    fi
    echo
    echo "require $mod $ver"
    for line in "$@"; do
      echo "$line"
    done
  } >"$dir/go.mod"
}

build_helm() {
  local out="$1" tmpbin="$2"
  # Without -X the binary reports only "v3.NN" (helm sets the rest at release time).
  GOBIN="$tmpbin" go install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmpbin/helm" "$out"
}

build_etcd() {
  local out="$1" tmpbin="$2"
  local upstream work
  upstream="$(gomod_file "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  work="$TESTBIN_DIR/.build/etcd-$ETCD_VERSION"
  # The server module's own replace directives (../api, ../client/...) are
  # ignored when it is a dependency; its requires pin matching published
  # versions of the sibling modules.
  write_throwaway_module "$work" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$upstream"
  (cd "$work" && go build -mod=mod -trimpath -ldflags="-s -w" -o "$tmpbin/etcd" go.etcd.io/etcd/server/v3)
  mv "$tmpbin/etcd" "$out"
}

build_kube_apiserver() {
  local out="$1" tmpbin="$2"
  local upstream work staging_version
  upstream="$(gomod_file "k8s.io/kubernetes@$KUBE_VERSION")"
  work="$TESTBIN_DIR/.build/kube-apiserver-$KUBE_VERSION"
  # k8s.io/kubernetes vX.Y.Z <-> published staging modules v0.Y.Z
  staging_version="v0.${KUBE_VERSION#v1.}"
  # Every k8s.io/* module that k8s.io/kubernetes requires and replaces with a
  # ./staging/... directory gets replaced by its published version instead.
  local required replaced
  required="$(awk '
    /^require[[:space:]]*\(/ { inreq = 1; next }
    inreq && /^\)/ { inreq = 0; next }
    inreq && $1 ~ /^k8s\.io\// { print $1 }
    /^require[[:space:]]+k8s\.io\// { print $2 }
  ' "$upstream" | sort -u)"
  replaced="$(awk '
    /^replace[[:space:]]*\(/ { inrep = 1; next }
    inrep && /^\)/ { inrep = 0; next }
    inrep && $2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }
    /^replace[[:space:]]+k8s\.io\// && $3 == "=>" && $4 ~ /^\.\/staging\// { print $2 }
  ' "$upstream" | sort -u)"
  local lines=() m
  for m in $(comm -12 <(echo "$required") <(echo "$replaced")); do
    lines+=("replace $m => $m $staging_version")
  done
  if [[ ${#lines[@]} -eq 0 ]]; then
    log "found no staging replace directives in $upstream; refusing to guess"
    return 1
  fi
  log "kube-apiserver: replacing ${#lines[@]} staging modules with $staging_version"
  write_throwaway_module "$work" k8s.io/kubernetes "$KUBE_VERSION" "$upstream" "${lines[@]}"
  local minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  local ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$work" && go build -mod=mod -trimpath -ldflags="$ldflags" -o "$tmpbin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$tmpbin/kube-apiserver" "$out"
}

missing=0
for tool in "${tools[@]}"; do
  out="$(bin_path "$tool")"
  if [[ -x "$out" && -f "$out" ]]; then
    echo "$tool $out"
    continue
  fi
  if [[ $print_only -eq 1 ]]; then
    echo "$tool $out"
    missing=1
    continue
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "go is not on PATH; cannot build $tool"
    exit 1
  fi
  mkdir -p "$(dirname "$out")"
  tmpbin="$(mktemp -d "$(dirname "$out")/.tmp.XXXXXX")"
  trap 'rm -rf "$tmpbin"' EXIT
  log "building $tool $(version_of "$tool") -> $out"
  start=$SECONDS
  case "$tool" in
    helm) build_helm "$out.partial" "$tmpbin" ;;
    etcd) build_etcd "$out.partial" "$tmpbin" ;;
    kube-apiserver) build_kube_apiserver "$out.partial" "$tmpbin" ;;
  esac
  mv -f "$out.partial" "$out"
  rm -rf "$tmpbin"
  trap - EXIT
  log "built $tool in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
  echo "$tool $out"
done

if [[ $missing -ne 0 ]]; then
  exit 3
fi
