#!/usr/bin/env bash
# bench/reload-latency.sh: what tapdns's "lean" reload costs in query
# latency while it serves, and what it saves in memory. Lean (as shipped,
# cmd/tapdns loadLean/installLean): the GC target is 25% while a zone file
# is parsed, and debug.FreeOSMemory runs after every install. Plain
# (TAPDNS_LEAN_RELOAD=0): zone.LoadFile and SetZones only.
#
# Modes, interleaved per round (round 1: lean plain none, round 2: none
# plain lean, ...):
#   lean   tapdns as shipped, SIGHUP every RELOAD_EVERY s during the load
#   plain  TAPDNS_LEAN_RELOAD=0, the same reloads
#   none   as shipped, no reload: the latency floor under the same load
# Each run: start tapdns on the bench zone, wait until its last name
# answers, read the steady RSS, reset VmHWM (clear_refs 5), run dnsperf at
# a fixed QPS (below capacity: this measures latency, not throughput) for
# DURATION s with reloads from second 2, then read VmHWM (the reload peak)
# and count the reloads tapdns logged. Latency percentiles are over every
# answered query of the run (dnsperf -v prints each one's latency);
# timeouts (1 s) are counted apart.
#
# Needs root. Everything runs inside one network namespace created here
# (unique name, deleted on exit): TAP "tr<pid>", kernel side
# 198.18.0.1/24, tapdns 198.18.0.2; dnsperf on the kernel side. Only the
# PIDs started here are stopped.
#
# Usage (root):  bench/reload-latency.sh
#   ROUNDS=5 DURATION=20 QPS=20000 RELOAD_EVERY=4 NAMES=200000
#   MODES=lean,plain,none  SRV_CPU=0 GEN_CPU=1 (empty: not pinned)
#   CHANGE=1: bump the zone's SOA serial in the file before each SIGHUP,
#   so that every reload parses and installs a new zone (tapdns skips a
#   file whose content did not change); CHANGE=0: SIGHUP with the file
#   unchanged (the cost of a reload that finds nothing to do)
#   TAPDNS_ARGS="" NOTE=""
# Output: the table on stdout and in bench/out/reload-latency-<date>.txt,
# samples in bench/out/reload-latency-<date>.tsv.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-20}
QPS=${QPS:-20000}
RELOAD_EVERY=${RELOAD_EVERY:-4}
NAMES=${NAMES:-200000}
MODES=${MODES:-lean,plain,none}
SRV_CPU=${SRV_CPU-0}
GEN_CPU=${GEN_CPU-1}
TAPDNS_ARGS=${TAPDNS_ARGS:-}
NOTE=${NOTE:-}
CHANGE=${CHANGE:-1}

die() { echo "bench/reload-latency.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespace, TAP)"
for t in dnsperf go ip awk sort; do
	command -v "$t" >/dev/null || die "missing $t"
done
[[ $DURATION -ge 5 ]] || die "DURATION must be at least 5 s (reloads start at 2 s)"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PROVENANCE=$(provenance "$ROOT")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULT=$OUTDIR/reload-latency-$STAMP.txt
SAMPLES=$OUTDIR/reload-latency-$STAMP.tsv
WORK=$(mktemp -d /tmp/tapdns-reloadlat.XXXXXX)
NS=tapdns-rl-$$
TAP=tr$$

SPID= GPID=
cleanup() {
	set +e
	for p in $GPID $SPID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pin() { # $1: CPU list or empty
	if [[ -n $1 ]]; then echo taskset -c "$1"; fi
}

mkdir -p "$WORK/bin"
log "building in $WORK/bin"
(cd "$ROOT" && go build -o "$WORK/bin/tapdns" ./cmd/tapdns)
(cd "$ROOT" && go build -o "$WORK/bin/zonegen" ./bench/cmd/zonegen)
(cd "$ROOT" && go build -o "$WORK/bin/dnswait" ./bench/cmd/dnswait)
ZONE=$WORK/bench.zone
"$WORK/bin/zonegen" -n "$NAMES" -o "$ZONE" -queries "$WORK/queries.txt" -nq 100000 2>"$WORK/zonegen.log"
sed 's/^/# /' "$WORK/zonegen.log" >&2
RRS=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "RRs,") print $i }' "$WORK/zonegen.log")
read -r LAST_NAME LAST_ADDR < <(awk '/^; last: / { print $3, $5; exit }' "$ZONE")

ip netns add "$NS"
ip -n "$NS" link set lo up
tap_setup() { # the TAP goes away with the tapdns that created it
	tap_up "$NS" "$TAP" 198.18.0.1/24
	ip netns exec "$NS" sysctl -q -w "net.ipv4.neigh.$TAP.retrans_time_ms=10"
}

