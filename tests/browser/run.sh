#!/bin/sh
# The browser tests of make check: pyspy-svg output in headless chromium,
# pyspy-speedscope output against speedscope's own schema and importer.
#
#   tests/browser/run.sh [BINDIR]      (default build/bin)
#
# Records tests/e2e/target_hot.py (hot() does ~75 % of the work) and
# tests/browser/target_hostile.py (names full of markup) with pyspy-sample,
# renders both with pyspy-svg and pyspy-speedscope, takes the expected hot
# share from pyspy-fold, and runs svg.test.mjs and speedscope.test.mjs.
# Screenshots go to /tmp/pyspy-browser-*.png. Set BROWSER_DEPS=skip to not
# run scripts/install-browser-deps.sh, BROWSER_KEEP=1 to keep the work dir,
# BROWSER_TEST_VERBOSE=1 for the details of passing checks.
# Last line: "browser: N passed, M failed, K skipped"; exit status 1 on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bindir=${1:-build/bin}
case $bindir in /*) ;; *) bindir=$top/$bindir ;; esac
cd "$top" || exit 1

pass=0 fail=0 skip=0
start=$(date +%s)
finish() {
	echo "browser: $pass passed, $fail failed, $skip skipped ($(($(date +%s) - start)) s)"
	[ "$fail" -eq 0 ]
	exit
}
skip_all() {
	echo "!!! browser: SKIPPED, the SVG and speedscope output were NOT checked: $*"
	skip=$((skip + 2))
	finish
}
failed() {
	echo "  FAIL  $*"
	fail=$((fail + 1))
}

# ---- what the tests need
if [ "${BROWSER_DEPS:-}" != skip ]; then
	scripts/install-browser-deps.sh || skip_all "scripts/install-browser-deps.sh failed (no apt or npm registry?)"
fi
command -v node >/dev/null 2>&1 || skip_all "no node"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' || skip_all "node $(node --version) is too old: playwright-core needs 20+"
[ -x "${PYSPY_CHROMIUM:-/usr/bin/chromium}" ] || skip_all "no chromium (apt-get install chromium)"
for m in playwright-core speedscope ajv; do
	[ -d "$here/node_modules/$m" ] || skip_all "no node module $m in tests/browser (scripts/install-browser-deps.sh)"
done
for t in pyspy-sample pyspy-fold pyspy-svg pyspy-speedscope; do
	[ -x "$bindir/$t" ] || { failed "no $bindir/$t"; finish; }
done
py=/root/.pyenv/versions/3.12.1/bin/python
[ -x "$py" ] || py=$(command -v python3)
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null || skip_all "no Python 3.8+ for the targets ($py)"

work=$(mktemp -d /tmp/pyspy-browser.XXXXXX)
[ "${BROWSER_KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
echo "browser: python $("$py" -c 'import platform; print(platform.python_version())'), $("${PYSPY_CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -1), node $(node --version), work dir $work"

# ---- captures (both at once: about 2 s)
"$bindir/pyspy-sample" -q -r 200 -o "$work/T.pss" -- "$py" tests/e2e/target_hot.py 2 0 2>"$work/T.err" &
p1=$!
hostile_arg='</text><script>alert(5)</script>'
"$bindir/pyspy-sample" -q -r 200 -o "$work/H.pss" -- "$py" tests/browser/target_hostile.py 1.5 "$hostile_arg" 2>"$work/H.err" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
if [ $r1 -ne 0 ] || [ ! -s "$work/T.pss" ]; then
	failed "pyspy-sample target_hot.py: exit $r1: $(head -c 300 "$work/T.err")"
	rm -f "$work/T.pss"
fi
if [ $r2 -ne 0 ] || [ ! -s "$work/H.pss" ]; then
	failed "pyspy-sample target_hostile.py: exit $r2: $(head -c 300 "$work/H.err")"
	rm -f "$work/H.pss"
fi

# render NAME TOOL IN OUT: run a tool, count a failure if it fails
render() {
	if "$bindir/$2" "$3" >"$4" 2>"$4.err" && [ -s "$4" ]; then
		return 0
	fi
	failed "$2 $(basename "$3"): exit status or empty output: $(head -c 300 "$4.err")"
	rm -f "$4"
	return 1
}
svg_args="" ss_args=""
if [ -s "$work/T.pss" ]; then
	render svg pyspy-svg "$work/T.pss" "$work/T.svg" && svg_args="--svg $work/T.svg"
	render speedscope pyspy-speedscope "$work/T.pss" "$work/T.json" && ss_args="--json $work/T.json"
	# expected: the share of samples with hot() on the stack, and the sample
	# counts (without and with idle samples)
	"$bindir/pyspy-fold" "$work/T.pss" >"$work/T.fold" 2>"$work/T.fold.err" || failed "pyspy-fold: $(head -c 300 "$work/T.fold.err")"
	share=$(awk '{ n = $NF; t += n; if (index($0, "hot (")) h += n } END { if (t) printf "%.1f", 100 * h / t; else print "nan" }' "$work/T.fold")
	n=$(awk '{ t += $NF } END { print t + 0 }' "$work/T.fold")
	ni=$("$bindir/pyspy-fold" --idle "$work/T.pss" 2>/dev/null | awk '{ t += $NF } END { print t + 0 }')
	echo "browser: target_hot: $n samples ($ni with idle), hot() in $share %"
	[ "$n" -gt 100 ] || failed "only $n samples of target_hot.py in 2 s at 200 Hz"
	svg_args="$svg_args --share $share"
	ss_args="$ss_args --share $share --samples $n,$ni"
fi
if [ -s "$work/H.pss" ]; then
	render svg pyspy-svg "$work/H.pss" "$work/H.svg" && svg_args="$svg_args --hostile $work/H.svg"
	render speedscope pyspy-speedscope "$work/H.pss" "$work/H.json" && ss_args="$ss_args --hostile $work/H.json"
fi

# ---- the two suites, side by side; their outputs one after the other
# shellcheck disable=SC2086
(cd "$here" && node svg.test.mjs --hot hot --cold cold --file target_hot.py $svg_args --hostile-argv "$hostile_arg" \
	--screenshot /tmp/pyspy-browser-svg.png) >"$work/svg.log" 2>&1 &
p1=$!
# shellcheck disable=SC2086
(cd "$here" && node speedscope.test.mjs --hot hot $ss_args) >"$work/speedscope.log" 2>&1 &
p2=$!
wait $p1
wait $p2
for suite in svg speedscope; do
	echo "== browser-$suite"
	cat "$work/$suite.log"
	line=$(grep -E "^browser-$suite: [0-9]+ passed, [0-9]+ failed" "$work/$suite.log" | tail -1)
	if [ -z "$line" ]; then
		failed "browser-$suite died without its summary"
		continue
	fi
	p=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
	pass=$((pass + p))
	fail=$((fail + f))
done
finish
