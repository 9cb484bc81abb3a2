package cache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/dnswire"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct{ ns atomic.Int64 }

func (f *fakeClock) now() time.Time          { return time.Unix(1_800_000_000, f.ns.Load()) }
func (f *fakeClock) advance(d time.Duration) { f.ns.Add(int64(d)) }

func newTest(t testing.TB, cfg Config) (*Cache, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	if cfg.Now == nil {
		cfg.Now = clk.now
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

// wire converts a presentation name to a canonical wire name.
func wire(name string) []byte {
	b := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), b, 0, nil, false)
	if err != nil {
		panic(err)
	}
	return b[:n]
}

func TestValidate(t *testing.T) {
	bad := []Config{
		{MaxBytes: 1000},
		{MaxTTL: -1},
		{MaxTTL: time.Millisecond},
		{MinTTL: -1},
		{MinTTL: 2 * time.Hour, MaxTTL: time.Hour},
		{MaxNegativeTTL: -1},
		{ServeStale: -time.Second},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New(zero): %v", err)
	}
}

func TestRRset(t *testing.T) {
	c, clk := newTest(t, Config{})
	name := wire("www.example.")
	if !c.PutRRset(name, dnswire.TypeA, 300, RankAuthAnswer, [][]byte{{192, 0, 2, 1}, {192, 0, 2, 2}}) {
		t.Fatal("PutRRset failed")
	}
	rs, ok := c.GetRRset(name, dnswire.TypeA)
	if !ok || rs.TTL != 300 || rs.Len() != 2 || rs.Rank != RankAuthAnswer {
		t.Fatalf("GetRRset = %+v, %v", rs, ok)
	}
	if _, ok := c.GetRRset(name, dnswire.TypeAAAA); ok {
		t.Error("AAAA found")
	}
	clk.advance(100*time.Second + 500*time.Millisecond)
	if rs, _ := c.GetRRset(name, dnswire.TypeA); rs.TTL != 199 {
		t.Errorf("TTL after 100.5s: %d, want 199 (whole seconds left)", rs.TTL)
	}
	// A lower rank does not replace a fresh higher one; a higher does.
	if c.PutRRset(name, dnswire.TypeA, 300, RankGlue, [][]byte{{6, 6, 6, 6}}) {
		t.Error("glue replaced an authoritative answer")
	}
	if !c.PutRRset(name, dnswire.TypeA, 600, RankAuthAnswer, [][]byte{{192, 0, 2, 3}}) {
		t.Error("equal rank did not replace")
	}
	if rs, _ := c.GetRRset(name, dnswire.TypeA); rs.Len() != 1 || rs.TTL != 600 {
		t.Errorf("after replace: %+v", rs)
	}
	clk.advance(601 * time.Second)
	if _, ok := c.GetRRset(name, dnswire.TypeA); ok {
		t.Error("expired RRset returned")
	}
	// Once expired, any rank may replace it.
	if !c.PutRRset(name, dnswire.TypeA, 60, RankGlue, [][]byte{{192, 0, 2, 9}}) {
		t.Error("glue did not replace an expired RRset")
	}
}

func TestTTLBounds(t *testing.T) {
	c, _ := newTest(t, Config{MaxTTL: time.Hour, MinTTL: time.Minute, MaxNegativeTTL: 10 * time.Minute})
	for _, tc := range []struct{ in, want uint32 }{{5, 60}, {600, 600}, {86400, 3600}} {
		c.PutRRset(wire("a."), dnswire.TypeA, tc.in, RankAuthAnswer, [][]byte{{1, 2, 3, 4}})
		if rs, _ := c.GetRRset(wire("a."), dnswire.TypeA); rs.TTL != tc.want {
			t.Errorf("TTL %d stored as %d, want %d", tc.in, rs.TTL, tc.want)
		}
	}
	c.PutNegative(wire("nx.a."), 0, true, 86400, wire("a."), make([]byte, 22))
	if n, _ := c.GetNegative(wire("nx.a."), dnswire.TypeA); n.TTL != 600 {
		t.Errorf("negative TTL %d, want the 600 cap", n.TTL)
	}
}

