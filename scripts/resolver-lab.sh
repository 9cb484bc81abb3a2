#!/usr/bin/env bash
# resolver-lab.sh — a small offline Internet in a lab namespace, to watch
# recursion work. Run as root:
#
#   sudo scripts/resolver-lab.sh          # demo: build, show, tear down
#   sudo scripts/resolver-lab.sh up       # build, then wait (Ctrl-C ends it)
#
# Inside namespace tapdns-rlab-<pid> (nothing touches the root namespace,
# nothing leaves the namespace):
#   - the fake Internet of internal/fakenet on lo: a root (a.root-servers.lab
#     198.19.0.1 on NSD, b.root-servers.lab 198.19.0.2 on Knot), the TLDs
#     lab. and test., and leaf zones with a lame server, a dead one, a
#     glueless delegation, DNAME, CNAME chains across zones, answers too big
#     for UDP, a delegation chain five zones deep and wildcards
#     (expect.txt in the work directory lists them with their answers);
#   - a resolver that knows only the fake root hints: Unbound on
#     198.18.53.53 today; tapdns --resolve on a TAP (198.18.0.2) once tapdns
#     has a resolver (RESOLVER=tapdns, see THE RESOLVER below).
# The demo asks the root, a TLD and a leaf server by hand (what a resolver
# does), then asks the resolver.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-demo}
RESOLVER=${RESOLVER:-unbound}
ns=tapdns-rlab-$$
tap=tap0
kernel4=198.18.0.1
tapdns4=198.18.0.2
unbound4=198.18.53.53

die() { echo "resolver-lab.sh: $*" >&2; exit 1; }
case $mode in demo | up) ;; *) die "usage: $0 [demo|up]" ;; esac
case $RESOLVER in unbound | tapdns) ;; *) die "RESOLVER must be unbound or tapdns" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 $*)"
if ! command -v go >/dev/null; then
	for d in /usr/local/go/bin /usr/lib/go/bin; do
		if [ -x "$d/go" ]; then PATH=$PATH:$d; break; fi
	done
fi
for tool in go ip dig kdig nsd knotd unbound; do
	command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh (and install Go 1.26+)"
done

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

echo "building the fake Internet in $work"
(cd "$root" && go build -o "$work/fakenet" ./bench/cmd/fakenet)
"$work/fakenet" -dir "$work/net" -unbound "$unbound4"
hints=$work/net/root.hints

ip netns add "$ns"
# shellcheck source=bench/fakenet.sh
. "$root/bench/fakenet.sh"
fakenet_up "$ns" "$work/net"
echo "namespace $ns: NSD and Knot up (server logs: $work/net/*.log)"

# ---------------------------------------------------------------------------
# THE RESOLVER. Unbound today. tapdns takes its place with RESOLVER=tapdns
# once it has a resolver: it runs on a TAP whose kernel side is its gateway,
# and reaches the fake Internet on lo through it:
#
#   tapdns --tap tap0 --ip 198.18.0.2/24 --gateway 198.18.0.1 \
#          --resolve --root-hints "$hints"
# ---------------------------------------------------------------------------
case $RESOLVER in
unbound)
	ip -n "$ns" addr add "$unbound4/32" dev lo
	ip netns exec "$ns" unbound -d -c "$work/net/unbound/unbound.conf" >"$work/resolver.log" 2>&1 &
	pid=$!
	res=$unbound4
	;;
tapdns)
	(cd "$root" && go build -o "$work/tapdns" ./cmd/tapdns)
	help=$("$work/tapdns" --help 2>&1 || true)
	grep -qE -- '^[[:space:]]*--?resolve([[:space:]]|$)' <<<"$help" ||
		die "this tapdns has no --resolve yet; run with RESOLVER=unbound"
	ip -n "$ns" tuntap add dev "$tap" mode tap
	ip -n "$ns" addr add "$kernel4/24" dev "$tap"
	ip -n "$ns" link set "$tap" up
	ip netns exec "$ns" "$work/tapdns" --tap "$tap" --ip "$tapdns4/24" --gateway "$kernel4" \
		--resolve --root-hints "$hints" >"$work/resolver.log" 2>&1 &
	pid=$!
	res=$tapdns4
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

# ask NAME [TYPE]: the resolver's answer.
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
  cat $work/net/expect.txt                            # every case and its answer

Always give dig a server (@...): without one it would use this machine's
resolver. Ctrl-C stops everything and removes the namespace.
EOF
	while kill -0 "$pid" 2>/dev/null; do sleep 1; done
	die "$RESOLVER exited"
fi

walk www.chain.lab A
ask www.chain.lab A
ask www.olddomain.lab A
ask www.glueless.lab A
ask www.d.c.b.a.deep.lab A
ask www.dead.lab A
ask nx.example.lab A
echo
echo "(every case and its expected answer: expect.txt of internal/fakenet; tear-down follows)"
