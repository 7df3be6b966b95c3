#!/bin/sh
# Install what tests/browser needs: Debian's chromium (and node + npm if there
# is no node at all), then the pinned npm packages of tests/browser
# (playwright-core, speedscope, ajv) from its package-lock.json.
# Idempotent: prints nothing and touches nothing when everything is present.
# Never downloads a browser through playwright: the tests drive /usr/bin/chromium.
# Usage: scripts/install-browser-deps.sh
set -eu
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

missing=""
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
	missing=" chromium"
fi
# node from anywhere will do (playwright-core wants 20+); Debian's only when there is none
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	echo "install-browser-deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

dir=tests/browser
# npm ci writes node_modules/.package-lock.json: older than the lock file
# means the lock changed since the last install
stamp=$dir/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ -n "$(find "$dir/package-lock.json" -newer "$stamp")" ]; then
	echo "install-browser-deps: npm ci in $dir" >&2
	log=$(mktemp)
	if ! npm ci --prefix "$dir" --no-audit --no-fund >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	touch "$stamp"
fi
