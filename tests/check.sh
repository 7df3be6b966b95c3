#!/bin/sh
# Everything `make check` runs, with one summary line at the end.
#   tests/check.sh         layouts, units and end-to-end on build/, then the
#                          same units and end-to-end on the sanitizer build
#   tests/check.sh --san   only the sanitizer half (make check-san)
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME CMD...: run a suite, echo its output, add its "N passed, M failed[, K skipped]"
run() {
	name=$1
	shift
	echo "== $name"
	t0=$(date +%s)
	"$@" 2>&1 | tee "$log"
	rc=$?
	echo "== $name: $(($(date +%s) - t0)) s"
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	p=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) skipped.*/\1/p')
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	skip=$((skip + ${s:-0}))
	# a suite that died without its summary still counts as a failure
	if [ -z "$line" ] && [ "$rc" -ne 0 ]; then fail=$((fail + 1)); fi
}

if [ "${1:-}" != "--san" ]; then
	run layouts sh -c 'scripts/gen-layouts.sh --check && echo "layouts: 1 passed, 0 failed" || echo "layouts: 0 passed, 1 failed"'
	run units tests/run-units.sh build/tests/test_*
	run "fuzz replay" tests/fuzz/replay.sh build
	run "fuzz (${FUZZ_SECONDS:-5} s a target)" sh -c 'make --no-print-directory FUZZ=1 fuzzers >/dev/null &&
		scripts/fuzz.sh build-fuzz "${FUZZ_SECONDS:-5}" $(cd tests/fuzz && ls fuzz_*.c | sed "s/\.c$//")'
	run e2e python3 tests/e2e/run.py --bin build/bin
	run e2e-sample python3 tests/e2e/sample.py --bin build/bin
	run e2e-top python3 tests/e2e/top.py --bin build/bin
	run e2e-capture python3 tests/e2e/capture.py --bin build/bin
	run e2e-subproc python3 tests/e2e/subproc.py --bin build/bin
	run e2e-native python3 tests/e2e/native.py --bin build/bin
	run e2e-hostile python3 tests/e2e/hostile.py --bin build/bin
	# memcheck, short form (each sampling run 1 s; ~1 min): make check-valgrind is longer
	run valgrind tests/valgrind.sh build 1
	run browser env BROWSER_DEPS=skip tests/browser/run.sh build/bin
	make --no-print-directory SAN=1 all units >/dev/null || fail=$((fail + 1))
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run "units (asan+ubsan)" tests/run-units.sh build-san/tests/test_*
run "fuzz replay (asan+ubsan)" tests/fuzz/replay.sh build-san
run "e2e (asan+ubsan)" python3 tests/e2e/run.py --bin build-san/bin
run "e2e-sample (asan+ubsan)" python3 tests/e2e/sample.py --bin build-san/bin
run "e2e-top (asan+ubsan)" python3 tests/e2e/top.py --bin build-san/bin
run "e2e-capture (asan+ubsan)" python3 tests/e2e/capture.py --bin build-san/bin
run "e2e-subproc (asan+ubsan)" python3 tests/e2e/subproc.py --bin build-san/bin
run "e2e-native (asan+ubsan)" python3 tests/e2e/native.py --bin build-san/bin
run "e2e-hostile (asan+ubsan)" python3 tests/e2e/hostile.py --bin build-san/bin
run "browser (asan+ubsan)" env BROWSER_DEPS=skip tests/browser/run.sh build-san/bin

echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
