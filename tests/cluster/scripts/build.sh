#!/usr/bin/env bash
# Builds the test cluster's binaries from tests/cluster/go.mod (read-only: go.mod/go.sum are never changed).
#   build.sh BINDIR [BENCHDIR]
# BINDIR gets etcd, kube-apiserver, kube-scheduler, kube-controller-manager, drop-nodesim,
# drop-testcluster and the cluster test binary; BENCHDIR (if given) gets cluster_capacity.
# Heavy the first time (the whole control plane: minutes); seconds once Go's caches are warm.
# No lock is taken here (`make build` may itself run under one); wrap a manual run in
# `flock /tmp/drop-build.lock` when other heavy builds share the machine.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bindir="${1:?usage: build.sh BINDIR [BENCHDIR]}"
benchdir="${2:-}"
mkdir -p "$bindir"
bindir="$(cd "$bindir" && pwd)"
if [ -n "$benchdir" ]; then mkdir -p "$benchdir"; benchdir="$(cd "$benchdir" && pwd)"; fi

GO="${GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=go; else GO=/usr/local/go/bin/go; fi
fi
export GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
cd "$here"

# Version information, so that `kubectl version` reports the release the binaries are built from.
kver="$("$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)"      # e.g. v1.34.4
kmaj="${kver#v}"; kmaj="${kmaj%%.*}"
kmin="${kver#v*.}"; kmin="${kmin%%.*}"
kdate="$("$GO" list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$kver -X $pkg.gitMajor=$kmaj -X $pkg.gitMinor=$kmin"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${kdate:-1970-01-01T00:00:00Z}"
done

b() { "$GO" build -p 2 -trimpath -ldflags "$ld" "$@"; }
t() { "$GO" test -p 2 -c -trimpath "$@"; }

b -o "$bindir/etcd" go.etcd.io/etcd/server/v3
b -o "$bindir/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager
b -o "$bindir/" ./cmd/drop-nodesim ./cmd/drop-testcluster
# Test binaries, run by ctest (see CMakeLists.txt).
t -o "$bindir/cluster-e2e.test" ./e2e
t -o "$bindir/cluster-operator.test" ./operator
for pkg in scenario nodesim faultproxy; do
  t -o "$bindir/cluster-$pkg.test" "./internal/$pkg"
done
if [ -n "$benchdir" ] && [ -d "$here/cmd/cluster-capacity" ]; then
  b -o "$benchdir/cluster_capacity" ./cmd/cluster-capacity
fi
