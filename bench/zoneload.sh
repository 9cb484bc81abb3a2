#!/usr/bin/env bash
# bench/zoneload.sh: zone load time and memory of tapdns, NSD and Knot DNS
# on the same generated zone (bench/cmd/zonegen, default 1,000,000 names,
# ~1.84M RRs).
#
# Load time: from just before the process is started to the first correct
# answer (A record of the LAST name in the file, so the whole file has been
# read), polled every 10 ms by bench/cmd/dnswait.
# Memory: VmRSS and VmHWM SETTLE s after that answer (the largest over the
# server process and its descendants), and PSS summed over them (NSD forks a server
# child and xfrd that share the zone copy-on-write; RSS would count it
# twice). For tapdns also the peak RSS during two reloads: VmHWM is reset
# (/proc/PID/clear_refs "5") and SIGHUP is sent, first with the file
# unchanged (tapdns then reads nothing again, as NSD and Knot do), then
# after the zone's SOA serial was bumped in the file (a real reload: the
# new zone is built while the old one still answers).
#
# BASELINE=REV also builds tapdns from git revision REV (git archive, in
# the work directory) and measures it as target "tapdns-base" on the same
# machine, in the same run, for a before/after comparison.
#
# Needs root. Each server runs inside its own network namespace created
# here: tapdns on a TAP (kernel side 198.18.0.1/24, tapdns 198.18.0.2);
# NSD and Knot in a namespace with only loopback (so nothing they might
# look up can leave), answering on 127.0.0.1. Namespaces and processes are
# removed/killed by PID on exit.
#
# Usage (root):  bench/zoneload.sh
#   NAMES=1000000  ONLY=tapdns,nsd,nsd-db,knot  ROUNDS=1  TIMEOUT=120
#   BASELINE=REV (adds tapdns-base, built from REV)
#   ZONE=file (use an existing zonegen file instead of generating one)
#   SETTLE=2 (seconds between the first answer and the memory reading)
#   DNSSEC=nsec|nsec3 (default off): sign the zone first with
#     dnssec-signzone (ECDSA P-256 KSK + ZSK, NSEC or NSEC3 without salt or
#     extra iterations, one record per line) and measure the signed zone:
#     memory per RR of a signed zone. Signing a 1M-name zone takes minutes.
# Output: the table on stdout and in bench/out/zoneload-<date>.txt.
set -euo pipefail

NAMES=${NAMES:-1000000}
ONLY=${ONLY:-tapdns,nsd,nsd-db,knot}
ROUNDS=${ROUNDS:-1}
TIMEOUT=${TIMEOUT:-120}
ZONE=${ZONE:-}
NOTE=${NOTE:-}
BASELINE=${BASELINE:-}
SETTLE=${SETTLE:-2}
DNSSEC=${DNSSEC:-}
[[ -z $DNSSEC || $DNSSEC == nsec || $DNSSEC == nsec3 ]] || { echo "bench/zoneload.sh: DNSSEC must be nsec, nsec3 or empty" >&2; exit 2; }

if [[ $(id -u) != 0 ]]; then
	echo "bench/zoneload.sh: needs root (network namespaces, TAP)" >&2
	exit 1
