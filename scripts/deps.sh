#!/usr/bin/env bash
# Installs the Debian 12 packages drop builds and tests with. Idempotent and quiet: a no-op when
# everything is present, otherwise one non-interactive apt-get run (as root, or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache clang-format pkg-config git ca-certificates curl
  librocksdb-dev libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libssl-dev
  libspdlog-dev prometheus-cpp-dev libyaml-cpp-dev libcli11-dev
)
# What the tests use on top: GoogleTest and Benchmark, headless Chromium (drop-replay's timeline),
# promtool (the operator's metrics). DROP_DEPS_TESTS=0 leaves them out (the image build does).
if [ "${DROP_DEPS_TESTS:-1}" != 0 ]; then
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev chromium fonts-dejavu-core prometheus)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
