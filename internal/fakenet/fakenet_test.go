package fakenet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/zone"
)

// TestWriteZonesLoad checks that every zone file Write produces loads with
// tapdns's own zone parser (NSD and Knot load them in TestFakeInternet),
// and that the delegations are what the package doc promises: every NS
// address of a served zone belongs to a server that serves the zone,
// except the lame and dead ones placed on purpose.
func TestWriteZonesLoad(t *testing.T) {
	l, err := Write(t.TempDir(), Options{BenchZones: 7})
	if err != nil {
		t.Fatal(err)
	}
	serves := map[netip.Addr]*Server{}
	for i := range l.Servers {
		for _, a := range l.Servers[i].Addrs {
			if serves[a] != nil {
				t.Errorf("address %s on both %s and %s", a, serves[a].Name, l.Servers[i].Name)
			}
			serves[a] = &l.Servers[i]
		}
	}
	specs := append(fixedZones(), benchZones(7)...)
	var odd []string // "zone: lame ADDR" / "zone: dead ADDR"
	for i, z := range l.Zones {
		if z.Origin != specs[i].origin {
			t.Fatalf("zone %d is %s, spec %s", i, z.Origin, specs[i].origin)
		}
		for _, ns := range specs[i].ns {
			for _, a := range ns.addrs {
				s := serves[a]
				switch {
				case s == nil && slices.Contains(l.Dead, a):
					odd = append(odd, z.Origin+" dead "+a.String())
				case s == nil:
					t.Errorf("%s: NS %s address %s belongs to no server", z.Origin, ns.name, a)
				case !slices.Contains(s.Zones, z.Origin):
					odd = append(odd, z.Origin+" lame "+a.String())
				}
			}
		}
		if z.File == "" {
			if len(z.Servers) != 0 {
				t.Errorf("%s: servers %v but no file", z.Origin, z.Servers)
			}
			continue
		}
		zz, err := zone.LoadFile(z.File)
		if err != nil {
			t.Errorf("%s: %v", z.Origin, err)
			continue
		}
		if zz.Records() < 3 {
			t.Errorf("%s: %d records", z.Origin, zz.Records())
		}
	}
	want := []string{
		"alllame.lab. lame 198.19.2.11", "alllame.lab. lame 198.19.2.12",
		"alllame.lab. lame 2001:2:0:102::11", "alllame.lab. lame 2001:2:0:102::12",
		"dead.lab. dead 198.19.9.1", "dead.lab. dead 2001:2:0:109::1",
		"lame.lab. lame 198.19.2.11",
	}
	slices.Sort(odd)
	if !slices.Equal(odd, want) {
		t.Errorf("lame and dead NS addresses:\n got %q\nwant %q", odd, want)
	}

	hints, err := os.ReadFile(l.Hints)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range l.Roots {
		if !strings.Contains(string(hints), "\t"+a.String()+"\n") {
			t.Errorf("root hints lack %s:\n%s", a, hints)
		}
	}
	env, err := os.ReadFile(filepath.Join(l.Dir, "fakenet.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Servers {
		if !strings.Contains(string(env), fmt.Sprintf("%q", s.Name+" "+s.Impl.String()+" "+s.Config)) {
			t.Errorf("fakenet.env lacks server %s:\n%s", s.Name, env)
		}
	}
}

// TestAddressesInBenchmarkRanges checks that every address the fake
// Internet uses or publishes is in 198.18.0.0/15 or 2001:2::/48.
func TestAddressesInBenchmarkRanges(t *testing.T) {
	l, err := Write(t.TempDir(), Options{BenchZones: 3})
	if err != nil {
		t.Fatal(err)
	}
	v4 := netip.MustParsePrefix("198.18.0.0/15")
	v6 := netip.MustParsePrefix("2001:2::/48")
	// Every data address any bench zone can have, distinct.
	seen := map[netip.Addr]bool{}
	for i := range MaxBenchZones {
		for k := range 64 {
			a4, a6 := benchAddr(i, k)
			if !v4.Contains(a4) || !v6.Contains(a6) || seen[a4] || seen[a6] {
				t.Fatalf("bench zone %d address %d: %s %s outside the ranges or used twice", i, k, a4, a6)
			}
			seen[a4], seen[a6] = true, true
		}
	}
	for _, z := range l.Zones {
		if z.File == "" {
			continue
		}
		f, err := os.Open(z.File)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(f, z.Origin, z.File)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA)
			default:
				continue
			}
			if !v4.Contains(a) && !v6.Contains(a) {
				t.Errorf("%s: %s outside the benchmark ranges", z.File, rr)
			}
		}
		f.Close()
		if err := zp.Err(); err != nil {
			t.Errorf("%s: %v", z.File, err)
		}
	}
	for _, a := range append(l.Addrs(), l.Dead...) {
		if !v4.Contains(a) && !v6.Contains(a) {
			t.Errorf("server address %s outside the benchmark ranges", a)
		}
	}
	if _, err := Write(t.TempDir(), Options{BenchZones: MaxBenchZones + 1}); err == nil {
		t.Errorf("Write with %d bench zones: no error", MaxBenchZones+1)
	}
}

