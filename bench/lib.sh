# shellcheck shell=bash
# bench/lib.sh: what the bench/*.sh scripts share, sourced by them once
# ROOT is set. It sources bench/provenance.sh (provenance, busy_warning).
#
#   log MSG...             a progress line on stderr: "# MSG"
#   has LIST ITEM          whether the comma-separated LIST holds ITEM
#   stop_pid PID [TRIES]   stops PID, a child of ours not yet waited for (so
#                          its PID cannot have been reused): SIGTERM, up to
#                          TRIES (default 50) x 0.1 s for it to exit, then
#                          SIGKILL; waits for it
#   status_kb PID FIELD    a field of /proc/PID/status in kB (VmRSS, VmHWM),
#                          or NA
#   proc_tree PID          PID and all its descendants, one per line (NSD's
#                          first process becomes xfrd; its child is "main",
#                          whose child serves)
#   tap_up NS TAP CIDR [QUEUES]
#                          (re)creates the TAP in the namespace NS
#                          (multi-queue when QUEUES > 1), gives its kernel
#                          side the address CIDR and sets it up; a server
#                          built on water clears the persist flag, so the
#                          device may be gone after the previous server
#   sign_zone DIR ORIGIN MODE IN OUT [ARGS...]
#                          signs the zone file IN (origin ORIGIN) into OUT
#                          with a new KSK and ZSK (ECDSA P-256) made in DIR,
#                          on every CPU: NSEC, or NSEC3 per RFC 9276 (no
#                          salt, no extra iterations) when MODE is nsec3;
#                          ARGS go to dnssec-signzone; its output goes to
#                          stderr as "# " lines
#   median, minmax         of the numbers on stdin, one per line: the median
#                          (NA for none), and "min-max"
#   AWK_MEDIAN             the awk function med(x, n): the median of
#                          x[1..n], which it sorts; put it before an awk
#                          program that uses it: awk "$AWK_MEDIAN"'...'

# shellcheck source=bench/provenance.sh
. "$ROOT/bench/provenance.sh"

log() { echo "# $*" >&2; }

has() { [[ ",$1," == *",$2,"* ]]; }

stop_pid() {
	local pid=$1 tries=${2:-50} i
	kill "$pid" 2>/dev/null || true
	for i in $(seq "$tries"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

status_kb() {
	awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "NA" }' "/proc/$1/status" 2>/dev/null || echo NA
}

proc_tree() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1" || true); do proc_tree "$c"; done
}

tap_up() {
	local ns=$1 tap=$2 cidr=$3 queues=${4:-1} mq=()
	if ! ip -n "$ns" link show "$tap" >/dev/null 2>&1; then
		[[ $queues -gt 1 ]] && mq=(multi_queue)
		ip -n "$ns" tuntap add dev "$tap" mode tap "${mq[@]}"
	fi
	ip -n "$ns" addr replace "$cidr" dev "$tap"
	ip -n "$ns" link set "$tap" up
}

sign_zone() {
	local dir=$1 origin=$2 mode=$3 in=$4 out=$5 nsec3=()
	shift 5
	mkdir -p "$dir"
	dnssec-keygen -q -K "$dir" -a ECDSAP256SHA256 -f KSK -n ZONE "$origin" >/dev/null
	dnssec-keygen -q -K "$dir" -a ECDSAP256SHA256 -n ZONE "$origin" >/dev/null
	[[ $mode == nsec3 ]] && nsec3=(-3 - -H 0)
	(cd "$dir" && dnssec-signzone -q -S -K "$dir" -d "$dir" -n "$(nproc)" "${nsec3[@]}" "$@" \
		-o "$origin" -f "$out" "$in") | sed 's/^/# /' >&2
}

AWK_MEDIAN='
function med(x, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j-1] > x[j]; j--) { t = x[j]; x[j] = x[j-1]; x[j-1] = t }
	return (n % 2) ? x[(n+1)/2] : (x[n/2] + x[n/2+1]) / 2
}
'

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "NA"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
