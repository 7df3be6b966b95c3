#!/bin/sh
# gen-layouts.sh: generate lib/python/layouts.c, the table of CPython struct
# layouts (struct ps_layout, lib/ps_layout.h), one entry per minor version.
#
#   scripts/gen-layouts.sh           regenerate lib/python/layouts.c in place
#   scripts/gen-layouts.sh --check   regenerate into a temp dir and compare
#                                    with the committed file; exit 0 if equal
#
# Every number comes from scripts/layout-probe.c compiled against that
# version's own installed headers (offsetof/sizeof), then run.  The headers
# are looked for in $PYENV_ROOT/versions/X.Y.Z/include/pythonX.Y[m]
# (PYENV_ROOT defaults to ~/.pyenv); when several patch releases of one
# minor version are installed the newest is used.  Debug ("d") and
# free-threaded ("t") builds are ignored: their layouts differ.
#
# Known exceptions (handled in layout-probe.c, where each is marked MIRROR):
#   - PyDictKeysObject and PyDictKeyEntry for 3.6-3.10 are defined in
#     Objects/dict-common.h, which is not installed.  Their layout did not
#     change over those versions (dk_refcnt, dk_size, dk_lookup, dk_usable,
#     dk_nentries, then dk_indices at offset 40; 3.6 spelled dk_indices as a
#     union at the same offset), so the probe declares a mirror struct built
#     from the headers' own types and takes offsetof on it.
#   - PyModuleObject for 2.7-3.9 is private to Objects/moduleobject.c;
#     md_dict directly follows PyObject_HEAD in all of them, so it is
#     mirrored the same way.  3.10+ have internal/pycore_moduleobject.h.
#   - 2.7 and 3.6 have no _PyRuntimeState (runtime_* are PS_NONE) and keep
#     the GIL in static variables (gil_* are PS_NONE).
#   - The internal headers of 3.7+ require Py_BUILD_CORE, which the probe
#     defines itself after reading patchlevel.h; it changes no layout.
#     No other workaround was needed: every version's headers compile.
#
# A version whose headers are not found keeps its committed entry (the
# entries are delimited by "@begin X.Y" / "@end X.Y" comments) and is
# reported as skipped on stderr.
#
# Besides the table, any distribution headers in /usr/include/pythonX.Y
# (e.g. Debian's 3.11.2) are probed too and compared field by field with
# the table's entry for that minor version; differences are reported.
#
# Output is deterministic: no dates, no paths, only the version strings.

set -eu

VERSIONS="2.7 3.6 3.7 3.8 3.9 3.10 3.11 3.12 3.13"

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$root/lib/python/layouts.c"
layout_h="$root/lib/ps_layout.h"
probe_src="$here/layout-probe.c"
pyenv="${PYENV_ROOT:-${HOME:-/root}/.pyenv}"
sysinc="${SYS_INCLUDE:-/usr/include}"  # distribution headers, compared only
CC="${CC:-cc}"

check=0
case "${1:-}" in
	"") ;;
	--check) check=1 ;;
	-h|--help)
		sed -n '2,8s/^# \{0,1\}//p' "$0"
		exit 0 ;;
	*)
		echo "usage: $0 [--check]" >&2
		exit 2 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-layouts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "gen-layouts: $*" >&2
	exit 1
}

# The members of struct ps_layout, in declaration order.
awk '
	/^struct ps_layout \{/ { in_struct = 1; next }
	in_struct && /^\};/ { exit }
	in_struct {
		line = $0
		sub(/\/\*.*$/, "", line)
		if (line !~ /;/) next
		sub(/;.*$/, "", line)
		n = split(line, w, /[ \t*]+/)
		print w[n]
	}
' "$layout_h" > "$tmp/fields"
[ -s "$tmp/fields" ] || die "no fields found in $layout_h"

