#!/usr/bin/env bash
# bench/fleet.sh: a fleet of tapdns secondaries fed by one NSD primary.
#
# 1. Convergence: one NSD primary and APPLIANCES (8) tapdns secondaries on a
#    Linux bridge, TSIG-signed transfers and NOTIFY. Each round bumps the
#    zone's serial (one TXT record changes), notes the time, sends NSD
#    SIGHUP, and bench/cmd/serialwait polls every appliance (SOA, every
#    5 ms) until it serves the new serial. Reported: the time from the
#    reload to the LAST appliance serving it (and the first, the median).
#    NSD 4.6 answers IXFR with the whole zone (it makes no IXFR from a
#    reloaded file), so each round is an AXFR per appliance. NSD sometimes
#    stops answering UDP for seconds after a SIGHUP (seen in captures;
#    TCP keeps working): an appliance whose SOA query falls in that pause
#    asks again over TCP after 2 s, and the round shows it.
# 2. Transfer throughput: a BIG_NAMES (1,000,000) name zone from
#    bench/cmd/zonegen, served by the same NSD, pulled once by a fresh
#    tapdns secondary and once by Knot DNS as a secondary (in a namespace
#    of its own on the same bridge), RUNS times each: from the secondary's
#    start to its first answer with the zone's serial. records/s = the
#    zone's RRs over that time.
# 3. The inputs of the 1000-appliance estimate: NOTIFY and SOA-query sizes,
#    and the bytes of an IXFR of one change as a tapdns secondary serves it
#    (its journal has the difference even though it took an AXFR), against
#    the AXFR of the same zone; the estimate itself is in bench/RESULTS.md.
#
# Needs root. Everything runs inside two network namespaces created here:
# the lab (bridge br0; NSD on veth n0 198.18.0.1/24; appliance i on TAP
# tapI, 198.18.0.(10+i)) and one for Knot (veth k0, 198.18.0.5). They and
# every process started here are removed/killed by PID on exit.
#
# Usage (root):  bench/fleet.sh
#   APPLIANCES=8 NAMES=10000 ROUNDS=10 BIG_NAMES=1000000 RUNS=3 TIMEOUT=600
#   ONLY=convergence,throughput   (either part alone)   KEEP=1 (keep the logs)
#   TAPDNS_ARGS="--log-level debug" (added to every appliance's flags)
# Output: the report on stdout and in bench/out/fleet-<date>.txt.
set -euo pipefail

APPLIANCES=${APPLIANCES:-8}
NAMES=${NAMES:-10000}
ROUNDS=${ROUNDS:-10}
BIG_NAMES=${BIG_NAMES:-1000000}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-600}
ONLY=${ONLY:-convergence,throughput}

[[ $(id -u) == 0 ]] || { echo "bench/fleet.sh: needs root (network namespaces, TAPs)" >&2; exit 1; }
for t in nsd knotd kdig go ip; do
	command -v "$t" >/dev/null || { echo "bench/fleet.sh: missing $t (scripts/setup.sh)" >&2; exit 1; }
