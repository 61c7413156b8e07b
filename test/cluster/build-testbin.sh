#!/usr/bin/env bash
# Build the pinned binaries the integration tests run: kube-apiserver and etcd (the
# "real test cluster", envtest-style), helm, and Prometheus + promtool (the current 3.x
# release and the 2.53 LTS line), all compiled from Go modules (the module proxy is the only
# thing this needs to reach).
#
# Output layout (outside the repository):
#   ${VCE_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virtcontainers-exporter/testbin}/<name>-<version>/<name>
# (prometheus-lts and promtool-lts are prometheus-v2.53.N/prometheus and promtool-v2.53.N/promtool)
#
# Idempotent: a binary that is already present and executable is not rebuilt.
# Builds go to a temporary file that is renamed into place only on success,
# so an interrupted build never leaves a half-written binary behind.
#
# Usage:
#   test/cluster/build-testbin.sh            build what is missing, print "<name> <path>" per tool
#   test/cluster/build-testbin.sh --print    only print "<name> <path>" (no build); exit 3 if any is missing
#   test/cluster/build-testbin.sh kube-apiserver etcd   restrict to the named tools
#   tools: etcd kube-apiserver helm prometheus promtool prometheus-lts promtool-lts
#
# A cold build of everything takes about 40 minutes on 2 cores (kube-apiserver about 13,
# each Prometheus line about 8; more on a busy machine); the module cache (GOMODCACHE) and build cache (GOCACHE) make
# rebuilds cheap. Progress goes to stderr: a line per tool, and one every 30 s while it builds.
set -euo pipefail

HELM_VERSION="v3.22.0"
KUBE_VERSION="v1.37.2"
ETCD_VERSION="v3.6.16"
# github.com/prometheus/prometheus serves release 3.N.M as module version v0.3NN.M and 2.N.M
# as v0.N.M: PROMETHEUS_* is the current 3.x release, PROMETHEUS_LTS_* the 2.53 LTS line.
PROMETHEUS_VERSION="v3.16.0"
PROMETHEUS_MODULE_VERSION="v0.316.0"
PROMETHEUS_LTS_VERSION="v2.53.3"
PROMETHEUS_LTS_MODULE_VERSION="v0.53.3"

ALL_TOOLS=(etcd kube-apiserver helm prometheus promtool prometheus-lts promtool-lts)

TESTBIN_DIR="${VCE_TESTBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virtcontainers-exporter/testbin}"

# Never download a Go toolchain; fail instead if a module needs a newer Go.
export GOTOOLCHAIN=local
# Static binaries; nothing here needs cgo.
export CGO_ENABLED=0
# No go.work of the surroundings applies to these builds.
export GOWORK=off

print_only=0
tools=()
for arg in "$@"; do
  case "$arg" in
    --print) print_only=1 ;;
    -h | --help)
      sed -n '2,20p' "$0"
      exit 0
      ;;
    etcd | kube-apiserver | helm | prometheus | promtool | prometheus-lts | promtool-lts) tools+=("$arg") ;;
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
    prometheus | promtool) echo "$PROMETHEUS_VERSION" ;;
    prometheus-lts | promtool-lts) echo "$PROMETHEUS_LTS_VERSION" ;;
  esac
}

# Minutes a cold build of the tool takes on 2 idle cores (measured; shown while it builds).
expected_minutes() {
  case "$1" in
    etcd) echo 3 ;;
    kube-apiserver) echo 13 ;;
    helm) echo 4 ;;
    prometheus | prometheus-lts) echo 8 ;;
    promtool | promtool-lts) echo 1 ;;
  esac
}

bin_path() {
  local name="${1%-lts}"
  echo "$TESTBIN_DIR/$name-$(version_of "$1")/$name"
}

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

