#!/usr/bin/env bash
# bench/coldcache.sh: cold-cache resolution of a mix of MIX distinct names
# (existing and not: see fakenet.Mix) over the fake Internet of
# internal/fakenet, for Unbound (num-threads 1), one Knot Resolver
# process and tapdns --resolve, interleaved (round 1: A B C, round 2: ...).
#
# For each target and round, each time on a freshly started resolver (an
# empty cache):
#   latency  dnsperf asks every name of the mix once, at LAT_QPS queries/s
#            (a rate every target keeps up with): answered %, latency
#            percentiles, response codes checked against the mix's
#            expected ones, and the resolver's RSS growth per name (a
#            rough figure: with a small MIX it is mostly fixed costs, such
#            as tapdns's per-worker receive buffers and Go's heap growth;
#            bench/resolver-mem.sh measures memory per cached RRset).
#   rate     resperf (the resperf-style maximum rate) ramps from 0 to
#            MAX_QPS queries/s over the mix, each name once (ramp time
#            2*MIX/MAX_QPS s): the maximum response rate it saw and the
#            loss at that point. resperf ends early when it cannot send
#            as fast as the ramp asks (a busy generator CPU); the table
#            says so ("gen behind") and such a figure is not a maximum.
#            A maximum near MAX_QPS with no loss means the resolver kept
#            up: raise MAX_QPS (and MIX, to keep each name cold).
#
# Needs root. Everything runs inside namespaces this script creates (unique
# names, deleted on exit), on 198.18.0.0/15 and 2001:2::/48 only:
#   unbound, kresd  ns <id>g (generator, 198.18.1.1/24) <-> ns <id>s
#                   (resolver on 198.18.1.2/24, the fake Internet on lo)
#   resolve         ns <id>t: TAP kernel side 198.18.0.1/24 (generator and
#                   gateway), tapdns on 198.18.0.2 with
#                   $TAPDNS_RESOLVE (see bench/resolvers.sh), the fake
#                   Internet on lo; skipped while tapdns has no --resolve
# The resolver runs on CPU $SRV_CPU, the generator on $GEN_CPU; the NSD and
# Knot servers of the fake Internet are not pinned.
#
# Usage (root):  ROUNDS=3 bench/coldcache.sh
#   ONLY=unbound,kresd,resolve   MIX=10000   LAT_QPS=1000   MAX_QPS=10000
#   FN_ZONES=500 (zones behind the mix)   SRV_CPU=0 GEN_CPU=1   NOTE=""
#   KEEP=1 keeps the work directory (server logs, dnsperf output, resperf
#   plots) instead of deleting it
# Output: the table on stdout and in bench/out/coldcache-<date>.txt, raw
# samples in bench/out/coldcache-<date>.tsv.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-unbound,kresd,resolve}
MIX=${MIX:-10000}
LAT_QPS=${LAT_QPS:-1000}
MAX_QPS=${MAX_QPS:-10000}
SRV_CPU=${SRV_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
NOTE=${NOTE:-}
KEEP=${KEEP:-} # non-empty: keep the work directory (logs, resperf plots)

if [[ $(id -u) != 0 ]]; then
	echo "bench/coldcache.sh: needs root (network namespaces, TAP)" >&2
	exit 1
fi
for t in dnsperf resperf kdig nsd knotd unbound kresd go taskset; do
	command -v "$t" >/dev/null || { echo "bench/coldcache.sh: missing $t" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULT=$OUTDIR/coldcache-$STAMP.txt
SAMPLES=$OUTDIR/coldcache-$STAMP.tsv
WORK=$(mktemp -d /tmp/tapdns-coldcache.XXXXXX)
ID=tdc$$
NS_T=${ID}t NS_G=${ID}g NS_S=${ID}s
TAP=tc$$
VG=vg$$ VS=vs$$
TAP_LOCAL=198.18.0.1 TAP_IP=198.18.0.2
VETH_LOCAL=198.18.1.1 VETH_IP=198.18.1.2

SPID=
cleanup() {
	set +e
	if [[ -n $SPID ]]; then
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	declare -F fakenet_down >/dev/null && fakenet_down
	for ns in "$NS_T" "$NS_G" "$NS_S"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n $KEEP ]]; then
		echo "# kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
PROVENANCE=$(provenance "$ROOT") # at the start: the tree that is built below

# ---------------------------------------------------------------- build
mkdir -p "$WORK/bin"
log "building in $WORK/bin"
TAPDNS_OK=1
if ! (cd "$ROOT" && go build -o "$WORK/bin/tapdns" ./cmd/tapdns) >"$WORK/tapdns-build.log" 2>&1; then
	TAPDNS_OK=0
	log "tapdns does not build; skipping target resolve"
fi
# shellcheck source=bench/resolvers.sh
. "$ROOT/bench/resolvers.sh"
resolvers_prepare "$MIX"
RCODES=$RQUERIES.rcodes

TARGETS=() SKIPPED=()
for t in unbound kresd resolve; do
	has "$ONLY" "$t" || continue
	if [[ $t == resolve ]]; then
		if [[ $TAPDNS_OK == 0 ]]; then
			SKIPPED+=("resolve: tapdns does not build")
			continue
		fi
		if ! tapdns_resolves "$WORK/bin/tapdns"; then
			SKIPPED+=("resolve: tapdns has no --resolve yet")
			continue
		fi
	fi
	TARGETS+=("$t")
done

# ---------------------------------------------------------------- network
ip netns add "$NS_T"
ip netns add "$NS_G"
ip netns add "$NS_S"
for ns in "$NS_T" "$NS_G" "$NS_S"; do ip -n "$ns" link set lo up; done
ip link add "$VG" netns "$NS_G" type veth peer name "$VS" netns "$NS_S"
ip -n "$NS_G" addr add "$VETH_LOCAL/24" dev "$VG"
ip -n "$NS_S" addr add "$VETH_IP/24" dev "$VS"
ip -n "$NS_G" link set "$VG" up
ip -n "$NS_S" link set "$VS" up
NEED_VETH=0 NEED_TAP=0
for t in "${TARGETS[@]}"; do
	case $t in
	resolve) NEED_TAP=1 ;;
	*) NEED_VETH=1 ;;
	esac
