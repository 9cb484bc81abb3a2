package e2e

import (
	"net/netip"
	"os"
	"path/filepath"
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
// tapdns --resolve on its TAP, then stops every authoritative server: every
// answer, positive and negative, still comes from the cache with its TTLs
// counted down, a name below a cached NXDOMAIN is NXDOMAIN too (RFC 8020),
// a name never asked fails with SERVFAIL and an Extended DNS Error, and
// RD=0 is refused.
func TestResolve(t *testing.T) {
	n, p := resolverLab(t, func(n *fakenet.Net) []string { return []string{"--resolve", "--root-hints", n.Hints} })
	type asked struct {
		m        *dns.Msg
		sent, at time.Time
	}
	first := make([]asked, len(n.Expect))
	for i, e := range n.Expect {
		sent := time.Now()
		m := ask(t, n, e.Name, e.Type, true)
		first[i] = asked{m, sent, time.Now()}
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
	// Stop every authoritative server: the cache still answers.
	n.StopServers(t)
	time.Sleep(1100 * time.Millisecond)
	for i, e := range n.Expect {
		if e.Rcode == dns.RcodeServerFailure {
			continue // failures are remembered for 5 s only (RFC 9520)
		}
		sent := time.Now()
		again := ask(t, n, e.Name, e.Type, true)
		if err := e.Check(again); err != nil {
			t.Errorf("from the cache with the servers stopped: %v", err)
			continue
		}
		// Every TTL (the SOA's of a negative answer too) has counted
		// down by the time between the two answers, whole seconds
		// rounded down: a second of slack either way.
		lo, hi := sent.Sub(first[i].at).Seconds()-1, time.Since(first[i].sent).Seconds()+1
		ttls := map[string]uint32{}
		for _, rr := range append(first[i].m.Answer, first[i].m.Ns...) {
			ttls[rrKey(rr)] = rr.Header().Ttl
		}
		for _, rr := range append(again.Answer, again.Ns...) {
			was, ok := ttls[rrKey(rr)]
			if !ok {
				t.Errorf("%v: %s not in the first answer", e, rr)
				continue
			}
			if down := float64(was) - float64(rr.Header().Ttl); down < lo || down > hi {
				t.Errorf("%v: %s: TTL %d, was %d %.1f-%.1f s before: want it counting down with the clock", e, rr, rr.Header().Ttl, was, lo+1, hi-1)
			}
		}
	}
	// Below a cached NXDOMAIN nothing exists (RFC 8020): answered from
	// the cache with the servers gone.
	if m := ask(t, n, "x.nx.example.lab.", dns.TypeA, true); m.Rcode != dns.RcodeNameError {
		t.Errorf("name below a cached NXDOMAIN with the servers stopped: %s, want NXDOMAIN", dns.RcodeToString[m.Rcode])
	}
	// A name never asked: nobody answers, SERVFAIL with an EDE within
	// the time budget (4 s).
	start := time.Now()
	m := ask(t, n, "never-asked.example.lab.", dns.TypeA, true)
	if m.Rcode != dns.RcodeServerFailure || edeOf(m) < 0 {
		t.Errorf("new name with the servers stopped: %s, EDE %d; want SERVFAIL with an Extended DNS Error", dns.RcodeToString[m.Rcode], edeOf(m))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("SERVFAIL took %v, want it within the 4 s budget", took.Round(time.Millisecond))
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

// rrKey is a record without its TTL.
func rrKey(rr dns.RR) string {
	h := *rr.Header()
	h.Ttl = 0
	c := dns.Copy(rr)
	*c.Header() = h
	return strings.ToLower(c.String())
}

// edeOf returns the first Extended DNS Error info-code of m, -1 for none.
func edeOf(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if x, ok := e.(*dns.EDNS0_EDE); ok {
				return int(x.InfoCode)
			}
		}
	}
	return -1
}

// TestResolvePrecedence runs tapdns --resolve with local data, a zone and
// a block list, all naming names the fake Internet also has, and checks
// the order the README documents: --override, then --hosts, then the
// zones, then --block, then the cache and upstream; then the same names
// from clients outside the on-link prefix: local data, zones and the
// block list answer everyone, recursion and cached answers only the
// clients --allow-recursion names.
func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	block := filepath.Join(dir, "block")
	os.WriteFile(hosts, []byte("198.18.5.3 www.lame.lab\n198.18.5.2 www.example.test\n198.18.5.4 printer.lab\n"), 0o644)
	// mail.example.test is in the zone (which wins); lame.lab holds the
	// override (which wins) and lame.lab's own SOA (which does not).
	os.WriteFile(block, []byte("mail.example.test\nlame.lab\nwww.chain.lab\n0.0.0.0 wild.lab\n"), 0o644)
	n, p := resolverLab(t, func(n *fakenet.Net) []string {
		return []string{"--resolve", "--root-hints", n.Hints, "--zone", testdata(t, "example.zone"),
			"--override", "www.lame.lab=198.18.5.9", "--hosts", hosts, "--block", block,
			"--allow-recursion", "198.18.0.0/24", "--allow-recursion", "198.18.1.6", "--allow-recursion", "2001:2::/64",
			"--metrics", metricsAddr}
	})
	const (
		local = iota // AA=1, from local data or the zone
		upstream
	)
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		from   int
		ede    int      // -1: none
		answer []string // "name TYPE data"
		why    string
	}{
		{"www.lame.lab.", dns.TypeA, dns.RcodeSuccess, local, -1, []string{"www.lame.lab. A 198.18.5.9"},
			"the override beats the hosts file, the block list (lame.lab) and upstream (198.18.16.21)"},
		{"www.lame.lab.", dns.TypeAAAA, dns.RcodeSuccess, local, -1, nil, "a local name has only its local records (NODATA)"},
		{"printer.lab.", dns.TypeA, dns.RcodeSuccess, local, -1, []string{"printer.lab. A 198.18.5.4"}, "hosts file; upstream would say NXDOMAIN"},
		{"4.5.18.198.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, local, -1, []string{"4.5.18.198.in-addr.arpa. PTR printer.lab."}, "the hosts file's PTR"},
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, local, -1, []string{"www.example.test. A 198.18.5.2"},
			"the hosts file beats the zone (198.18.0.80, .81) and upstream (198.18.16.11)"},
		{"mail.example.test.", dns.TypeA, dns.RcodeSuccess, local, -1, []string{"mail.example.test. A 198.18.0.25"},
			"the zone beats the block list and upstream (NXDOMAIN there)"},
		{"nosuch.example.test.", dns.TypeA, dns.RcodeNameError, local, -1, nil, "the zone's NXDOMAIN, authoritative"},
		{"lame.lab.", dns.TypeSOA, dns.RcodeNameError, local, 15, nil, "the block list beats upstream (which has the SOA)"},
		{"www.chain.lab.", dns.TypeA, dns.RcodeNameError, local, 15, nil, "blocked, though upstream has a CNAME chain"},
		{"anything.wild.lab.", dns.TypeA, dns.RcodeNameError, local, 15, nil, "below a blocked name (hosts-style line)"},
		{"www.example.lab.", dns.TypeA, dns.RcodeSuccess, upstream, -1, []string{"www.example.lab. A 198.18.16.1"}, "nothing local: upstream"},
		{"www.glueless.lab.", dns.TypeA, dns.RcodeSuccess, upstream, -1, []string{"www.glueless.lab. A 198.18.16.41"}, "nothing local: upstream"},
	}
	for _, tc := range tests {
		m := ask(t, n, tc.name, tc.qtype, true)
		e := fakenet.Expect{Name: tc.name, Type: tc.qtype, Rcode: tc.rcode, Answer: tc.answer}
		if err := e.Check(m); err != nil {
			t.Errorf("%s (%s): %v", e, tc.why, err)
		}
		if m.Authoritative != (tc.from == local) || !m.RecursionAvailable {
			t.Errorf("%s (%s): AA=%v RA=%v, want AA=%v RA=true", e, tc.why, m.Authoritative, m.RecursionAvailable, tc.from == local)
		}
		if got := edeOf(m); got != tc.ede {
			t.Errorf("%s (%s): EDE %d, want %d", e, tc.why, got, tc.ede)
		}
	}

	// Clients off the on-link prefix, their address on lo and tapdns's
	// reply routed back through its gateway: 198.18.1.5 is not allowed
	// recursion, 198.18.1.6 is (--allow-recursion 198.18.1.6).
	n.NS.MustRun(t, "ip", "addr", "add", "198.18.1.5/32", "dev", "lo")
	n.NS.MustRun(t, "ip", "addr", "add", "198.18.1.6/32", "dev", "lo")
	for _, tc := range []struct {
		src, name, qtype string
		status           string
		aa, ra           bool
		ede              string // substring of dig's output, "" for none
		answer           string // substring of the answer section
	}{
		{"198.18.1.5", "www.lame.lab", "A", "NOERROR", true, false, "", "198.18.5.9"},
		{"198.18.1.5", "mail.example.test", "A", "NOERROR", true, false, "", "198.18.0.25"},
		{"198.18.1.5", "www.chain.lab", "A", "NXDOMAIN", true, false, "EDE: 15 (Blocked)", ""},
		// Cached for the on-link client, still refused: cached answers
		// are recursion's too.
		{"198.18.1.5", "www.example.lab", "A", "REFUSED", false, false, "EDE: 18 (Prohibited)", ""},
		{"198.18.1.5", "www.dead.lab", "A", "REFUSED", false, false, "EDE: 18 (Prohibited)", ""},
		{"198.18.1.6", "www.example.lab", "A", "NOERROR", false, true, "", "198.18.16.1"},
		{"198.18.1.6", "www.dead.lab", "A", "NOERROR", false, true, "", "198.18.16.31"},
		{"198.18.1.6", "www.lame.lab", "A", "NOERROR", true, true, "", "198.18.5.9"},
	} {
		out, err := n.NS.Run(t, "dig", "-b", tc.src, "+time=3", "+tries=2", "@"+appliance4, tc.name, tc.qtype, "+noall", "+comments", "+answer")
		if err != nil {
			t.Errorf("dig from %s: %v\n%s", tc.src, err, out)
			continue
		}
		r, err := parseDig(out)
		if err != nil {
			t.Errorf("dig from %s: %v\n%s", tc.src, err, out)
			continue
		}
		if r.Status != tc.status || r.Flags["aa"] != tc.aa || r.Flags["ra"] != tc.ra ||
			tc.ede != "" && !strings.Contains(out, tc.ede) || !strings.Contains(strings.Join(r.Answer, "\n"), tc.answer) {
			t.Errorf("%s %s from %s: %s aa=%v ra=%v %q; want %s aa=%v ra=%v %q %q\n%s", tc.name, tc.qtype, tc.src,
				r.Status, r.Flags["aa"], r.Flags["ra"], r.Answer, tc.status, tc.aa, tc.ra, tc.ede, tc.answer, out)
		}
	}
	// Who answered is counted (at least: a client may have retried).
	m := scrape(t, n.NS)
	for _, c := range []struct {
		name string
		min  float64
	}{{"tapdns_dns_local_answers_total", 7}, {"tapdns_dns_blocked_total", 4},
		{"tapdns_dns_recursion_refused_total", 2}, {"tapdns_dns_recursion_total", 4}} {
		if m[c.name] < c.min {
			t.Errorf("%s = %v, want at least %v", c.name, m[c.name], c.min)
		}
	}
	stopWithin(t, p, syscall.SIGTERM)
}

