#!/usr/bin/env bash
# bench/resolver-mem.sh: cache memory of tapdns's resolver against
# Unbound, per resolved name and per cached RRset.
#
# Both resolve NAMES distinct names (hostN.example.test. A, one record
# each) into an empty cache, from an authoritative server on loopback:
#   - Unbound (num-threads 1, module-config iterator, a stub zone) asks NSD
#     on 127.0.0.2 inside a namespace made here; dnsperf sends the queries.
#     Its own accounting (unbound-control stats_noreset: mem.cache.rrset,
#     mem.cache.message, rrset.cache.count, msg.cache.count) after the run
#     minus before gives bytes per name (both caches) and per RRset (the
#     RRset cache alone).
#   - tapdns: resolver.BenchmarkResolveMemory (a fake authoritative server
#     on loopback, the same names; acctB/name is what the cache accounts
#     against --cache-size, heapB/name the live heap) and
#     cache.BenchmarkMemoryPerRRset (acctB/rrset, heapB/rrset).
# Each name leaves one A RRset and one message in either cache.
#
# Usage (root):  bench/resolver-mem.sh        NAMES=100000
# Output: the table on stdout and in bench/out/resolver-mem-<date>.txt.
set -euo pipefail

NAMES=${NAMES:-100000}
if [[ $(id -u) != 0 ]]; then
	echo "bench/resolver-mem.sh: needs root (network namespace)" >&2
	exit 1
fi
for t in nsd unbound unbound-control dnsperf go; do
	command -v "$t" >/dev/null || { echo "bench/resolver-mem.sh: missing $t (scripts/setup.sh)" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/peers.sh
. "$ROOT/bench/peers.sh"
# shellcheck source=bench/provenance.sh
. "$ROOT/bench/provenance.sh"
PROVENANCE=$(provenance "$ROOT") # at the start: the tree that is built below
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
RESULT=$OUTDIR/resolver-mem-$(date -u +%Y%m%d-%H%M%S).txt
W=$(mktemp -d /tmp/tapdns-resmem.XXXXXX)
NS=trm$$
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

{
	echo "bench/resolver-mem.sh NAMES=$NAMES"
	echo "$PROVENANCE"
	echo "unbound: $(unbound -V | head -1)"
	echo "(memory does not depend on load: no busy warning here)"
} | tee "$RESULT"

# The zone and the query file.
{
	printf '$ORIGIN example.test.\n$TTL 3600\n@ SOA ns host 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.2\n'
	awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "host%d A 192.0.%d.%d\n", i, int(i / 256) % 256, i % 256 }'
} >"$W/example.test.zone"
awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "host%d.example.test. A\n", i }' >"$W/queries"

ip netns add "$NS"
ip -n "$NS" link set lo up
nsd_conf "$W/nsd.conf" 127.0.0.2 example.test. "$W/example.test.zone" "$W"
cat >"$W/unbound.conf" <<EOF
server:
	num-threads: 1
	interface: 127.0.0.1
	port: 53
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$W"
	pidfile: "$W/unbound.pid"
	use-syslog: no
	logfile: "$W/unbound.log"
	do-not-query-localhost: no
	module-config: "iterator"
	msg-cache-size: 1g
	rrset-cache-size: 1g
	prefetch: no
	extended-statistics: yes
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
stub-zone:
	name: "example.test."
	stub-addr: 127.0.0.2
remote-control:
	control-enable: yes
	control-interface: "$W/unbound.ctl"
	control-use-cert: no
EOF
ip netns exec "$NS" nsd -d -c "$W/nsd.conf" >"$W/nsd.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" unbound -c "$W/unbound.conf" >"$W/unbound.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	ip netns exec "$NS" dig +time=1 +tries=1 @127.0.0.1 host0.example.test. A 2>/dev/null | grep -q 'status: NOERROR' && break
	sleep 0.1
done
stat() { ip netns exec "$NS" unbound-control -c "$W/unbound.conf" stats_noreset | awk -F= -v k="$1" '$1 == k { print $2 }'; }
r0=$(stat mem.cache.rrset) m0=$(stat mem.cache.message) rc0=$(stat rrset.cache.count) mc0=$(stat msg.cache.count)
ip netns exec "$NS" dnsperf -s 127.0.0.1 -d "$W/queries" -n 1 -c 8 -q 200 -t 5 >"$W/dnsperf.out" 2>&1
grep -E 'Queries (sent|completed|lost)' "$W/dnsperf.out" | tee -a "$RESULT"
r1=$(stat mem.cache.rrset) m1=$(stat mem.cache.message) rc1=$(stat rrset.cache.count) mc1=$(stat msg.cache.count)
if [[ -z $r1 || -z $rc1 || $((rc1 - rc0)) -le 0 ]]; then
	echo "bench/resolver-mem.sh: no Unbound cache statistics (rrset count $rc0 -> $rc1)" >&2
	exit 1
fi
ub_name=$(( (r1 - r0 + m1 - m0) / NAMES ))
ub_rrset=$(( (r1 - r0) / (rc1 - rc0) ))
echo "unbound: rrset cache +$((r1 - r0)) B for +$((rc1 - rc0)) RRsets, message cache +$((m1 - m0)) B for +$((mc1 - mc0)) messages" | tee -a "$RESULT"

cd "$ROOT"
go test -run '^$' -bench '^BenchmarkResolveMemory$' -benchtime="${NAMES}x" ./resolver/ >"$W/res.out" 2>&1 || { cat "$W/res.out"; exit 1; }
go test -run '^$' -bench '^BenchmarkMemoryPerRRset$' -benchtime="${NAMES}x" ./cache/ >"$W/cache.out" 2>&1 || { cat "$W/cache.out"; exit 1; }
grep Benchmark "$W/res.out" "$W/cache.out" | sed 's/^[^:]*://' | tee -a "$RESULT"
metric() { awk -v u="$2" '{ for (i = 2; i <= NF; i++) if ($i == u) print $(i-1) }' "$1"; }
td_name=$(metric "$W/res.out" acctB/name)
td_rrset=$(metric "$W/cache.out" acctB/rrset)
{
	echo
	printf '%-28s %12s %12s %8s\n' "bytes" "tapdns" "unbound" "ratio"
	printf '%-28s %12s %12s %8s\n' "per resolved name (both caches)" "$td_name" "$ub_name" "$(awk -v a="$td_name" -v b="$ub_name" 'BEGIN { printf "%.2f", a / b }')"
	printf '%-28s %12s %12s %8s\n' "per cached RRset" "$td_rrset" "$ub_rrset" "$(awk -v a="$td_rrset" -v b="$ub_rrset" 'BEGIN { printf "%.2f", a / b }')"
	echo "(tapdns: memory accounted against --cache-size, slot table included; unbound: its mem.cache.* counters)"
} | tee -a "$RESULT"
