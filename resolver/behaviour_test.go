package resolver

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

// genuine returns the server's real response to q, unpacked.
func (s *authServer) genuine(t testing.TB, q []byte) *dns.Msg {
	m := new(dns.Msg)
	if err := m.Unpack(s.respond(q, false)); err != nil {
		t.Errorf("unpack genuine response: %v", err)
	}
	return m
}

func mustPack(t testing.TB, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return b
}

func mustRR(t testing.TB, s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// forge answers with a forged response (made by f from the genuine one)
// through send, then with the genuine response, so that a resolver that
// took the forgery would answer 6.6.6.6.
func forge(t *testing.T, send func(s *authServer, b []byte, to netip.AddrPort), f func(m *dns.Msg)) func(*authServer, []byte, netip.AddrPort) bool {
	return func(s *authServer, q []byte, from netip.AddrPort) bool {
		g := s.genuine(t, q)
		bad := g.Copy()
		for i, rr := range bad.Answer {
			if a, ok := rr.(*dns.A); ok {
				a2 := *a
				a2.A = net.IPv4(6, 6, 6, 6)
				bad.Answer[i] = &a2
			}
		}
		f(bad)
		send(s, mustPack(t, bad), from)
		time.Sleep(5 * time.Millisecond)
		s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
		return true
	}
}

func TestSpoofingRejected(t *testing.T) {
	fromServer := func(s *authServer, b []byte, to netip.AddrPort) { s.udp.WriteToUDPAddrPort(b, to) }
	tests := []struct {
		name string
		hook func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool
		stat func(Stats) uint64
	}{
		{"wrong source port", func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool {
			return forge(t, func(s *authServer, b []byte, to netip.AddrPort) {
				c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.addr.Addr(), 0)))
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.WriteToUDPAddrPort(b, to)
			}, func(*dns.Msg) {})
		}, func(s Stats) uint64 { return s.WrongSource }},
		{"wrong source address", func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool {
			return forge(t, func(s *authServer, b []byte, to netip.AddrPort) {
				c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.l.ip(99), s.addr.Port())))
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.WriteToUDPAddrPort(b, to)
			}, func(*dns.Msg) {})
		}, func(s Stats) uint64 { return s.WrongSource }},
		{"wrong ID", func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool {
			return forge(t, fromServer, func(m *dns.Msg) { m.Id ^= 0x5A5A })
		}, func(s Stats) uint64 { return s.WrongID }},
		{"mismatched question", func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool {
			return forge(t, fromServer, func(m *dns.Msg) {
				m.Question[0].Name = "evil.example.test."
				for _, rr := range m.Answer {
					rr.Header().Name = "evil.example.test."
				}
			})
		}, func(s Stats) uint64 { return s.WrongQuestion }},
		{"mismatched type", func(t *testing.T) func(*authServer, []byte, netip.AddrPort) bool {
			return forge(t, fromServer, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA })
		}, func(s Stats) uint64 { return s.WrongQuestion }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := stdLab(t)
			l.servers[5].setHook(tc.hook(t))
			s := l.resolver(Config{}, cache.Config{})
			r := l.ask(s, "www.example.test.", dns.TypeA)
			if got := answers(r); !slices.Equal(got, []string{"www.example.test. A 192.0.2.20"}) {
				t.Errorf("answer %q, want the genuine one", got)
			}
			if n := tc.stat(s.Stats()); n == 0 {
				t.Errorf("forgery not counted")
			}
		})
	}
}

