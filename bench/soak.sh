#!/usr/bin/env bash
# bench/soak.sh — soak test: tapdns under N minutes of mixed valid and
# hostile load, with zone reloads, watching its resources.
#
# Usage (root):  bench/soak.sh [MINUTES]     (default 10, at most 60)
#   RELOAD_EVERY=60 (seconds between SIGHUP reloads; 0: none)
#   QPS=300 ABUSE_QPS=2000 GARBAGE_PPS=200 FRAMES_PPS=200 RRL=1000
#   TAPDNS_ARGS="" (extra tapdns flags)
#
# Everything runs inside one network namespace this script creates (deleted
# on exit) on 198.18.0.0/15 only: TAP tap0 with the kernel side
# 198.18.0.1/24 (plus 198.18.1.1/32 and 198.18.2.1/32, sources in other
# /24s), tapdns on 198.18.0.2 with the kernel side as its gateway, serving a
# copy of the embedded zone with --rrl. bench/cmd/soakload sends, from the
# kernel side: valid UDP queries under the rate limit (every one must be
# answered), 5 pipelined TCP queries a second, an abusive flood from
# another /24 (rate limited), garbage DNS payloads from a third /24, and
# damaged Ethernet frames through an AF_PACKET socket. Every RELOAD_EVERY
# seconds the zone's serial is bumped and tapdns gets SIGHUP. Every 30 s
# the script prints tapdns's RSS, threads, open fds and goroutines (from
# its --metrics endpoint inside the namespace) and soakload prints its
# counters. It fails if a valid query was lost, if tapdns died or did not
# stop cleanly, or if a reload was not applied.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MINUTES=${1:-10}
RELOAD_EVERY=${RELOAD_EVERY:-60}
QPS=${QPS:-300}
ABUSE_QPS=${ABUSE_QPS:-2000}
GARBAGE_PPS=${GARBAGE_PPS:-200}
FRAMES_PPS=${FRAMES_PPS:-200}
RRL=${RRL:-1000}
TAPDNS_ARGS=${TAPDNS_ARGS:-}