func TestMix(t *testing.T) {
	l, err := Write(t.TempDir(), Options{BenchZones: 500})
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Mix(10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Mix(10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("Mix is not deterministic for the same seed")
	}
	if c, _ := l.Mix(10000, 2); slices.Equal(a, c) {
		t.Error("Mix gives the same names for seeds 1 and 2")
	}
	seen := map[Query]bool{}
	rcodes := map[int]int{}
	for _, q := range a {
		if seen[q] {
			t.Fatalf("%v twice", q)
		}
		seen[q] = true
		rcodes[q.Rcode]++
		if !dns.IsFqdn(q.Name) || strings.ToLower(q.Name) != q.Name {
			t.Fatalf("%q is not an absolute lower-case name", q.Name)
		}
	}
	// 16% NXDOMAIN by construction; allow for sampling noise.
	if nx := rcodes[dns.RcodeNameError]; nx < 1300 || nx > 1900 {
		t.Errorf("%d NXDOMAIN names in 10000, want about 1600", nx)
	}
	if q := a[0].String(); !strings.HasSuffix(q, " A") && !strings.HasSuffix(q, " AAAA") {
		t.Errorf("query line %q", q)
	}
	none, err := Write(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Mix(10, 1); err == nil {
		t.Error("Mix without bench zones: no error")
	}
	if _, err := l.Mix(500*benchHosts+1, 1); err == nil {
		t.Error("Mix asking for more names than exist: no error")
	}
}

func TestExpectCheck(t *testing.T) {
	e := Expect{Name: "www.chain.lab.", Type: dns.TypeA, Rcode: dns.RcodeSuccess, Answer: []string{
		"www.chain.lab. CNAME step.chain.test.",
		"step.chain.test. CNAME www.example.lab.",
		"www.example.lab. A 198.18.16.1"}}
	msg := func(rcode int, rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("WWW.chain.lab.", dns.TypeA)
		m.Response, m.Rcode = true, rcode
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		m    *dns.Msg
		want string // substring of the error; "" for none
	}{
		{"same, other order and TTLs", msg(0, "www.example.lab. 5 IN A 198.18.16.1",
			"Step.Chain.Test. 60 IN CNAME www.example.lab.", "www.chain.lab. 1 IN CNAME step.chain.test."), ""},
		{"rcode", msg(3, "www.example.lab. 5 IN A 198.18.16.1",
			"step.chain.test. 60 IN CNAME www.example.lab.", "www.chain.lab. 1 IN CNAME step.chain.test."), "rcode NXDOMAIN, want NOERROR"},
		{"missing", msg(0, "www.chain.lab. 1 IN CNAME step.chain.test."), "missing www.example.lab. A 198.18.16.1"},
		{"extra", msg(0, "www.example.lab. 5 IN A 198.18.16.1", "www.example.lab. 5 IN A 198.18.16.9",
			"step.chain.test. 60 IN CNAME www.example.lab.", "www.chain.lab. 1 IN CNAME step.chain.test."), "unexpected www.example.lab. A 198.18.16.9"},
		{"data", msg(0, "www.example.lab. 5 IN A 198.18.16.2",
			"step.chain.test. 60 IN CNAME www.example.lab.", "www.chain.lab. 1 IN CNAME step.chain.test."), "unexpected www.example.lab. A 198.18.16.2"},
	} {
		err := e.Check(tc.m)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	q := msg(0)
	q.Question[0].Qtype = dns.TypeAAAA
	if err := (Expect{Name: "www.chain.lab.", Type: dns.TypeA}).Check(q); err == nil || !strings.Contains(err.Error(), "question") {
		t.Errorf("question mismatch: %v", err)
	}
}

// TestExpectTableWellFormed checks the hand-written table: every record
// parses, every name is absolute and in a zone of the fake Internet, and
// no row is listed twice.
func TestExpectTableWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range fixedExpect() {
		if seen[e.String()] {
			t.Errorf("%s listed twice", e)
		}
		seen[e.String()] = true
		if !dns.IsFqdn(e.Name) || e.Case == "" {
			t.Errorf("%s: name not absolute or no case", e)
		}
		for _, a := range e.Answer {
			if _, err := dns.NewRR(a); err != nil {
				t.Errorf("%s: %q: %v", e, a, err)
			}
		}
	}
}