// TestPoisoningRejected: records a server has no authority for, in the
// additional section of a referral or in an answer, are never cached.
func TestPoisoningRejected(t *testing.T) {
	l := stdLab(t)
	inject := func(extra, answer []string) func(*authServer, []byte, netip.AddrPort) bool {
		return func(s *authServer, q []byte, from netip.AddrPort) bool {
			g := s.genuine(t, q)
			for _, x := range extra {
				g.Extra = append(g.Extra, mustRR(t, x))
			}
			if len(g.Answer) > 0 {
				for _, x := range answer {
					g.Answer = append(g.Answer, mustRR(t, x))
				}
			}
			s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
			return true
		}
	}
	// The test. servers add glue for names outside test. (the other.
	// TLD server's and a host's) and an in-bailiwick non-NS name.
	poison := []string{"ns.other. 86400 IN A 6.6.6.6", "www.example.other. 86400 IN A 6.6.6.6", "www.test. 86400 IN A 6.6.6.6"}
	l.servers[2].setHook(inject(poison, nil))
	l.servers[3].setHook(inject(poison, nil))
	// The example.test. server answers with an extra record for another
	// zone's name.
	l.servers[5].setHook(inject(nil, []string{"www.example.other. 86400 IN A 6.6.6.6"}))
	s := l.resolver(Config{}, cache.Config{})
	if r := l.ask(s, "www.example.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("answer %v", r.Answer)
	}
	if got := answers(l.ask(s, "www.example.other.", dns.TypeA)); !slices.Equal(got, []string{"www.example.other. A 192.0.2.10"}) {
		t.Errorf("www.example.other. %q, want the real address", got)
	}
	if got := answers(l.ask(s, "www.test.", dns.TypeA)); len(got) != 2 || got[0] != "www.test. A 192.0.2.1" {
		t.Errorf("www.test. %q, want the real addresses", got)
	}
	if rs, ok := s.cache.GetRRset([]byte("\x02ns\x05other\x00"), dns.TypeA); ok {
		for rd := range rs.Records {
			if string(rd) == "\x06\x06\x06\x06" {
				t.Errorf("ns.other. cached with the injected address")
			}
		}
	}
	if st := s.Stats(); st.GlueRejected < 3 {
		t.Errorf("%d glue records rejected, want at least 3", st.GlueRejected)
	}
}

// seed makes a server look fast and another slow to server selection, so
// that the fast one is asked first.
func seed(s *Server, fast, slow netip.AddrPort) {
	s.infra.sample(fast, time.Millisecond)
	s.infra.sample(slow, 700*time.Millisecond)
}

func TestLameServer(t *testing.T) {
	l := stdLab(t)
	lame, good := l.servers[2], l.servers[3]
	lame.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		g := s.genuine(t, q)
		g.Rcode = dns.RcodeRefused
		g.Answer, g.Ns, g.Extra = nil, nil, nil
		s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
		return true
	})
	s := l.resolver(Config{}, cache.Config{})
	seed(s, lame.addr, good.addr)
	for _, name := range []string{"www.test.", "ns1.test.", "ns2.test."} {
		if r := l.ask(s, name, dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s: %s %v", name, dns.RcodeToString[r.Rcode], r.Answer)
		}
	}
	if n := lame.udpQueries.Load(); n != 1 {
		t.Errorf("lame server asked %d times, want once (then avoided)", n)
	}
	if st := s.Stats(); st.Lame != 1 || st.UpstreamRcode[dns.RcodeRefused] != 1 {
		t.Errorf("lame %d, REFUSED %d; want 1 each", st.Lame, st.UpstreamRcode[dns.RcodeRefused])
	}
}

func TestBadReferral(t *testing.T) {
	l := stdLab(t)
	// The example.test. server refers every query back up to test.
	l.servers[5].setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		g := s.genuine(t, q)
		g.Authoritative = false
		g.Rcode = dns.RcodeSuccess
		g.Answer, g.Extra = nil, nil
		g.Ns = []dns.RR{mustRR(t, "test. 3600 IN NS ns1.test.")}
		s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
		return true
	})
	s := l.resolver(Config{TimeBudget: time.Second}, cache.Config{})
	r := l.ask(s, "www.example.test.", dns.TypeA, withEDNS(1232))
	if r.Rcode != dns.RcodeServerFailure || ede(r) != edeNoReachableAuthority {
		t.Errorf("rcode %s EDE %d, want SERVFAIL with EDE 22", dns.RcodeToString[r.Rcode], ede(r))
	}
	if st := s.Stats(); st.BadReferrals == 0 || st.ServFail[CauseLame] != 1 {
		t.Errorf("bad referrals %d, SERVFAIL(lame) %d", st.BadReferrals, st.ServFail[CauseLame])
	}
}