func TestNegative(t *testing.T) {
	c, clk := newTest(t, Config{})
	soa := make([]byte, 22)
	c.PutNegative(wire("nx.example."), dnswire.TypeA, true, 60, wire("example."), soa)
	c.PutNegative(wire("www.example."), dnswire.TypeMX, false, 30, wire("example."), soa)
	tests := []struct {
		name  string
		qtype uint16
		ok    bool
		nx    bool
		owner string
	}{
		{"nx.example.", dnswire.TypeA, true, true, "nx.example."},
		{"nx.example.", dnswire.TypeTXT, true, true, "nx.example."},
		{"a.b.nx.example.", dnswire.TypeA, true, true, "nx.example."}, // RFC 8020
		{"www.example.", dnswire.TypeMX, true, false, "www.example."},
		{"www.example.", dnswire.TypeA, false, false, ""},
		{"a.www.example.", dnswire.TypeMX, false, false, ""},
		{"example.", dnswire.TypeA, false, false, ""},
	}
	for _, tc := range tests {
		n, ok := c.GetNegative(wire(tc.name), tc.qtype)
		if ok != tc.ok || ok && (n.NXDomain != tc.nx || string(n.Name) != string(wire(tc.owner)) || string(n.SOAName) != string(wire("example."))) {
			t.Errorf("%s/%d: %+v %v", tc.name, tc.qtype, n, ok)
		}
	}
	// Positive data replaces a negative answer for its name.
	c.PutRRset(wire("www.example."), dnswire.TypeMX, 300, RankAuthAnswer, [][]byte{{0, 10, 0}})
	if _, ok := c.GetNegative(wire("www.example."), dnswire.TypeMX); ok {
		t.Error("NODATA survived an answer")
	}
	clk.advance(61 * time.Second)
	if _, ok := c.GetNegative(wire("a.nx.example."), dnswire.TypeA); ok {
		t.Error("expired NXDOMAIN used")
	}
}

func TestFailure(t *testing.T) {
	c, clk := newTest(t, Config{})
	c.PutFailure(wire("x."), dnswire.TypeA, 22, 5)
	if ede, ok := c.GetFailure(wire("x."), dnswire.TypeA); !ok || ede != 22 {
		t.Errorf("GetFailure = %d, %v", ede, ok)
	}
	if _, ok := c.GetFailure(wire("x."), dnswire.TypeAAAA); ok {
		t.Error("failure for another type")
	}
	clk.advance(5 * time.Second)
	if _, ok := c.GetFailure(wire("x."), dnswire.TypeA); ok {
		t.Error("expired failure")
	}
}