done
resolvers_up "$NEED_VETH" "$NEED_TAP"

tap_setup() { tap_up "$NS_T" "$TAP" "$TAP_LOCAL/24"; }

target_side() {
	case $1 in
	resolve) GEN_NS=$NS_T DST=$TAP_IP ;;
	*) GEN_NS=$NS_G DST=$VETH_IP ;;
	esac
}

start_target() { # $1: target, $2: log file; sets SPID
	[[ $1 == resolve ]] && tap_setup
	resolver_cmd "$1" "$WORK/bin/tapdns"
	"${RCMD[@]}" >"$2" 2>&1 &
	SPID=$!
}

stop_target() {
	[[ -z $SPID ]] || stop_pid "$SPID" 50
	SPID=
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status" 2>/dev/null || echo 0; }

# latency_pass LOG: prints "answered_pct p50_us p90_us p99_us max_us
# wrong_rcodes rss_growth_bytes_per_name rcode_summary".
latency_pass() {
	local rss0 rss1
	rss0=$(rss_kb)
	timeout $((MIX / LAT_QPS + 60)) ip netns exec "$GEN_NS" taskset -c "$GEN_CPU" dnsperf \
		-s "$DST" -d "$RQUERIES" -n 1 -Q "$LAT_QPS" -c 16 -q 2000 -t 5 -v >"$1" 2>&1 || true
	rss1=$(rss_kb)
	# "> RCODE name TYPE seconds" per answered query.
	# "> T name TYPE" is a query that timed out (5 s).
	awk '$1 == ">" && $2 != "T" { printf "%.0f\n", $5 * 1e6 }' "$1" | sort -n >"$1.lat"
	awk -v n="$MIX" -v rss="$(((rss1 - rss0) * 1024))" -v want="$RCODES" -v latf="$1.lat" '
		BEGIN { while ((getline l < want) > 0) { split(l, f, " "); expect[f[1] " " f[2]] = f[3] } }
		$1 == ">" { rc[$2]++ }
		$1 == ">" && $2 != "T" { a++; if (expect[$3 " " $4] != $2) wrong++ }
		END {
			if (a == 0) { print "0 NA NA NA NA NA NA none"; exit }
			while ((getline v < latf) > 0) lat[++m] = v
			p = sprintf("%.1f %s %s %s %s %d %.0f", 100 * a / n, lat[int(m * 0.5) + 1], lat[int(m * 0.9) + 1],
				lat[int(m * 0.99) + 1], lat[m], wrong + 0, rss / n)
			s = ""
			for (k in rc) s = s (s == "" ? "" : ",") k "=" rc[k]
			print p, s
		}' "$1"
}

# rate_pass LOG: prints "max_qps lost_pct behind" (behind: the rate at
# which resperf fell behind and stopped, or "-").
rate_pass() {
	local ramp
	ramp=$(awk -v n="$MIX" -v m="$MAX_QPS" 'BEGIN { printf "%.2f", 2 * n / m }')
	timeout 120 ip netns exec "$GEN_NS" taskset -c "$GEN_CPU" resperf \
		-s "$DST" -d "$RQUERIES" -m "$MAX_QPS" -r "$ramp" -c 0 -t 5 -i 0.1 -P "$1.plot" >"$1" 2>&1 || true
	awk '/Maximum throughput:/ { q = $3 } /Lost at that point:/ { sub("%", "", $5); l = $5 }
	     /Fell behind by/ { b = $(NF - 1) }
	     END { if (q == "") print "NA NA -"; else printf "%.0f %s %s\n", q, l, (b == "" ? "-" : b) }' "$1"
}

printf 'round\ttarget\tanswered_pct\tp50_us\tp90_us\tp99_us\tmax_us\twrong_rcodes\trss_per_name\tmax_qps\tlost_pct\trcodes\tgen_behind_qps\n' >"$SAMPLES"
declare -A BROKEN=()
for r in $(seq "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		[[ -n ${BROKEN[$t]:-} ]] && continue
		target_side "$t"
		start_target "$t" "$WORK/$t.r$r.lat.log"
		if ! resolver_ready "$GEN_NS" "$DST"; then
			BROKEN[$t]="no answer within 15 s (log: $(tail -n 3 "$WORK/$t.r$r.lat.log" | tr '\n' ' '))"
			log "$t: ${BROKEN[$t]}"
			stop_target
			continue
		fi
		read -r ans p50 p90 p99 pmax wrong rss rcodes < <(latency_pass "$WORK/$t.r$r.dnsperf.log") || true
		stop_target
		log "round $r $t latency: $ans% answered at $LAT_QPS q/s, p50 $p50 us, p90 $p90 us, p99 $p99 us, max $pmax us, $wrong unexpected rcodes ($rcodes), RSS +$rss B/name"
		start_target "$t" "$WORK/$t.r$r.rate.log"
		if ! resolver_ready "$GEN_NS" "$DST"; then
			BROKEN[$t]="no answer within 15 s on restart"
			stop_target
			continue
		fi
		read -r mq lost behind < <(rate_pass "$WORK/$t.r$r.resperf.log") || true
		stop_target
		log "round $r $t rate: max $mq responses/s, $lost% lost at that point, generator fell behind at: $behind q/s"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$ans" "$p50" "$p90" "$p99" "$pmax" "$wrong" "$rss" "$mq" "$lost" "$rcodes" "$behind" >>"$SAMPLES"
	done
done

# ---------------------------------------------------------------- report
{
	echo "tapdns cold-cache resolver benchmark"
	echo "$PROVENANCE"
	echo "load average (1/5/15 min): $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	busy_warning "$LOAD0"
	echo "settings: ROUNDS=$ROUNDS MIX=$MIX LAT_QPS=$LAT_QPS MAX_QPS=$MAX_QPS FN_ZONES=$FN_ZONES FN_SEED=$FN_SEED SRV_CPU=$SRV_CPU GEN_CPU=$GEN_CPU"
	echo "mix: $(awk '{ c[$3]++ } END { for (k in c) printf "%s=%d ", k, c[k] }' "$RCODES")(expected rcodes)"
	[[ -n $NOTE ]] && echo "note: $NOTE"
	echo
	echo "medians over rounds (min-max of max q/s); latency at $LAT_QPS q/s, each name once, cold cache:"
	printf '%-8s %10s %15s %7s %9s %9s %9s %9s %6s %10s %3s\n' target "max q/s" "min-max" "lost%" answered "p50 us" "p90 us" "p99 us" wrong "RSS B/name" n
	awk -F'\t' "$AWK_MEDIAN"'
		NR > 1 { k = $2; if (!(k in n)) order[++no] = k; n[k]++; for (c = 3; c <= 11; c++) v[k, c, n[k]] = $c }
		END {
			for (o = 1; o <= no; o++) {
				k = order[o]; m = n[k]
				for (c = 3; c <= 11; c++) {
					cnt = 0
					for (i = 1; i <= m; i++) if (v[k, c, i] != "NA") x[++cnt] = v[k, c, i] + 0
					mv[c] = (cnt == 0) ? "NA" : med(x, cnt)
					if (c == 10) { lo = (cnt == 0) ? "NA" : x[1]; hi = (cnt == 0) ? "NA" : x[cnt] }
					delete x
				}
				printf "%-8s %10s %15s %7s %8s%% %9s %9s %9s %6s %10s %3d\n", k, mv[10], lo "-" hi, mv[11], mv[3],
					mv[4], mv[5], mv[6], mv[8], mv[9], m
			}
		}' "$SAMPLES"
	awk -F'\t' 'NR > 1 && $13 != "-" { printf "%s round %s: resperf fell behind at %s q/s (generator too slow); its max q/s is not a maximum\n", $2, $1, $13 }' "$SAMPLES"
	for t in "${!BROKEN[@]}"; do
		printf '%-8s FAILED: %s\n' "$t" "${BROKEN[$t]}"
	done
	for s in "${SKIPPED[@]}"; do
		printf 'SKIPPED %s\n' "$s"
	done
	echo
	echo "ratios of medians:          max q/s  p50 lat  RSS/name  (higher, lower, lower is better)"
	med() { awk -F'\t' -v t="$1" -v c="$2" 'NR > 1 && $2 == t && $c != "NA" { print $c + 0 }' "$SAMPLES" | sort -g |
		awk '{ x[NR] = $1 } END { if (NR) print (NR % 2) ? x[(NR+1)/2] : (x[NR/2] + x[NR/2+1]) / 2 }'; }
	ratio() { # label, numerator, denominator
		local out="" c a b
		for c in 10 4 9; do
			a=$(med "$2" $c) b=$(med "$3" $c)
			if [[ -n $a && -n $b ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
				out+=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%8.2f", a / b }')
			else
				out+="     n/a"
			fi
		done
		printf '  %-22s %s\n' "$1" "$out"
	}
	ratio "resolve / Unbound" resolve unbound
	ratio "resolve / kresd" resolve kresd
	ratio "Unbound / kresd" unbound kresd
} | tee "$RESULT"
log "table: $RESULT, samples: $SAMPLES"
