#!/usr/bin/env bash
# bench/run.sh: packet-level throughput of tapdns against the bare-TAP
# ceiling (Go and C reflectors) and against NSD and Knot DNS, in one run,
# interleaved (round 1: A B C ..., round 2: A B C ..., ...).
#
# Needs root. Everything runs inside network namespaces this script creates
# (unique names, deleted on exit), on 198.18.0.0/15 only:
#   TAP targets   ns <id>t: tap "tb<id>" kernel side 198.18.0.1/24, server
#                 (tapdns or a reflector) on the user side as 198.18.0.2.
#   veth targets  ns <id>g (generator, 198.18.1.1/24) <-> ns <id>s (server,
#                 198.18.1.2/24) over a veth pair: NSD, Knot (sockets and
#                 AF_XDP), tapdns --xdp and the Go AF_XDP reflector. The
#                 generator's veth has TX checksum offload off: a veth hands
#                 the kernel's partial checksums on, which AF_XDP servers
#                 would see (kxdpgun writes complete ones itself).
# Load generators, each bounded by DURATION seconds:
#   kxdpgun (AF_XDP, knot-dnsutils) on the TAP's kernel side / the generator
#           veth; its "total replies" pps is the headline number.
#   dnsperf (sockets) from the same side; it saturates its own core at
#           ~200k qps here, so it cannot tell fast targets apart, but it
#           gives latency.
# Resolver targets (cache hits; not in the default ONLY): unbound
# (num-threads 1) and kresd (one process) on the veth, resolve (tapdns
# with $TAPDNS_RESOLVE, see bench/resolvers.sh) on the TAP, each with the
# fake Internet of internal/fakenet on its namespace's lo, warmed with the
# NAMES-query mix it is then measured with.
# Server on CPU $SRV_CPU, generators on CPU $GEN_CPU (knotd pins its UDP
# worker n to CPU n by itself, so keep SRV_CPU=0 for a fair Knot number).
#
# Usage (root):  ROUNDS=3 DURATION=5 bench/run.sh
#   ONLY=fast,gvisor,refl-go,refl-c,nsd,knot,knot-xdp,xdp,refl-xdp  targets (default these)
#        also unbound,kresd,resolve (resolver cache hits, see above)
#   TOOLS=kxdpgun,dnsperf   QPS=2000000 (kxdpgun offered load)
#   NAMES=1000 (bench zone size)  QUEUES=1 (tapdns --queues)
#   SRV_CPU=0 GEN_CPU=1   TAPDNS_ARGS="" (extra tapdns flags)
#   DNSSEC=nsec|nsec3 (default off): sign the bench zone with
#     dnssec-signzone (ECDSA P-256, NSEC or NSEC3 without salt or extra
#     iterations) and send every query with DO=1, so each target serves
#     signatures and NSEC/NSEC3 proofs (kxdpgun flag D, dnsperf -D). Only
#     the servers take part: ONLY defaults to fast,gvisor,nsd,knot,knot-xdp.
#   TAPDNS_RESOLVE="--resolve --root-hints @HINTS@" (tapdns flags of "resolve")
# Output: the table on stdout and in bench/out/run-<date>.txt, raw samples
# in bench/out/run-<date>.tsv.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
DNSSEC=${DNSSEC:-}
case $DNSSEC in
"") ONLY=${ONLY:-fast,gvisor,refl-go,refl-c,nsd,knot,knot-xdp,xdp,refl-xdp} ;;
nsec | nsec3) ONLY=${ONLY:-fast,gvisor,nsd,knot,knot-xdp,xdp} ;;
*)
	echo "bench/run.sh: DNSSEC must be nsec, nsec3 or empty" >&2
	exit 2
	;;
