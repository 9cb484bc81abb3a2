package fakenet

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/labtest"
)

// Addresses of the reference resolvers in the tests: 198.19.53.0/24 and
// 2001:2:0:153::/64 are not used by the fake Internet.
var (
	unboundV4 = netip.MustParseAddr("198.19.53.1")
	unboundV6 = netip.MustParseAddr("2001:2:0:153::1")
	kresdV4   = netip.MustParseAddr("198.19.53.2")
	kresdV6   = netip.MustParseAddr("2001:2:0:153::2")
)

// TestFakeInternet brings the fake Internet up, checks that its servers
// behave as the package promises (referrals, lame, dead, truncation,
// IPv6), then checks that Unbound and Knot Resolver both resolve every
// row of the expected-answer table: the table and the fake Internet agree
// before tapdns is compared with them.
func TestFakeInternet(t *testing.T) {
	ns := labtest.NewNS(t, "fakenet")
	n := Start(t, ns, Options{})

	ask := func(t *testing.T, server netip.Addr, name string, qtype uint16) *dns.Msg {
		t.Helper()
		m, err := exchange(ns, "udp", netip.AddrPortFrom(server, 53), NewQuery(name, qtype, false), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("shape", func(t *testing.T) {
		for _, root := range []netip.Addr{root1V4, root2V6} {
			m := ask(t, root, "www.example.lab.", dns.TypeA)
			if m.Authoritative || m.Rcode != dns.RcodeSuccess || len(m.Ns) == 0 || m.Ns[0].Header().Name != "lab." {
				t.Errorf("root %s: want a referral to lab., got\n%s", root, m)
			}
		}
		if m := ask(t, tld2V4, "www.glueless.lab.", dns.TypeA); len(m.Ns) != 1 || len(m.Extra) > 1 ||
			!strings.HasSuffix(m.Ns[0].String(), "ns.hosting.test.") {
			t.Errorf("glueless referral from Knot:\n%s", m)
		}
		for _, lame := range []netip.Addr{lame1V4, lame2V6} {
			if m := ask(t, lame, "www.alllame.lab.", dns.TypeA); m.Rcode != dns.RcodeRefused {
				t.Errorf("lame server %s: rcode %s, want REFUSED", lame, dns.RcodeToString[m.Rcode])
			}
		}
		for _, dead := range n.Dead {
			m, err := exchange(ns, "udp", netip.AddrPortFrom(dead, 53), NewQuery("www.dead.lab.", dns.TypeA, false), 300*time.Millisecond)
			if err == nil {
				t.Errorf("dead server %s answered:\n%s", dead, m)
			}
		}
		for _, c := range []struct {
			server netip.Addr
			name   string
			qtype  uint16
		}{{leaf1V4, "many.big.lab.", dns.TypeA}, {leaf2V6, "many.big.test.", dns.TypeTXT}} {
			if m := ask(t, c.server, c.name, c.qtype); !m.Truncated {
				t.Errorf("%s %s over UDP from %s: TC=0, want a truncated answer (%d records)", c.name, dns.TypeToString[c.qtype], c.server, len(m.Answer))
			}
			m, err := Exchange(ns, netip.AddrPortFrom(c.server, 53), NewQuery(c.name, c.qtype, false), 2*time.Second)
			if err != nil || m.Truncated || len(m.Answer) < 8 {
				t.Errorf("%s over TCP from %s: %v\n%v", c.name, c.server, err, m)
			}
		}
		if m := ask(t, leaf2V6, "www.v6only.lab.", dns.TypeA); !m.Authoritative || len(m.Answer) != 1 {
			t.Errorf("v6only.lab from %s:\n%s", leaf2V6, m)
		}
	})
	if t.Failed() {
		return
	}

	resolvers := []*Resolver{
		n.StartUnbound(t, unboundV4, unboundV6),
		n.StartKresd(t, kresdV4, kresdV6),
	}
	for _, r := range resolvers {
		t.Run(r.Name, func(t *testing.T) {
			for _, e := range n.Expect {
				t.Run(strings.ReplaceAll(e.String(), " ", "_"), func(t *testing.T) {
					t.Parallel()
					m, err := Exchange(ns, r.Addr(), NewQuery(e.Name, e.Type, true), 10*time.Second)
					if err != nil {
						t.Fatalf("%s (%s): %v", e, e.Case, err)
					}
					if err := e.Check(m); err != nil {
						t.Errorf("%s (%s): %v\n%s", r.Name, e.Case, err, m)
					}
					if !m.RecursionAvailable || m.Authoritative {
						t.Errorf("%s %s: RA=%v AA=%v, want RA=1 AA=0", r.Name, e, m.RecursionAvailable, m.Authoritative)
					}
				})
			}
		})
	}
	// Over IPv6 to the resolvers too.
	for _, r := range resolvers {
		e := n.Expect[0]
		m, err := Exchange(ns, netip.AddrPortFrom(r.Addrs[1], 53), NewQuery(e.Name, e.Type, true), 5*time.Second)
		if err != nil {
			t.Errorf("%s over IPv6: %v", r.Name, err)
		} else if err := e.Check(m); err != nil {
			t.Errorf("%s over IPv6: %v", r.Name, err)
		}
	}
}
