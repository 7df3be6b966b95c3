#!/bin/sh
# Run cmocka unit-test binaries; print one summary line at the end.
# Usage: tests/run-units.sh BIN...
pass=0 fail=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	n=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${n:-0}))
	fail=$((fail + ${f:-0}))
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out"
		[ -z "$f" ] && fail=$((fail + 1))
		echo "unit: $(basename "$t") FAILED (exit $rc)"
	else
		echo "unit: $(basename "$t") ok (${n:-0} tests)"
	fi
done
echo "units: $pass passed, $fail failed"
[ $fail -eq 0 ]
