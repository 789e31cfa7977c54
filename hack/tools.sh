#!/usr/bin/env bash
# Builds the binaries the test environment (package testenv) runs, from pinned
# versions, into a cache outside the repository:
#
#   ${SMARTORCH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smartorch/tools}/<name>-<version>-<hash>/
#
# <hash> covers everything that goes into a build (module files, flags), so a
# changed pin builds a new directory and never reuses a stale one. Each tool is
# built into a temporary directory and renamed into place when complete, so an
# interrupted build leaves nothing that looks finished.
#
# At the end it makes ${cache}/bin-<key>/ with one symlink per tool and prints
#
#   export SMARTORCH_TOOLS_BIN=<that directory>
#
# as the only line on stdout (progress goes to stderr); `--bin-dir` prints just
# the directory. The same export line is written to ${cache}/tools.env.
# On a warm machine the script only checks directories and takes about a second.
set -euo pipefail

K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
TEMPORAL_VERSION=v1.5.1

# Stage files from the kwok module that make fake nodes Ready (with lease
# heartbeats) and move pods through Running, completion and deletion.
KWOK_STAGES=(
	node/fast/node-initialize.yaml
	node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
	pod/fast/pod-ready.yaml
	pod/fast/pod-complete.yaml
	pod/fast/pod-delete.yaml
)

print=export
case "${1:-}" in
--bin-dir) print=dir ;;
"") ;;
*)
	echo "usage: $0 [--bin-dir]" >&2
	exit 2
	;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SMARTORCH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smartorch/tools}
mkdir -p "$cache"

export GOTOOLCHAIN=auto CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { echo "tools.sh: $*" >&2; }

# hash_of prints a short hash of its arguments: file paths are hashed by
# content, anything else as text.
hash_of() {
	local a
	for a in "$@"; do
		if [[ -f $a ]]; then sha256sum <"$a"; else printf '%s\n' "$a"; fi
	done | sha256sum | cut -c1-12
}

# build NAME DIR FUNC: runs FUNC with a fresh temporary directory unless DIR
# already exists, then renames the temporary directory to DIR.
build() {
	local name=$1 dir=$2 fn=$3
	if [[ -d $dir ]]; then
		return
	fi
	local tmp start=$SECONDS
	tmp=$(mktemp -d "$cache/.tmp-$name-XXXXXX")
	chmod 755 "$tmp"
	log "building $name into $dir (takes minutes on a cold machine)"
	"$fn" "$tmp"
	mv -T "$tmp" "$dir"
	log "built $name in $((SECONDS - start))s"
}

k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 \
-X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"

build_k8s() {
	go build -C "$repo/hack/tools/k8s" -trimpath -ldflags "$k8s_ldflags" -o "$1/" ./cmd/...
}

build_etcd() {
	go build -C "$repo/hack/tools/etcd" -trimpath -ldflags "-s -w" -o "$1/etcd" .
}

build_kwok() {
	GOBIN="$1" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	local src f
	# Run outside the repository so the main module's go.mod and go.sum stay untouched.
	src=$(cd "$1" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -n $src ]] || { log "cannot find the sigs.k8s.io/kwok@$KWOK_VERSION module directory"; exit 1; }
	for f in "${KWOK_STAGES[@]}"; do
		echo ---
		cat "$src/kustomize/stage/$f"
	done >"$1/kwok-stages.yaml"
}

build_temporal() {
	GOBIN="$1" go install -trimpath -ldflags "-s -w" "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
}

# Only one run builds at a time; a second run waits and then finds the tools.
exec 9>"$cache/.lock"
flock 9
rm -rf "$cache"/.tmp-* # debris of interrupted runs

if ! command -v prometheus >/dev/null; then
	log "installing prometheus from apt"
	sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	$sudo apt-get update >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends prometheus >&2
fi
prometheus_bin=$(command -v prometheus)
prometheus_version=$("$prometheus_bin" --version 2>&1 | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p')

k8s_dir=$cache/k8s-$K8S_VERSION-$(hash_of "$k8s_ldflags" "$repo"/hack/tools/k8s/go.{mod,sum} "$repo"/hack/tools/k8s/cmd/*/main.go)
etcd_dir=$cache/etcd-$ETCD_VERSION-$(hash_of "$repo"/hack/tools/etcd/{go.mod,go.sum,main.go})
kwok_dir=$cache/kwok-$KWOK_VERSION-$(hash_of "$KWOK_VERSION" "$CGO_ENABLED" "${KWOK_STAGES[@]}")
temporal_dir=$cache/temporal-$TEMPORAL_VERSION-$(hash_of "$TEMPORAL_VERSION" "$CGO_ENABLED")

build etcd "$etcd_dir" build_etcd
build kwok "$kwok_dir" build_kwok
build temporal "$temporal_dir" build_temporal
build k8s "$k8s_dir" build_k8s

bin=$cache/bin-$(hash_of "$k8s_dir" "$etcd_dir" "$kwok_dir" "$temporal_dir" "$prometheus_bin" "$prometheus_version")
if [[ ! -d $bin ]]; then
	tmp=$(mktemp -d "$cache/.tmp-bin-XXXXXX")
	chmod 755 "$tmp"
	for t in kube-apiserver kube-controller-manager kube-scheduler; do ln -s "$k8s_dir/$t" "$tmp/$t"; done
	ln -s "$etcd_dir/etcd" "$tmp/etcd"
	ln -s "$kwok_dir/kwok" "$tmp/kwok"
	ln -s "$kwok_dir/kwok-stages.yaml" "$tmp/kwok-stages.yaml"
	ln -s "$temporal_dir/temporal" "$tmp/temporal"
	ln -s "$prometheus_bin" "$tmp/prometheus"
	mv -T "$tmp" "$bin"
fi

echo "export SMARTORCH_TOOLS_BIN=$bin" >"$cache/tools.env"
if [[ $print == dir ]]; then
	echo "$bin"
else
	echo "export SMARTORCH_TOOLS_BIN=$bin"
fi
