#!/bin/sh
# Everything `make check` runs, with one summary line at the end.
#   tests/check.sh         layouts, units, fuzzing and end-to-end on build/
#                          and on the sanitizer build (built here)
#   tests/check.sh --san   only the sanitizer half (make check-san)
#
# Two lanes run side by side, one a core: the normal build's suites in one,
# the sanitizer build's in the other (each suite's output is printed in one
# piece when it ends). Then, alone, the cases that need the machine to
# themselves: the idle and GIL shares of e2e-sample (a thread woken from a
# sleep waits runnable while the cores are busy, and is then rightly not
# idle) and its --pid cases (so many samples in a second: on a loaded
# machine pauses come late), the 1,000-thread stall bound of e2e-hostile (it
# times the target's wake-ups), and e2e-subproc (three busy processes paused
# one after another: on a loaded machine a pause can time out, which is
# counted as an error).
set -u
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# the lanes run in the background, where a shell ignores SIGINT: on Ctrl-C
# (or a TERM) they, and what they run, get a TERM (our process group's)
trap 'trap - INT TERM; kill -TERM 0 2>/dev/null; exit 130' INT TERM
: >"$dir/counts"

# run NAME CMD...: run a suite; then, under a lock (the other lane prints
# too), print its output and seconds, and add its "N passed, M failed[, K
# skipped]" to the counts
run() {
	name=$1
	shift
	log=$dir/$(echo "$name" | tr -c 'a-zA-Z0-9\n' _).log
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) skipped.*/\1/p')
	f=${f:-0}
	# a suite that died without its summary still counts as a failure
	if [ -z "$line" ] && [ "$rc" -ne 0 ]; then f=$((f + 1)); fi
	flock "$dir/lock" sh -c 'echo "== $1"; cat "$2"; echo "== $1: $3 s"; echo "$4 $5 $6" >>"$7"' \
		sh "$name" "$log" "$secs" "${p:-0}" "$f" "${s:-0}" "$dir/counts"
}

# build NAME CMD...: a build a lane needs; only its failure is counted
build() {
	name=$1
	shift
	log=$dir/$(echo "$name" | tr -c 'a-zA-Z0-9\n' _).log
	"$@" >"$log" 2>&1 && return 0
	flock "$dir/lock" sh -c 'echo "== $1 FAILED"; tail -30 "$2"; echo "0 1 0" >>"$3"' \
		sh "$name" "$log" "$dir/counts"
	return 1
}

normal_lane() {
	run layouts sh -c 'scripts/gen-layouts.sh --check && echo "layouts: 1 passed, 0 failed" || echo "layouts: 0 passed, 1 failed"'
	run units tests/run-units.sh build/tests/test_*
	run "fuzz replay" tests/fuzz/replay.sh build
	run "fuzz (${FUZZ_SECONDS:-5} s a target)" sh -c 'make --no-print-directory FUZZ=1 fuzzers >/dev/null &&
		scripts/fuzz.sh build-fuzz "${FUZZ_SECONDS:-5}" $(cd tests/fuzz && ls fuzz_*.c | sed "s/\.c$//")'
	run e2e python3 tests/e2e/run.py --bin build/bin
	run e2e-sample python3 tests/e2e/sample.py --bin build/bin --part shared
	run e2e-top python3 tests/e2e/top.py --bin build/bin
	run e2e-capture python3 tests/e2e/capture.py --bin build/bin
	run e2e-native python3 tests/e2e/native.py --bin build/bin
	run e2e-hostile python3 tests/e2e/hostile.py --bin build/bin --part shared
	run browser env BROWSER_DEPS=skip tests/browser/run.sh build/bin
}

san_env() {
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
}

san_lane() {
	build "build (asan+ubsan)" make --no-print-directory -j2 SAN=1 all units || return
	san_env
	run "units (asan+ubsan)" tests/run-units.sh build-san/tests/test_*
	run "fuzz replay (asan+ubsan)" tests/fuzz/replay.sh build-san
	run "e2e (asan+ubsan)" python3 tests/e2e/run.py --bin build-san/bin
	run "e2e-sample (asan+ubsan)" python3 tests/e2e/sample.py --bin build-san/bin --part shared
	run "e2e-top (asan+ubsan)" python3 tests/e2e/top.py --bin build-san/bin
	run "e2e-capture (asan+ubsan)" python3 tests/e2e/capture.py --bin build-san/bin
	run "e2e-native (asan+ubsan)" python3 tests/e2e/native.py --bin build-san/bin
	run "e2e-hostile (asan+ubsan)" python3 tests/e2e/hostile.py --bin build-san/bin --part shared
	run "browser (asan+ubsan)" env BROWSER_DEPS=skip tests/browser/run.sh build-san/bin
}

# quiet BIN [SUFFIX]: the suites and cases that need the machine to themselves
quiet() {
	run "e2e-sample quiet${2:-}" python3 tests/e2e/sample.py --bin "$1" --part quiet
	run "e2e-hostile quiet${2:-}" python3 tests/e2e/hostile.py --bin "$1" --part quiet
	run "e2e-subproc${2:-}" python3 tests/e2e/subproc.py --bin "$1"
}

if [ "${1:-}" != "--san" ]; then
	normal_lane &
	n=$!
	# memcheck of the normal build, short form (each sampling run 1 s; make
	# check-valgrind is longer), in the second lane to even them out
	(san_lane; run valgrind tests/valgrind.sh build 1) &
	wait $n $!
	echo "== quiet: one suite at a time"
	quiet build/bin
else
	san_lane
	echo "== quiet: one suite at a time"
fi
[ -x build-san/bin/pyspy-sample ] && (san_env && quiet build-san/bin " (asan+ubsan)")

read_counts() {
	awk -v k="$1" '{ n += $k } END { print n + 0 }' "$dir/counts"
}
pass=$(read_counts 1)
fail=$(read_counts 2)
skip=$(read_counts 3)
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