func TestDeadServer(t *testing.T) {
	l := stdLab(t)
	dead, good := l.servers[2], l.servers[3]
	dead.dead()
	s := l.resolver(Config{}, cache.Config{})
	seed(s, dead.addr, good.addr)
	for _, name := range []string{"www.test.", "ns1.test.", "ns2.test.", "alias.test.", "nope.test."} {
		if r := l.ask(s, name, dns.TypeA); r.Rcode == dns.RcodeServerFailure {
			t.Fatalf("%s: SERVFAIL", name)
		}
	}
	// Each timeout doubles the timeout; after deadAfter in a row the
	// server is backed off and the others are asked straight away.
	if n := dead.udpQueries.Load(); n != deadAfter {
		t.Errorf("dead server asked %d times, want %d", n, deadAfter)
	}
	st := s.Stats()
	if st.UpstreamTimeouts != deadAfter {
		t.Errorf("%d timeouts, want %d", st.UpstreamTimeouts, deadAfter)
	}
	for _, ss := range st.Servers {
		if ss.Addr == dead.addr && (ss.Timeouts != deadAfter || ss.RTO <= time.Millisecond) {
			t.Errorf("dead server stats %+v", ss)
		}
	}
}

func TestAllServersDead(t *testing.T) {
	l := stdLab(t)
	l.servers[2].dead()
	l.servers[3].dead()
	s := l.resolver(Config{TimeBudget: 800 * time.Millisecond}, cache.Config{})
	start := time.Now()
	r := l.ask(s, "www.test.", dns.TypeA, withEDNS(1232))
	took := time.Since(start)
	if r.Rcode != dns.RcodeServerFailure || ede(r) != edeNoReachableAuthority {
		t.Errorf("rcode %s EDE %d, want SERVFAIL with EDE 22 (No Reachable Authority)", dns.RcodeToString[r.Rcode], ede(r))
	}
	if took > 3*time.Second {
		t.Errorf("SERVFAIL after %v, want about the 800ms budget", took)
	}
	st := s.Stats()
	if st.ServFail[CauseTimeout]+st.ServFail[CauseBudget] != 1 {
		t.Errorf("SERVFAIL causes %v", st.ServFail)
	}
	// The failure is cached (RFC 9520): the next query is answered at once.
	r, hit := l.askRaw(s, "www.test.", dns.TypeA, false, withEDNS(1232))
	if !hit || r.Rcode != dns.RcodeServerFailure || ede(r) != edeNoReachableAuthority {
		t.Errorf("second query: hit %v rcode %s EDE %d", hit, dns.RcodeToString[r.Rcode], ede(r))
	}
}

func TestTruncatedToTCP(t *testing.T) {
	l := stdLab(t)
	srv := l.servers[5]
	srv.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		g := s.genuine(t, q)
		g.Truncated = true
		g.Answer, g.Ns, g.Extra = nil, nil, nil
		s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
		return true
	})
	s := l.resolver(Config{}, cache.Config{})
	if got := answers(l.ask(s, "www.example.test.", dns.TypeA)); !slices.Equal(got, []string{"www.example.test. A 192.0.2.20"}) {
		t.Errorf("answer %q", got)
	}
	if srv.tcpQueries.Load() != 1 || s.Stats().UpstreamTCP != 1 {
		t.Errorf("TCP queries: server %d, stats %d; want 1", srv.tcpQueries.Load(), s.Stats().UpstreamTCP)
	}
	// TCP refused after TC=1: a network error (EDE 23).
	srv.tcp.Close()
	r := l.ask(s, "mail.example.test.", dns.TypeA, withEDNS(1232))
	if r.Rcode != dns.RcodeServerFailure || ede(r) != edeNetworkError {
		t.Errorf("TCP refused: rcode %s EDE %d, want SERVFAIL with EDE 23", dns.RcodeToString[r.Rcode], ede(r))
	}
}