# Prometheus and promtool: `go install` of the module's cmd/<name> (a throwaway main module
# when the module's go.mod has replace directives, as 2.53 has). Without -X the binary reports
# an empty version.
build_prometheus() {
  local name="$1" version="$2" modver="$3" out="$4" tmpbin="$5"
  local mod=github.com/prometheus/prometheus info upstream dir released date
  info="$(go mod download -json "$mod@$modver")"
  upstream="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  released="$(cat "$dir/VERSION")"
  if [[ "v$released" != "$version" ]]; then
    log "$mod@$modver is release $released, not $version: fix the pinned versions"
    return 1
  fi
  # The release time from the proxy's .info file, as Prometheus's own builds format BuildDate.
  date="$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  date="$(sed -n 's/.*"Time": *"\([0-9]*\)-\([0-9]*\)-\([0-9]*\)T\([0-9:]*\)Z.*/\1\2\3-\4/p' "$date")"
  local ldflags="-s -w"
  ldflags+=" -X github.com/prometheus/common/version.Version=$released"
  ldflags+=" -X github.com/prometheus/common/version.Revision=$modver"
  ldflags+=" -X github.com/prometheus/common/version.Branch=HEAD"
  ldflags+=" -X github.com/prometheus/common/version.BuildUser=virtcontainers-exporter"
  ldflags+=" -X github.com/prometheus/common/version.BuildDate=$date"
  local pkg="$mod/cmd/$name"
  if grep -qE '^replace' "$upstream"; then
    local lines=() line
    # replace and exclude directives only apply from the main module: copy them (module
    # replacements only; a local-path one cannot be followed outside its repository).
    while IFS= read -r line; do
      lines+=("$line")
    done < <(awk '
      /^(replace|exclude)[[:space:]]*\(/ { kw = $1; inblk = 1; next }
      inblk && /^\)/ { inblk = 0; next }
      inblk && NF > 0 && $1 !~ /^\/\// { print kw " " $0; next }
      /^(replace|exclude)[[:space:]]+[^(]/ { print }
    ' "$upstream")
    if printf '%s\n' "${lines[@]}" | grep -qE '=>[[:space:]]*\.'; then
      log "$mod@$modver replaces a module with a local path; cannot build it outside its repository"
      return 1
    fi
    local work="$TESTBIN_DIR/.build/$name-$version"
    write_throwaway_module "$work" "$mod" "$modver" "$upstream" "${lines[@]}"
    (cd "$work" && go build -mod=mod -trimpath -tags netgo -ldflags="$ldflags" -o "$tmpbin/$name" "$pkg")
  else
    GOBIN="$tmpbin" go install -trimpath -tags netgo -ldflags="$ldflags" "$pkg@$modver"
  fi
  mv "$tmpbin/$name" "$out"
}

# While a build runs: a line every 30 s with the elapsed time (a cold build is silent for minutes).
start_ticker() {
  local tool="$1" minutes="$2" began=$SECONDS
  (
    while sleep 30; do
      log "... still building $tool: $(((SECONDS - began) / 60))m$(((SECONDS - began) % 60))s so far (about $minutes min cold on 2 cores)"
    done
  ) &
  ticker=$!
}
stop_ticker() {
  if [[ -n "${ticker:-}" ]]; then
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
    ticker=""
  fi
}

missing=0
todo=()
for tool in "${tools[@]}"; do
  out="$(bin_path "$tool")"
  [[ -x "$out" && -f "$out" ]] || todo+=("$tool")
done
if [[ $print_only -eq 0 && ${#todo[@]} -gt 0 ]]; then
  total=0
  for tool in "${todo[@]}"; do total=$((total + $(expected_minutes "$tool"))); done
  log "to build: ${todo[*]} (about $total min cold on 2 cores, much less with a warm Go cache)"
fi

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
  trap 'stop_ticker; rm -rf "$tmpbin"' EXIT
  log "building $tool $(version_of "$tool") -> $out (about $(expected_minutes "$tool") min cold on 2 cores)"
  start=$SECONDS
  start_ticker "$tool" "$(expected_minutes "$tool")"
  case "$tool" in
    helm) build_helm "$out.partial" "$tmpbin" ;;
    etcd) build_etcd "$out.partial" "$tmpbin" ;;
    kube-apiserver) build_kube_apiserver "$out.partial" "$tmpbin" ;;
    prometheus | promtool)
      build_prometheus "$tool" "$PROMETHEUS_VERSION" "$PROMETHEUS_MODULE_VERSION" "$out.partial" "$tmpbin"
      ;;
    prometheus-lts | promtool-lts)
      build_prometheus "${tool%-lts}" "$PROMETHEUS_LTS_VERSION" "$PROMETHEUS_LTS_MODULE_VERSION" "$out.partial" "$tmpbin"
      ;;
  esac
  stop_ticker
  mv -f "$out.partial" "$out"
  rm -rf "$tmpbin"
  trap - EXIT
  log "built $tool in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
  echo "$tool $out"
done

if [[ $missing -ne 0 ]]; then
  exit 3
fi
