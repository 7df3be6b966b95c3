#!/bin/sh
# make bench: run the benchmarks and print their figures.
# Usage: bench/run.sh BUILD_DIR
set -eu
build=${1:-build}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo
echo "== pyspy-svg on a synthetic capture: $build/tests/test_svg --bench"
"$build/tests/test_svg" --bench

# Native stacks: the same paused snapshots with and without --native, on a
# python3 running four threads 30 Python calls deep.
echo
echo "== cost of --native per thread-sample: $build/tests/test_native --bench PID 300"
python3 -c '
import threading
def rec(n):
    if n == 0:
        while True:
            pass
    return rec(n - 1)
for i in range(3):
    threading.Thread(target=rec, args=(30,), daemon=True).start()
rec(30)' &
target=$!
sleep 1
"$build/tests/test_native" --bench "$target" 300 || true
kill "$target"
wait "$target" 2>/dev/null || true