func TestFormErrRetriedWithoutEDNS(t *testing.T) {
	l := stdLab(t)
	srv := l.servers[5]
	var mu sync.Mutex
	var withOPT []bool
	srv.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		m := new(dns.Msg)
		m.Unpack(q)
		mu.Lock()
		withOPT = append(withOPT, m.IsEdns0() != nil)
		mu.Unlock()
		if m.IsEdns0() == nil {
			return false
		}
		r := new(dns.Msg)
		r.SetRcode(m, dns.RcodeFormatError)
		r.Question = nil // as old servers do
		s.udp.WriteToUDPAddrPort(mustPack(t, r), from)
		return true
	})
	s := l.resolver(Config{NoQNameMinimisation: true}, cache.Config{})
	for _, name := range []string{"www.example.test.", "mail.example.test."} {
		if got := answers(l.ask(s, name, dns.TypeA)); len(got) != 1 {
			t.Errorf("%s: answer %q", name, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// EDNS, then without; the second query goes without at once.
	if !slices.Equal(withOPT, []bool{true, false, false}) {
		t.Errorf("queries with OPT: %v, want [true false false]", withOPT)
	}
	if n := s.Stats().UpstreamNoEDNS; n != 1 {
		t.Errorf("%d retries without EDNS, want 1", n)
	}
}

func TestNegativeCaching(t *testing.T) {
	l := stdLab(t)
	srv := l.servers[5]
	s := l.resolver(Config{}, cache.Config{})
	r := l.ask(s, "nope.example.test.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 60 {
		t.Fatalf("NXDOMAIN: %s %v (want the SOA with TTL min(300, 60))", dns.RcodeToString[r.Rcode], r.Ns)
	}
	n := srv.udpQueries.Load()
	// The same name and other types, and names below it (RFC 8020),
	// come from the cache.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"nope.example.test.", dns.TypeA}, {"nope.example.test.", dns.TypeTXT}, {"a.b.nope.example.test.", dns.TypeA}} {
		if r := l.ask(s, q.name, q.qtype); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Errorf("%s %s: %s %v, want NXDOMAIN with the SOA", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.Ns)
		}
	}
	if got := srv.udpQueries.Load(); got != n {
		t.Errorf("%d more queries to the server, want none", got-n)
	}
	// NODATA is cached for its type only.
	if r := l.ask(s, "www.example.test.", dns.TypeTXT); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("NODATA: %v", r)
	}
	n = srv.udpQueries.Load()
	l.ask(s, "www.example.test.", dns.TypeTXT)
	if got := srv.udpQueries.Load(); got != n {
		t.Errorf("NODATA not cached: %d more queries", got-n)
	}
	l.ask(s, "www.example.test.", dns.TypeAAAA)
	if got := srv.udpQueries.Load(); got == n {
		t.Errorf("NODATA for TXT answered AAAA too")
	}
	// The negative TTL counts down and then the server is asked again.
	l.advance(61 * time.Second)
	n = srv.udpQueries.Load()
	l.ask(s, "x.nope.example.test.", dns.TypeA)
	if got := srv.udpQueries.Load(); got == n {
		t.Errorf("expired NXDOMAIN still used")
	}
}

func TestTimeBudget(t *testing.T) {
	l := stdLab(t)
	l.servers[5].dead()
	s := l.resolver(Config{TimeBudget: 200 * time.Millisecond}, cache.Config{})
	s.initialRTO = 2 * time.Second // one attempt outlasts the budget
	start := time.Now()
	r := l.ask(s, "www.example.test.", dns.TypeA, withEDNS(1232))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v, want about 200ms", took)
	}
	if r.Rcode != dns.RcodeServerFailure || ede(r) != edeNoReachableAuthority {
		t.Errorf("rcode %s EDE %d, want SERVFAIL with EDE 22", dns.RcodeToString[r.Rcode], ede(r))
	}
	if st := s.Stats(); st.ServFail[CauseBudget] != 1 {
		t.Errorf("SERVFAIL causes %v, want one budget", st.ServFail)
	}
}