fi
NEED="nsd knotd go"
[[ -n $DNSSEC ]] && NEED="$NEED dnssec-keygen dnssec-signzone"
for t in $NEED; do
	command -v "$t" >/dev/null || { echo "bench/zoneload.sh: missing $t" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=$ROOT/bench/out
mkdir -p "$OUTDIR"
RESULT=$OUTDIR/zoneload-$(date -u +%Y%m%d-%H%M%S).txt
WORK=$(mktemp -d /tmp/tapdns-zoneload.XXXXXX)
ID=tzl$$
NS_T=${ID}t NS_L=${ID}l
TAP=tz$$

# SPID is the one server running now (started by us, not yet waited for,
# so its PID cannot have been reused); stop_server clears it.
SPID=
cleanup() {
	set +e
	if [[ -n $SPID ]]; then
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	ip netns del "$NS_T" 2>/dev/null
	ip netns del "$NS_L" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PROVENANCE=$(provenance "$ROOT") # at the start: the tree that is built below

mkdir -p "$WORK/bin"
(cd "$ROOT" && go build -o "$WORK/bin/zonegen" ./bench/cmd/zonegen)
(cd "$ROOT" && go build -o "$WORK/bin/dnswait" ./bench/cmd/dnswait)
TAPDNS_OK=1
if has "$ONLY" tapdns && ! (cd "$ROOT" && go build -o "$WORK/bin/tapdns" ./cmd/tapdns) >"$WORK/build.log" 2>&1; then
	TAPDNS_OK=0
	log "tapdns does not build:"
	sed 's/^/#   /' "$WORK/build.log" | head -10 >&2
fi
BASE_OK=0
if [[ -n $BASELINE ]]; then
	mkdir -p "$WORK/base"
	if git -C "$ROOT" archive "$BASELINE" | tar -x -C "$WORK/base" &&
		(cd "$WORK/base" && go build -o "$WORK/bin/tapdns-base" ./cmd/tapdns) >"$WORK/base.log" 2>&1; then
		BASE_OK=1
		BASE_DESC=$(git -C "$ROOT" describe --always "$BASELINE")
	else
		log "baseline $BASELINE does not build:"
		sed 's/^/#   /' "$WORK/base.log" | head -10 >&2
	fi
fi
if [[ -z $ZONE ]]; then
	ZONE=$WORK/bench.zone
	"$WORK/bin/zonegen" -n "$NAMES" -o "$ZONE" 2>"$WORK/zonegen.log"
	sed 's/^/# /' "$WORK/zonegen.log" >&2
	RRS=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "RRs,") print $i }' "$WORK/zonegen.log")
else
	RRS=$(grep -c -v -E '^[;$]|^[[:space:]]*$' "$ZONE")
	# The reload test edits the zone's serial: work on a copy.
	cp "$ZONE" "$WORK/bench.zone"
	ZONE=$WORK/bench.zone
fi
cp "$ZONE" "$WORK/bench.zone.orig"
# zonegen's header names the last name and its address.
read -r LAST_NAME LAST_ADDR < <(awk '/^; last: / { print $3, $5; exit }' "$ZONE")
ORIGIN=$(awk '/^\$ORIGIN/ { print $2; exit }' "$ZONE")
[[ -n $LAST_NAME && -n $ORIGIN ]] || { echo "bench/zoneload.sh: $ZONE has no zonegen header" >&2; exit 1; }
if [[ -n $DNSSEC ]]; then
	log "signing $ZONE ($DNSSEC, $(nproc) threads)"
	s0=$(date +%s)
	sign_zone "$WORK/keys" "$ORIGIN" "$DNSSEC" "$ZONE" "$WORK/signed.zone" -O full
	ZONE=$WORK/signed.zone
	# The serial-bumped reload starts from the signed zone too.
	cp "$ZONE" "$WORK/bench.zone.orig"
	RRS=$(grep -c -v -E '^;|^[[:space:]]*$' "$ZONE")
	log "signed in $(($(date +%s) - s0)) s: $RRS RRs"
fi
log "zone $ZONE: $RRS RRs, $(du -m "$ZONE" | cut -f1) MB, last name $LAST_NAME A $LAST_ADDR"

ip netns add "$NS_T"
ip netns add "$NS_L"
ip -n "$NS_T" link set lo up
ip -n "$NS_L" link set lo up

tap_setup() {
	tap_up "$NS_T" "$TAP" 198.18.0.1/24
	# Retry ARP every 10 ms, not every second, so that the time to the first
	# answer is not rounded up to the kernel's ARP retransmit timer.
	ip netns exec "$NS_T" sysctl -q -w "net.ipv4.neigh.$TAP.retrans_time_ms=10"
	ip -n "$NS_T" neigh flush dev "$TAP" 2>/dev/null || true
}

mkdir -p "$WORK/nsd" "$WORK/knot"
# shellcheck source=bench/peers.sh
. "$ROOT/bench/peers.sh"
nsd_conf "$WORK/nsd/nsd.conf" 127.0.0.1 "$ORIGIN" "$ZONE" "$WORK/nsd"
nsd_conf "$WORK/nsd/nsd-db.conf" 127.0.0.1 "$ORIGIN" "$ZONE" "$WORK/nsd" "$WORK/nsd/nsd.db"
knot_conf "$WORK/knot/knot.conf" 127.0.0.1 "$ORIGIN" "$ZONE" "$WORK/knot"

