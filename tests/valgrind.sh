#!/bin/sh
# One end-to-end pass of the tools under valgrind memcheck: sample a live
# Python target (blocking, native, nonblocking into a capture), read the
# recording with every analysis tool, dump the live target (plain, --locals,
# --json, --native), index the stream and query the capture. Any memcheck
# error, and any definite or indirect leak, fails the step; only what
# tests/valgrind.supp lists (libc, libelf, libunwind, sqlite internals, each
# entry saying why) is suppressed.
# Usage: tests/valgrind.sh [BUILD_DIR] [SECONDS]
#   (a normal -O2 -g build; SECONDS: how long each sampling run lasts, 2)
# Prints PASS/FAIL per step and "valgrind: N passed, M failed, 0 skipped".
set -u
build=${1:-build}
secs=${2:-2}
bin=$build/bin
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/pyspy-valgrind.XXXXXX)
pass=0 fail=0 target=""
cleanup() {
	[ -n "$target" ] && kill "$target" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if ! command -v valgrind >/dev/null; then
	echo "SKIPPED valgrind: not installed (scripts/install-deps.sh test)"
	echo "valgrind: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
python=/usr/bin/python3.11
[ -x "$python" ] || python=$(command -v python3)

# STEP NAME TOOL ARGS...: run one tool under memcheck; its output goes to
# $tmp/NAME.out, the report to $tmp/NAME.vg.
step() {
	name=$1
	shift
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=yes \
		--suppressions="$here/valgrind.supp" --log-file="$tmp/$name.vg.%p" \
		"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
	rc=$?
	cat "$tmp/$name".vg.* >"$tmp/$name.vg" 2>/dev/null
	if [ $rc -eq 99 ] || [ -s "$tmp/$name.vg" ]; then
		echo "FAIL $name: memcheck errors (exit $rc)"
		sed -n '1,40s/^/    /p' "$tmp/$name.vg"
		fail=$((fail + 1))
	elif [ $rc -ne 0 ]; then
		echo "FAIL $name: exit $rc"
		sed 's/^/    /' "$tmp/$name.err" | head -5
		fail=$((fail + 1))
	else
		echo "PASS $name"
		pass=$((pass + 1))
	fi
}

# a target with a running, a sleeping and a waiting thread
"$python" "$here/e2e/target_threads.py" 600 "$tmp/ready" &
target=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
if [ ! -s "$tmp/ready" ]; then
	echo "FAIL target: $python tests/e2e/target_threads.py never got ready"
	echo "valgrind: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

step sample-blocking "$bin/pyspy-sample" -q -p "$target" -d "$secs" -r 50 -o "$tmp/s.pss"
step sample-native "$bin/pyspy-sample" -q -p "$target" -d "$secs" -r 20 --native -o "$tmp/n.pss"
step sample-nonblocking-capture "$bin/pyspy-sample" -q -p "$target" -d "$secs" -r 50 \
	--nonblocking -o "$tmp/c.db"
step dump "$bin/pyspy-dump" -p "$target"
step dump-locals "$bin/pyspy-dump" -p "$target" --locals
step dump-json "$bin/pyspy-dump" -p "$target" --json --locals
step dump-native "$bin/pyspy-dump" -p "$target" --native
step fold "$bin/pyspy-fold" "$tmp/s.pss"
step fold-native "$bin/pyspy-fold" "$tmp/n.pss"
step svg "$bin/pyspy-svg" "$tmp/s.pss" -o "$tmp/s.svg"
step speedscope "$bin/pyspy-speedscope" "$tmp/n.pss" -o "$tmp/s.json"
step top-summary "$bin/pyspy-top" --summary "$tmp/s.pss"
step index "$bin/pyspy-index" -q "$tmp/s.pss" -o "$tmp/i.db"
step index-info "$bin/pyspy-index" --info "$tmp/i.db"
step capture-query "$bin/pyspy-fold" --from 0.5 --to 1.5 "$tmp/i.db"
step capture-dump-at "$bin/pyspy-dump" --at 0 --json "$tmp/c.db"
step front-record "$bin/pyspy" record -p "$target" -d 1 -f speedscope -o "$tmp/f.json"

# the outputs are real (a step that wrote nothing proves nothing)
for f in s.pss n.pss c.db s.svg s.json i.db fold.out dump-json.out top-summary.out; do
	if [ ! -s "$tmp/$f" ]; then
		echo "FAIL output $f: empty"
		fail=$((fail + 1))
	fi
done
echo "valgrind: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
