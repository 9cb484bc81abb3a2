# shellcheck shell=bash
# Configuration of the peer servers (NSD, Knot DNS) for the benchmark
# scripts, sourced by bench/run.sh and bench/zoneload.sh so that both run
# the peers the same way: one worker, no rate limiting, no zone transfers,
# every file under DIR.

# nsd_conf FILE ADDR ORIGIN ZONEFILE DIR [DATABASE]
# DATABASE "" (the default) makes NSD read the zone text at start.
nsd_conf() {
	cat >"$1" <<EOF
server:
	server-count: 1
	ip-address: $2
	port: 53
	username: ""
	chroot: ""
	database: "${6:-}"
	zonelistfile: "$5/zone.list"
	xfrdfile: "$5/xfrd.state"
	xfrdir: "$5"
	pidfile: "$5/nsd.pid"
	rrl-ratelimit: 0
	verbosity: 1
	hide-version: yes
	tcp-count: 10
remote-control:
	control-enable: no
zone:
	name: "$3"
	zonefile: "$4"
EOF
}

# knot_conf FILE ADDR ORIGIN ZONEFILE DIR [XDP_INTERFACE]
# With XDP_INTERFACE, Knot also answers UDP in its AF_XDP mode there.
knot_conf() {
	{
		cat <<EOF
server:
    rundir: "$5"
    listen: $2@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
EOF
		if [[ -n ${6:-} ]]; then
			printf 'xdp:\n    listen: %s@53\n    udp: on\n    tcp: off\n' "$6"
		fi
		cat <<EOF
database:
    storage: "$5"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "$5"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: $3
    file: "$4"
EOF
	} >"$1"
}