stop_server() {
	[[ -n $SPID ]] || return 0
	stop_pid "$SPID" 100
	SPID=
}

max_kb() { # $1 pid, $2 field: the largest value over it and its descendants
	local p m=0 v
	for p in $(proc_tree "$1"); do
		v=$(status_kb "$p" "$2")
		[[ $v != NA && $v -gt $m ]] && m=$v
	done
	echo "$m"
}
pss_kb() { # $1 pid: PSS of it and its descendants, kB
	local p sum=0 v
	for p in $(proc_tree "$1"); do
		v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

printf 'round\ttarget\tload_s\trss_kb\thwm_kb\tpss_kb\treload_peak_kb\treload_note\tchanged_peak_kb\n' >"$WORK/samples"

# reload_peak PID ADDR NS LOAD: resets VmHWM, sends SIGHUP, waits
# max(3 s, 3x the load time) (capped at 60 s), checks the answer; prints
# "PEAK_KB<TAB>NOTE".
reload_peak() {
	local pid=$1 addr=$2 ns=$3 load=$4 w i peak=NA note
	echo 5 >"/proc/$pid/clear_refs"
	kill -HUP "$pid"
	# No completion signal: sample for max(3 s, 3x load time), capped at 60 s.
	w=$(awk -v l="$load" 'BEGIN { w = 3 * l; if (w < 3) w = 3; if (w > 60) w = 60; printf "%d", w * 10 }')
	for i in $(seq "$w"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		peak=$(status_kb "$pid" VmHWM)
		if ip netns exec "$ns" "$WORK/bin/dnswait" -server "$addr" -name "$LAST_NAME" -want "$LAST_ADDR" -timeout 5s >/dev/null 2>&1; then
			note="answers after reload"
		else
			note="NO ANSWER after reload"
		fi
	else
		note="process exited on SIGHUP: reload not implemented"
	fi
	printf '%s\t%s\n' "$peak" "$note"
}
measure() { # $1 target, $2 round
	local t=$1 r=$2 ns addr t0 t1 rss hwm pss peak="NA" note="-" cpeak="NA" slog=$WORK/$1.r$2.log
	case $t in
	tapdns | tapdns-base)
		tap_setup
		ns=$NS_T addr=198.18.0.2:53
		cp "$WORK/bench.zone.orig" "$ZONE"
		t0=$(date +%s%N)
		ip netns exec "$ns" "$WORK/bin/$t" --tap "$TAP" --ip 198.18.0.2/24 \
			--gateway 198.18.0.1 --zone "$ZONE" >"$slog" 2>&1 &
		;;
	nsd | nsd-db)
		ns=$NS_L addr=127.0.0.1:53
		local conf=$WORK/nsd/nsd.conf
		[[ $t == nsd-db ]] && conf=$WORK/nsd/nsd-db.conf
		t0=$(date +%s%N)
		ip netns exec "$ns" nsd -d -c "$conf" >"$slog" 2>&1 &
		;;
	knot)
		ns=$NS_L addr=127.0.0.1:53
		rm -rf "$WORK/knot/timers" "$WORK/knot/journal"
		t0=$(date +%s%N)
		ip netns exec "$ns" knotd -c "$WORK/knot/knot.conf" >"$slog" 2>&1 &
		;;
	esac
	SPID=$!
	if ! t1=$(ip netns exec "$ns" "$WORK/bin/dnswait" -server "$addr" -name "$LAST_NAME" -want "$LAST_ADDR" -timeout "${TIMEOUT}s" 2>>"$slog"); then
		log "$t: no correct answer within $TIMEOUT s; log: $(tail -n 3 "$slog" | tr '\n' ' ')"
		printf '%s\t%s\tNA\tNA\tNA\tNA\tNA\tno answer\tNA\n' "$r" "$t" >>"$WORK/samples"
		stop_server
		return 0
	fi
	local load
	load=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	# Memory after SETTLE seconds, for every server alike: a garbage-
	# collected server (tapdns) may still hold load-time garbage at the
	# instant of its first answer. VmHWM is the peak including the load.
	sleep "$SETTLE"
	rss=$(max_kb "$SPID" VmRSS) hwm=$(max_kb "$SPID" VmHWM) pss=$(pss_kb "$SPID")
	log "$t round $r: answered after $load s; ${SETTLE}s later RSS $rss kB, peak $hwm kB, PSS(all procs) $pss kB"
	if [[ $t == tapdns || $t == tapdns-base ]]; then
		local out
		out=$(reload_peak "$SPID" "$addr" "$ns" "$load")
		peak=${out%%$'\t'*} note=${out#*$'\t'}
		if ! grep -qi -E 'reload|hup' "$slog"; then
			note="$note; no reload in its log: SIGHUP may be ignored"
		fi
		log "$t reload, file unchanged: peak $peak kB vs steady $rss kB ($note)"
		if kill -0 "$SPID" 2>/dev/null; then
			# A real change: bump the SOA serial (zonegen writes one SOA
			# line, "@ SOA ..."; dnssec-signzone -O full "NAME TTL IN SOA
			# ..."; RRSIG SOA is not it). A signed zone's SOA signature is
			# then stale, which loading does not check.
			awk '!done && $1 !~ /^;/ { for (i = 1; i + 3 <= NF; i++) if ($i == "SOA" && $(i-1) != "RRSIG") { $(i+3) = $(i+3) + 1; done = 1; break } } { print }' OFS='\t' "$WORK/bench.zone.orig" >"$ZONE.new"
			mv "$ZONE.new" "$ZONE"
			out=$(reload_peak "$SPID" "$addr" "$ns" "$load")
			cpeak=${out%%$'\t'*}
			note="$note; changed file: ${out#*$'\t'}"
			log "$t reload, serial bumped: peak $cpeak kB vs steady $rss kB"
			cp "$WORK/bench.zone.orig" "$ZONE"
		fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$load" "$rss" "$hwm" "$pss" "$peak" "$note" "$cpeak" >>"$WORK/samples"
	stop_server
}

