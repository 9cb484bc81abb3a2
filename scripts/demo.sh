#!/usr/bin/env bash
# demo.sh — build tapdns, run it on its embedded zone (tapdns.test.) in a lab
# namespace, and show it answering dig (UDP, TCP, IPv6) and ping (IPv4, IPv6),
# then resolving a name through a tiny offline Internet (a second tapdns on
# its own TAP serving a root zone and example.lab.) and answering an
# --override ahead of that Internet. Everything is torn down on exit,
# whatever happens. Run as root:
#
#   sudo scripts/demo.sh
#
# All traffic stays inside a namespace this script creates; the root namespace
# is not touched.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ns=tapdns-demo-$$
v4=198.18.0.2
v6=2001:2::2
# The tiny Internet: one tapdns on tapnet, behind the namespace's kernel,
# which routes between the two TAPs.
net4=198.18.1.2

die() { echo "demo.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0)"
# sudo usually resets PATH; look for Go where its installer puts it.
if ! command -v go >/dev/null; then
	for d in /usr/local/go/bin /usr/lib/go/bin; do
		if [ -x "$d/go" ]; then PATH=$PATH:$d; break; fi
	done
fi
for tool in go ip dig ping; do
	command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh (and install Go 1.26+)"
done

work=$(mktemp -d)
pid= netpid=
stop() { # stop PID: SIGTERM, SIGKILL after 2 s
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 20); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	stop "$pid"
	stop "$netpid"
	if [ "$rc" -ne 0 ] && [ -s "$work/tapdns.log" ]; then
		echo "--- tapdns log ---" >&2
		cat "$work/tapdns.log" >&2
	fi
	if [ "$rc" -ne 0 ] && [ -s "$work/internet.log" ]; then
		echo "--- tiny Internet (tapdns) log ---" >&2
		cat "$work/internet.log" >&2
	fi
	ip -n "$ns" link del tapnet 2>/dev/null || true
	"$root/scripts/lab.sh" down "$ns" >/dev/null 2>&1 || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# show prints a command, runs it inside the namespace and prints its output.
show() {
	echo
	echo "\$ $*"
	ip netns exec "$ns" "$@"
}

# show_matching is show with the output filtered by an extended regexp.
show_matching() {
	local pattern=$1
	shift
	echo
	echo "\$ $* | grep -E '$pattern'"
	ip netns exec "$ns" "$@" | grep -E "$pattern"
}

echo "== building tapdns"
# -buildvcs=false: under sudo in a checkout owned by another user, git
# refuses to run and VCS stamping would fail the build.
(cd "$root" && go build -buildvcs=false -o "$work/tapdns" ./cmd/tapdns)

echo "== creating lab namespace $ns"
"$root/scripts/lab.sh" up "$ns"

echo "== starting a tiny offline Internet: tapdns serving a root zone and example.lab. on tapnet ($net4)"
cat >"$work/root.zone" <<EOF
\$ORIGIN .
\$TTL 3600
@                SOA  a.root-servers.lab. hostmaster.root-servers.lab. 1 7200 3600 1209600 300
@                NS   a.root-servers.lab.
a.root-servers.lab.  A  $net4
example.lab.     NS   ns.example.lab.
ns.example.lab.  A    $net4
EOF
cat >"$work/example.lab.zone" <<EOF
\$ORIGIN example.lab.
\$TTL 3600
@     SOA  ns.example.lab. hostmaster.example.lab. 1 7200 3600 1209600 300
@     NS   ns
ns    A    $net4
www   A    198.18.1.80
mail  A    198.18.1.25
EOF
printf '.\t3600000\tNS\ta.root-servers.lab.\na.root-servers.lab.\t3600000\tA\t%s\n' "$net4" >"$work/root.hints"
ip -n "$ns" tuntap add dev tapnet mode tap
ip -n "$ns" addr add 198.18.1.1/24 dev tapnet
ip -n "$ns" link set tapnet up
# Inside the lab namespace only: route between tap0 and tapnet.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$ns" "$work/tapdns" --tap tapnet --ip "$net4/24" --gateway 198.18.1.1 \
	--zone "$work/root.zone" --zone "$work/example.lab.zone" >"$work/internet.log" 2>&1 &
netpid=$!

echo "== starting tapdns on the embedded zone, resolving from the tiny Internet's root (log: stderr below on failure)"
args=(--tap tap0 --ip "$v4/24" --gateway 198.18.0.1 --ip6 "$v6/64" --gateway6 2001:2::1
	--resolve --root-hints "$work/root.hints" --override www.example.lab=198.18.0.99)
echo "\$ tapdns ${args[*]}"
ip netns exec "$ns" "$work/tapdns" "${args[@]}" >"$work/tapdns.log" 2>&1 &
pid=$!

ready=
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || die "tapdns exited during startup"
	if ip netns exec "$ns" dig +time=1 +tries=1 +short "@$v4" tapdns.test SOA 2>/dev/null | grep -q .; then
		ready=1
		break
	fi
	sleep 0.1
done
[ -n "$ready" ] || die "tapdns did not answer within 10 s"
for _ in $(seq 100); do
	kill -0 "$netpid" 2>/dev/null || die "the tiny Internet's tapdns exited during startup"
	ip netns exec "$ns" dig +norec +time=1 +tries=1 +short "@$net4" example.lab SOA 2>/dev/null | grep -q . && break
	sleep 0.1
done
sed 's/^/    /' "$work/tapdns.log"

echo
echo "== DNS over UDP, TCP and IPv6"
show dig +norec "@$v4" www.tapdns.test A
show dig +norec +tcp "@$v4" tapdns.test MX +noall +answer +additional
show dig +norec "@$v6" www.tapdns.test AAAA +noall +answer
show dig +norec "@$v4" tapdns.test TXT +noall +answer
show dig +norec "@$v4" docs.tapdns.test A +noall +answer
show_matching 'status|SOA' dig +norec "@$v4" nosuch.tapdns.test A +noall +comments +authority
show_matching 'status' dig +norec "@$v4" example.com A +noall +comments

echo
echo "== recursion: tapdns resolves from the root hints (RA set, AA clear), then answers from its cache"
show dig "@$v4" mail.example.lab A +noall +comments +answer
sleep 1
show dig "@$v4" mail.example.lab A +noall +answer
echo "(the second answer came from the cache: its TTL has counted down)"

echo
echo "== an override wins over what the Internet says (AA set: local data)"
show dig +norec "@$net4" www.example.lab A +noall +answer
show dig "@$v4" www.example.lab A +noall +comments +answer

echo
echo "== ICMP echo, answered by the userspace stack"
show ping -c 3 -i 0.2 -w 5 "$v4"
show ping -c 3 -i 0.2 -w 5 "$v6"

echo
echo "== stopping tapdns (SIGTERM)"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
tail -n 1 "$work/tapdns.log" | sed 's/^/    /'
[ "$status" -eq 0 ] || die "tapdns exited with status $status"
stop "$netpid"
netpid=
echo "tapdns exited with status 0; removing the lab"
