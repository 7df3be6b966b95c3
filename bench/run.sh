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
echo
db=${TMPDIR:-/tmp}/pyspy-bench-capture.db
echo "== indexed captures: $build/bench/capture $db"
"$build/bench/capture" "$db"
# pyspy-fold itself: the median of 5 runs, wall clock
median_ms() {
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
	done | sort -n | sed -n 3p
}
echo "1-minute window fold: $(median_ms "$build/bin/pyspy-fold" --from 1250 --to 1310 "$db") ms median of 5 ($build/bin/pyspy-fold --from 1250 --to 1310 $db)"
echo "1-minute window, one thread: $(median_ms "$build/bin/pyspy-fold" --tid 4243 --from 1250 --to 1310 "$db") ms median of 5 ($build/bin/pyspy-fold --tid 4243 --from 1250 --to 1310 $db)"
echo "--info: $(median_ms "$build/bin/pyspy-index" --info "$db") ms median of 5 ($build/bin/pyspy-index --info $db)"
rm -f "$db" "$db-wal" "$db-shm"
echo
pss=${TMPDIR:-/tmp}/pyspy-bench-stream.pss
echo "== pyspy-fold and pyspy-svg on a synthetic 10 M-sample stream: $build/bench/stream $pss $build/bin"
"$build/bench/stream" "$pss" "$build/bin"
rm -f "$pss"
echo
echo "== pyspy vs py-spy and austin: bench/compare.py --bin $build/bin $*"
scripts/install-deps.sh bench
python3 bench/compare.py --bin "$build/bin" "$@"
