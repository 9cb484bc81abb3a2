#!/usr/bin/env bash
# fuzz.sh — run every native Go fuzz target in the module for SECONDS each
# (default 60), one after another, and fail if any finds a crasher.
#
#   scripts/fuzz.sh [SECONDS] [PATTERN]
#
# PATTERN (an extended regexp) keeps only the targets whose "pkg/FuzzName"
# matches, e.g. scripts/fuzz.sh 300 dnswire. A failing input is written by
# `go test` to the package's testdata/fuzz/FuzzName/ directory: commit it
# (it then runs as a regression case in every plain `go test`) and turn it
# into a named test. Targets are found by grepping for `func FuzzX(` in
# _test.go files, so a new target is picked up without editing this script.
# The fuzz engine uses every CPU unless GOMAXPROCS or FUZZ_PARALLEL says
# otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secs=${1:-60}
pattern=${2:-.}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer, not '$secs'" >&2; exit 2; }
parallel=()
[ -n "${FUZZ_PARALLEL:-}" ] && parallel=(-parallel "$FUZZ_PARALLEL")

targets=()
while IFS=: read -r file name; do
	dir=$(dirname "$file")
	t="${dir#./}/$name"
	[[ $t =~ $pattern ]] && targets+=("$t")
done < <(grep -rHo --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //' | sort -u)

[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz target matches '$pattern'" >&2; exit 2; }
echo "fuzz.sh: ${#targets[@]} targets, ${secs}s each"

# run_target fuzzes one target; its log (last 20 lines) goes to stdout.
run_target() { # $1: dir, $2: name, $3: log file
	go test "./$1" -run '^$' -fuzz "^$2\$" -fuzztime "${secs}s" "${parallel[@]}" >"$3" 2>&1
}

# deadline_flake tells whether a failed run is Go 1.26's fuzz coordinator
# race at the -fuzztime boundary (golang/go#75804, fixed in Go 1.27): the
# only complaint is "context deadline exceeded", no failing input was
# written, nothing panicked. Such a run found nothing and is run again once;
# any other failure counts at once.
deadline_flake() { # $1: log file
	grep -q 'context deadline exceeded' "$1" &&
		! grep -q -e 'Failing input written' -e 'panic:' -e '_test.go:[0-9]*:' "$1"
}

failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	dir=${t%/*}
	name=${t##*/}
	echo "=== $dir $name"
	ok=1
	if ! run_target "$dir" "$name" "$log"; then
		ok=0
		if deadline_flake "$log"; then
			tail -n 5 "$log"
			echo "fuzz.sh: $t stopped on the -fuzztime deadline race (golang/go#75804), no input found; running it again"
			run_target "$dir" "$name" "$log" && ok=1
		fi
	fi
	tail -n 20 "$log"
	[ $ok = 1 ] || failed+=("$t")
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets passed"
