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

# tail keeps the log short; pipefail hands go test's status to the if.
failed=()
for t in "${targets[@]}"; do
	dir=${t%/*}
	name=${t##*/}
	echo "=== $dir $name"
	if ! go test "./$dir" -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "${parallel[@]}" 2>&1 | tail -n 20; then
		failed+=("$t")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets passed"