# The include directory for minor version $1 (e.g. 3.11), or nothing.
find_headers() {
	best= best_patch=-1
	for d in "$pyenv/versions/$1".*/include/python"$1" \
		 "$pyenv/versions/$1".*/include/python"$1"m; do
		[ -f "$d/Python.h" ] || continue
		vdir=${d%/include/*}
		patch=${vdir##*/}
		patch=${patch#"$1".}
		case $patch in
			''|*[!0-9]*) continue ;;  # 3.13.0t, 3.12.0rc1, ...
		esac
		if [ "$patch" -gt "$best_patch" ]; then
			best=$d best_patch=$patch
		fi
	done
	printf '%s' "$best"
}

# Build and run the probe against include dir $1; output to $2.
run_probe() {
	"$CC" -std=c11 -Wall -Wextra -isystem "$1" -o "$2.bin" "$probe_src" \
		> "$2.cc" 2>&1 || { cat "$2.cc" >&2; return 1; }
	[ -s "$2.cc" ] && cat "$2.cc" >&2
	"$2.bin" > "$2"
}

# Start all probes in parallel.
pids=
skipped=
for v in $VERSIONS; do
	dir=$(find_headers "$v")
	if [ -z "$dir" ]; then
		skipped="$skipped $v"
		continue
	fi
	run_probe "$dir" "$tmp/probe-$v" &
	pids="$pids $!:$v"
done
extra=
for d in "$sysinc"/python2.7 "$sysinc"/python3.*; do
	[ -f "$d/Python.h" ] || continue
	v=${d#"$sysinc"/python}
	case " $VERSIONS " in *" $v "*) ;; *) continue ;; esac
	run_probe "$d" "$tmp/sys-$v" &
	pids="$pids $!:sys-$v"
	extra="$extra $v"
done
failed=0
for p in $pids; do
	if ! wait "${p%%:*}"; then
		echo "gen-layouts: probe failed for ${p#*:}" >&2
		failed=1
	fi
done
[ $failed -eq 0 ] || exit 1

# Turn probe output $2 for version $1 into a table entry.
format_entry() {
	awk -v want="$1" -v src="$2" '
		FNR == NR { order[++n] = $1; known[$1] = 1; next }
		/^#pyversion / { pyversion = $2; next }
		{
			if (!($1 in known)) { print "unknown field " $1 > "/dev/stderr"; bad = 1 }
			if ($1 in val) { print "field " $1 " printed twice" > "/dev/stderr"; bad = 1 }
			val[$1] = $2
		}
		END {
			if (bad) exit 1
			split(want, mm, ".")
			if (val["version"] != mm[1] * 256 + mm[2]) {
				print src ": headers are " pyversion ", not " want > "/dev/stderr"
				exit 1
			}
			printf "\t/* @begin %s: headers %s */\n\t{\n", want, pyversion
			for (i = 1; i <= n; i++) {
				f = order[i]
				if (f == "name") { printf "\t\t.name = \"%s\",\n", want; continue }
				if (!(f in val)) {
					print "field " f " missing from the probe" > "/dev/stderr"
					exit 1
				}
				if (f == "version")
					v = sprintf("PS_PY(%d, %d)", mm[1], mm[2])
				else if (f == "hexversion")
					v = sprintf("0x%08x", val[f])
				else if (val[f] == "none")
					v = "PS_NONE"
				else
					v = val[f]
				printf "\t\t.%s = %s,\n", f, v
			}
			printf "\t},\n\t/* @end %s */\n", want
		}
	' "$tmp/fields" "$2"
}

# The committed entry for version $1, if any.
committed_entry() {
	[ -f "$out" ] || return 0
	awk -v v="$1" '
		index($0, "/* @begin " v ":") { on = 1 }
		on { print }
		on && $0 == "\t/* @end " v " */" { exit }
	' "$out"
}

for v in $VERSIONS; do
	case " $skipped " in
		*" $v "*)
			echo "gen-layouts: skipped $v (headers not found)" >&2
			echo "gen-layouts: *** keeping the committed $v entry unchecked ***" >&2
			committed_entry "$v" > "$tmp/entry-$v"
			[ -s "$tmp/entry-$v" ] ||
				die "no headers for $v and no committed entry to keep"
			;;
		*)
			format_entry "$v" "$tmp/probe-$v" > "$tmp/entry-$v" ||
				die "bad probe output for $v"
			;;
	esac