TARGETS=()
for t in tapdns tapdns-base nsd nsd-db knot; do
	if [[ $t == tapdns-base ]]; then
		[[ $BASE_OK == 1 ]] && TARGETS+=("$t")
		continue
	fi
	has "$ONLY" "$t" || continue
	[[ $t == tapdns && $TAPDNS_OK == 0 ]] && continue
	TARGETS+=("$t")
done
if has "$ONLY" nsd-db; then
	# nsd-db measures a start from an existing nsd.db: build it once first.
	log "nsd-db: building $WORK/nsd/nsd.db with a first start (not timed as nsd-db)"
	measure nsd-db 0 >/dev/null
fi
for r in $(seq "$ROUNDS"); do
	for t in "${TARGETS[@]}"; do
		measure "$t" "$r"
	done
done

{
	echo "tapdns zone load benchmark"
	echo "$PROVENANCE"
	echo "load average (1/5/15 min): $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	busy_warning "$LOAD0"
	[[ $BASE_OK == 1 ]] && echo "tapdns-base: built from $BASELINE ($BASE_DESC)"
	echo "zone: $NAMES names, $RRS RRs, $(du -m "$ZONE" | cut -f1) MB text; ROUNDS=$ROUNDS DNSSEC=${DNSSEC:-off}"
	[[ -n $NOTE ]] && echo "note: $NOTE"
	[[ $TAPDNS_OK == 0 ]] && echo "tapdns: SKIPPED, does not build"
	echo
	printf '%-11s %8s %9s %9s %9s %8s %12s %12s  %s\n' target "load s" "RSS MB" "peak MB" "PSS MB" "B/RR" "reload pk MB" "changed pk MB" "reload"
	for t in "${TARGETS[@]}"; do
		# medians over rounds (round 0 is nsd-db's untimed db build)
		awk -F'\t' -v t="$t" -v rrs="$RRS" "$AWK_MEDIAN"'
			$2 == t && $1 > 0 && $3 != "NA" { n++; L[n] = $3; R[n] = $4; H[n] = $5; P[n] = $6; K[n] = $7; note = $8; C[n] = $9 }
			$2 == t && $1 > 0 && $3 == "NA" { bad = $8 }
			END {
				if (n == 0) { printf "%-11s %s\n", t, "FAILED: " bad; exit }
				rss = med(R, n); pss = med(P, n)
				pk = (K[1] == "NA") ? "-" : sprintf("%.1f", med(K, n) / 1024)
				cpk = (C[1] == "NA" || C[1] == "") ? "-" : sprintf("%.1f", med(C, n) / 1024)
				printf "%-11s %8.3f %9.1f %9.1f %9.1f %8.1f %12s %12s  %s\n", t, med(L, n), rss / 1024, med(H, n) / 1024,
					pss / 1024, pss * 1024 / rrs, pk, cpk, (t ~ /^tapdns/) ? note : "-"
			}' "$WORK/samples"
	done
	echo
	echo "Memory read ${SETTLE} s after the first answer. RSS and peak (VmHWM, includes the load):"
	echo "the largest single process (NSD: its serving grandchild)."
	awk -F'\t' '$1 == "0" && $2 == "nsd-db" && $3 != "NA" {
		printf "nsd.db build (NSD zone compile: first start with a database, untimed above): %s s to the first answer\n", $3 }' "$WORK/samples"
	echo "B/RR = PSS (all processes) / RRs. NSD: database \"\" (reads the zone text at start);"
	echo "nsd-db: start from a prebuilt nsd.db (NSD's compiled form; its PSS includes the mmapped db file)."
	echo "reload pk: SIGHUP with the file unchanged; changed pk: SIGHUP after its SOA serial was bumped."
	echo "Goals: load no slower than NSD (and than tapdns-base when measured), <= 110 B/RR,"
	echo "reload peak <= 1.5x steady RSS."
	# Verdicts on the medians over the rounds, the figures in the table
	# (not on the last round's).
	awk -F'\t' "$AWK_MEDIAN"'
		function median(t, col,   i, m, x) {
			m = 0
			for (i = 1; i <= NR; i++) if (tg[i] == t && v[i, col] != "NA" && v[i, col] != "") x[++m] = v[i, col] + 0
			return m ? med(x, m) : "NA"
		}
		$1 > 0 && $3 != "NA" { tg[NR] = $2; for (c = 3; c <= 9; c++) v[NR, c] = $c; seen[$2] = 1 }
		END {
			if (!("tapdns" in seen)) { print "  tapdns: no result"; exit }
			L = median("tapdns", 3); R = median("tapdns", 4); P = median("tapdns", 6); K = median("tapdns", 7); C = median("tapdns", 9)
			if ("nsd" in seen) { N = median("nsd", 3); printf "  load: tapdns %.3f s vs NSD %.3f s: %s\n", L, N, (L <= N) ? "PASS" : "FAIL" }
			else print "  load: not measured (nsd not in this run)"
			if ("tapdns-base" in seen) { B = median("tapdns-base", 3); printf "  load: tapdns %.3f s vs tapdns-base %.3f s: %s\n", L, B, (L <= B) ? "PASS" : "FAIL" }
			if (dnssec != "") {
				# The goal is for the unsigned zone; a signed one is compared with the others.
				printf "  memory: tapdns %.1f B/RR (signed zone: no goal", P * 1024 / rrs
				for (p in seen) if (p != "tapdns") { Q = median(p, 6); if (Q > 0) printf "; %s %.1f B/RR, tapdns/%s %.2f", p, Q * 1024 / rrs, p, P / Q }
				print ")"
			} else
				printf "  memory: tapdns %.1f B/RR: %s\n", P * 1024 / rrs, (P * 1024 / rrs <= 110) ? "PASS" : "FAIL"
			if (K != "NA") printf "  reload, file unchanged: peak %.1f MB = %.2fx steady %.1f MB: %s\n", K / 1024, K / R, R / 1024, (K <= 1.5 * R) ? "PASS" : "FAIL"
			else print "  reload, file unchanged: not measured"
			if (C != "NA") printf "  reload, serial bumped: peak %.1f MB = %.2fx steady %.1f MB: %s\n", C / 1024, C / R, R / 1024, (C <= 1.5 * R) ? "PASS" : "FAIL"
			else print "  reload, serial bumped: not measured"
			if ("tapdns-base" in seen) { BR = median("tapdns-base", 4); BC = median("tapdns-base", 9)
				if (BC != "NA") printf "  tapdns-base reload, serial bumped: peak %.1f MB = %.2fx steady %.1f MB\n", BC / 1024, BC / BR, BR / 1024 }
		}' rrs="$RRS" dnssec="$DNSSEC" "$WORK/samples"
} | tee "$RESULT"
log "table: $RESULT"
