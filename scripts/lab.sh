#!/usr/bin/env bash
# lab.sh — create or delete a lab network namespace for tapdns.
#
#   sudo scripts/lab.sh up   [NAME]   # default NAME: tapdns-lab
#   sudo scripts/lab.sh down [NAME]
#
# "up" creates namespace NAME holding a persistent TAP device tap0 whose
# kernel side has 198.18.0.1/24 and 2001:2::1/64. Run the appliance inside it
# on the other end of the TAP (198.18.0.2, 2001:2::2):
#
#   sudo ip netns exec NAME tapdns --tap tap0 --ip 198.18.0.2/24 --ip6 2001:2::2/64
#   sudo ip netns exec NAME dig @198.18.0.2 www.tapdns.test
#
# Everything happens inside the namespace; the root namespace is not touched.
# Override the device or addresses with LAB_TAP, LAB_KERNEL_V4, LAB_KERNEL_V6.
set -euo pipefail

tap=${LAB_TAP:-tap0}
kernel_v4=${LAB_KERNEL_V4:-198.18.0.1/24}
kernel_v6=${LAB_KERNEL_V6:-2001:2::1/64}

die() { echo "lab.sh: $*" >&2; exit 1; }
usage() { echo "usage: $0 up|down [NAME]" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
action=$1
name=${2:-tapdns-lab}
[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad namespace name '$name'"
[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 $*)"
command -v ip >/dev/null || die "ip not found; run scripts/setup.sh"

exists() { ip netns list | awk '{print $1}' | grep -qx -- "$name"; }

case $action in
up)
	if exists; then
		die "namespace $name already exists (scripts/lab.sh down $name removes it)"
	fi
	ip netns add "$name"
	# If a step below fails, do not leave a half-made lab behind.
	trap 'echo "lab.sh: setup failed; removing $name" >&2; ip netns del "$name" 2>/dev/null || true' ERR
	ip -n "$name" tuntap add dev "$tap" mode tap
	ip -n "$name" addr add "$kernel_v4" dev "$tap"
	ip -n "$name" addr add "$kernel_v6" dev "$tap" nodad
	ip -n "$name" link set lo up
	ip -n "$name" link set "$tap" up
	trap - ERR
	echo "lab.sh: namespace $name up: $tap kernel side $kernel_v4 $kernel_v6"
	;;
down)
	exists || { echo "lab.sh: namespace $name does not exist; nothing to do"; exit 0; }
	pids=$(ip netns pids "$name" | tr '\n' ' ')
	if [ -n "${pids// /}" ]; then
		die "processes still running in $name (PIDs: $pids); stop them first"
	fi
	ip -n "$name" link del "$tap" 2>/dev/null || true
	ip netns del "$name"
	echo "lab.sh: namespace $name removed"
	;;
*)
	usage
	;;
esac
