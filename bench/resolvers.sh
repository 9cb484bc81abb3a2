# shellcheck shell=bash
# Resolver targets for the benchmark scripts (bench/run.sh cache-hit
# throughput, bench/coldcache.sh cold-cache rate and latency): Unbound
# (num-threads 1), one Knot Resolver process and tapdns --resolve, each
# with the fake Internet of internal/fakenet behind it (bench/fakenet.sh),
# on the same zones and the same query mix.
#
# The caller sets WORK, ROOT, SRV_CPU, and the addressing: NS_S (server
# namespace of the veth, VETH_IP), NS_T (TAP namespace: TAP, TAP_LOCAL,
# TAP_IP). Unbound and kresd listen on VETH_IP in NS_S; tapdns runs on the
# TAP in NS_T with TAP_LOCAL as its gateway. Each namespace gets its own
# copy of the fake Internet on its lo.
#
# The tapdns side is a parameter: TAPDNS_RESOLVE (default
# "--resolve --root-hints @HINTS@"; @HINTS@ becomes the fake root hints)
# is added to the usual --tap/--ip/--gateway flags. The target "resolve"
# is skipped, saying why, while the tapdns binary has no --resolve flag.

# shellcheck source=bench/fakenet.sh
. "$ROOT/bench/fakenet.sh"

TAPDNS_RESOLVE=${TAPDNS_RESOLVE:-"--resolve --root-hints @HINTS@"}
# Bench zones behind the resolvers, and the seed of the query mix.
FN_ZONES=${FN_ZONES:-500}
FN_SEED=${FN_SEED:-1}

# resolvers_prepare NAMES: builds bench/cmd/fakenet and writes the fake
# Internet twice ($WORK/fn-s for the veth side, $WORK/fn-t for the TAP),
# with a mix of NAMES queries in $WORK/fn-s/mix.txt (RQUERIES).
resolvers_prepare() {
	(cd "$ROOT" && go build -o "$WORK/bin/fakenet" ./bench/cmd/fakenet)
	"$WORK/bin/fakenet" -dir "$WORK/fn-s" -bench-zones "$FN_ZONES" -mix "$1" -seed "$FN_SEED" \
		-unbound "$VETH_IP" -kresd "$VETH_IP" 2>&1 | sed 's/^/# /' >&2
	"$WORK/bin/fakenet" -dir "$WORK/fn-t" -bench-zones "$FN_ZONES" 2>&1 | sed 's/^/# /' >&2
	RQUERIES=$WORK/fn-s/mix.txt
}

# resolvers_up NEED_VETH NEED_TAP: brings the fake Internet up where the
# selected targets need it (1 or 0 each).
resolvers_up() {
	if [[ $1 == 1 ]]; then
		fakenet_up "$NS_S" "$WORK/fn-s" || return 1
	fi
	if [[ $2 == 1 ]]; then
		fakenet_up "$NS_T" "$WORK/fn-t" || return 1
	fi
}

# tapdns_resolves BIN: true when BIN has the --resolve flag (Go's flag
# package lists it as "  -resolve" in --help).
tapdns_resolves() {
	local help
	help=$("$1" --help 2>&1 || true) # -help exits non-zero
	grep -qE -- '^[[:space:]]*--?resolve([[:space:]]|$)' <<<"$help"
}

# resolver_cmd TARGET TAPDNS_BIN: prints nothing, sets RCMD (an array): the
# command line of the resolver, run inside its namespace.
resolver_cmd() {
	local args
	case $1 in
	unbound) RCMD=(ip netns exec "$NS_S" taskset -c "$SRV_CPU" unbound -d -c "$WORK/fn-s/unbound/unbound.conf") ;;
	kresd)
		rm -rf "$WORK/fn-s/kresd/cache" # a cold cache for every start
		RCMD=(ip netns exec "$NS_S" taskset -c "$SRV_CPU" kresd -n -c "$WORK/fn-s/kresd/kresd.conf" "$WORK/fn-s/kresd")
		;;
	resolve)
		read -r -a args <<<"${TAPDNS_RESOLVE//@HINTS@/$WORK/fn-t/root.hints}"
		RCMD=(ip netns exec "$NS_T" taskset -c "$SRV_CPU" "$2" --tap "$TAP" --ip "$TAP_IP/24" --gateway "$TAP_LOCAL" "${args[@]}")
		;;
	*) return 1 ;;
	esac
}

# resolver_ready GEN_NS DST: until DST resolves "lab. SOA" recursively
# (bounded: 15 s).
resolver_ready() {
	local i out
	for i in $(seq 75); do
		out=$(ip netns exec "$1" kdig @"$2" +time=1 +retry=0 lab. SOA 2>/dev/null || true)
		if [[ $out == *"status: NOERROR"* ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# resolver_warm GEN_NS DST FILE: asks every query in FILE twice, slowly
# enough that a resolver keeps up, so that the cache holds every answer.
resolver_warm() {
	timeout 120 ip netns exec "$1" dnsperf -s "$2" -d "$3" -n 2 -c 4 -q 200 -Q 5000 -t 5 >/dev/null 2>&1
}