func TestServeStale(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{StaleTimeout: 100 * time.Millisecond, TimeBudget: time.Second, NoPrefetch: true},
		cache.Config{ServeStale: time.Hour})
	l.ask(s, "www.example.test.", dns.TypeA)
	l.servers[5].dead()
	l.advance(301 * time.Second)
	start := time.Now()
	r, hit := l.askRaw(s, "www.example.test.", dns.TypeA, false, withEDNS(1232))
	if hit || time.Since(start) > 900*time.Millisecond {
		t.Errorf("stale answer: hit %v after %v; want it after the 100ms stale timeout", hit, time.Since(start))
	}
	if got := answers(r); !slices.Equal(got, []string{"www.example.test. A 192.0.2.20"}) || r.Answer[0].Header().Ttl != cache.StaleTTL || ede(r) != edeStaleAnswer {
		t.Fatalf("stale answer %v EDE %d, want the old address with TTL 30 and EDE 3", r.Answer, ede(r))
	}
	// Once resolution has failed, stale answers go out at once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, failed := s.cache.GetFailure([]byte("\x03www\x07example\x04test\x00"), dns.TypeA); failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failure was not cached")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r, hit = l.askRaw(s, "www.example.test.", dns.TypeA, false, withEDNS(1232))
	if !hit || ede(r) != edeStaleAnswer {
		t.Errorf("after the failure: hit %v EDE %d, want the stale answer at once", hit, ede(r))
	}
	// Back up: fresh data again.
	l.servers[5].alive()
	l.advance(10 * time.Second) // past the failure TTL of 5s
	time.Sleep(10 * time.Millisecond)
	r = l.ask(s, "www.example.test.", dns.TypeA, withEDNS(1232))
	if ede(r) != -1 || r.Answer[0].Header().Ttl != 300 {
		t.Errorf("after recovery: EDE %d TTL %d, want a fresh answer", ede(r), r.Answer[0].Header().Ttl)
	}
	if st := s.Stats(); st.StaleAnswers < 2 {
		t.Errorf("%d stale answers counted, want 2", st.StaleAnswers)
	}
}

func TestNoServeStaleByDefault(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{TimeBudget: 500 * time.Millisecond, NoPrefetch: true}, cache.Config{})
	l.ask(s, "www.example.test.", dns.TypeA)
	l.servers[5].dead()
	l.advance(301 * time.Second)
	if r := l.ask(s, "www.example.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestCoalescing(t *testing.T) {
	l := stdLab(t)
	srv := l.servers[5]
	srv.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		r := s.respond(q, false)
		go func() {
			time.Sleep(300 * time.Millisecond)
			s.udp.WriteToUDPAddrPort(r, from)
		}()
		return true
	})
	s := l.resolver(Config{NoQNameMinimisation: true}, cache.Config{})
	l.ask(s, "mail.example.test.", dns.TypeA) // learn the delegation
	n0 := srv.udpQueries.Load()
	const clients = 20
	want := map[netip.AddrPort]bool{}
	for range clients {
		q := new(dns.Msg)
		q.SetQuestion("www.example.test.", dns.TypeA)
		wire, _ := q.Pack()
		rq := l.request(wire, false)
		if out := s.Answer(nil, rq); out != nil {
			t.Fatal("answered at once")
		}
		want[rq.Client] = true
	}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case r := <-l.replies:
			if !want[r.dst] {
				t.Fatalf("reply to unknown client %v", r.dst)
			}
			delete(want, r.dst)
			if got := answers(unpack(t, r.msg)); len(got) != 1 {
				t.Errorf("reply %q", got)
			}
		case <-timeout:
			t.Fatalf("%d clients got no reply", len(want))
		}
	}
	if n := srv.udpQueries.Load() - n0; n != 1 {
		t.Errorf("%d upstream queries for %d identical questions, want 1", n, clients)
	}
	if st := s.Stats(); st.Coalesced != clients-1 {
		t.Errorf("coalesced %d, want %d", st.Coalesced, clients-1)
	}
}

func TestTCPClient(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	// A miss blocks until the answer is there; a hit is immediate; a
	// large answer is sent whole over TCP and truncated over UDP.
	if got := answers(l.askTCP(s, "www.example.test.", dns.TypeA)); len(got) != 1 {
		t.Errorf("TCP answer %q", got)
	}
	r := l.askTCP(s, "big.example.test.", dns.TypeTXT)
	if len(r.Answer) != 1 || r.Truncated {
		t.Errorf("TCP big answer: %d records, TC=%v", len(r.Answer), r.Truncated)
	}
	r, hit := l.askRaw(s, "big.example.test.", dns.TypeTXT, false)
	if !hit || !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("UDP big answer: hit %v TC %v %d records, want TC=1 and none", hit, r.Truncated, len(r.Answer))
	}
	r, _ = l.askRaw(s, "big.example.test.", dns.TypeTXT, false, withEDNS(1232))
	if r.Truncated || len(r.Answer) != 1 {
		t.Errorf("UDP big answer with EDNS 1232: TC %v %d records", r.Truncated, len(r.Answer))
	}
}

