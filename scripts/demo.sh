#!/bin/sh
# make demo: start the bundled example program and show what pyspy sees.
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
echo "== pyspy-dump --pid $pid --locals --nonblocking   (arguments and locals, never pausing)"
"$bin/pyspy-dump" --pid "$pid" --locals --nonblocking | sed -n '1,40p'
"$bin/pyspy-dump" --pid "$pid" --json > "$out/dump.json"
echo
echo "demo: wrote $out/dump.json"
