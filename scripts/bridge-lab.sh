#!/usr/bin/env bash
# bridge-lab.sh — several tapdns appliances on one Linux bridge, the way they
# would sit on a LAN: one namespace holding a bridge br0, two TAP devices
# attached to it, each with a tapdns serving the same zone (198.18.0.2 and
# 198.18.0.3), and a veth pair whose namespace end c0 (198.18.0.1/24) is the
# client. Ends with a dig against each appliance.
#
#   sudo scripts/bridge-lab.sh up   [NAME]   # default NAME: tapdns-bridge
#   sudo scripts/bridge-lab.sh down [NAME]
#
# While it is up:
#   sudo ip netns exec tapdns-bridge dig @198.18.0.3 www.tapdns.test
#   sudo ip netns exec tapdns-bridge curl -s http://127.0.0.1:9153/metrics   # appliance 1 (9154: 2)
#
# Everything happens inside the namespace; the root namespace is not touched.
# The appliances' PIDs and logs are kept in /run/tapdns-bridge-lab/NAME/;
# "down" stops exactly those PIDs and removes the namespace. The binary is
# $TAPDNS if set, otherwise built from this checkout with go. The zone is
# $ZONE if set, otherwise the embedded zone tapdns.test.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
appliances=(198.18.0.2 198.18.0.3)
client=198.18.0.1/24

die() { echo "bridge-lab.sh: $*" >&2; exit 1; }
usage() { echo "usage: $0 up|down [NAME]" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
action=$1
name=${2:-tapdns-bridge}
[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad namespace name '$name'"
[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 $*)"
command -v ip >/dev/null || die "ip not found; run scripts/setup.sh"
state=/run/tapdns-bridge-lab/$name

exists() { ip netns list | awk '{print $1}' | grep -qx -- "$name"; }

# stop_all stops the appliances recorded in $state, by PID, and only if the
# PID is still a tapdns in our namespace.
stop_all() {
	local f pid
	for f in "$state"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if kill -0 "$pid" 2>/dev/null && ip netns identify "$pid" 2>/dev/null | grep -qx -- "$name"; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

down() {
	stop_all
	if exists; then
		ip netns del "$name"
		echo "bridge-lab.sh: namespace $name removed"
	else
		echo "bridge-lab.sh: namespace $name does not exist"
	fi
	rm -rf "$state"
}

case $action in
up)
	exists && die "namespace $name already exists (scripts/bridge-lab.sh down $name removes it)"
	command -v dig >/dev/null || die "dig not found; run scripts/setup.sh"
	bin=${TAPDNS:-}
	mkdir -p "$state"
	# If anything below fails, take down what was made.
	trap 'echo "bridge-lab.sh: setup failed; cleaning up" >&2; down' ERR
	if [ -z "$bin" ]; then
		if ! command -v go >/dev/null; then
			for d in /usr/local/go/bin /usr/lib/go/bin; do
				if [ -x "$d/go" ]; then PATH=$PATH:$d; break; fi
			done
		fi
		command -v go >/dev/null || die "go not found; set TAPDNS=/path/to/tapdns or install Go 1.26+"
		bin=$state/tapdns
		(cd "$root" && go build -buildvcs=false -o "$bin" ./cmd/tapdns)
	fi
	zone_args=()
	[ -n "${ZONE:-}" ] && zone_args=(--zone "$(realpath "$ZONE")")

	ip netns add "$name"
	ip -n "$name" link set lo up
	ip -n "$name" link add br0 type bridge
	ip -n "$name" link set br0 up
	# The client: a veth pair, both ends in the namespace, one on the bridge.
	ip -n "$name" link add c0 type veth peer name c0-br
	ip -n "$name" link set c0-br master br0 up
	ip -n "$name" addr add "$client" dev c0
	ip -n "$name" link set c0 up
	i=0
	for a in "${appliances[@]}"; do
		i=$((i + 1))
		tap=tap$i
		ip -n "$name" tuntap add dev "$tap" mode tap
		ip -n "$name" link set "$tap" master br0 up
		ip netns exec "$name" "$bin" --tap "$tap" --ip "$a/24" "${zone_args[@]}" \
			--metrics "127.0.0.1:$((9152 + i))" --nsid "appliance-$i" \
			>"$state/$tap.log" 2>&1 &
		echo $! >"$state/$tap.pid" # ip netns exec execs tapdns: this is its PID
	done
	trap - ERR

	# Wait for each appliance to answer, then show one query against each.
	qname=www.tapdns.test
	[ -n "${ZONE:-}" ] && qname=$(awk '$1 == "$ORIGIN" { print $2; exit }' "$ZONE")
	for a in "${appliances[@]}"; do
		ok=
		for _ in $(seq 50); do
			if ip netns exec "$name" dig +time=1 +tries=1 +norec "@$a" "$qname" >/dev/null 2>&1; then ok=1; break; fi
			sleep 0.1
		done
		[ -n "$ok" ] || { echo "bridge-lab.sh: $a does not answer; logs in $state" >&2; down; exit 1; }
	done
	for a in "${appliances[@]}"; do
		echo "--- dig @$a $qname (NSID names the appliance)"
		ip netns exec "$name" dig +norec +nsid "@$a" "$qname" +noall +answer +comments | grep -E 'NSID|IN' || true
	done
	echo "bridge-lab.sh: namespace $name up: br0 with c0 ($client) and tapdns on ${appliances[*]}"
	echo "bridge-lab.sh: stop with: sudo $0 down $name"
	;;
down)
	down
	;;
*)
	usage
	;;
esac