func TestForwarding(t *testing.T) {
	l := newLab(t)
	fwdA := `
$ORIGIN a.fwd.
$TTL 600
@ SOA ns host 1 3600 600 86400 120
@ NS ns
ns A 192.0.2.1
www A 192.0.2.40
out CNAME www.b.fwd.
`
	fwdB := `
$ORIGIN b.fwd.
$TTL 600
@ SOA ns host 1 3600 600 86400 120
@ NS ns
ns A 192.0.2.1
www A 192.0.2.41
`
	dead := l.serve(7, fwdA, fwdB)
	good := l.serve(8, fwdA, fwdB)
	dead.dead()
	var rd []bool
	var mu sync.Mutex
	good.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		m := new(dns.Msg)
		m.Unpack(q)
		mu.Lock()
		rd = append(rd, m.RecursionDesired)
		mu.Unlock()
		return false
	})
	s := l.resolver(Config{Forward: []netip.AddrPort{dead.addr, good.addr}}, cache.Config{})
	seed(s, dead.addr, good.addr)
	if got := answers(l.ask(s, "www.a.fwd.", dns.TypeA)); !slices.Equal(got, []string{"www.a.fwd. A 192.0.2.40"}) {
		t.Errorf("answer %q", got)
	}
	// The upstream stops at the zone edge: the rest of the chain is
	// asked for separately.
	if got := answers(l.ask(s, "out.a.fwd.", dns.TypeA)); !slices.Equal(got, []string{"out.a.fwd. CNAME www.b.fwd.", "www.b.fwd. A 192.0.2.41"}) {
		t.Errorf("chain %q", got)
	}
	if r := l.ask(s, "nope.a.fwd.", dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN: %v", r)
	}
	mu.Lock()
	if len(rd) == 0 || slices.Contains(rd, false) {
		t.Errorf("RD bits of forwarded queries: %v, want all set", rd)
	}
	mu.Unlock()
	if n := dead.udpQueries.Load(); n != deadAfter {
		t.Errorf("dead forwarder asked %d times, want %d (then backed off)", n, deadAfter)
	}
	// Truncated upstream answers are fetched over TCP.
	good.setHook(func(s *authServer, q []byte, from netip.AddrPort) bool {
		g := s.genuine(t, q)
		g.Truncated, g.Answer = true, nil
		s.udp.WriteToUDPAddrPort(mustPack(t, g), from)
		return true
	})
	if got := answers(l.ask(s, "www.b.fwd.", dns.TypeTXT)); len(got) != 0 || good.tcpQueries.Load() != 1 {
		t.Errorf("TC: %q, %d TCP queries", got, good.tcpQueries.Load())
	}
}

func TestPrefetch(t *testing.T) {
	l := stdLab(t)
	srv := l.servers[5]
	s := l.resolver(Config{}, cache.Config{})
	l.ask(s, "www.example.test.", dns.TypeA)
	n := srv.udpQueries.Load()
	l.advance(275 * time.Second) // 25s left of 300: the last tenth
	r, hit := l.askRaw(s, "www.example.test.", dns.TypeA, false)
	if !hit || r.Answer[0].Header().Ttl != 25 {
		t.Fatalf("hit %v TTL %d, want the cached answer with TTL 25", hit, r.Answer[0].Header().Ttl)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, hit = l.askRaw(s, "www.example.test.", dns.TypeA, false)
		if hit && r.Answer[0].Header().Ttl == 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not refreshed: TTL %d", r.Answer[0].Header().Ttl)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if srv.udpQueries.Load() != n+1 || s.Stats().Prefetches != 1 {
		t.Errorf("%d queries and %d prefetches for the refresh, want 1 each", srv.udpQueries.Load()-n, s.Stats().Prefetches)
	}
}