esac
TOOLS=${TOOLS:-kxdpgun,dnsperf}
QPS=${QPS:-2000000}
NAMES=${NAMES:-1000}
QUEUES=${QUEUES:-1}
SRV_CPU=${SRV_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
TAPDNS_ARGS=${TAPDNS_ARGS:-}
NOTE=${NOTE:-}

if [[ $(id -u) != 0 ]]; then
	echo "bench/run.sh: needs root (network namespaces, TAP, AF_XDP)" >&2
	exit 1
fi
NEED="kxdpgun dnsperf kdig nsd knotd gcc go taskset ethtool"
[[ -n $DNSSEC ]] && NEED="$NEED dnssec-keygen dnssec-signzone"
for t in $NEED; do
	command -v "$t" >/dev/null || { echo "bench/run.sh: missing $t" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULT=$OUTDIR/run-$STAMP.txt
SAMPLES=$OUTDIR/run-$STAMP.tsv
WORK=$(mktemp -d /tmp/tapdns-bench.XXXXXX)
ID=tdb$$
NS_T=${ID}t NS_G=${ID}g NS_S=${ID}s
TAP=tb$$
VG=vg$$ VS=vs$$
TAP_LOCAL=198.18.0.1 TAP_IP=198.18.0.2
VETH_LOCAL=198.18.1.1 VETH_IP=198.18.1.2
ZONE_ORIGIN=bench.test.

# SPID is the one server running now (started by us, not yet waited for,
# so its PID cannot have been reused); stop functions clear it.
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
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PROVENANCE=$(provenance "$ROOT") # at the start: the tree that is built below

# ---------------------------------------------------------------- build
mkdir -p "$WORK/bin"
log "building in $WORK/bin"
(cd "$ROOT" && go build -o "$WORK/bin/tapreflect-go" ./bench/cmd/tapreflect)
(cd "$ROOT" && go build -o "$WORK/bin/xdpreflect" ./bench/cmd/xdpreflect)
(cd "$ROOT" && go build -o "$WORK/bin/zonegen" ./bench/cmd/zonegen)
gcc -O2 -Wall -o "$WORK/bin/tapreflect-c" "$ROOT/bench/reflector-c/tapreflect.c"
TAPDNS_OK=1
if ! (cd "$ROOT" && go build -o "$WORK/bin/tapdns" ./cmd/tapdns) >"$WORK/tapdns-build.log" 2>&1; then
	TAPDNS_OK=0
	log "tapdns does not build; skipping targets fast and gvisor:"
	sed 's/^/#   /' "$WORK/tapdns-build.log" | head -20 >&2
fi
"$WORK/bin/zonegen" -n "$NAMES" -o "$WORK/bench.zone" -queries "$WORK/queries.txt" -nq 100000 2>&1 | sed 's/^/# /' >&2
ZONEFILE=$WORK/bench.zone
KXQUERIES=$WORK/queries.txt
DNSPERF_DO=()
if [[ -n $DNSSEC ]]; then
	# Sign the zone (KSK + ZSK, ECDSA P-256; NSEC3 per RFC 9276: no salt,
	# no extra iterations) and ask with DO=1.
	log "signing the zone ($DNSSEC)"
	sign_zone "$WORK/keys" "$ZONE_ORIGIN" "$DNSSEC" "$WORK/bench.zone" "$WORK/bench.signed"
	ZONEFILE=$WORK/bench.signed
	KXQUERIES=$WORK/queries-do.txt
	awk '{ print $1, $2, "D" }' "$WORK/queries.txt" >"$KXQUERIES"
	DNSPERF_DO=(-D)
fi
RES_VETH=0 RES_TAP=0
has "$ONLY" unbound && RES_VETH=1
has "$ONLY" kresd && RES_VETH=1
has "$ONLY" resolve && RES_TAP=1
if [[ $RES_VETH == 1 || $RES_TAP == 1 ]]; then
	for t in unbound kresd; do
		command -v "$t" >/dev/null || { echo "bench/run.sh: missing $t" >&2; exit 1; }
	done
	# shellcheck source=bench/resolvers.sh
	. "$ROOT/bench/resolvers.sh"
	resolvers_prepare "$NAMES"
fi

# ---------------------------------------------------------------- network
ip netns add "$NS_T"
ip netns add "$NS_G"
ip netns add "$NS_S"
for ns in "$NS_T" "$NS_G" "$NS_S"; do ip -n "$ns" link set lo up; done
# QUEUES RX/TX queues on each end (the default would be one per CPU): an
# AF_XDP server binds sockets to QUEUES queues, and frames arriving on
# another queue would go to the kernel.
ip link add "$VG" netns "$NS_G" numrxqueues "$QUEUES" numtxqueues "$QUEUES" type veth \
	peer name "$VS" netns "$NS_S" numrxqueues "$QUEUES" numtxqueues "$QUEUES"
ip -n "$NS_G" addr add "$VETH_LOCAL/24" dev "$VG"
ip -n "$NS_S" addr add "$VETH_IP/24" dev "$VS"
ip -n "$NS_G" link set "$VG" up
ip -n "$NS_S" link set "$VS" up
ip netns exec "$NS_G" ethtool -K "$VG" tx off >/dev/null
if [[ $RES_VETH == 1 || $RES_TAP == 1 ]]; then
	resolvers_up "$RES_VETH" "$RES_TAP"
fi

# tap_setup (re)creates the TAP: a server built on water clears the
# persist flag, so the device may be gone after the previous target.
tap_setup() {
	tap_up "$NS_T" "$TAP" "$TAP_LOCAL/24" "$QUEUES"
	ip -n "$NS_T" neigh flush dev "$TAP" 2>/dev/null || true
}

# ---------------------------------------------------------------- servers
mkdir -p "$WORK/nsd" "$WORK/knot"
# shellcheck source=bench/peers.sh
. "$ROOT/bench/peers.sh"
nsd_conf "$WORK/nsd/nsd.conf" "$VETH_IP" "$ZONE_ORIGIN" "$ZONEFILE" "$WORK/nsd"
knot_conf "$WORK/knot/knot.conf" "$VETH_IP" "$ZONE_ORIGIN" "$ZONEFILE" "$WORK/knot"
knot_conf "$WORK/knot/knot-xdp.conf" "$VETH_IP" "$ZONE_ORIGIN" "$ZONEFILE" "$WORK/knot" "$VS"

# Per target: namespace of the generator, its interface, its address, the
# server address. start_<target> starts the server and sets SPID.
target_side() {
	case $1 in
	fast | gvisor | refl-go | refl-c | resolve) GEN_NS=$NS_T GEN_IF=$TAP GEN_LOCAL=$TAP_LOCAL DST=$TAP_IP ;;
	*) GEN_NS=$NS_G GEN_IF=$VG GEN_LOCAL=$VETH_LOCAL DST=$VETH_IP ;;
	esac
	# What a target is asked: the bench zone, or (resolvers) the mix over
	# the fake Internet; READY is what wait_ready asks for.
	case $1 in
	unbound | kresd | resolve) QFILE=$RQUERIES READY=lab. ;;
	*) QFILE=$WORK/queries.txt READY=$ZONE_ORIGIN ;;
	esac
}

