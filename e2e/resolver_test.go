package e2e

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/fakenet"
	"github.com/tapdns/tapdns/internal/labtest"
)

// resolverLab builds the fake Internet in a lab namespace and starts
// tapdns on its TAP with the lab's gateways and the flags args returns
// (given the fake Internet, for its root hints).
func resolverLab(t *testing.T, args func(*fakenet.Net) []string) (*fakenet.Net, *labtest.Proc) {
	t.Helper()
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "res")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	n := fakenet.Start(t, ns, fakenet.Options{})
	p := ns.StartTapdns(t, bin, append([]string{"--tap", "tap0", "--ip", appliance4 + "/24", "--gateway", "198.18.0.1",
		"--ip6", appliance6 + "/64", "--gateway6", "2001:2::1"}, args(n)...)...)
	p.WaitReady(t, appliance4)
	return n, p
}

func ask(t *testing.T, n *fakenet.Net, name string, qtype uint16, rd bool) *dns.Msg {
	t.Helper()
	m, err := fakenet.Exchange(n.NS, netip.MustParseAddrPort(appliance4+":53"), fakenet.NewQuery(name, qtype, rd), 5*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return m
}

// TestResolve resolves every row of the fake Internet's table through
// tapdns --resolve on its TAP, then checks the cache: the answers survive
// the servers' end, their TTLs count down, and RD=0 is refused.
func TestResolve(t *testing.T) {
	n, p := resolverLab(t, func(n *fakenet.Net) []string { return []string{"--resolve", "--root-hints", n.Hints} })
	for _, e := range n.Expect {
		m := ask(t, n, e.Name, e.Type, true)
		if err := e.Check(m); err != nil {
			t.Errorf("%v: %v\n%v", e, err, m)
		}
		if !m.RecursionAvailable || m.Authoritative {
			t.Errorf("%v: ra %v aa %v, want RA=1 AA=0", e, m.RecursionAvailable, m.Authoritative)
		}
	}
	if t.Failed() {
		return
	}
	first := ask(t, n, n.Expect[0].Name, n.Expect[0].Type, true)
	// Stop every authoritative server: the cache still answers.
	n.StopServers(t)
	time.Sleep(1100 * time.Millisecond)
	again := ask(t, n, n.Expect[0].Name, n.Expect[0].Type, true)
	if err := n.Expect[0].Check(again); err != nil {
		t.Errorf("from the cache with the servers stopped: %v", err)
	}
	if len(first.Answer) > 0 && len(again.Answer) > 0 && again.Answer[0].Header().Ttl >= first.Answer[0].Header().Ttl {
		t.Errorf("TTL %d after a second, was %d: want it counting down", again.Answer[0].Header().Ttl, first.Answer[0].Header().Ttl)
	}
	// RD=0: REFUSED (as Unbound and kresd), cached or not: no cache
	// snooping.
	for _, name := range []string{"never-asked.lab.", n.Expect[0].Name} {
		if m := ask(t, n, name, dns.TypeA, false); m.Rcode != dns.RcodeRefused || len(m.Answer) != 0 {
			t.Errorf("RD=0 %s: %s with %d records, want REFUSED", name, dns.RcodeToString[m.Rcode], len(m.Answer))
		}
	}
	stopWithin(t, p, syscall.SIGTERM)
}

// TestForwardAndACL: tapdns --forward to Unbound (which resolves through
// the fake Internet), local data still first, a client outside the
// on-link prefix refused with EDE 18, and the resolver's metrics.
func TestForwardAndACL(t *testing.T) {
	var unbound *fakenet.Resolver
	n, p := resolverLab(t, func(n *fakenet.Net) []string {
		unbound = n.StartUnbound(t, netip.MustParseAddr("198.19.53.1"))
		return []string{"--forward", unbound.Addr().String(), "--override", "override.chain.lab=198.18.7.7", "--metrics", "127.0.0.1:9153"}
	})
	for _, e := range n.Expect {
		m := ask(t, n, e.Name, e.Type, true)
		if err := e.Check(m); err != nil {
			t.Errorf("%v forwarded: %v\n%v", e, err, m)
		}
		if !m.RecursionAvailable {
			t.Errorf("%v: forwarded answer without RA", e)
		}
	}
	e := n.Expect[0]
	if m := ask(t, n, "override.chain.lab.", dns.TypeA, true); len(m.Answer) != 1 || !strings.Contains(m.Answer[0].String(), "198.18.7.7") || !m.Authoritative {
		t.Errorf("override with --forward: %v, want the local answer with AA", m)
	}
	// A client outside 198.18.0.0/24 (its address on lo, routed back by
	// tapdns through its gateway).
	n.NS.MustRun(t, "ip", "addr", "add", "198.18.1.5/32", "dev", "lo")
	out, err := n.NS.Run(t, "dig", "+time=2", "+tries=2", "-b", "198.18.1.5", "@"+appliance4, e.Name, dns.TypeToString[e.Type])
	if err != nil || !strings.Contains(out, "status: REFUSED") || !strings.Contains(out, "EDE: 18 (Prohibited)") {
		t.Errorf("off-prefix client: %v\n%s\nwant REFUSED with EDE 18", err, out)
	}
	metrics := scrape(t, n.NS)
	found := false
	for k := range metrics {
		if strings.HasPrefix(k, "tapdns_resolver_") {
			found = true
		}
	}
	if !found {
		t.Errorf("no tapdns_resolver_ metrics")
	}
	stopWithin(t, p, syscall.SIGTERM)
}
