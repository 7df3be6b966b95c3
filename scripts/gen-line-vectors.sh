#!/bin/sh
# Regenerate tests/unit/line_vectors.h from every interpreter found.
# Usage: scripts/gen-line-vectors.sh [PYTHON...]
#   default: every /root/.pyenv/versions/*/bin/python (override the glob
#   with PYENV_VERSIONS=/path/to/versions).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gen="$top/scripts/gen-line-vectors.py"
out="$top/tests/unit/line_vectors.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ $# -eq 0 ]; then
	set -- "${PYENV_VERSIONS:-/root/.pyenv/versions}"/*/bin/python
fi
n=0
for py in "$@"; do
	[ -x "$py" ] || continue
	n=$((n + 1))
	# One JSON file per interpreter; a disagreement inside fails the run.
	"$py" "$gen" emit >"$tmp/$n.json"
done
[ $n -gt 0 ] || { echo "gen-line-vectors: no interpreter found" >&2; exit 1; }
# Any interpreter can write the header; use the last one given.
"$py" "$gen" header "$tmp"/*.json >"$tmp/line_vectors.h"
mv "$tmp/line_vectors.h" "$out"
echo "wrote $out from $n interpreters"
