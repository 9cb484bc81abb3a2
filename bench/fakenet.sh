# shellcheck shell=bash
# The fake Internet of internal/fakenet for the benchmark and lab scripts,
# sourced by bench/run.sh, bench/coldcache.sh and scripts/resolver-lab.sh.
# bench/cmd/fakenet writes it to a directory (zones, NSD and Knot
# configurations, root hints, the manifest fakenet.env); fakenet_up brings
# it up inside a namespace the calling script created, fakenet_down stops
# what fakenet_up started, by PID.
#
# Addresses (all inside the namespace): the servers on lo, 198.19.0.0/16
# and 2001:2:0:100::/56; the dead server's addresses routed into a TAP
# ("fndead") that nothing reads. Unbound or kresd started by the caller
# use DIR/unbound/unbound.conf or DIR/kresd/kresd.conf (fakenet -unbound /
# -kresd) and the root hints DIR/root.hints.

FAKENET_PIDS=()

# fakenet_up NS DIR: the fake Internet written to DIR, inside namespace NS.
# Waits (at most 30 s) until every server answers the SOA query of each of
# its zones authoritatively; returns non-zero, naming the server, if not.
fakenet_up() {
	local ns=$1 dir=$2 a s name impl conf p addr zone i
	# shellcheck source=/dev/null
	. "$dir/fakenet.env"
	ip -n "$ns" link set lo up
	{
		for a in "${FAKENET_ADDRS[@]}"; do
			if [[ $a == *:* ]]; then
				echo "addr add $a dev lo nodad" # no DAD: bindable at once
			else
				echo "addr add $a dev lo"
			fi
		done
		# The dead addresses: a TAP nobody reads, with permanent neighbour
		# entries so that nothing ever reports "host unreachable".
		echo "tuntap add dev fndead mode tap"
		echo "link set fndead up"
		i=1
		for a in "${FAKENET_DEAD[@]}"; do
			echo "route add $a dev fndead"
			printf 'neigh add %s lladdr 02:00:00:00:09:%02x dev fndead nud permanent\n' "${a%/*}" "$i"
			i=$((i + 1))
		done
	} | ip -n "$ns" -batch - || return 1
	for s in "${FAKENET_SERVERS[@]}"; do
		read -r name impl conf <<<"$s"
		case $impl in
		nsd) ip netns exec "$ns" nsd -d -c "$conf" >"$dir/$name.log" 2>&1 & ;;
		knot) ip netns exec "$ns" knotd -c "$conf" >"$dir/$name.log" 2>&1 & ;;
		esac
		FAKENET_PIDS+=($!)
	done
	# One kdig per address, asking every zone there at once.
	local -A zones=()
	for p in "${FAKENET_PROBES[@]}"; do
		read -r addr zone <<<"$p"
		zones[$addr]+="$zone SOA "
	done
	local deadline=$((SECONDS + 30)) want got
	for addr in "${!zones[@]}"; do
		want=$(wc -w <<<"${zones[$addr]}")
		want=$((want / 2))
		while :; do
			# shellcheck disable=SC2086
			got=$(ip netns exec "$ns" kdig @"$addr" +norec +time=1 +retry=0 ${zones[$addr]} 2>&1 |
				awk '/status: NOERROR/ { ok = 1; next } ok && /^;; Flags: qr aa/ { n++ } { ok = 0 } END { print n + 0 }' || true)
			((got == want)) && break
			if ((SECONDS > deadline)); then
				echo "fakenet_up: $addr answers $got of its $want zones' SOA authoritatively after 30 s; server logs in $dir/*.log" >&2
				return 1
			fi
			sleep 0.1
		done
	done
}

# fakenet_down: stops the servers fakenet_up started (SIGTERM, then
# SIGKILL after 5 s) and waits for them. The namespace is the caller's to
# delete.
fakenet_down() {
	local p i
	for p in "${FAKENET_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${FAKENET_PIDS[@]}"; do
		for i in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	FAKENET_PIDS=()
}
