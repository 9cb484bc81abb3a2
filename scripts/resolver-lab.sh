#!/usr/bin/env bash
# resolver-lab.sh — a small offline Internet in a lab namespace, to watch
# recursion work. Run as root:
#
#   sudo scripts/resolver-lab.sh          # demo: build, show, tear down
#   sudo scripts/resolver-lab.sh up       # build, then wait (Ctrl-C ends it)
#   sudo RESOLVER=unbound scripts/resolver-lab.sh   # Unbound as the resolver
#
# Inside namespace tapdns-rlab-<pid> (nothing touches the root namespace,
# nothing leaves the namespace):
#   - the fake Internet of internal/fakenet on lo: a root (a.root-servers.lab
#     198.19.0.1 on NSD, b.root-servers.lab 198.19.0.2 on Knot), the TLDs
#     lab. and test., and leaf zones with a lame server, a dead one, a
#     glueless delegation, DNAME, CNAME chains across zones, answers too big
#     for UDP, a delegation chain five zones deep, wildcards and a zone
#     served over IPv6 only (expect.txt in the work directory lists them
#     with their answers);
#   - a bridge br0 (198.18.0.1/24, 2001:2::1/64: the lab's gateway to the
#     fake Internet) with two TAPs: tap0 for the resolver, tapdns --resolve
#     on 198.18.0.2 and 2001:2::2, knowing only the fake root hints; tapc for
#     `tapdns dig`, the client on a userspace stack of its own (198.18.0.3);
#   - with RESOLVER=unbound, Unbound on 198.18.53.53 instead of tapdns.
# The demo asks the root, a TLD and a leaf server by hand (what a resolver
# does), then asks the resolver with `tapdns dig` and dig, and shows the
# resolver's metrics.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-demo}
RESOLVER=${RESOLVER:-tapdns}
ns=tapdns-rlab-$$
kernel4=198.18.0.1
kernel6=2001:2::1
tapdns4=198.18.0.2
tapdns6=2001:2::2
client4=198.18.0.3
unbound4=198.18.53.53
metrics=127.0.0.1:9153

die() { echo "resolver-lab.sh: $*" >&2; exit 1; }
case $mode in demo | up) ;; *) die "usage: $0 [demo|up]" ;; esac
case $RESOLVER in unbound | tapdns) ;; *) die "RESOLVER must be tapdns or unbound" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 $*)"
if ! command -v go >/dev/null; then
	for d in /usr/local/go/bin /usr/lib/go/bin; do
		if [ -x "$d/go" ]; then PATH=$PATH:$d; break; fi
	done
fi
for tool in go ip dig kdig nsd knotd; do
	command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh (and install Go 1.26+)"
done
[ "$RESOLVER" = tapdns ] || command -v unbound >/dev/null || die "unbound not found; run scripts/setup.sh"

work=$(mktemp -d /tmp/tapdns-rlab.XXXXXX)
pid=
cleanup() {
	local rc=$?
	set +e
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ -s "$work/resolver.log" ]; then
		echo "--- resolver log ---" >&2
		tail -n 30 "$work/resolver.log" >&2
	fi
	declare -F fakenet_down >/dev/null && fakenet_down
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building the fake Internet and tapdns in $work"
# -buildvcs=false: under sudo in a checkout owned by another user, git
# refuses to run and VCS stamping would fail the build.
(cd "$root" && go build -buildvcs=false -o "$work/fakenet" ./bench/cmd/fakenet &&
	go build -buildvcs=false -o "$work/tapdns" ./cmd/tapdns)
"$work/fakenet" -dir "$work/net" -unbound "$unbound4"
hints=$work/net/root.hints

ip netns add "$ns"
# shellcheck source=bench/fakenet.sh
. "$root/bench/fakenet.sh"
fakenet_up "$ns" "$work/net"
echo "namespace $ns: NSD and Knot up (server logs: $work/net/*.log)"

# The lab's link: a bridge whose address is the gateway to the fake
# Internet, a TAP for the resolver and one for the client.
ip -n "$ns" -batch - <<EOF
link add br0 type bridge
addr add $kernel4/24 dev br0
addr add $kernel6/64 dev br0 nodad
tuntap add dev tap0 mode tap
tuntap add dev tapc mode tap
link set tap0 master br0
link set tapc master br0
link set br0 up
link set tap0 up
link set tapc up
EOF

case $RESOLVER in
tapdns)
	args=(--tap tap0 --ip "$tapdns4/24" --gateway "$kernel4" --ip6 "$tapdns6/64" --gateway6 "$kernel6"
		--resolve --root-hints "$hints" --metrics "$metrics")
	echo "\$ tapdns ${args[*]}"
	ip netns exec "$ns" "$work/tapdns" "${args[@]}" >"$work/resolver.log" 2>&1 &
	pid=$!
	res=$tapdns4
	;;
unbound)
	ip -n "$ns" addr add "$unbound4/32" dev lo
	ip netns exec "$ns" unbound -d -c "$work/net/unbound/unbound.conf" >"$work/resolver.log" 2>&1 &
	pid=$!
	res=$unbound4
	;;
