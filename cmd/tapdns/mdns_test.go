package main

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/mdns"
	"github.com/tapdns/tapdns/zone"
)

func TestMDNSFlags(t *testing.T) {
	c, err := parseConfig([]string{"--ip", "198.18.0.2", "--ip6", "2001:2::2", "--mdns", "--mdns-name", "lab-dns", "--mdns-timeout", "250ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := (mdnsConfig{on: true, name: "lab-dns", timeout: 250 * time.Millisecond}); c.mdns != want {
		t.Errorf("got %+v, want %+v", c.mdns, want)
	}
	mc := c.mdnsConfig(netip.MustParseAddr("fe80::1"))
	wantAddrs := []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24"), netip.MustParsePrefix("2001:2::2/64"), netip.MustParsePrefix("fe80::1/64")}
	if mc.Name != "lab-dns" || mc.DNSPort != 53 || mc.Timeout != 250*time.Millisecond || len(mc.Addrs) != 3 {
		t.Fatalf("Responder config %+v", mc)
	}
	for i, p := range wantAddrs {
		if mc.Addrs[i] != p {
			t.Errorf("address %d: got %v, want %v", i, mc.Addrs[i], p)
		}
	}
	if c.mdnsHolder() == nil {
		t.Error("--mdns made no holder for the Responder")
	}

	c, err = parseConfig([]string{"--ip", "198.18.0.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.mdns.on || c.mdns.name != mdns.DefaultName || c.mdns.timeout != mdns.DefaultTimeout || c.mdnsHolder() != nil {
		t.Errorf("defaults: %+v", c.mdns)
	}
}

func TestMDNSFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mdns-name", "x"}, "--mdns-name needs --mdns"},
		{[]string{"--mdns-timeout", "2s"}, "--mdns-timeout needs --mdns"},
		{[]string{"--mdns", "--mdns-name", "a.b"}, "without dots"},
		{[]string{"--mdns", "--mdns-name", strings.Repeat("x", 64)}, "63 octets"},
		{[]string{"--mdns", "--mdns-timeout", "0s"}, "--mdns-timeout 0s"},
		{[]string{"--mdns", "--mdns-timeout", "1m"}, "at most 10s"},
	} {
		_, err := parseConfig(append([]string{"--ip", "198.18.0.2"}, tc.args...), io.Discard)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestLocalZoneRecords(t *testing.T) {
	z, err := zone.Parse(strings.NewReader(`$ORIGIN local.
$TTL 60
@       SOA ns.local. host.local. 1 60 60 60 60
@       NS  ns.local.
nas     A   198.18.0.20
`), "local.zone", "local.")
	if err != nil {
		t.Fatal(err)
	}
	other, err := zone.Parse(strings.NewReader("$ORIGIN example.\n$TTL 60\n@ SOA ns host 1 60 60 60 60\n@ NS ns\nns A 198.18.0.9\n"), "example.zone", "example.")
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.NewSet(z, other)
	if err != nil {
		t.Fatal(err)
	}
	recs := localZoneRecords(set)
	found := false
	for _, r := range recs {
		if string(r.Name) == "\x03nas\x05local\x00" && r.Type == dnswire.TypeA && string(r.Data) == "\xc6\x12\x00\x14" {
			found = true
		}
		if !strings.HasSuffix(string(r.Name), localOrigin) {
			t.Errorf("record %q is not from the local. zone", r.Name)
		}
	}
	if !found {
		t.Errorf("nas.local A not among %+v", recs)
	}
}

func TestMDNSRunnerNil(t *testing.T) {
	// Without --mdns: no runner, an untyped nil gateway for dnssvc, and
	// the lifecycle calls do nothing.
	var m *mdnsRunner
	if g := m.gateway(); g != nil {
		t.Errorf("gateway of no runner: %#v, want untyped nil", g)
	}
	if m.stats() != nil {
		t.Error("stats of no runner")
	}
	m.start(context.Background(), nil)
	m.stop()
}
