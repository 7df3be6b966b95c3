#!/bin/sh
# Install the Debian packages that building and testing pyspy needs.
# Idempotent: prints nothing and touches nothing when everything is present.
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: all;
# bench, the peers make bench compares against, is not part of all)
set -eu

build_pkgs="gcc make pkg-config libelf-dev libzstd-dev libunwind-dev libsqlite3-dev libncurses-dev"
test_pkgs="libcmocka-dev python3.11 python3.11-dev tmux procps clang libclang-rt-14-dev zstd valgrind"
# Debian's austin 1.0 reads Python 2.7-3.7, which the austin 3.7 in
# ../shared/peers cannot
bench_pkgs="austin"

case "${1:-all}" in
build) want="$build_pkgs" ;;
test) want="$test_pkgs" ;;
bench) want="$bench_pkgs" ;;
all) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