esac
for i in $(seq 75); do
	kill -0 "$pid" 2>/dev/null || die "$RESOLVER exited"
	ip netns exec "$ns" kdig @"$res" +time=1 +retry=0 lab. SOA 2>/dev/null | grep -q 'status: NOERROR' && break
	[ "$i" = 75 ] && die "$RESOLVER does not resolve lab. SOA within 15 s"
	sleep 0.2
done
echo "resolver: $RESOLVER on $res, root hints $hints"

# walk NAME TYPE: asks the root, then whoever each referral names, with
# recursion off, the way a resolver does (following glue only).
walk() {
	local name=$1 type=$2 server=198.19.0.1 step out nsname glue
	echo
	echo "=== $name $type by hand, from the root hints ==="
	for step in 1 2 3 4 5 6 7 8; do
		out=$(ip netns exec "$ns" dig @"$server" +norec +time=2 +tries=1 "$name" "$type")
		echo "--- step $step: asked $server ---"
		grep -E '^;; ->>HEADER|^;; flags' <<<"$out"
		awk '/^;; (ANSWER|AUTHORITY) SECTION/ { p = 1; print; next } /^$/ { p = 0 } p' <<<"$out"
		if grep -q 'IN	CNAME' <<<"$out"; then
			echo "(a CNAME: a resolver starts again for its target, and returns the whole chain)"
		fi
		if grep -q '^;; ANSWER SECTION' <<<"$out" || ! grep -q 'IN	NS' <<<"$out"; then
			return
		fi
		nsname=$(awk '/^;; AUTHORITY SECTION/ { p = 1; next } p && $4 == "NS" { print $5; exit }' <<<"$out")
		glue=$(awk -v n="$nsname" '/^;; ADDITIONAL SECTION/ { p = 1; next } p && $1 == n && $4 == "A" { print $5; exit }' <<<"$out")
		[ -n "$glue" ] || { echo "(no glue for $nsname: a resolver would now resolve $nsname itself)"; return; }
		server=$glue
	done
}

# tdig ARGS...: `tapdns dig` on tapc, its own userspace stack, against the
# resolver.
tdig() {
	echo
	echo "\$ tapdns dig --tap tapc --ip $client4/24 @$res $*"
	ip netns exec "$ns" "$work/tapdns" dig --tap tapc --ip "$client4/24" --gateway "$kernel4" --timeout 5s @"$res" "$@" |
		grep -vE '^;; (WHEN|SERVER|MSG SIZE)|^$'
}

# ask NAME [TYPE]: the resolver's answer, with the kernel's dig.
ask() {
	echo
	echo "\$ dig @$res $*"
	ip netns exec "$ns" dig @"$res" +time=5 +tries=2 "$@" | grep -vE '^;; (WHEN|SERVER|MSG SIZE)|^; <<>>|^;; global|^$'
}

if [ "$mode" = up ]; then
	cat <<EOF

The lab is up. In another terminal (as root):

  ip netns exec $ns dig @$res www.chain.lab           # CNAMEs through three zones
  ip netns exec $ns dig @$res www.olddomain.lab       # DNAME
  ip netns exec $ns dig @$res many.big.lab            # too big for UDP: TCP
  ip netns exec $ns dig @198.19.0.1 +norec www.example.lab   # the root's referral
  ip netns exec $ns $work/tapdns dig --tap tapc --ip $client4/24 @$res www.glueless.lab
  ip netns exec $ns curl -s http://$metrics/metrics | grep tapdns_resolver_   # RESOLVER=tapdns
  cat $work/net/expect.txt                            # every case and its answer

Always give dig a server (@...): without one it would use this machine's
resolver. Ctrl-C stops everything and removes the namespace.
EOF
	while kill -0 "$pid" 2>/dev/null; do sleep 1; done
	die "$RESOLVER exited"
fi

walk www.chain.lab A
tdig www.chain.lab A
tdig www.glueless.lab A
sleep 2
echo
echo "(two seconds later the same question comes from the cache: the TTLs count down)"
ask www.chain.lab A +noall +answer
ask www.olddomain.lab A
ask www.d.c.b.a.deep.lab A +short
ask www.dead.lab A +short
ask www.v6only.lab A +short
ask nx.example.lab A
echo
echo "\$ tapdns dig @198.19.0.1 +trace www.chain.lab   # the walk again, done by tapdns dig"
ip netns exec "$ns" "$work/tapdns" dig --tap tapc --ip "$client4/24" --gateway "$kernel4" --timeout 2s \
	@198.19.0.1 +trace www.chain.lab A | grep -vE '^$'
if [ "$RESOLVER" = tapdns ]; then
	echo
	echo "\$ curl http://$metrics/metrics | grep -E 'tapdns_resolver_(cache|upstream_queries|servfail)'"
	ip netns exec "$ns" curl -s "http://$metrics/metrics" |
		grep -E '^tapdns_resolver_(cache_(hits|misses|entries|bytes)|upstream_queries|servfail)' | head -20 || true
fi
echo
echo "(every case and its expected answer: expect.txt of internal/fakenet; tear-down follows)"