// sampleMsg encodes a CNAME chain answer for www.example. A.
func sampleMsg(t testing.TB, c *Cache) Msg {
	t.Helper()
	m, err := c.NewMsg(wire("www.example."), dnswire.TypeA, dnswire.RcodeSuccess, -1, []RR{
		{Name: wire("www.example."), Type: dnswire.TypeCNAME, TTL: 3600, Data: wire("host.example.")},
		{Name: wire("host.example."), Type: dnswire.TypeA, TTL: 100, Data: []byte{192, 0, 2, 1}},
		{Name: wire("host.example."), Type: dnswire.TypeA, TTL: 100, Data: []byte{192, 0, 2, 2}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// render puts m behind a question (in the given case) and unpacks it.
func render(t testing.TB, m Msg, qname string, stale bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(qname, dns.TypeA)
	qb, _ := q.Pack()
	an, ns, ar := m.Counts()
	b := append([]byte(nil), qb[:12]...)
	b[2] |= 0x80
	b[6], b[7], b[8], b[9], b[10], b[11] = byte(an>>8), byte(an), byte(ns>>8), byte(ns), byte(ar>>8), byte(ar)
	b = append(b, qb[12:]...)
	b = m.AppendSections(b, stale)
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return r
}

func TestMsg(t *testing.T) {
	c, clk := newTest(t, Config{ServeStale: time.Hour})
	m := sampleMsg(t, c)
	r := render(t, m, "WWW.Example.", false)
	if len(r.Answer) != 3 || r.Answer[0].Header().Name != "WWW.Example." || dns.CanonicalName(r.Answer[0].(*dns.CNAME).Target) != "host.example." {
		t.Fatalf("sections %v", r.Answer)
	}
	if m.TTL() != 100 || m.Rcode() != 0 || m.EDE() != -1 {
		t.Errorf("TTL %d rcode %d EDE %d", m.TTL(), m.Rcode(), m.EDE())
	}
	if _, st := c.Lookup(wire("www.example."), dnswire.TypeA); st != Miss {
		t.Errorf("found before Put: %v", st)
	}
	c.Put(m)
	clk.advance(40 * time.Second)
	got, st := c.Lookup(wire("www.example."), dnswire.TypeA)
	if st != Fresh {
		t.Fatalf("Lookup: %v", st)
	}
	r = render(t, got, "www.example.", false)
	if r.Answer[0].Header().Ttl != 3560 || r.Answer[1].Header().Ttl != 60 || r.Answer[2].Header().Ttl != 60 {
		t.Errorf("TTLs after 40s: %d %d %d", r.Answer[0].Header().Ttl, r.Answer[1].Header().Ttl, r.Answer[2].Header().Ttl)
	}
	// The last tenth of the TTL: one Prefetch, then Fresh again.
	clk.advance(51 * time.Second)
	if _, st := c.Lookup(wire("www.example."), dnswire.TypeA); st != Prefetch {
		t.Errorf("9s left of 100: %v, want prefetch", st)
	}
	if _, st := c.Lookup(wire("www.example."), dnswire.TypeA); st != Fresh {
		t.Errorf("second look: %v, want fresh", st)
	}
	clk.advance(10 * time.Second)
	got, st = c.Lookup(wire("www.example."), dnswire.TypeA)
	if st != Stale {
		t.Fatalf("expired: %v, want stale", st)
	}
	r = render(t, got, "www.example.", true)
	for _, rr := range r.Answer {
		if rr.Header().Ttl != StaleTTL {
			t.Errorf("stale TTL %d", rr.Header().Ttl)
		}
	}
	clk.advance(time.Hour)
	if _, st := c.Lookup(wire("www.example."), dnswire.TypeA); st != Miss {
		t.Errorf("past the stale window: %v", st)
	}
}

func TestMsgNegativeAndFailure(t *testing.T) {
	c, _ := newTest(t, Config{MinTTL: time.Hour})
	soa := append(append(append([]byte(nil), wire("ns.example.")...), wire("host.example.")...), 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 60)
	m, err := c.NewMsg(wire("nx.example."), dnswire.TypeA, dnswire.RcodeNXDomain, -1, nil,
		[]RR{{Name: wire("example."), Type: dnswire.TypeSOA, TTL: 60, Data: soa}})
	if err != nil {
		t.Fatal(err)
	}
	// MinTTL applies to positive data only.
	if m.TTL() != 60 || m.Rcode() != dnswire.RcodeNXDomain {
		t.Errorf("negative: TTL %d rcode %d", m.TTL(), m.Rcode())
	}
	r := render(t, m, "nx.example.", false)
	if len(r.Ns) != 1 || r.Ns[0].(*dns.SOA).Minttl != 60 {
		t.Errorf("authority %v", r.Ns)
	}
	f, _ := c.NewMsg(wire("x."), dnswire.TypeA, dnswire.RcodeServFail, 22, nil, nil)
	if f.TTL() != 0 || f.EDE() != 22 || c.Put(f) {
		t.Errorf("failure message: TTL %d EDE %d, stored", f.TTL(), f.EDE())
	}
}

// TestEviction fills a small cache far beyond its bound: it stays under
// the bound, evicts, and keeps what is read.
func TestEviction(t *testing.T) {
	c, _ := newTest(t, Config{MaxBytes: MinMaxBytes})
	hot := wire("hot.example.")
	c.PutRRset(hot, dnswire.TypeA, 3600, RankAuthAnswer, [][]byte{{1, 2, 3, 4}})
	for i := range 20000 {
		name := wire(fmt.Sprintf("n%d.example.", i))
		c.PutRRset(name, dnswire.TypeA, 3600, RankAuthAnswer, [][]byte{{1, 2, 3, 4}})
		if i%64 == 0 {
			c.GetRRset(hot, dnswire.TypeA) // read between sweeps
		}
		if b := c.Stats().Bytes; b > MinMaxBytes {
			t.Fatalf("after %d inserts: %d bytes > %d", i, b, MinMaxBytes)
		}
	}
	st := c.Stats()
	if st.Evictions == 0 || st.RRsets < 100 || st.Inserts != 20001 {
		t.Errorf("stats %+v", st)
	}
	if _, ok := c.GetRRset(hot, dnswire.TypeA); !ok {
		t.Errorf("the entry read all along was evicted")
	}
	c.Flush()
	if st := c.Stats(); st.Entries != 0 {
		t.Errorf("after Flush: %+v", st)
	}
}

// TestEvictionExpiredFirst: expired entries make room before live ones.
func TestEvictionExpiredFirst(t *testing.T) {
	c, clk := newTest(t, Config{MaxBytes: MinMaxBytes})
	for i := range 2000 {
		c.PutRRset(wire(fmt.Sprintf("old%d.", i)), dnswire.TypeA, 10, RankAuthAnswer, [][]byte{{1, 2, 3, 4}})
	}
	clk.advance(11 * time.Second)
	for i := range 100 {
		c.PutRRset(wire(fmt.Sprintf("new%d.", i)), dnswire.TypeA, 3600, RankAuthAnswer, [][]byte{{1, 2, 3, 4}})
	}
	for i := range 100 {
		if _, ok := c.GetRRset(wire(fmt.Sprintf("new%d.", i)), dnswire.TypeA); !ok {
			t.Fatalf("new%d evicted while expired entries remained", i)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c, clk := newTest(t, Config{MaxBytes: MinMaxBytes, ServeStale: time.Minute})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				name := wire(fmt.Sprintf("n%d.example.", (i*7+w)%500))
				switch i % 4 {
				case 0:
					c.PutRRset(name, dnswire.TypeA, uint32(i%50), RankAnswer, [][]byte{{1, 2, 3, 4}})
				case 1:
					c.GetRRset(name, dnswire.TypeA)
				case 2:
					if m, err := c.NewMsg(name, dnswire.TypeA, 0, -1, []RR{{Name: name, Type: dnswire.TypeA, TTL: 30, Data: []byte{1, 2, 3, 4}}}, nil); err == nil {
						c.Put(m)
					}
				case 3:
					if m, st := c.Lookup(name, dnswire.TypeA); st != Miss {
						m.AppendSections(nil, st == Stale)
					}
					clk.advance(time.Millisecond * 10)
				}
			}
		}()
	}
	wg.Wait()
	if b := c.Stats().Bytes; b > MinMaxBytes {
		t.Errorf("%d bytes > %d", b, MinMaxBytes)
	}
}

func TestLookupAllocs(t *testing.T) {
	c, _ := newTest(t, Config{})
	c.Put(sampleMsg(t, c))
	name := wire("www.example.")
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		m, _ := c.Lookup(name, dnswire.TypeA)
		buf = m.AppendSections(buf[:0], false)
	}); n != 0 {
		t.Errorf("Lookup+AppendSections: %v allocations, want 0", n)
	}
}