func TestLoops(t *testing.T) {
	l := newLab(t)
	l.serve(1, rootZone)
	loopZone := `
$ORIGIN test.
$TTL 3600
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
@ NS ns2
ns1 A $2
ns2 A $3
a CNAME b
b CNAME a
g1 NS ns.g2.test2.
`
	l.serve(2, loopZone)
	l.serve(3, loopZone)
	l.serve(4, `
$ORIGIN other.
$TTL 3600
@ SOA ns host 1 3600 600 86400 300
@ NS ns
ns A $4
`)
	s := l.resolver(Config{TimeBudget: 2 * time.Second}, cache.Config{})
	r := l.ask(s, "a.test.", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("CNAME loop: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	// A delegation to a name that does not resolve: bounded, SERVFAIL.
	r = l.ask(s, "www.g1.test.", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("unresolvable glueless NS: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if st := s.Stats(); st.UpstreamQueries > 2*DefaultMaxQueries {
		t.Errorf("%d upstream queries for two questions", st.UpstreamQueries)
	}
}

func TestGluelessCycleBounded(t *testing.T) {
	l := newLab(t)
	l.serve(1, rootZone)
	// x.test. is served by ns.y.test. and y.test. by ns.x.test., neither
	// with glue: no address can ever be found.
	z := `
$ORIGIN test.
$TTL 3600
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
@ NS ns2
ns1 A $2
ns2 A $3
x NS ns.y.test2.
y NS ns.x.test2.
`
	l.serve(2, z)
	l.serve(3, z)
	l.serve(4, `
$ORIGIN test2.
$TTL 3600
@ SOA ns host 1 3600 600 86400 300
@ NS ns
ns A $4
x NS ns.y.test.
y NS ns.x.test.
`)
	root := rootZone + "test2. NS ns.test2.\nns.test2. A $4\n"
	l.servers[1].setZones(root)
	s := l.resolver(Config{TimeBudget: 2 * time.Second}, cache.Config{})
	start := time.Now()
	r := l.ask(s, "www.x.test.", dns.TypeA, withEDNS(1232))
	if r.Rcode != dns.RcodeServerFailure || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("%s after %v, want SERVFAIL within the budget", dns.RcodeToString[r.Rcode], time.Since(start))
	}
	if st := s.Stats(); st.UpstreamQueries > DefaultMaxQueries+2 {
		t.Errorf("%d upstream queries, want at most about %d", st.UpstreamQueries, DefaultMaxQueries)
	}
}

func TestQueueFull(t *testing.T) {
	l := stdLab(t)
	l.servers[5].dead()
	s := l.resolver(Config{Concurrency: 1, QueueSize: 2, TimeBudget: 300 * time.Millisecond}, cache.Config{})
	for i := range 10 {
		q := new(dns.Msg)
		q.SetQuestion(string(rune('a'+i))+".example.test.", dns.TypeA)
		wire, _ := q.Pack()
		s.Answer(nil, l.request(wire, false))
	}
	if st := s.Stats(); st.Dropped == 0 {
		t.Errorf("no query dropped with a queue of 2 and one worker")
	}
}

// TestAnswerWithoutRD: a query without RD is REFUSED with EDE 20 (Not
// Authoritative), whether the answer is cached or not, and nothing is
// resolved for it: no cache snooping, as Unbound and Knot Resolver.
func TestAnswerWithoutRD(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	check := func(what string) {
		t.Helper()
		r, hit := l.askRaw(s, "www.example.test.", dns.TypeA, false, noRD(), withEDNS(1232))
		if !hit || r.Rcode != dns.RcodeRefused || r.RecursionDesired || len(r.Answer) != 0 {
			t.Fatalf("RD=0 %s: answered at once %v, %s RD %v, %d records; want REFUSED at once, no records",
				what, hit, dns.RcodeToString[r.Rcode], r.RecursionDesired, len(r.Answer))
		}
		if got := edeOf(r); got != 20 {
			t.Errorf("RD=0 %s: EDE %d, want 20 (Not Authoritative)", what, got)
		}
	}
	check("miss")
	if st := s.Stats(); st.Resolutions != 0 || st.UpstreamQueries != 0 {
		t.Errorf("RD=0 miss started a resolution: %d resolutions, %d upstream queries", st.Resolutions, st.UpstreamQueries)
	}
	l.ask(s, "www.example.test.", dns.TypeA)
	check("after the answer was cached")
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

func TestRefusedTypesAndClasses(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	for _, tc := range []struct {
		qtype, qclass uint16
		rcode         int
	}{
		{dns.TypeA, dns.ClassCHAOS, dns.RcodeRefused},
		{dns.TypeAXFR, dns.ClassINET, dns.RcodeRefused},
		{dns.TypeIXFR, dns.ClassINET, dns.RcodeRefused},
		{dns.TypeMAILA, dns.ClassINET, dns.RcodeNotImplemented},
		{dns.TypeOPT, dns.ClassINET, dns.RcodeNotImplemented},
	} {
		q := new(dns.Msg)
		q.SetQuestion("www.example.test.", tc.qtype)
		q.Question[0].Qclass = tc.qclass
		wire, _ := q.Pack()
		out := s.Answer(nil, l.request(wire, false))
		if out == nil {
			t.Errorf("type %d class %d: queued", tc.qtype, tc.qclass)
			continue
		}
		if r := unpack(t, out); r.Rcode != tc.rcode {
			t.Errorf("type %d class %d: %s, want %s", tc.qtype, tc.qclass, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
		}
	}
}

func TestClose(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	l.ask(s, "www.example.test.", dns.TypeA)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // idempotent
	q := new(dns.Msg)
	q.SetQuestion("mail.example.test.", dns.TypeA)
	wire, _ := q.Pack()
	if out := s.Answer(nil, l.request(wire, false)); out != nil {
		t.Errorf("miss after Close answered")
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Errorf("dropped %d, want 1", st.Dropped)
	}
	// Hits are still answered.
	if _, hit := l.askRaw(s, "www.example.test.", dns.TypeA, false); !hit {
		t.Errorf("hit after Close not answered")
	}
	// TCP misses get SERVFAIL rather than blocking.
	r := l.askTCP(s, "mail.example.test.", dns.TypeA)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("TCP miss after Close: %s", dns.RcodeToString[r.Rcode])
	}
	_ = dnswire.RcodeServFail
}

// TestThroughDnssvc answers through the query front as the appliance
// does: dnssvc decides, hands the query to the resolver, and the deferred
// reply comes back through SendUDP; an allowed client gets answers from
// the cache at once after that, others REFUSED.
func TestThroughDnssvc(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	front := dnssvc.New(dnssvc.Config{Recursion: s, AllowRecursion: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")}}, nil, nil)
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	wire := mustPack(t, q)
	client := netip.MustParseAddrPort("198.18.0.1:5300")
	local := netip.MustParseAddrPort("198.18.0.2:53")
	if out := front.Respond(make([]byte, 0, 1500), wire, dnssvc.Request{Client: client, Local: local}); len(out) != 0 {
		t.Fatalf("miss answered at once: %v", unpack(t, out))
	}
	select {
	case r := <-l.replies:
		m := unpack(t, r.msg)
		if r.src != local || r.dst != client || len(m.Answer) != 1 || !m.RecursionAvailable || m.Id != q.Id {
			t.Errorf("deferred reply %v -> %v: %v", r.src, r.dst, m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no deferred reply")
	}
	out := front.Respond(make([]byte, 0, 1500), wire, dnssvc.Request{Client: client, Local: local})
	if m := unpack(t, out); len(m.Answer) != 1 || !m.RecursionAvailable || m.Authoritative {
		t.Errorf("cached reply %v", m)
	}
	dst := make([]byte, 0, 1500)
	if n := testing.AllocsPerRun(100, func() {
		front.Respond(dst, wire, dnssvc.Request{Client: client, Local: local})
	}); n != 0 {
		t.Errorf("%v allocations per cached answer through dnssvc, want 0", n)
	}
	out = front.Respond(make([]byte, 0, 1500), wire, dnssvc.Request{Client: netip.MustParseAddrPort("192.0.2.1:5300"), Local: local})
	if m := unpack(t, out); m.Rcode != dns.RcodeRefused {
		t.Errorf("client outside AllowRecursion: %s", dns.RcodeToString[m.Rcode])
	}
}
