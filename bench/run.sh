#!/bin/sh
# make bench: run the benchmarks and print their figures.
# Usage: bench/run.sh BUILD_DIR
set -eu
build=${1:-build}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo
echo "== pyspy-svg on a synthetic capture: $build/tests/test_svg --bench"
"$build/tests/test_svg" --bench
