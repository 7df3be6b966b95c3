#!/bin/sh
# Run each libFuzzer target for a while (make fuzz; make check runs it for a
# few seconds a target). Seeds come from the conformance vectors and small
# files made here; the corpus grows under BUILD/corpus/TARGET and is kept
# between runs; a crash is kept under BUILD/crashes/TARGET/ (copy it into
# tests/fuzz/corpus/TARGET/ so that every `make check` replays it, and fix).
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
set -u
build=$1 secs=$2
shift 2
pass=0 fail=0
seeds() { # TARGET DIR: write the seed inputs of TARGET into DIR
	case $1 in
	fuzz_stream)
		for v in format/vectors/*.pss; do
			n=$(basename "$v" .pss)
			{ printf '\001'; cat "$v"; } >"$2/z-$n"
			{ printf '\000'; zstd -qdc "$v" 2>/dev/null | tail -c +9; } >"$2/r-$n"
		done ;;
	fuzz_db) # captures of the vectors, with small pages (a few KB each)
		for v in format/vectors/*.pss; do
			n=$(basename "$v" .pss)
			build/bin/pyspy-index -q "$v" -o "$2/$n.db" 2>/dev/null &&
				python3 scripts/shrink-capture.py "$2/$n.db" || rm -f "$2/$n.db"*
		done ;;
	fuzz_elf | fuzz_symbols)
		echo 'int x = 1; int f(void) { return x; }' |
			cc -shared -fPIC -x c - -o "$2/seed.so" -Wl,-soname,libseed.so &&
			strip -o "$2/seed-stripped.so" "$2/seed.so" ;;
	fuzz_lines)
		printf '\010\000\000\000\001\000\000\000\002\001\004\001\010\377' >"$2/lnotab"
		printf '\020\000\000\000\012\000\000\000\200\001\002\003\204\005' >"$2/loctable" ;;
	fuzz_text)
		printf '\100\001h\000\351\000\000\330' >"$2/ucs2"
		printf '\377\000<script>\342\200\250\300\257' >"$2/utf8" ;;
	esac
}
for t in "$@"; do
	corpus=$build/corpus/$t crashes=$build/crashes/$t
	mkdir -p "$corpus" "$crashes"
	seeds "$t" "$corpus"
	[ -d "tests/fuzz/corpus/$t" ] && cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
	log=$build/$t.log
	"$build/fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS $t: ${runs:-?} executions in ${secs} s, $cov, corpus $(ls "$corpus" | wc -l)"
	else
		fail=$((fail + 1))
		echo "FAIL $t: exit $rc after ${runs:-?} executions; input kept in $crashes/ (log: $log)"
		grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    /'
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