done

{
	cat <<'EOF'
/* generated by scripts/gen-layouts.sh; do not edit.
 *
 * Layouts of the CPython structures pyspy reads, one entry per minor
 * version, each taken with offsetof/sizeof from that version's own headers
 * by scripts/layout-probe.c.  The comment on each entry names the release
 * whose headers were used.  Regenerate with `make layouts`; check with
 * `make check-layouts`. */
#include "ps_layout.h"

const struct ps_layout ps_layouts[] = {
EOF
	for v in $VERSIONS; do
		cat "$tmp/entry-$v"
	done
	cat <<'EOF'
};

const int ps_layouts_count = (int)(sizeof ps_layouts / sizeof ps_layouts[0]);
EOF
} > "$tmp/layouts.c"

# Compare distribution headers with the table's entry for their version.
for v in $extra; do
	if [ ! -f "$tmp/probe-$v" ]; then
		echo "gen-layouts: cannot compare $sysinc/python$v: no $v entry was generated" >&2
		continue
	fi
	awk -v v="$v" -v d="$sysinc/python$v" '
		/^#pyversion / { if (FNR == NR) ref = $2; else sys = $2; next }
		$1 == "hexversion" { next }
		FNR == NR { a[$1] = $2; next }
		{
			if (a[$1] != $2) {
				diff = diff sprintf("\n    %s: %s has %s, %s has %s", $1, ref, a[$1], sys, $2)
				n++
			}
		}
		END {
			if (diff == "")
				printf "gen-layouts: %s (%s) matches the %s entry (%s)\n", d, sys, v, ref
			else
				printf "gen-layouts: *** %s (%s) DIFFERS from the %s entry (%s) in %d field(s):%s\n", d, sys, v, ref, n, diff
		}
	' "$tmp/probe-$v" "$tmp/sys-$v" >&2
done

nv=0
for v in $VERSIONS; do nv=$((nv + 1)); done
nskip=0
for v in $skipped; do nskip=$((nskip + 1)); done

if [ $check -eq 0 ]; then
	mkdir -p "$(dirname "$out")"
	if [ -f "$out" ] && cmp -s "$tmp/layouts.c" "$out"; then
		echo "layouts: lib/python/layouts.c unchanged ($((nv - nskip)) versions generated, $nskip skipped)"
	else
		cp "$tmp/layouts.c" "$out"
		echo "layouts: wrote lib/python/layouts.c ($((nv - nskip)) versions generated, $nskip skipped)"
	fi
	exit 0
fi

ndiff=0
for v in $VERSIONS; do
	case " $skipped " in *" $v "*) continue ;; esac
	committed_entry "$v" > "$tmp/old-$v"
	if ! cmp -s "$tmp/old-$v" "$tmp/entry-$v"; then
		ndiff=$((ndiff + 1))
		echo "gen-layouts: $v differs from lib/python/layouts.c:" >&2
		diff -u "$tmp/old-$v" "$tmp/entry-$v" | sed '1,2d' >&2 || true
	fi
done
status=0
if [ ! -f "$out" ]; then
	echo "gen-layouts: lib/python/layouts.c does not exist" >&2
	status=1
elif ! cmp -s "$tmp/layouts.c" "$out"; then
	if [ $ndiff -eq 0 ]; then
		echo "gen-layouts: lib/python/layouts.c differs outside the entries:" >&2
		diff -u "$out" "$tmp/layouts.c" | sed '1,2d' >&2 || true
	fi
	status=1
fi
echo "layouts: $((nv - nskip)) versions checked, $ndiff differ, $nskip skipped"
[ $status -eq 0 ] || echo "gen-layouts: run scripts/gen-layouts.sh (make layouts) to update" >&2
exit $status