start_bg() { # $1: log file, rest: command
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 &
	SPID=$!
}

start_target() { # $1: target, $2: log file
	case $1 in
	fast | gvisor)
		tap_setup
		local fp=true
		[[ $1 == gvisor ]] && fp=false
		# shellcheck disable=SC2086
		start_bg "$2" ip netns exec "$NS_T" taskset -c "$SRV_CPU" "$WORK/bin/tapdns" \
			--tap "$TAP" --ip "$TAP_IP/24" --gateway "$TAP_LOCAL" --zone "$ZONEFILE" \
			--fastpath=$fp --queues "$QUEUES" $TAPDNS_ARGS
		;;
	refl-go)
		tap_setup
		start_bg "$2" ip netns exec "$NS_T" taskset -c "$SRV_CPU" "$WORK/bin/tapreflect-go" -tap "$TAP" -ip "$TAP_IP"
		;;
	refl-c)
		tap_setup
		start_bg "$2" ip netns exec "$NS_T" taskset -c "$SRV_CPU" "$WORK/bin/tapreflect-c" -t "$TAP" -i "$TAP_IP"
		;;
	nsd)
		rm -f "$WORK/nsd/nsd.pid"
		start_bg "$2" ip netns exec "$NS_S" taskset -c "$SRV_CPU" nsd -d -c "$WORK/nsd/nsd.conf"
		;;
	knot)
		start_bg "$2" ip netns exec "$NS_S" taskset -c "$SRV_CPU" knotd -c "$WORK/knot/knot.conf"
		;;
	knot-xdp)
		start_bg "$2" ip netns exec "$NS_S" taskset -c "$SRV_CPU" knotd -c "$WORK/knot/knot-xdp.conf"
		;;
	xdp)
		# The server's kernel has the same address on the veth, as for
		# Knot's XDP mode: the XDP program takes its frames first.
		# shellcheck disable=SC2086
		start_bg "$2" ip netns exec "$NS_S" taskset -c "$SRV_CPU" "$WORK/bin/tapdns" \
			--xdp "$VS" --ip "$VETH_IP/24" --zone "$ZONEFILE" --queues "$QUEUES" $TAPDNS_ARGS
		;;
	refl-xdp)
		start_bg "$2" ip netns exec "$NS_S" taskset -c "$SRV_CPU" "$WORK/bin/xdpreflect" -iface "$VS" -ip "$VETH_IP" -queues "$QUEUES"
		;;
	unbound | kresd | resolve)
		[[ $1 == resolve ]] && tap_setup
		resolver_cmd "$1" "$WORK/bin/tapdns"
		start_bg "$2" "${RCMD[@]}"
		;;
	esac
}

