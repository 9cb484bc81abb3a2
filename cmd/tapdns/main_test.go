package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/zone"
)

// These tests stop before the network stack starts: a run that got that far
// would create a TAP in the test's own (root) namespace. The e2e package
// runs the whole program inside namespaces of its own.

func runForTest(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunVersion(t *testing.T) {
	code, stdout, stderr := runForTest("version")
	if code != 0 || !strings.HasPrefix(stdout, "tapdns ") {
		t.Errorf("tapdns version = %d, stdout %q, stderr %q; want 0 and \"tapdns ...\"", code, stdout, stderr)
	}
	if code, _, _ := runForTest("version", "extra"); code != exitUsage {
		t.Errorf("tapdns version extra = %d, want %d", code, exitUsage)
	}
}

func TestRunHelp(t *testing.T) {
	code, _, stderr := runForTest("--help")
	if code != 0 || !strings.Contains(stderr, "Usage: tapdns") {
		t.Errorf("tapdns --help = %d, stderr %q; want 0 and the usage", code, stderr)
	}
}

func TestRunUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.zone")
	bad := filepath.Join(t.TempDir(), "bad.zone")
	if err := os.WriteFile(bad, []byte("$ORIGIN bad.test.\n$TTL 300\n@ IN SOA ns. host. 1 2 3 4 5\n@ IN NS ns.\nwww IN A 198.18.0.300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"bad flag", []string{"--nope"}, []string{"flag provided but not defined"}},
		{"bad value", []string{"--ip", "198.18.0.2/24", "--netmask", "255.255.0.0"}, []string{"tapdns: --ip", "disagree"}},
		{"no address", []string{"--zone", bad}, []string{"tapdns: no address"}},
		{"missing zone file", []string{"--ip", "198.18.0.2", "--zone", missing}, []string{"tapdns: zone " + missing}},
		{"bad zone", []string{"--ip", "198.18.0.2", "--zone", bad}, []string{"tapdns: zone " + bad + ": line 5: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runForTest(tc.args...)
			if code != exitUsage {
				t.Errorf("exit status = %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, w)
				}
			}
		})
	}
}

// TestDefaultZoneContents checks the embedded zone with miekg/dns as an
// independent parser: the records the README and the demo rely on are there,
// and every address is in a benchmark range.
func TestDefaultZoneContents(t *testing.T) {
	zp := dns.NewZoneParser(bytes.NewReader(defaultZone), defaultOrigin, "default.zone")
	v4 := netip.MustParsePrefix("198.18.0.0/15")
	v6 := netip.MustParsePrefix("2001:2::/48")
	types := map[string]bool{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if !dns.IsSubDomain(defaultOrigin, h.Name) {
			t.Errorf("%s is outside %s", h.Name, defaultOrigin)
		}
		types[h.Name+" "+dns.TypeToString[h.Rrtype]] = true
		switch rr := rr.(type) {
		case *dns.A:
			if a, _ := netip.AddrFromSlice(rr.A.To4()); !v4.Contains(a) {
				t.Errorf("%s: address outside %s", rr, v4)
			}
		case *dns.AAAA:
			if a, _ := netip.AddrFromSlice(rr.AAAA); !v6.Contains(a) {
				t.Errorf("%s: address outside %s", rr, v6)
			}
		}
		if rr.String() == "ns0.tapdns.test.\t3600\tIN\tA\t198.18.0.2" {
			types["ns0 A 198.18.0.2"] = true
		}
		if rr.String() == "ns0.tapdns.test.\t3600\tIN\tAAAA\t2001:2::2" {
			types["ns0 AAAA 2001:2::2"] = true
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("default.zone: %v", err)
	}
	for _, want := range []string{
		"tapdns.test. SOA", "tapdns.test. NS", "tapdns.test. MX", "tapdns.test. TXT",
		"ns0 A 198.18.0.2", "ns0 AAAA 2001:2::2", "www.tapdns.test. A", "www.tapdns.test. AAAA",
	} {
		if !types[want] {
			t.Errorf("default.zone lacks %s", want)
		}
	}
}

func TestDefaultZoneLoads(t *testing.T) {
	set, err := loadZones(nil)
	if err != nil {
		t.Fatalf("loadZones(nil): %v", err)
	}
	zs := set.Zones()
	if len(zs) != 1 || zone.NameText(zs[0].Origin) != defaultOrigin || zs[0].Serial != 2026112901 {
		t.Fatalf("embedded set = %d zones, want one: tapdns.test. serial 2026112901", len(zs))
	}
}

// TestHandler checks that the adapter answers through dnssvc without
// allocating: it sits on the per-packet path.
func TestHandler(t *testing.T) {
	set, err := loadZones(nil)
	if err != nil {
		t.Fatal(err)
	}
	var h netstack.Handler = newHandler(dnssvc.New(dnssvc.Config{}, set, nil), nil)
	q := new(dns.Msg)
	q.SetQuestion("www.tapdns.test.", dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 65535)
	m := netstack.Meta{Client: netip.MustParseAddrPort("198.18.0.1:40000")}
	resp := h.HandlePacket(dst, query, m)
	var r dns.Msg
	if err := r.Unpack(resp); err != nil {
		t.Fatalf("response does not parse: %v (% x)", err, resp)
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
		t.Fatalf("response = %v, want one authoritative answer", &r)
	}
	if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != "198.18.0.80" {
		t.Errorf("answer = %v, want www.tapdns.test. A 198.18.0.80", r.Answer[0])
	}
	if allocs := testing.AllocsPerRun(100, func() { h.HandlePacket(dst, query, m) }); allocs != 0 {
		t.Errorf("HandlePacket allocates %.1f times per query, want 0", allocs)
	}
}
