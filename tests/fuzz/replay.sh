#!/bin/sh
# Replay every kept fuzz input (tests/fuzz/corpus/TARGET/) through each
# target's plain replay binary: what once crashed a target must not again.
# Usage: tests/fuzz/replay.sh BUILD_DIR
build=${1:-build}
pass=0 fail=0
for bin in "$build"/fuzz/*-replay; do
	t=$(basename "$bin" -replay)
	dir=tests/fuzz/corpus/$t
	[ -d "$dir" ] || { echo "PASS $t: no kept inputs"; pass=$((pass + 1)); continue; }
	if out=$("$bin" "$dir" 2>&1); then
		echo "PASS $t: $(echo "$out" | tail -1 | sed 's/^.*: //')"
		pass=$((pass + 1))
	else
		echo "FAIL $t:"
		echo "$out" | tail -20 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done
echo "fuzz replay: $pass passed, $fail failed"
[ $fail -eq 0 ]