stop_server() {
	[[ -n $SPID ]] || return 0
	stop_pid "$SPID" 100
	SPID=
}

# bump_serial adds 1 to the SOA serial in $ZONE (zonegen writes one SOA
# line), writing a new file and renaming it over the old one.
bump_serial() {
	awk '!done && $1 !~ /^;/ { for (i = 1; i + 3 <= NF; i++) if ($i == "SOA") { $(i+3) = $(i+3) + 1; done = 1; break } } { print }' OFS='\t' "$ZONE" >"$ZONE.new"
	mv "$ZONE.new" "$ZONE"
}

# measure MODE ROUND: one run; appends a line to $SAMPLES.
measure() {
	local mode=$1 r=$2 slog=$WORK/$1.r$2.log plog=$WORK/$1.r$2.dnsperf env=() reloads=0
	[[ $mode == plain ]] && env=(TAPDNS_LEAN_RELOAD=0)
	tap_setup
	# shellcheck disable=SC2046,SC2086
	ip netns exec "$NS" env "${env[@]}" $(pin "$SRV_CPU") "$WORK/bin/tapdns" --tap "$TAP" \
		--ip 198.18.0.2/24 --gateway 198.18.0.1 --zone "$ZONE" $TAPDNS_ARGS >"$slog" 2>&1 &
	SPID=$!
	if ! ip netns exec "$NS" "$WORK/bin/dnswait" -server 198.18.0.2:53 -name "$LAST_NAME" \
		-want "$LAST_ADDR" -timeout 120s >/dev/null 2>>"$slog"; then
		log "$mode round $r: no answer within 120 s: $(tail -n 3 "$slog" | tr '\n' ' ')"
		printf '%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$r" "$mode" >>"$SAMPLES"
		stop_server
		return 0
	fi
	sleep 2 # let the startup load's garbage go, as zoneload.sh does
	local rss
	rss=$(status_kb "$SPID" VmRSS)
	echo 5 >"/proc/$SPID/clear_refs"
	# shellcheck disable=SC2046
	timeout $((DURATION + 20)) ip netns exec "$NS" $(pin "$GEN_CPU") dnsperf -s 198.18.0.2 \
		-d "$WORK/queries.txt" -l "$DURATION" -Q "$QPS" -c 1 -t 1 -v >"$plog" 2>&1 &
	GPID=$!
	if [[ $mode != none ]]; then
		local t=2
		sleep 2
		while ((t < DURATION - 1)) && kill -0 "$GPID" 2>/dev/null; do
			[[ $CHANGE == 1 ]] && bump_serial
			kill -HUP "$SPID"
			reloads=$((reloads + 1))
			sleep "$RELOAD_EVERY"
			t=$((t + RELOAD_EVERY))
		done
	fi
	wait "$GPID" || true
	GPID=
	local peak logged took
	peak=$(status_kb "$SPID" VmHWM)
	logged=$(grep -c '"zones reloaded"\|msg="zones reloaded"\|zones reloaded' "$slog" || true)
	# The median of the reload times tapdns logged (took=1.234s or "took":"1.234s").
	took=$({ grep 'zones reloaded' "$slog" || true; } | sed -n 's/.*took[=":]*\([0-9.]*\)\(ms\|s\).*/\1 \2/p' |
		awk '{ v[++n] = ($2 == "ms") ? $1 / 1000 : $1 } END {
			if (!n) { print "NA"; exit }
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
			printf "%.3f\n", (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }')
	stop_server
	# dnsperf -v: "> RCODE name type latency" per response, "> T name type"
	# per timeout.
	awk '$1 == ">" && $2 == "T" { to++ } $1 == ">" && $2 != "T" && $2 != "I" { print $NF * 1e6 }
	     END { print to + 0 > "/dev/stderr" }' "$plog" 2>"$WORK/timeouts" | sort -n >"$WORK/lat"
	local n sent
	n=$(wc -l <"$WORK/lat")
	sent=$(awk '/Queries sent:/ { print $3 }' "$plog")
	[[ -n $sent ]] || sent=NA
	if [[ $n -eq 0 ]]; then
		log "$mode round $r: no latencies from dnsperf: $(tail -n 5 "$plog" | tr '\n' ' ')"
		printf '%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$r" "$mode" >>"$SAMPLES"
		return 0
	fi
	read -r p50 p99 p999 max < <(awk -v n="$n" '
		function at(q,   i) { i = int(q * n + 0.999999); if (i < 1) i = 1; if (i > n) i = n; return i }
		{ v[NR] = $1 }
		END { printf "%.0f %.0f %.0f %.0f\n", v[at(0.5)], v[at(0.99)], v[at(0.999)], v[n] }' "$WORK/lat")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$mode" "$p50" "$p99" "$p999" "$max" \
		"$(cat "$WORK/timeouts")" "${sent:-NA}" "$rss" "$peak" "$reloads/$logged" "$took" >>"$SAMPLES"
	log "$mode round $r: p50 $p50 us, p99 $p99 us, p99.9 $p999 us, max $max us, timeouts $(cat "$WORK/timeouts") of ${sent:-?}; RSS $rss kB, peak $peak kB; reloads sent/logged $reloads/$logged, median took ${took} s"
}

printf 'round\tmode\tp50_us\tp99_us\tp999_us\tmax_us\ttimeouts\tsent\trss_kb\tpeak_kb\treloads\ttook_s\n' >"$SAMPLES"
IFS=, read -r -a MODE_LIST <<<"$MODES"
for r in $(seq "$ROUNDS"); do
	order=("${MODE_LIST[@]}")
	if ((r % 2 == 0)); then # reverse every other round: A B C, C B A, ...
		order=()
		for ((i = ${#MODE_LIST[@]} - 1; i >= 0; i--)); do order+=("${MODE_LIST[i]}"); done
	fi
	for m in "${order[@]}"; do
		case $m in lean | plain | none) ;; *) die "unknown mode $m" ;; esac
		measure "$m" "$r"
	done
done

{
	echo "tapdns reload latency benchmark"
	echo "$PROVENANCE"
	echo "load average (1/5/15 min): $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	busy_warning "$LOAD0"
	echo "settings: ROUNDS=$ROUNDS DURATION=$DURATION QPS=$QPS RELOAD_EVERY=$RELOAD_EVERY NAMES=$NAMES ($RRS RRs) MODES=$MODES CHANGE=$CHANGE SRV_CPU=$SRV_CPU GEN_CPU=$GEN_CPU TAPDNS_ARGS=$TAPDNS_ARGS"
	[[ -n $NOTE ]] && echo "note: $NOTE"
	echo
	echo "latency in us over all answered queries of a run; per mode the median over rounds and [min-max]"
	printf '%-6s %19s %19s %19s %21s %9s %17s %19s %9s %3s\n' mode p50 p99 p99.9 max timeouts "steady RSS MB" "peak MB" "reload s" n
	for m in "${MODE_LIST[@]}"; do
		awk -F'\t' -v m="$m" "$AWK_MEDIAN"'
			function cell(c, scale, fmt,   i, x, k) {
				k = 0
				for (i = 1; i <= n; i++) if (v[i, c] != "NA") x[++k] = v[i, c] / scale
				if (!k) return "-"
				med(x, k)
				return sprintf(fmt " [" fmt "-" fmt "]", med(x, k), x[1], x[k])
			}
			NR > 1 && $2 == m && $3 != "NA" { n++; for (c = 3; c <= 12; c++) v[n, c] = $c }
			END {
				if (!n) { printf "%-6s no result\n", m; exit }
				printf "%-6s %19s %19s %19s %21s %9s %17s %19s %9s %3d\n", m, cell(3, 1, "%.0f"), cell(4, 1, "%.0f"),
					cell(5, 1, "%.0f"), cell(6, 1, "%.0f"), cell(7, 1, "%.0f"), cell(9, 1024, "%.0f"), cell(10, 1024, "%.0f"),
					(m == "none") ? "-" : cell(12, 1, "%.2f"), n
			}' "$SAMPLES"
	done
	echo
	echo "reloads sent/logged per run (lean, plain): $(awk -F'\t' 'NR > 1 && $2 != "none" { printf "%s%s %s", sep, $2, $11; sep = ", " }' "$SAMPLES")"
	echo "ratios of medians, lean / plain (below 1: lean is lower):"
	awk -F'\t' "$AWK_MEDIAN"'
		function m(mode, c,   i, k, x) {
			k = 0
			for (i = 2; i <= NR; i++) if (md[i] == mode && val[i, c] != "NA") x[++k] = val[i, c]
			return k ? med(x, k) : ""
		}
		NR > 1 { md[NR] = $2; for (c = 3; c <= 12; c++) val[NR, c] = $c }
		END {
			split("4 p99 5 p99.9 6 max 10 peak", f, " ")
			for (i = 1; i < 8; i += 2) {
				a = m("lean", f[i]); b = m("plain", f[i])
				if (a == "" || b == "" || b == 0) printf "  %-6s n/a\n", f[i+1]
				else printf "  %-6s %.2f\n", f[i+1], a / b
			}
		}' "$SAMPLES"
} | tee "$RESULT"
log "table: $RESULT, samples: $SAMPLES"
