#!/usr/bin/env bash
# bench/run-go.sh: run Go benchmarks with the provenance every figure needs
# (commit, date, machine, load: bench/provenance.sh) at the top of the
# output, in Go's benchmark format so that benchstat reads both.
#
# Usage:  bench/run-go.sh [go test flags] [packages]
#   e.g.  bench/run-go.sh -bench 'Respond' -benchmem -count 5 ./dnssvc/
# -run '^$' is added first (no unit tests), so a -run given here wins.
# Output: stdout and bench/out/go-<date>.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/provenance.sh
. "$ROOT/bench/provenance.sh"
[[ $# -gt 0 ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$ROOT/bench/out"
OUT=$ROOT/bench/out/go-$(date -u +%Y%m%d-%H%M%S).txt
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
{
	provenance "$ROOT"
	printf -v args ' %q' "$@"
	echo "command: go test -run '^\$'$args"
	busy_warning "$LOAD0"
	cd "$ROOT"
	rc=0
	go test -run '^$' "$@" 2>&1 || rc=$?
	echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	exit $rc
} | tee "$OUT"
rc=${PIPESTATUS[0]}
echo "# output: $OUT"
exit "$rc"
