package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

// noNet is a Network that fails: for Servers that only answer from a
// cache filled by hand.
type noNet struct{}

var errNoNet = errors.New("no network in this test")

func (noNet) ListenUDP(netip.AddrPort) (net.PacketConn, error) { return nil, errNoNet }
func (noNet) DialTCP(context.Context, netip.AddrPort) (net.Conn, error) {
	return nil, errNoNet
}
func (noNet) SendUDP(netip.AddrPort, netip.AddrPort, []byte) error { return errNoNet }

// filledServer returns a Server (not running: nothing is resolved) whose
// cache holds www.example.com. A (two records behind a CNAME),
// nx.example.com. NXDOMAIN, a stale answer and a cached failure.
func filledServer(tb testing.TB, now func() time.Time) *Server {
	tb.Helper()
	c, err := cache.New(cache.Config{Now: now, ServeStale: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Network: noNet{}, Cache: c, RootHints: []Hint{{Name: "a.root.", Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.10")}}}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	put := func(name string, qtype uint16, rcode dnswire.Rcode, an, ns []cache.RR) {
		m, err := c.NewMsg(w(name), qtype, rcode, -1, an, ns)
		if err != nil {
			tb.Fatal(err)
		}
		c.Put(m)
	}
	put("www.example.com.", dns.TypeA, 0, []cache.RR{
		{Name: w("www.example.com."), Type: dns.TypeCNAME, TTL: 3600, Data: w("host.example.com.")},
		{Name: w("host.example.com."), Type: dns.TypeA, TTL: 300, Data: []byte{192, 0, 2, 1}},
		{Name: w("host.example.com."), Type: dns.TypeA, TTL: 300, Data: []byte{192, 0, 2, 2}},
	}, nil)
	soa := append(append(w("ns.example.com."), w("host.example.com.")...), make([]byte, 20)...)
	put("nx.example.com.", dns.TypeA, dns.RcodeNameError, nil, []cache.RR{{Name: w("example.com."), Type: dns.TypeSOA, TTL: 60, Data: soa}})
	put("stale.example.com.", dns.TypeA, 0, []cache.RR{{Name: w("stale.example.com."), Type: dns.TypeA, TTL: 1, Data: []byte{192, 0, 2, 3}}}, nil)
	c.PutFailure(w("stale.example.com."), dns.TypeA, 22, 3600)
	c.PutFailure(w("fail.example.com."), dns.TypeA, 22, 3600)
	return s
}

// w converts a presentation name to a canonical wire name.
func w(name string) []byte {
	b, err := wireName(name)
	if err != nil {
		panic(err)
	}
	return b
}

// rqFor builds the RecursiveQuery dnssvc would pass for a query.
func rqFor(tb testing.TB, name string, qtype uint16, tcp bool, opts ...qopt) *dnssvc.RecursiveQuery {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	for _, o := range opts {
		o(m)
	}
	wire, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	var q dnswire.Query
	if st := dnswire.ParseQuery(wire, &q); st != dnswire.StatusOK {
		tb.Fatalf("ParseQuery: %v", st)
	}
	limit := 512
	if q.EDNS {
		limit = 1232
	}
	if tcp {
		limit = 65535
	}
	return &dnssvc.RecursiveQuery{Msg: wire, Query: &q, TCP: tcp, Limit: limit, UDPSize: 1232,
		Client: netip.MustParseAddrPort("198.18.0.1:4000"), Local: netip.MustParseAddrPort("198.18.0.2:53")}
}

func withNSID(m *dns.Msg) {
	m.SetEdns0(1232, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
}

// TestAnswerAllocs enforces the zero-allocation claim for every answer
// given at once: cache hits (fresh, negative, stale, truncated, cached
// failures) and the refusals.
func TestAnswerAllocs(t *testing.T) {
	start := time.Now()
	now := func() time.Time { return start }
	s := filledServer(t, func() time.Time { return now() })
	now = func() time.Time { return start.Add(10 * time.Second) } // stale.example.com. has expired
	tests := []struct {
		name  string
		rq    *dnssvc.RecursiveQuery
		rcode int
		stale bool
	}{
		{"hit", rqFor(t, "www.example.com.", dns.TypeA, false), dns.RcodeSuccess, false},
		{"hit 0x20", rqFor(t, "WWW.example.COM.", dns.TypeA, false), dns.RcodeSuccess, false},
		{"hit EDNS NSID", rqFor(t, "www.example.com.", dns.TypeA, false, withNSID), dns.RcodeSuccess, false},
		{"hit TCP", rqFor(t, "www.example.com.", dns.TypeA, true), dns.RcodeSuccess, false},
		{"NXDOMAIN", rqFor(t, "nx.example.com.", dns.TypeA, false, withEDNS(1232)), dns.RcodeNameError, false},
		{"stale", rqFor(t, "stale.example.com.", dns.TypeA, false, withEDNS(1232)), dns.RcodeSuccess, true},
		{"cached failure", rqFor(t, "fail.example.com.", dns.TypeA, false, withEDNS(1232)), dns.RcodeServerFailure, false},
		{"refused class", rqFor(t, "www.example.com.", dns.TypeA, false, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), dns.RcodeRefused, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.rq.NSID = []byte("nsid")
			dst := make([]byte, 0, 65535)
			out := s.Answer(dst, tc.rq)
			if out == nil {
				t.Fatal("not answered at once")
			}
			r := unpack(t, out)
			if r.Rcode != tc.rcode || r.Id != tc.rq.Query.ID || r.Question[0].Name != dns.Fqdn(r.Question[0].Name) {
				t.Errorf("rcode %s id %d", dns.RcodeToString[r.Rcode], r.Id)
			}
			if tc.stale && (ede(r) != edeStaleAnswer || r.Answer[0].Header().Ttl != cache.StaleTTL) {
				t.Errorf("stale: EDE %d answer %v", ede(r), r.Answer)
			}
			if n := testing.AllocsPerRun(200, func() { s.Answer(dst, tc.rq) }); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}

// TestAnswerTruncated: a cached answer larger than the client's limit is
// sent as TC=1 without records.
func TestAnswerTruncated(t *testing.T) {
	s := filledServer(t, time.Now)
	rq := rqFor(t, "www.example.com.", dns.TypeA, false)
	rq.Limit = 40
	r := unpack(t, s.Answer(nil, rq))
	if !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("TC %v answer %v", r.Truncated, r.Answer)
	}
}

// BenchmarkAnswerHit is the cache-hit path as the link-layer fast path
// calls it: a parsed query in, the reply written into a caller's buffer.
func BenchmarkAnswerHit(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []qopt
	}{
		{"plain", nil},
		{"EDNS", []qopt{withEDNS(1232)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := filledServer(b, time.Now)
			rq := rqFor(b, "www.example.com.", dns.TypeA, false, bc.opts...)
			dst := make([]byte, 0, 1500)
			b.ReportAllocs()
			for b.Loop() {
				dst = s.Answer(dst, rq)
			}
			if len(dst) == 0 {
				b.Fatal("no answer")
			}
		})
	}
}

// BenchmarkAnswerHitParallel runs the hit path on every P (one per TAP
// queue in the appliance).
func BenchmarkAnswerHitParallel(b *testing.B) {
	s := filledServer(b, time.Now)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rq := rqFor(b, "www.example.com.", dns.TypeA, false)
		dst := make([]byte, 0, 1500)
		for pb.Next() {
			dst = s.Answer(dst, rq)
		}
	})
}

// BenchmarkParseQueryAnswerHit adds the query parse dnssvc does before
// calling Answer: the whole cost of a cached answer above the link.
func BenchmarkParseQueryAnswerHit(b *testing.B) {
	s := filledServer(b, time.Now)
	rq := rqFor(b, "www.example.com.", dns.TypeA, false)
	msg := rq.Msg
	dst := make([]byte, 0, 1500)
	var q dnswire.Query
	b.ReportAllocs()
	for b.Loop() {
		dnswire.ParseQuery(msg, &q)
		rq.Query = &q
		dst = s.Answer(dst, rq)
	}
}

// TestQueueAllocs: handing a UDP miss or a prefetch to the work queue
// allocates nothing either (the reader goroutine pays no GC for misses).
func TestQueueAllocs(t *testing.T) {
	s := filledServer(t, time.Now)
	rq := rqFor(t, "miss.example.com.", dns.TypeA, false, withEDNS(1232))
	if n := testing.AllocsPerRun(50, func() {
		if s.Answer(nil, rq) != nil {
			t.Fatal("a miss answered at once")
		}
	}); n != 0 {
		t.Errorf("queueing a miss: %v allocations, want 0", n)
	}
	name := w("www.example.com.")
	if n := testing.AllocsPerRun(50, func() { s.enqueuePrefetch(name, dns.TypeA) }); n != 0 {
		t.Errorf("queueing a prefetch: %v allocations, want 0", n)
	}
}
