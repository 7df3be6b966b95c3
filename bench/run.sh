#!/bin/sh
# make bench: run the benchmarks and print their figures.
# Usage: bench/run.sh BUILD_DIR [compare.py options...]
#   e.g. make bench BENCH_ARGS="--runs 3 --versions 3.12 --only rate"
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo
echo "== pyspy-svg on a synthetic capture: $build/tests/test_svg --bench"
"$build/tests/test_svg" --bench
echo
echo "== pyspy vs py-spy and austin: bench/compare.py --bin $build/bin $*"
scripts/install-deps.sh bench
python3 bench/compare.py --bin "$build/bin" "$@"
