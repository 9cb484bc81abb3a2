package dnssvc

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/zone"
)

// TestAmplification measures the worst UDP amplification an attacker can
// get from a zone: for every owner name and every type it holds (and ANY,
// and a name below each owner for negative answers), the smallest query
// that asks for it (no EDNS, and EDNS with the largest size a client may
// offer) against the size of the response. Without cookies (RFC 7873)
// nothing stops a spoofed source, so this ratio is what RRL must contain.
// The numbers are logged (go test -v -run TestAmplification ./dnssvc) and
// quoted in README.md; the test fails if a response exceeds its UDP limit
// or the ratio exceeds the bound that limit implies.
func TestAmplification(t *testing.T) {
	zones := []string{
		"../cmd/tapdns/default.zone",
		"testdata/example.com.zone",
		"testdata/example.org.zone",
		"../e2e/testdata/example.zone",
		"../difftest/testdata/example.zone",
	}
	for _, f := range zones {
		if _, err := os.Stat(f); err != nil {
			t.Logf("%s: skipped (%v)", f, err)
			continue
		}
		for _, udpSize := range []int{0, 4096} {
			t.Run(fmt.Sprintf("%s udp-size=%d", strings.TrimPrefix(f, "../"), max(udpSize, 1232)), func(t *testing.T) {
				z, err := zone.LoadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				set, err := zone.NewSet(z)
				if err != nil {
					t.Fatal(err)
				}
				s := New(Config{UDPSize: udpSize}, set, nil)
				limit := s.udpSize
				worst := amplify(t, s, f)
				t.Logf("worst: %d-byte query -> %d-byte response, ratio %.1f (%s %s, %s)",
					worst.q, worst.r, worst.ratio(), worst.name, dns.TypeToString[worst.qtype], worst.mode)
				// The smallest query that can carry EDNS is 12 + 1 + 4 + 11
				// octets (the root name); no response may exceed limit.
				if bound := float64(limit) / 28; worst.ratio() > bound {
					t.Errorf("ratio %.1f above %.1f", worst.ratio(), bound)
				}
			})
		}
	}
}

type ampCase struct {
	name  string
	qtype uint16
	mode  string
	q, r  int
}

func (c ampCase) ratio() float64 { return float64(c.r) / float64(c.q) }

// amplify queries every name and type of the zone file f and returns the
// worst ratio.
func amplify(t *testing.T, s *Server, f string) ampCase {
	t.Helper()
	src, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(strings.NewReader(string(src)), "", f)
	zp.SetIncludeAllowed(true)
	types := map[string][]uint16{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if !slices.Contains(types[h.Name], h.Rrtype) {
			types[h.Name] = append(types[h.Name], h.Rrtype)
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	var worst ampCase
	dst := make([]byte, 0, 65535)
	client := Request{Client: netip.MustParseAddrPort("198.18.0.1:5300")}
	for name, ts := range types {
		ts = append(ts, dns.TypeANY, dns.TypeTXT, dns.TypeMX)
		for _, qname := range []string{name, "z." + name} {
			for _, qt := range ts {
				for _, edns := range []bool{false, true} {
					m := new(dns.Msg).SetQuestion(qname, qt)
					m.RecursionDesired = false
					mode := "no EDNS"
					if edns {
						m.SetEdns0(4096, true)
						mode = "EDNS 4096 DO"
					}
					q, err := m.Pack()
					if err != nil {
						t.Fatal(err)
					}
					resp := s.Respond(dst, q, client)
					limit := 512
					if edns {
						limit = s.udpSize
					}
					if len(resp) > limit {
						t.Errorf("%s %s %s: %d-byte UDP response over the %d limit", qname, dns.TypeToString[qt], mode, len(resp), limit)
					}
					c := ampCase{name: qname, qtype: qt, mode: mode, q: len(q), r: len(resp)}
					if c.ratio() > worst.ratio() || worst.q == 0 {
						worst = c
					}
				}
			}
		}
	}
	return worst
}