stop_target() { # kill the server we started, wait for it
	[[ -z $SPID ]] || stop_pid "$SPID" 50
	SPID=
}

# wait_ready: until the target answers the apex SOA (bounded: 15 s), which also
# resolves the neighbour entry. Sets DSTMAC. Reflectors answer any query
# with the query itself plus QR, so "a reply" is the test, not the data.
wait_ready() { # $1: target
	local i out
	for i in $(seq 75); do
		if ! kill -0 "$SPID" 2>/dev/null; then
			return 1
		fi
		out=$(ip netns exec "$GEN_NS" kdig @"$DST" +time=1 +retry=0 "$READY" SOA 2>/dev/null || true)
		if [[ $out == *"->>HEADER<<-"* && $out == *"status: NOERROR"* ]]; then
			DSTMAC=$(ip -n "$GEN_NS" neigh show "$DST" dev "$GEN_IF" | awk '{for(i=1;i<NF;i++) if($i=="lladdr") print $(i+1)}')
			[[ -n $DSTMAC ]] && return 0
		fi
		sleep 0.2
	done
	return 1
}

# ------------------------------------------------------------ measuring
# cpu_ticks: user+system CPU time (clock ticks) of the server and its
# direct children (NSD serves from a forked child). On a shared machine the
# server's CPU time during a run makes replies per CPU-second comparable
# when replies/s is not.
cpu_ticks() {
	local p sum=0 v
	for p in $(proc_tree "$SPID"); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
CLK_TCK=$(getconf CLK_TCK)

# kx_queries: kxdpgun's query file: QFILE, with the DO flag on every line
# for DNSSEC runs against the bench zone.
kx_queries() {
	if [[ -n $DNSSEC && $QFILE == "$WORK/queries.txt" ]]; then
		echo "$KXQUERIES"
	else
		echo "$QFILE"
	fi
}

# run_kxdpgun prints "rps pct offered" from its summary:
#   total queries:     N (P pps)
#   total replies:     N (P pps) (X%)
run_kxdpgun() { # $1: log file
	timeout $((DURATION + 20)) ip netns exec "$GEN_NS" taskset -c "$GEN_CPU" kxdpgun \
		-t "$DURATION" -Q "$QPS" -F "$GEN_CPU" -i "$(kx_queries)" \
		-I "$GEN_IF" -l "$GEN_LOCAL" -R "$DSTMAC" "$DST" >"$1" 2>&1 || true
	awk '/^total queries:/ { gsub(/[()%]/, " "); nq = $3; sent = $4 }
	     /^total replies:/ { gsub(/[()%]/, " "); nr = $3; rps = $4; pct = $6 }
	     END {
		if (rps == "") { print "NA NA NA"; exit }
		if (nq > 0) pct = sprintf("%.1f", 100 * nr / nq) # kxdpgun rounds to whole percent
		print rps, pct, (sent == "" ? "NA" : sent), nr
	     }' "$1"
}

# run_dnsperf prints "qps pct latency_us".
run_dnsperf() { # $1: log file
	timeout $((DURATION + 20)) ip netns exec "$GEN_NS" taskset -c "$GEN_CPU" dnsperf \
		-s "$DST" -d "$QFILE" "${DNSPERF_DO[@]}" -l "$DURATION" -c 16 -q 500 -t 2 >"$1" 2>&1 || true
	awk '/Queries completed:/ { gsub(/[()%]/, " "); pct = $4 }
	     /Queries per second:/ { qps = $4 }
	     /Average Latency \(s\):/ { lat = $4 * 1e6 }
	     END { if (qps == "") print "NA NA NA"; else printf "%.0f %s %.0f\n", qps, pct, lat }' "$1"
}

TARGETS=()
for t in fast gvisor refl-go refl-c nsd knot knot-xdp xdp refl-xdp unbound kresd resolve; do
	has "$ONLY" "$t" || continue
	if [[ $t == fast || $t == gvisor || $t == xdp || $t == resolve ]] && [[ $TAPDNS_OK == 0 ]]; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' 0 "$t" all NA NA "tapdns does not build" >>"$SAMPLES.skip"
		continue
	fi
	if [[ $t == resolve ]] && ! tapdns_resolves "$WORK/bin/tapdns"; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' 0 "$t" all NA NA "tapdns has no --resolve yet" >>"$SAMPLES.skip"
		continue
	fi
	TARGETS+=("$t")
done

printf 'round\ttarget\ttool\trps\tpct\tlat_us\toffered\tsrv_cpu_pct\treplies_per_cpu_s\n' >"$SAMPLES"
declare -A BROKEN=() RCODES=() AFFINITY=()
for r in $(seq "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		[[ -n ${BROKEN[$t]:-} ]] && continue
		target_side "$t"
		slog=$WORK/$t.r$r.server.log
		start_target "$t" "$slog"
		if ! wait_ready "$t"; then
			BROKEN[$t]="no answer within 15 s (server log: $(tail -n 3 "$slog" | tr '\n' ' '))"
			log "$t: ${BROKEN[$t]}"
			stop_target
			continue
		fi
		if [[ $t == unbound || $t == kresd || $t == resolve ]] && ! resolver_warm "$GEN_NS" "$DST" "$QFILE"; then
			log "$t: warming the cache with $QFILE failed"
		fi
		if [[ $t == knot* && $r == 1 ]]; then
			# knotd pins UDP worker n to CPU n itself, whatever taskset said.
			AFFINITY[$t]=$(for task in /proc/"$SPID"/task/*; do taskset -p "${task##*/}" 2>/dev/null | awk '{ print $NF }'; done | sort | uniq -c | awk '{ printf "%s%dx mask %s", sep, $1, $2; sep = ", " }')
		fi
		if has "$TOOLS" kxdpgun; then
			c0=$(cpu_ticks)
			read -r rps pct sent nr < <(run_kxdpgun "$WORK/$t.r$r.kxdpgun.log")
			c1=$(cpu_ticks)
			read -r cpu rpc < <(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v d="$DURATION" -v nr="${nr:-0}" \
				'BEGIN { s = c / hz; if (s > 0) printf "%.0f %.0f\n", 100 * s / d, nr / s; else print "NA NA" }')
			printf '%s\t%s\tkxdpgun\t%s\t%s\tNA\t%s\t%s\t%s\n' "$r" "$t" "$rps" "$pct" "$sent" "$cpu" "$rpc" >>"$SAMPLES"
			log "round $r $t kxdpgun: $rps replies/s, $pct% answered, $sent queries/s sent, server CPU $cpu%, $rpc replies/CPU-s"
			RCODES[$t]=$(awk '/^responded / { sub(":", "", $2); printf "%s%s=%s", sep, $2, $3; sep = " " }' "$WORK/$t.r$r.kxdpgun.log")
			if [[ $rps == NA ]]; then
				log "  kxdpgun output: $(tr '\n' ' ' <"$WORK/$t.r$r.kxdpgun.log" | cut -c1-400)"
			fi
		fi
		if has "$TOOLS" dnsperf; then
			c0=$(cpu_ticks)
			read -r qps pct lat < <(run_dnsperf "$WORK/$t.r$r.dnsperf.log")
			c1=$(cpu_ticks)
			read -r cpu rpc < <(awk -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v d="$DURATION" -v q="$qps" \
				'BEGIN { s = c / hz; if (s > 0 && q != "NA") printf "%.0f %.0f\n", 100 * s / d, q * d / s; else print "NA NA" }')
			printf '%s\t%s\tdnsperf\t%s\t%s\t%s\tNA\t%s\t%s\n' "$r" "$t" "$qps" "$pct" "$lat" "$cpu" "$rpc" >>"$SAMPLES"
			log "round $r $t dnsperf: $qps qps, $pct% answered, avg latency $lat us"
		fi
		stop_target
		if [[ $t == knot-xdp ]]; then
			# knotd leaves its XDP program attached when it exits (it
			# replaces it on the next start); tapdns and the reflector
			# refuse to replace another program.
			ip -n "$NS_S" link set dev "$VS" xdp off 2>/dev/null || true
		fi
		if [[ $t == xdp && $r == 1 ]]; then
			log "xdp: $(grep -o 'mode=[a-z]* zerocopy=[a-z]* queues=[0-9]* rx_queues=[0-9]*' "$slog" | head -1)"
		fi
		if [[ $t == knot-xdp && $r == 1 ]]; then
			XDPMODE=$(grep -E 'initialized XDP|XDP.*(error|fail)' "$slog" | head -2 | sed 's/^[^ ]* //' | tr '\n' ' ')
			log "knot-xdp: ${XDPMODE:-no XDP line in the knotd log}"
		fi
	done
done

# ---------------------------------------------------------------- report
{
	echo "tapdns packet benchmark"
	echo "$PROVENANCE"
	echo "load average (1/5/15 min): $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	busy_warning "$LOAD0"
	echo "settings: ROUNDS=$ROUNDS DURATION=$DURATION QPS=$QPS NAMES=$NAMES QUEUES=$QUEUES SRV_CPU=$SRV_CPU GEN_CPU=$GEN_CPU TOOLS=$TOOLS DNSSEC=${DNSSEC:-off}"
	[[ -n $DNSSEC ]] && echo "query mix with DO=1 against the zone signed with $DNSSEC ($(grep -c RRSIG "$ZONEFILE") RRSIG lines)"
	[[ -n $NOTE ]] && echo "note: $NOTE"
	echo
	printf '%-9s %-8s %11s %17s %9s %9s %9s %5s %9s %3s\n' target tool "median r/s" "min-max r/s" answered "lat (us)" offered "cpu%" "r/cpu-s" n
	# One line per target and tool: median, min-max of replies/s, median
	# answered %, median dnsperf latency, median kxdpgun send rate.
	awk -F'\t' "$AWK_MEDIAN"'
		NR > 1 && $4 != "NA" { k = $2 "\t" $3; n[k]++; v[k, n[k]] = $4; p[k, n[k]] = $5; l[k, n[k]] = $6; o[k, n[k]] = $7; u[k, n[k]] = $8; e[k, n[k]] = $9 }
		END {
			for (k in n) {
				m = n[k]
				for (i = 1; i <= m; i++) { a[i] = v[k, i] + 0; b[i] = p[k, i] + 0; c[i] = l[k, i] + 0; d[i] = o[k, i] + 0; f[i] = u[k, i] + 0; g[i] = e[k, i] + 0 }
				mr = med(a, m)
				split(k, kk, "\t")
				lat = (l[k, 1] == "NA") ? "-" : sprintf("%.0f", med(c, m))
				off = (o[k, 1] == "NA") ? "-" : sprintf("%.0f", med(d, m))
				cpu = (u[k, 1] == "NA" || u[k, 1] == "") ? "-" : sprintf("%.0f", med(f, m))
				eff = (e[k, 1] == "NA" || e[k, 1] == "") ? "-" : sprintf("%.0f", med(g, m))
				printf "%s\t%s\t%-9s %-8s %11.0f %17s %8.1f%% %9s %9s %5s %9s %3d\n", kk[1], kk[2], kk[1], kk[2], mr,
					sprintf("%.0f-%.0f", a[1], a[m]), med(b, m), lat, off, cpu, eff, m
				print kk[1] "\t" kk[2] "\t" mr "\t" eff > "/dev/stderr"
			}
		}' "$SAMPLES" 2>"$WORK/medians" >"$WORK/table"
	for t in "${TARGETS[@]}"; do
		for tool in kxdpgun dnsperf; do
			awk -F'\t' -v t="$t" -v o="$tool" '$1 == t && $2 == o { print $3 }' "$WORK/table"
		done
	done
	for t in "${!BROKEN[@]}"; do
		printf '%-9s %-8s %s\n' "$t" "-" "FAILED: ${BROKEN[$t]}"
	done
	if [[ -f $SAMPLES.skip ]]; then
		awk -F'\t' '{ printf "%-9s %-8s SKIPPED: %s\n", $2, "-", $6 }' "$SAMPLES.skip"
		rm -f "$SAMPLES.skip"
	fi
	echo
	echo "reply rcodes seen by kxdpgun (last round; reflectors echo the query, so NOERROR):"
	for t in "${TARGETS[@]}"; do
		[[ -n ${RCODES[$t]:-} ]] && printf '  %-9s %s\n' "$t" "${RCODES[$t]}"
	done
	for t in "${!AFFINITY[@]}"; do
		echo "$t threads' CPU masks (server taskset -c $SRV_CPU): ${AFFINITY[$t]}"
	done
	echo
	echo "ratios of median replies/s (kxdpgun; dnsperf in parentheses, capped by dnsperf itself):"
	med() { awk -F'\t' -v t="$1" -v o="$2" '$1 == t && $2 == o { print $3 }' "$WORK/medians"; }
	eff() { awk -F'\t' -v t="$1" '$1 == t && $2 == "kxdpgun" && $4 != "-" { print $4 }' "$WORK/medians"; }
	ratio() { # $1 label, $2 numerator target, $3 denominator target
		local out="" tool a b
		for tool in kxdpgun dnsperf; do
			a=$(med "$2" $tool) b=$(med "$3" $tool)
			if [[ -n $a && -n $b ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
				out+=$(awk -v a="$a" -v b="$b" -v tool=$tool 'BEGIN { if (tool == "dnsperf") printf " (%.2f)", a / b; else printf "%.2f", a / b }')
			else
				[[ $tool == kxdpgun ]] && out+="n/a" || out+=" (n/a)"
			fi
		done
		a=$(eff "$2") b=$(eff "$3")
		if [[ -n $a && -n $b ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
			out+=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "   per server CPU-s: %.2f", a / b }')
		fi
		printf '  %-28s %s\n' "$1" "$out"
	}
	ratio "fast path / Go reflector" fast refl-go
	ratio "fast path / C reflector" fast refl-c
	ratio "fast path / NSD" fast nsd
	ratio "fast path / Knot" fast knot
	ratio "fast path / Knot-XDP" fast knot-xdp
	ratio "gVisor path / NSD" gvisor nsd
	ratio "fast / gVisor" fast gvisor
	ratio "Go reflector / C reflector" refl-go refl-c
	ratio "xdp / Go AF_XDP reflector" xdp refl-xdp
	ratio "xdp / Knot-XDP" xdp knot-xdp
	ratio "xdp / NSD" xdp nsd
	ratio "xdp / fast path (TAP)" xdp fast
	echo
	echo "server CPU per reply (kxdpgun; median replies per server CPU-second, inverted):"
	for t in "${TARGETS[@]}"; do
		e=$(eff "$t")
		[[ -n $e ]] && awk -v t="$t" -v e="$e" 'BEGIN { if (e > 0) printf "  %-9s %6.0f ns\n", t, 1e9 / e }'
	done
	echo
	# The goals of issue 4, on the kxdpgun medians above; the verdicts are
	# this script's, to be copied as printed.
	echo "goals (issue 4; kxdpgun median replies/s, one core, one queue):"
	goal() { # $1 label, $2 numerator, $3 denominator, $4 operator (ge, gt), $5 factor
		local a b
		a=$(med "$2" kxdpgun) b=$(med "$3" kxdpgun)
		if [[ -z $a || -z $b ]] || ! awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
			printf '  %-36s not measured (%s or %s missing)\n' "$1" "$2" "$3"
			return
		fi
		awk -v a="$a" -v b="$b" -v op="$4" -v f="$5" -v l="$1" 'BEGIN {
			r = a / b; ok = (op == "ge") ? (r >= f) : (r > f)
			printf "  %-36s %.2fx: %s\n", l, r, ok ? "PASS" : "FAIL" }'
	}
	goal "fast path >= 0.9x Go reflector" fast refl-go ge 0.9
	goal "fast path > 3x NSD" fast nsd gt 3
	goal "fast path > 3x Knot" fast knot gt 3
	goal "fast path > Knot-XDP" fast knot-xdp gt 1
	goal "gVisor path >= NSD" gvisor nsd ge 1
	echo
	# The goals of issue 14 (AF_XDP), in the same run.
	goal "xdp >= 1.3x Knot-XDP" xdp knot-xdp ge 1.3
	goal "xdp >= 4x NSD" xdp nsd ge 4
	echo
	ratio "resolve cache hits / Unbound" resolve unbound
	ratio "resolve cache hits / kresd" resolve kresd
	ratio "Unbound / kresd (cache hits)" unbound kresd
	# The goal of issue 9: cache hits at least 3x Unbound's.
	goal "resolve cache hits >= 3x Unbound" resolve unbound ge 3
} | tee "$RESULT"
log "table: $RESULT, samples: $SAMPLES"
