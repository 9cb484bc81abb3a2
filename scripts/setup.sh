#!/usr/bin/env bash
# setup.sh — install the Debian packages tapdns's tests, demo and benchmarks
# use. Idempotent and non-interactive: it runs apt-get (update, then install)
# only when a package is missing. Run as root: sudo scripts/setup.sh
#
# Go itself is not installed here: the module needs Go 1.26 or later, newer
# than Debian ships; see https://go.dev/dl/.
set -euo pipefail

packages=(
	iproute2       # ip netns, ip tuntap: the lab namespaces and TAP devices
	iputils-ping   # ping from the kernel side of the lab TAP
	bind9-dnsutils # dig, the end-to-end tests' client
	knot-dnsutils  # kdig, kxdpgun (load generator)
	nsd            # reference server for differential tests and benchmarks
	knot           # reference server for differential tests and benchmarks
	unbound        # reference resolver: resolver differential test and benchmarks
	knot-resolver  # reference resolver (kresd): resolver differential test and benchmarks
	ldnsutils      # ldns-signzone, ldns-keygen: DNSSEC zones signed in tests
	bind9-utils    # dnssec-signzone, dnssec-keygen, named-checkzone
	knot-dnssecutils # kzonesign, kzonecheck
	python3-zeroconf # mDNS peer in the mDNS tests (runs with /usr/bin/python3)
	dnsperf        # load generator
	tshark         # reads --pcap captures back in the e2e tests; debugging
	tcpdump        # packet captures when debugging
	ethtool        # AF_XDP on a veth: TX checksum offload off on the peer (tests, bench)
	libcap2-bin    # setcap: the e2e test of running with CAP_NET_ADMIN only
	util-linux     # setpriv, unshare: the e2e tests of running without root
	gcc            # C helpers in bench/
	libc6-dev
)

die() { echo "setup.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian and its derivatives; install by hand: ${packages[*]}"

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup.sh: all packages already installed: ${packages[*]}"
else
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Installing nsd or knot would start their daemons on port 53 of the
	# host; the project only ever runs them inside its own namespaces. A
	# policy-rc.d that denies starts keeps them stopped during the install
	# (it is removed afterwards, and only if this script created it).
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if command -v go >/dev/null; then
	echo "setup.sh: $(go version)"
else
	echo "setup.sh: warning: go not found on PATH; install Go 1.26 or later from https://go.dev/dl/" >&2
fi
