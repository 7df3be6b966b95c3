#!/bin/sh
# make demo: profile the bundled example program and write a flame graph.
# Usage: scripts/demo.sh BINDIR
set -eu
bin=${1:-build/bin}
py=$(command -v python3 || command -v python)
out=${DEMO_OUT:-demo-output}
mkdir -p "$out"
"$py" scripts/demo/app.py 20 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
# wait for its three threads to be up (start-up is slow on a busy machine)
i=0
while [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
echo "== pyspy-dump --pid $pid   (every thread's stack, the target paused for a moment)"
"$bin/pyspy-dump" --pid "$pid"
echo
echo "== pyspy-sample --pid $pid -d 5 -o $out/profile.pss   (100 samples a second)"
"$bin/pyspy-sample" --pid "$pid" -d 5 -o "$out/profile.pss"
echo
echo "== pyspy-fold --threads $out/profile.pss   (the five busiest stacks: count, thread, innermost frames)"
"$bin/pyspy-fold" --threads "$out/profile.pss" |
	awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";");
	       printf "%6d  %s ... %s;%s\n", n, f[1], f[k - 1], f[k] }' |
	sort -n -r | head -5 | cut -c1-180
"$bin/pyspy-svg" --title "pyspy demo: scripts/demo/app.py" "$out/profile.pss" > "$out/profile.svg"
"$bin/pyspy-speedscope" "$out/profile.pss" > "$out/profile.speedscope.json"
"$bin/pyspy-dump" --pid "$pid" --json --locals > "$out/dump.json"
echo
echo "demo: wrote $out/profile.svg (open it in a browser: click to zoom, Ctrl-F to search),"
echo "      $out/profile.speedscope.json (for https://www.speedscope.app), $out/profile.pss, $out/dump.json"
