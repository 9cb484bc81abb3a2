#!/bin/sh
# Signs the DNSSEC test zones of the unit tests into zone/testdata/signed/
# (the differential test signs its own copies while it runs). The
# signatures are valid from 2026-01-01 to 2090-01-01, so the committed
# files stay valid; expired.zone and future.zone are signed with periods
# in the past and in the future (-P: not verified), for the warnings of
# `tapdns check`.
#
# The sources are difftest/testdata/signed.zone.in and signed-wild.zone.in.
# Keys are made afresh and thrown away: tests need only the signed zones
# and the DS records (written next to them as ORIGIN.ds).
#
# Needs bind9-utils (dnssec-keygen, dnssec-signzone, dnssec-dsfromkey) and
# ldnsutils (ldns-keygen, ldns-signzone). Run from the repository root:
#
#	scripts/sign-testdata.sh
set -eu

out=zone/testdata/signed
src=difftest/testdata
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$(pwd)

# bind ORIGIN SOURCE OUT [dnssec-signzone options...]
bind() {
	origin=$1 in=$root/$2 dst=$root/$3
	shift 3
	kd=$tmp/$origin
	mkdir -p "$kd"
	ksk=$(dnssec-keygen -q -K "$kd" -a ECDSAP256SHA256 -f KSK -n ZONE "$origin")
	dnssec-keygen -q -K "$kd" -a ECDSAP256SHA256 -n ZONE "$origin" >/dev/null
	(cd "$kd" && dnssec-signzone -q -S -K "$kd" -d "$kd" -o "$origin" -f "$dst" "$@" "$in")
	dnssec-dsfromkey -2 "$kd/$ksk.key" >"${dst%.zone}.ds"
}

# ldns ORIGIN SOURCE OUT
ldns() {
	origin=$1 in=$root/$2 dst=$root/$3
	kd=$tmp/$origin
	mkdir -p "$kd"
	key=$(cd "$kd" && ldns-keygen -a ECDSAP256SHA256 -k "$origin")
	(cd "$kd" && ldns-signzone -n -s c0ffee -t 2 -i 20260101000000 -e 20900101000000 \
		-o "$origin" -f "$dst" "$in" "$key")
	cp "$kd/$key.ds" "${dst%.zone}.ds"
}

valid="-s 20260101000000 -e 20900101000000"
# shellcheck disable=SC2086 # $valid is two options
bind nsec. "$src/signed.zone.in" "$out/nsec.zone" $valid
ldns nsec3. "$src/signed.zone.in" "$out/nsec3.zone"
# shellcheck disable=SC2086
bind optout. "$src/signed.zone.in" "$out/optout.zone" -3 ab01 -A -H 0 $valid
ldns wildapex. "$src/signed-wild.zone.in" "$out/wildapex.zone"
bind expired. "$src/signed-wild.zone.in" "$out/expired.zone" -P -s 20200101000000 -e 20200201000000
bind future. "$src/signed-wild.zone.in" "$out/future.zone" -P -s 20800101000000 -e 20850101000000
echo "signed zones in $out"
