package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/netstack"
)

func TestParseConfig(t *testing.T) {
	base := netstack.Config{
		TAP:      "tap0",
		MTU:      1500,
		Port:     53,
		Queues:   1,
		FastPath: true,
	}
	with := func(f func(*netstack.Config)) netstack.Config {
		c := base
		f(&c)
		return c
	}
	p4 := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		name string
		args []string
		want netstack.Config
	}{
		{"ip defaults to /24", []string{"--ip", "198.18.0.2"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.2/24") })},
		{"ip with len", []string{"--ip", "198.18.0.2/16"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.2/16") })},
		{"netmask", []string{"--ip", "198.18.0.2", "--netmask", "255.255.255.252"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.2/30") })},
		{"netmask agrees with len", []string{"--ip", "198.18.0.2/20", "--netmask", "255.255.240.0"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.2/20") })},
		{"slash 32 has no broadcast", []string{"--ip", "198.18.0.255/32"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.255/32") })},
		{"single dash flags", []string{"-ip", "198.18.0.2", "-gateway", "198.18.0.1"},
			with(func(c *netstack.Config) { c.Addr = p4("198.18.0.2/24"); c.Gateway = a("198.18.0.1") })},
		{"all flags", []string{
			"--tap", "dns0", "--ip", "198.18.0.2/24", "--gateway", "198.18.0.1",
			"--ip6", "2001:2::2/64", "--gateway6", "fe80::1", "--mac", "02:00:00:00:00:02",
			"--mtu", "9000", "--port", "5353", "--queues", "4", "--fastpath=false",
			"--log-level", "debug", "--log-format", "json", "--zone", "a.zone", "--zone", "b.zone"},
			netstack.Config{
				TAP: "dns0", Addr: p4("198.18.0.2/24"), Gateway: a("198.18.0.1"),
				Addr6: p4("2001:2::2/64"), Gateway6: a("fe80::1"),
				MAC: []byte{2, 0, 0, 0, 0, 2}, MTU: 9000, Port: 5353, Queues: 4,
			}},
		{"ip6 only, default /64", []string{"--ip6", "2001:2::2"},
			with(func(c *netstack.Config) { c.Addr6 = p4("2001:2::2/64") })},
		{"gateway6 on-link", []string{"--ip6", "2001:2::2/64", "--gateway6", "2001:2::1"},
			with(func(c *netstack.Config) { c.Addr6 = p4("2001:2::2/64"); c.Gateway6 = a("2001:2::1") })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, io.Discard)
			if err != nil {
				t.Fatalf("parseConfig(%q): %v", tc.args, err)
			}
			want := tc.want
			if want.MAC == nil { // the default MAC, filled in by Normalize
				want.MAC = netstack.DefaultMAC(want.TAP)
			}
			if !sameNet(got.net, want) {
				t.Errorf("parseConfig(%q).net =\n%+v\nwant\n%+v", tc.args, got.net, want)
			}
		})
	}
}

func sameNet(a, b netstack.Config) bool {
	return a.TAP == b.TAP && bytes.Equal(a.MAC, b.MAC) && a.MTU == b.MTU &&
		a.Addr == b.Addr && a.Gateway == b.Gateway && a.Addr6 == b.Addr6 &&
		a.Gateway6 == b.Gateway6 && a.Port == b.Port && a.Queues == b.Queues &&
		a.FastPath == b.FastPath
}

func TestParseConfigOther(t *testing.T) {
	c, err := parseConfig([]string{"--ip", "198.18.0.2", "--zone", "x.zone", "--zone", "y.zone", "--log-level", "warn"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.zones, ","), "x.zone,y.zone"; got != want {
		t.Errorf("zones = %s, want %s", got, want)
	}
	if c.logLevel.String() != "WARN" || c.logFormat != "text" {
		t.Errorf("log = %v %s, want WARN text", c.logLevel, c.logFormat)
	}
	if want := (dnssvc.Config{UDPSize: 1232, Version: "tapdns", Identity: "tapdns", RRLSlip: dnssvc.DefaultRRLSlip}); !reflect.DeepEqual(c.svc, want) {
		t.Errorf("default svc = %+v, want %+v", c.svc, want)
	}
	c, err = parseConfig([]string{"--ip", "198.18.0.2", "--udp-size", "4096", "--nsid", "ns-a", "--chaos", "--chaos-version", "v1", "--chaos-identity", "id1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := (dnssvc.Config{UDPSize: 4096, NSID: "ns-a", Chaos: true, Version: "v1", Identity: "id1", RRLSlip: dnssvc.DefaultRRLSlip}); !reflect.DeepEqual(c.svc, want) {
		t.Errorf("svc = %+v, want %+v", c.svc, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // a substring of the error
	}{
		{"no address", nil, "no address"},
		{"unknown flag", []string{"--ip", "198.18.0.2", "--bogus"}, "not defined"},
		{"positional", []string{"--ip", "198.18.0.2", "extra"}, "unexpected argument"},
		{"bad ip", []string{"--ip", "198.18.0.300"}, "not an IPv4 address"},
		{"ipv6 in --ip", []string{"--ip", "2001:2::2"}, "not an IPv4 address"},
		{"bad len", []string{"--ip", "198.18.0.2/33"}, "bad prefix length"},
		{"zero len", []string{"--ip", "198.18.0.2/0"}, "prefix length"},
		{"netmask disagrees", []string{"--ip", "198.18.0.2/24", "--netmask", "255.255.0.0"}, "disagree"},
		{"netmask not contiguous", []string{"--ip", "198.18.0.2", "--netmask", "255.0.255.0"}, "not contiguous"},
		{"netmask garbage", []string{"--ip", "198.18.0.2", "--netmask", "24"}, "netmask"},
		{"netmask alone", []string{"--netmask", "255.255.255.0"}, "without --ip"},
		{"network address", []string{"--ip", "198.18.0.0/24"}, "network address"},
		{"broadcast address", []string{"--ip", "198.18.0.255/24"}, "broadcast address"},
		{"loopback", []string{"--ip", "127.0.0.2/8"}, "loopback"},
		{"multicast", []string{"--ip", "224.0.0.5/24"}, "unicast"},
		{"unspecified", []string{"--ip", "0.0.0.0/8"}, "unspecified"},
		{"gateway off-link", []string{"--ip", "198.18.0.2/24", "--gateway", "198.19.0.1"}, "not on-link"},
		{"gateway is self", []string{"--ip", "198.18.0.2/24", "--gateway", "198.18.0.2"}, "own address"},
		{"gateway without ip", []string{"--ip6", "2001:2::2/64", "--gateway", "198.18.0.1"}, "without --ip"},
		{"gateway v6 in v4 flag", []string{"--ip", "198.18.0.2", "--gateway", "2001:2::1"}, "not an IPv4"},
		{"ip6 v4", []string{"--ip6", "198.18.0.2/24"}, "not an IPv6"},
		{"ip6 mapped", []string{"--ip6", "::ffff:198.18.0.2/64"}, "not an IPv6"},
		{"ip6 link-local", []string{"--ip6", "fe80::2/64"}, "link-local"},
		{"ip6 multicast", []string{"--ip6", "ff02::2/64"}, "unicast"},
		{"ip6 bad", []string{"--ip6", "2001:2::2/129"}, "not an IPv6"},
		{"gateway6 off-link", []string{"--ip6", "2001:2::2/64", "--gateway6", "2001:3::1"}, "neither link-local nor on-link"},
		{"gateway6 without ip6", []string{"--ip", "198.18.0.2", "--gateway6", "fe80::1"}, "without --ip6"},
		{"mac garbage", []string{"--ip", "198.18.0.2", "--mac", "zz"}, "--mac"},
		{"mac eui64", []string{"--ip", "198.18.0.2", "--mac", "02:00:00:00:00:00:00:01"}, "EUI-48"},
		{"mac multicast", []string{"--ip", "198.18.0.2", "--mac", "01:00:5e:00:00:01"}, "multicast"},
		{"mac zero", []string{"--ip", "198.18.0.2", "--mac", "00:00:00:00:00:00"}, "zero"},
		{"mtu small", []string{"--ip", "198.18.0.2", "--mtu", "576"}, "--mtu"},
		{"mtu big", []string{"--ip", "198.18.0.2", "--mtu", "70000"}, "--mtu"},
		{"mtu garbage", []string{"--ip", "198.18.0.2", "--mtu", "big"}, "invalid value"},
		{"port 0", []string{"--ip", "198.18.0.2", "--port", "0"}, "--port"},
		{"port big", []string{"--ip", "198.18.0.2", "--port", "65536"}, "--port"},
		{"queues 0", []string{"--ip", "198.18.0.2", "--queues", "0"}, "--queues"},
		{"queues big", []string{"--ip", "198.18.0.2", "--queues", "257"}, "--queues"},
		{"fastpath garbage", []string{"--ip", "198.18.0.2", "--fastpath=maybe"}, "invalid boolean"},
		{"tap empty", []string{"--ip", "198.18.0.2", "--tap", ""}, "empty device name"},
		{"tap long", []string{"--ip", "198.18.0.2", "--tap", "abcdefghijklmnop"}, "longer than 15"},
		{"tap slash", []string{"--ip", "198.18.0.2", "--tap", "a/b"}, "cannot contain"},
		{"tap dot", []string{"--ip", "198.18.0.2", "--tap", ".."}, "not a valid"},
		{"log level", []string{"--ip", "198.18.0.2", "--log-level", "loud"}, "--log-level"},
		{"log level offset", []string{"--ip", "198.18.0.2", "--log-level", "info+2"}, "--log-level"},
		{"log format", []string{"--ip", "198.18.0.2", "--log-format", "xml"}, "--log-format"},
		{"empty zone", []string{"--ip", "198.18.0.2", "--zone", ""}, "empty file name"},
		{"udp size small", []string{"--ip", "198.18.0.2", "--udp-size", "511"}, "--udp-size"},
		{"udp size big", []string{"--ip", "198.18.0.2", "--udp-size", "4097"}, "--udp-size"},
		{"nsid long", []string{"--ip", "198.18.0.2", "--nsid", strings.Repeat("x", 129)}, "--nsid"},
		{"chaos version long", []string{"--ip", "198.18.0.2", "--chaos-version", strings.Repeat("x", 256)}, "at most 255"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, io.Discard)
			if err == nil {
				t.Fatalf("parseConfig(%q) = nil error, want one containing %q", tc.args, tc.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("parseConfig(%q) error %v is not a usageError", tc.args, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseConfig(%q) error = %q, want it to contain %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseConfig([]string{"--help"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) error = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-tap", "-ip", "-netmask", "-gateway", "-ip6", "-gateway6", "-mac", "-mtu", "-zone", "-port", "-queues", "-fastpath", "-log-level", "-log-format", "-udp-size", "-nsid", "-chaos", "-chaos-version", "-chaos-identity"} {
		if !strings.Contains(stderr.String(), "  "+f+" ") && !strings.Contains(stderr.String(), "  "+f+"\n") {
			t.Errorf("usage text does not list %s:\n%s", f, stderr.String())
		}
	}
}

func TestMaskBits(t *testing.T) {
	for _, tc := range []struct {
		mask string
		want int
	}{
		{"0.0.0.0", 0}, {"128.0.0.0", 1}, {"255.255.255.0", 24}, {"255.255.255.254", 31}, {"255.255.255.255", 32},
	} {
		got, err := maskBits(tc.mask)
		if err != nil || got != tc.want {
			t.Errorf("maskBits(%s) = %d, %v; want %d", tc.mask, got, err, tc.want)
		}
	}
}