die() { echo "soak.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"
[[ $MINUTES =~ ^[0-9]+$ ]] && [ "$MINUTES" -ge 1 ] && [ "$MINUTES" -le 60 ] || die "MINUTES must be 1 to 60"
command -v curl >/dev/null || die "curl is needed to read tapdns's metrics"

NS="tapdns-soak-$$"
TMP=$(mktemp -d)
TAPDNS_PID=""
LOAD_PID=""
cleanup() {
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null || true
	[ -n "$TAPDNS_PID" ] && kill "$TAPDNS_PID" 2>/dev/null || true
	[ -n "$TAPDNS_PID" ] && wait "$TAPDNS_PID" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=bench/provenance.sh
. bench/provenance.sh
provenance "$PWD" # commit, date, machine, load: before the build, of the tree built
busy_warning "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "soak.sh: building"
CGO_ENABLED=0 go build -buildvcs=false -o "$TMP/tapdns" ./cmd/tapdns
CGO_ENABLED=0 go build -buildvcs=false -o "$TMP/soakload" ./bench/cmd/soakload

ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
nsx ip addr add 198.18.0.1/24 dev tap0
nsx ip addr add 198.18.1.1/32 dev tap0
nsx ip addr add 198.18.2.1/32 dev tap0
nsx ip link set tap0 up

ZONE="$TMP/tapdns.test.zone"
cp cmd/tapdns/default.zone "$ZONE"
MAC=02:00:5e:00:50:02
# Not through nsx: $! must be tapdns itself (ip netns exec execs it), not
# a subshell, for the signals and /proc below.
ip netns exec "$NS" "$TMP/tapdns" --tap tap0 --ip 198.18.0.2/24 --gateway 198.18.0.1 --mac "$MAC" \
	--zone "$ZONE" --rrl "$RRL" --metrics 127.0.0.1:9153 --log-format json $TAPDNS_ARGS 2>"$TMP/tapdns.log" &
TAPDNS_PID=$!

for _ in $(seq 100); do
	nsx dig +short +time=1 +tries=1 @198.18.0.2 www.tapdns.test A >/dev/null 2>&1 && break
	sleep 0.1
done
nsx dig +short +time=1 +tries=1 @198.18.0.2 www.tapdns.test A | grep -q . || { cat "$TMP/tapdns.log"; die "tapdns does not answer"; }

stat_line() {
	local pid=$1 rss threads fds gor
	rss=$(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status")
	threads=$(awk '/^Threads/ {print $2}' "/proc/$pid/status")
	fds=$(ls "/proc/$pid/fd" | wc -l)
	gor=$(nsx curl -s --max-time 2 http://127.0.0.1:9153/metrics | awk '/^go_goroutines / {print $2}')
	echo "tapdns +$2s rss=$rss threads=$threads fds=$fds goroutines=${gor:-?}"
}

serial() { nsx dig +short +time=1 +tries=2 @198.18.0.2 tapdns.test SOA | awk '{print $3}'; }

DURATION=$((MINUTES * 60))
echo "soak.sh: $MINUTES min: valid $QPS qps, tcp 5 q/s, abuse $ABUSE_QPS qps, garbage $GARBAGE_PPS/s, frames $FRAMES_PPS/s, --rrl $RRL, reload every ${RELOAD_EVERY}s"
stat_line "$TAPDNS_PID" 0
ip netns exec "$NS" "$TMP/soakload" -duration "${DURATION}s" -report 30s -qps "$QPS" -abuse-qps "$ABUSE_QPS" \
	-garbage-pps "$GARBAGE_PPS" -frames-pps "$FRAMES_PPS" -tap tap0 -mac "$MAC" &
LOAD_PID=$!

start=$SECONDS
reloads=0
reload_fail=0
next_stat=30
next_reload=$RELOAD_EVERY
while kill -0 "$LOAD_PID" 2>/dev/null; do
	sleep 1
	t=$((SECONDS - start))
	kill -0 "$TAPDNS_PID" 2>/dev/null || { cat "$TMP/tapdns.log"; die "tapdns died"; }
	if [ "$t" -ge "$next_stat" ]; then
		stat_line "$TAPDNS_PID" "$t"
		next_stat=$((next_stat + 30))
	fi
	if [ "$RELOAD_EVERY" -gt 0 ] && [ "$t" -ge "$next_reload" ] && [ "$t" -lt "$DURATION" ]; then
		reloads=$((reloads + 1))
		want=$((2026112901 + reloads))
		sed -i "s/^\( *\)[0-9]\{10\} ; serial/\1$want ; serial/" "$ZONE"
		kill -HUP "$TAPDNS_PID"
		sleep 1
		got=$(serial)
		if [ "$got" = "$want" ]; then
			echo "tapdns +${t}s reload $reloads: serial $got"
		else
			echo "tapdns +${t}s reload $reloads: serial $got, want $want"
			reload_fail=$((reload_fail + 1))
		fi
		next_reload=$((next_reload + RELOAD_EVERY))
	fi
done
load_rc=0
wait "$LOAD_PID" || load_rc=$?
LOAD_PID=""
stat_line "$TAPDNS_PID" $((SECONDS - start))

# Where replies could have been lost outside tapdns: the kernel side's UDP
# receive buffers and the TAP's queues.
echo "kernel side: $(nsx awk '/^Udp:/ {if (!h) {split($0, k); h=1} else {for (i = 2; i <= NF; i++) if (k[i] ~ /InErrors|RcvbufErrors|NoPorts/) printf "udp %s=%s ", k[i], $i}}' /proc/net/snmp)$(nsx ip -s link show tap0 | awk '/RX:/ {getline; printf "tap0 rx dropped=%s ", $4} /TX:/ {getline; printf "tx dropped=%s", $4}')"

kill -TERM "$TAPDNS_PID"
tapdns_rc=0
wait "$TAPDNS_PID" || tapdns_rc=$?
TAPDNS_PID=""
echo "tapdns exit status $tapdns_rc; its last log line:"
tail -n 1 "$TMP/tapdns.log"
panics=$(grep -c -i 'panic\|DATA RACE' "$TMP/tapdns.log" || true)

fail=0
[ "$load_rc" -eq 0 ] || { echo "soak.sh: FAIL: soakload exit status $load_rc"; fail=1; }
[ "$tapdns_rc" -eq 0 ] || { echo "soak.sh: FAIL: tapdns exit status $tapdns_rc"; fail=1; }
[ "$reload_fail" -eq 0 ] || { echo "soak.sh: FAIL: $reload_fail of $reloads reloads not applied"; fail=1; }
[ "$panics" -eq 0 ] || { echo "soak.sh: FAIL: panic or race in the log"; fail=1; }
[ "$fail" -eq 0 ] && echo "soak.sh: PASS ($MINUTES min, $reloads reloads)"
exit "$fail"