done
(( APPLIANCES >= 1 && APPLIANCES <= 200 )) || { echo "bench/fleet.sh: APPLIANCES must be 1..200" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
RESULT=$OUTDIR/fleet-$(date -u +%Y%m%d-%H%M%S).txt
WORK=$(mktemp -d /tmp/tapdns-fleet.XXXXXX)
ID=tfl$$
NS=${ID}a NSK=${ID}k
KEY=fleet-key
SECRET=ZmxlZXQtYmVuY2htYXJrLXRzaWcta2V5LTAxMjM0NTY3ODlhYg==
PRIMARY=198.18.0.1

PIDS=()
cleanup() {
	set +e
	[[ -n ${KEEP:-} ]] && log "KEEP: the work directory $WORK stays"
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NSK" 2>/dev/null
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "# $*" >&2; }
has() { [[ ",$ONLY," == *",$1,"* ]]; }
out() { echo "$*" | tee -a "$RESULT"; }
stop_pid() { # $1: a PID of ours; stop it and forget it
	local p=$1 i
	kill "$p" 2>/dev/null || true
	for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	local keep=() q
	for q in "${PIDS[@]}"; do [[ $q != "$p" ]] && keep+=("$q"); done
	PIDS=("${keep[@]}")
}

# shellcheck source=bench/provenance.sh
. "$ROOT/bench/provenance.sh"
out "$(provenance "$ROOT")" # at the start: the tree that is built below
busy=$(busy_warning "$(cut -d' ' -f1-3 /proc/loadavg)")
[[ -n $busy ]] && out "$busy"
out "settings: APPLIANCES=$APPLIANCES NAMES=$NAMES ROUNDS=$ROUNDS BIG_NAMES=$BIG_NAMES RUNS=$RUNS ONLY=$ONLY; $(nsd -v 2>&1 | head -1), $(knotd --version)"

log "building"
mkdir -p "$WORK/bin"
for c in zonegen serialwait; do (cd "$ROOT" && go build -buildvcs=false -o "$WORK/bin/$c" "./bench/cmd/$c"); done
(cd "$ROOT" && go build -buildvcs=false -o "$WORK/bin/tapdns" ./cmd/tapdns)

# The lab: a bridge with NSD's veth; Knot's namespace on it too.
ip netns add "$NS"
ip netns add "$NSK"
ip -n "$NS" link set lo up
ip -n "$NSK" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" link set br0 up
ip -n "$NS" link add n0 type veth peer name n0-br
ip -n "$NS" link set n0-br master br0 up
ip -n "$NS" addr add $PRIMARY/24 dev n0
ip -n "$NS" link set n0 up
ip -n "$NS" link add k0-br type veth peer name k0 netns "$NSK"
ip -n "$NS" link set k0-br master br0 up
ip -n "$NSK" addr add 198.18.0.5/24 dev k0
ip -n "$NSK" link set k0 up

if [[ -n ${CAPTURE:-} ]]; then
	ip netns exec "$NS" tshark -q -i br0 -w "$CAPTURE" >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 2
fi
# Zones: zonegen's, with a probe record that each round changes.
"$WORK/bin/zonegen" -n "$NAMES" -origin fleet.test. -o "$WORK/fleet.zone" 2>/dev/null
echo 'fleetprobe 300 IN TXT "round 0"' >>"$WORK/fleet.zone"
soa_serial() { awk '/SOA/ { for (i = 1; i <= NF; i++) if ($i == "SOA") { print $(i+3); exit } }' "$1"; }
SERIAL=$(soa_serial "$WORK/fleet.zone")
[[ $SERIAL =~ ^[0-9]+$ ]] || { echo "bench/fleet.sh: no serial in the generated zone" >&2; exit 1; }
BIG_RRS=0
if has throughput; then
	log "generating the $BIG_NAMES-name zone"
	"$WORK/bin/zonegen" -n "$BIG_NAMES" -origin big.test. -o "$WORK/big.zone" 2>"$WORK/zonegen.log"
	BIG_RRS=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "RRs,") print $i }' "$WORK/zonegen.log")
	BIG_SERIAL=$(soa_serial "$WORK/big.zone")
fi

mkdir -p "$WORK/nsd"
{
	cat <<EOF
server:
	server-count: 1
	ip-address: $PRIMARY
	port: 53
	do-ip6: no
	username: ""
	chroot: ""
	database: ""
	zonelistfile: "$WORK/nsd/zone.list"
	xfrdfile: "$WORK/nsd/xfrd.state"
	xfrdir: "$WORK/nsd"
	pidfile: "$WORK/nsd/nsd.pid"
	rrl-ratelimit: 0
	verbosity: 1
	tcp-count: 1000
remote-control:
	control-enable: no
key:
	name: "$KEY"
	algorithm: hmac-sha256
	secret: "$SECRET"
zone:
	name: "fleet.test."
	zonefile: "$WORK/fleet.zone"
	provide-xfr: 198.18.0.0/24 $KEY
EOF
	for i in $(seq "$APPLIANCES"); do printf '\tnotify: 198.18.0.%d %s\n' $((10 + i)) "$KEY"; done
	if has throughput; then
		printf 'zone:\n\tname: "big.test."\n\tzonefile: "%s"\n\tprovide-xfr: 198.18.0.0/24 %s\n' "$WORK/big.zone" "$KEY"
	fi
} >"$WORK/nsd/nsd.conf"
log "starting NSD"
ip netns exec "$NS" nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd.log" 2>&1 &
PIDS+=($!)
NSD_PID=$!
ip netns exec "$NS" "$WORK/bin/serialwait" -zone fleet.test. -serial "$SERIAL" -timeout "${TIMEOUT}s" $PRIMARY:53 >/dev/null ||
	{ echo "bench/fleet.sh: NSD does not answer"; tail "$WORK/nsd.log"; exit 1; } >&2
if has throughput; then
	ip netns exec "$NS" "$WORK/bin/serialwait" -zone big.test. -serial "$BIG_SERIAL" -timeout "${TIMEOUT}s" $PRIMARY:53 >/dev/null