// TestServeStale: with --cache-max-ttl 2s every answer expires after two
// seconds. Once the servers are gone, tapdns with --serve-stale gives the
// expired answer (TTL 30, EDE 3: RFC 8767); tapdns without it (the
// default) gives SERVFAIL.
func TestServeStale(t *testing.T) {
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "stale")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	ns.AddTAP(t, "tap1", "198.18.1.1/24", "")
	n := fakenet.Start(t, ns, fakenet.Options{})
	stale := ns.StartTapdns(t, bin, "--tap", "tap0", "--ip", appliance4+"/24", "--gateway", "198.18.0.1",
		"--resolve", "--root-hints", n.Hints, "--cache-max-ttl", "2s", "--serve-stale", "1h")
	plain := ns.StartTapdns(t, bin, "--tap", "tap1", "--ip", "198.18.1.2/24", "--gateway", "198.18.1.1",
		"--resolve", "--root-hints", n.Hints, "--cache-max-ttl", "2s")
	stale.WaitReady(t, appliance4)
	plain.WaitReady(t, "198.18.1.2")
	servers := []netip.AddrPort{netip.MustParseAddrPort(appliance4 + ":53"), netip.MustParseAddrPort("198.18.1.2:53")}
	query := func(server netip.AddrPort) *dns.Msg {
		t.Helper()
		m, err := fakenet.Exchange(ns, server, fakenet.NewQuery("www.example.lab.", dns.TypeA, true), 8*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", server, err)
		}
		return m
	}
	for _, s := range servers {
		m := query(s)
		if len(m.Answer) != 1 || m.Answer[0].Header().Ttl > 2 {
			t.Fatalf("%s: %v, want one A record with TTL at most 2 (--cache-max-ttl)", s, m.Answer)
		}
	}
	n.StopServers(t)
	time.Sleep(2500 * time.Millisecond)
	m := query(servers[0])
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 30 || edeOf(m) != 3 {
		t.Errorf("--serve-stale, expired, servers gone: %s %v EDE %d; want the stale answer with TTL 30 and EDE 3", dns.RcodeToString[m.Rcode], m.Answer, edeOf(m))
	}
	m = query(servers[1])
	if m.Rcode != dns.RcodeServerFailure || len(m.Answer) != 0 {
		t.Errorf("without --serve-stale, expired, servers gone: %s %v; want SERVFAIL", dns.RcodeToString[m.Rcode], m.Answer)
	}
	stopWithin(t, stale, syscall.SIGTERM)
	stopWithin(t, plain, syscall.SIGTERM)
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
		if strings.Contains(e.Case, "dead") {
			// How long Unbound takes around a dead server (its random
			// backoff, its 1.9 s discard timeout) is Unbound's business,
			// and it can exceed tapdns's 4 s budget on a loaded machine;
			// TestResolve checks tapdns's own handling of that server.
			continue
		}
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