fi

# start_appliance I [ARGS]: tapdns on tapI as a secondary of NSD.
start_appliance() {
	local i=$1
	shift
	local tap=tap$i
	ip -n "$NS" link show "$tap" >/dev/null 2>&1 || {
		ip -n "$NS" tuntap add dev "$tap" mode tap
		ip -n "$NS" link set "$tap" master br0 up
	}
	ip netns exec "$NS" "$WORK/bin/tapdns" --tap "$tap" --ip "198.18.0.$((10 + i))/24" \
		--tsig "$KEY:hmac-sha256:$SECRET" --allow-transfer "key=$KEY" ${TAPDNS_ARGS:-} "$@" >"$WORK/$tap.log" 2>&1 &
	PIDS+=($!)
	APID=$!
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "NA"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

if has convergence; then
	log "starting $APPLIANCES appliances"
	t0=$(date +%s%N)
	ADDRS=()
	for i in $(seq "$APPLIANCES"); do
		start_appliance "$i" --secondary "fleet.test.@$PRIMARY,key=$KEY"
		ADDRS+=("198.18.0.$((10 + i)):53")
	done
	ip netns exec "$NS" "$WORK/bin/serialwait" -zone fleet.test. -serial "$SERIAL" -timeout "${TIMEOUT}s" "${ADDRS[@]}" >"$WORK/start.times"
	t1=$(sort -k2 -n "$WORK/start.times" | tail -1 | awk '{ print $2 }')
	out "convergence: $APPLIANCES appliances started and serving fleet.test. ($NAMES names) in $(( (t1 - t0) / 1000000 )) ms"
	printf 'round\tfirst_ms\tmedian_ms\tlast_ms\n' >"$WORK/rounds"
	# Round 0 is a warm-up, not reported: NSD's first reload after its
	# start stops its UDP answers for seconds (seen in captures).
	for r in $(seq 0 "$ROUNDS"); do
		SERIAL=$((SERIAL + 1))
		sed -i -E "0,/SOA/s/(SOA[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+)[0-9]+/\1$SERIAL/" "$WORK/fleet.zone"
		sed -i -E "s/^fleetprobe 300 IN TXT .*/fleetprobe 300 IN TXT \"round $r\"/" "$WORK/fleet.zone"
		t0=$(date +%s%N)
		kill -HUP "$NSD_PID"
		if ! ip netns exec "$NS" "$WORK/bin/serialwait" -zone fleet.test. -serial "$SERIAL" -timeout "${TIMEOUT}s" "${ADDRS[@]}" >"$WORK/round.times"; then
			log "round $r: not every appliance got serial $SERIAL"
			[[ $r == 0 ]] || printf '%s\tNA\tNA\tNA\n' "$r" >>"$WORK/rounds"
			continue
		fi
		awk -v t0="$t0" '{ print ($2 - t0) / 1e6 }' "$WORK/round.times" | sort -n >"$WORK/round.ms"
		[[ $r == 0 ]] && { sleep 0.5; continue; }
		printf '%s\t%.1f\t%.1f\t%.1f\n' "$r" "$(head -1 "$WORK/round.ms")" "$(median <"$WORK/round.ms")" "$(tail -1 "$WORK/round.ms")" >>"$WORK/rounds"
		sleep 0.5
	done
	out "convergence rounds (ms from NSD's SIGHUP to the first/median/last appliance serving the new serial):"
	tee -a "$RESULT" <"$WORK/rounds" | sed 's/^/  /'
	out "convergence summary: last appliance median $(awk 'NR > 1 && $4 != "NA" { print $4 }' "$WORK/rounds" | median) ms (min-max $(awk 'NR > 1 && $4 != "NA" { print $4 }' "$WORK/rounds" | minmax)) over $ROUNDS rounds"

	# The inputs of the 1000-appliance estimate, measured on appliance 1
	# (its journal holds the last change, computed from the AXFR it took).
	prev=$((SERIAL - 1))
	ixfr=$(ip netns exec "$NS" kdig @198.18.0.11 -y "hmac-sha256:$KEY:$SECRET" +noall +stats "IXFR=$prev" fleet.test. 2>&1 | awk '/Received/ { print $3; exit }')
	axfr=$(ip netns exec "$NS" kdig @198.18.0.11 -y "hmac-sha256:$KEY:$SECRET" +noall +stats AXFR fleet.test. 2>&1 | awk '/Received/ { print $3; exit }')
	soaq=$(ip netns exec "$NS" kdig @198.18.0.11 -y "hmac-sha256:$KEY:$SECRET" +noall +stats SOA fleet.test. 2>&1 | awk '/Received/ { print $3; exit }')
	out "estimate inputs: IXFR of one change ${ixfr:-NA} B, AXFR of the zone ${axfr:-NA} B, signed SOA answer ${soaq:-NA} B (kdig's 'Received'; TCP framing included for transfers)"
fi

if has throughput; then
	out "throughput: big.test. from zonegen -n $BIG_NAMES: $BIG_RRS RRs"
	printf 'run\ttarget\tseconds\trecords_per_s\trss_kb\n' >"$WORK/tp"
	# A tapdns secondary of its own, after the convergence appliances.
	N=$((APPLIANCES + 1))
	for r in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		start_appliance "$N" --secondary "big.test.@$PRIMARY,key=$KEY"
		pid=$APID
		if ip netns exec "$NS" "$WORK/bin/serialwait" -every 20ms -zone big.test. -serial "$BIG_SERIAL" -timeout "${TIMEOUT}s" "198.18.0.$((10 + N)):53" >"$WORK/tp.time"; then
			t1=$(awk '{ print $2 }' "$WORK/tp.time")
			rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
			awk -v r="$r" -v a="$t0" -v b="$t1" -v n="$BIG_RRS" -v m="$rss" 'BEGIN { s = (b - a) / 1e9; printf "%s\ttapdns\t%.2f\t%.0f\t%s\n", r, s, n / s, m }' >>"$WORK/tp"
		else
			printf '%s\ttapdns\tNA\tNA\tNA\n' "$r" >>"$WORK/tp"
			log "tapdns did not get big.test.: $(tail -3 "$WORK/tap$N.log")"
		fi
		stop_pid "$pid"
		log "tapdns run $r: $(grep -o 'zone transferred.*' "$WORK/tap$N.log" | head -1)"
		mkdir -p "$WORK/knot"
		rm -rf "$WORK/knot"/*
		cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: "$WORK/knot"
    listen: 198.18.0.5@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$WORK/knot"
key:
  - id: $KEY
    algorithm: hmac-sha256
    secret: $SECRET
remote:
  - id: nsd
    address: $PRIMARY
    key: $KEY
template:
  - id: default
    storage: "$WORK/knot"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
  - domain: big.test.
    master: nsd
EOF
		t0=$(date +%s%N)
		ip netns exec "$NSK" knotd -c "$WORK/knot/knot.conf" >"$WORK/knot.log" 2>&1 &
		PIDS+=($!)
		pid=$!
		if ip netns exec "$NSK" "$WORK/bin/serialwait" -every 20ms -zone big.test. -serial "$BIG_SERIAL" -timeout "${TIMEOUT}s" 198.18.0.5:53 >"$WORK/tp.time"; then
			t1=$(awk '{ print $2 }' "$WORK/tp.time")
			rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
			awk -v r="$r" -v a="$t0" -v b="$t1" -v n="$BIG_RRS" -v m="$rss" 'BEGIN { s = (b - a) / 1e9; printf "%s\tknot\t%.2f\t%.0f\t%s\n", r, s, n / s, m }' >>"$WORK/tp"
		else
			printf '%s\tknot\tNA\tNA\tNA\n' "$r" >>"$WORK/tp"
			log "Knot did not get big.test.: $(tail -3 "$WORK/knot.log")"
		fi
		stop_pid "$pid"
		log "knot run $r: $(grep -o 'AXFR, incoming.*finished.*' "$WORK/knot.log" | head -1)"
	done
	out "throughput runs (start of the secondary to its first answer with the serial; RSS then):"
	tee -a "$RESULT" <"$WORK/tp" | sed 's/^/  /'
	for t in tapdns knot; do
		out "throughput $t: median $(awk -v t=$t '$2 == t && $4 != "NA" { print $4 }' "$WORK/tp" | median) records/s (min-max $(awk -v t=$t '$2 == t && $4 != "NA" { print $4 }' "$WORK/tp" | minmax)), median $(awk -v t=$t '$2 == t && $3 != "NA" { print $3 }' "$WORK/tp" | median) s"
	done
	tps=$(awk '$2 == "tapdns" && $4 != "NA" { print $4 }' "$WORK/tp" | median)
	kps=$(awk '$2 == "knot" && $4 != "NA" { print $4 }' "$WORK/tp" | median)
	[[ $tps != NA && $kps != NA ]] && out "throughput ratio tapdns/knot: $(awk -v a="$tps" -v b="$kps" 'BEGIN { printf "%.2f", a / b }')"
fi
log "report: $RESULT"
