package dnssvc

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeClock is a manually advanced clock for the limiter.
type fakeClock struct{ ns int64 }

func (c *fakeClock) now() int64              { return c.ns }
func (c *fakeClock) advance(d time.Duration) { c.ns += int64(d) }

func TestPrefixKey(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"198.18.0.1", "198.18.0.254", true},
		{"198.18.0.1", "198.18.1.1", false},
		{"198.18.0.1", "::ffff:198.18.0.9", true},
		{"2001:2::1", "2001:2:0:ff::1", true},   // same /56
		{"2001:2::1", "2001:2:0:100::1", false}, // next /56
		{"0.0.0.1", "::1", false},               // families never collide
		{"0.0.0.0", "::", false},
	}
	for _, tc := range tests {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			ka, kb := prefixKey(netip.MustParseAddr(tc.a)), prefixKey(netip.MustParseAddr(tc.b))
			if got := ka == kb; got != tc.same {
				t.Errorf("same prefix = %v (%#x, %#x), want %v", got, ka, kb, tc.same)
			}
		})
	}
}

// TestRRLCheck drives the limiter with a fake clock: a step is a number of
// responses at one instant, then a pause.
func TestRRLCheck(t *testing.T) {
	type step struct {
		n       int           // responses checked
		client  string        // from this address
		pass    int           // of them, want passed
		slipped int           // of them, want slipped (the rest dropped)
		then    time.Duration // advance the clock afterwards
	}
	tests := []struct {
		name       string
		rate, slip int
		steps      []step
	}{
		{name: "burst of one second then limited", rate: 10, slip: 2, steps: []step{
			{n: 10, client: "198.18.0.1", pass: 10},
			{n: 10, client: "198.18.0.2", pass: 0, slipped: 5},
		}},
		{name: "refills at the rate", rate: 10, slip: 0, steps: []step{
			{n: 20, client: "198.18.0.1", pass: 10, then: 500 * time.Millisecond},
			{n: 20, client: "198.18.0.1", pass: 5, then: 10 * time.Second},
			{n: 20, client: "198.18.0.1", pass: 10}, // a long pause refills only one second
		}},
		{name: "steady at the rate is never limited", rate: 100, slip: 1, steps: func() []step {
			var s []step
			for range 300 {
				s = append(s, step{n: 1, client: "198.18.0.7", pass: 1, then: 10 * time.Millisecond})
			}
			return s
		}()},
		{name: "slip 1 slips every limited response", rate: 1, slip: 1, steps: []step{
			{n: 5, client: "2001:2::1", pass: 1, slipped: 4},
		}},
		{name: "slip 3", rate: 1, slip: 3, steps: []step{
			{n: 10, client: "2001:2::1", pass: 1, slipped: 3},
		}},
		{name: "prefixes are independent", rate: 5, slip: 0, steps: []step{
			{n: 10, client: "198.18.0.1", pass: 5},
			{n: 10, client: "198.18.1.1", pass: 5},
			{n: 10, client: "2001:2::1", pass: 5},
			{n: 10, client: "2001:2:0:100::1", pass: 5},
			{n: 1, client: "2001:2:0:ff::1", pass: 0}, // same /56 as 2001:2::1
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{ns: int64(time.Hour)}
			l := newRRL(tc.rate, tc.slip, 1<<10, clk.now)
			for i, st := range tc.steps {
				var pass, slipped int
				for range st.n {
					switch l.check(netip.MustParseAddr(st.client)) {
					case rrlPass:
						pass++
					case rrlSlip:
						slipped++
					}
				}
				if pass != st.pass || slipped != st.slipped {
					t.Fatalf("step %d (%d from %s): passed %d slipped %d, want %d and %d",
						i, st.n, st.client, pass, slipped, st.pass, st.slipped)
				}
				clk.advance(st.then)
			}
		})
	}
}

func TestRRLTableSize(t *testing.T) {
	for _, tc := range []struct{ size, want int }{{0, DefaultRRLBuckets}, {1, 1}, {3, 4}, {1000, 1024}, {1 << 30, maxRRLBuckets}} {
		if got := len(newRRL(1, 2, tc.size, nil).buckets); got != tc.want {
			t.Errorf("size %d: %d buckets, want %d", tc.size, got, tc.want)
		}
	}
	// A one-bucket table works (every prefix shares it).
	l := newRRL(1, 0, 1, (&fakeClock{}).now)
	if l.check(netip.MustParseAddr("198.18.0.1")) != rrlPass || l.check(netip.MustParseAddr("2001:2::1")) != rrlDrop {
		t.Errorf("one bucket: want pass then drop")
	}
}

// TestRRLConcurrent checks that concurrent checks neither lose nor invent
// budget: at a fixed instant exactly rate responses pass.
func TestRRLConcurrent(t *testing.T) {
	clk := &fakeClock{ns: int64(time.Hour)}
	l := newRRL(1000, 0, 1<<10, clk.now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range 500 {
				if l.check(netip.MustParseAddr("198.18.0.1")) == rrlPass {
					n++
				}
			}
			mu.Lock()
			passed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if passed != 1000 {
		t.Errorf("%d passed, want exactly 1000", passed)
	}
}

// TestRespondRRL checks the limiter inside Respond: limited UDP responses
// are dropped or slipped (TC=1, the question, no records, the OPT), TCP is
// never limited, another prefix is unaffected, and the counters add up.
func TestRespondRRL(t *testing.T) {
	s := New(Config{RRL: 5, RRLSlip: 2}, testSet(t), nil)
	clk := &fakeClock{ns: int64(time.Hour)}
	s.rrl.now = clk.now
	q := packQuery(t, "host.example.com.", dns.TypeA, withEDNS(1232, true))
	attacker := Request{Client: netip.MustParseAddrPort("198.18.0.9:5300")}
	dst := make([]byte, 0, 4096)
	var answered, slipped, dropped int
	for range 25 {
		resp := s.Respond(dst, q, attacker)
		if len(resp) == 0 {
			dropped++
			continue
		}
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		if m.Id != 0xBEEF || !m.Response || len(m.Question) != 1 || m.Question[0].Name != "host.example.com." {
			t.Fatalf("response header/question wrong: %v", m)
		}
		if m.Truncated {
			slipped++
			if len(m.Answer)+len(m.Ns) != 0 || m.IsEdns0() == nil || !m.IsEdns0().Do() {
				t.Errorf("slip: %d answers %d authority, OPT %v; want none, none, an OPT with DO", len(m.Answer), len(m.Ns), m.IsEdns0())
			}
			if len(resp) > len(q) {
				t.Errorf("slip is %d bytes, larger than the %d-byte query", len(resp), len(q))
			}
			continue
		}
		answered++
	}
	if answered != 5 || slipped != 10 || dropped != 10 {
		t.Errorf("answered %d slipped %d dropped %d, want 5, 10, 10", answered, slipped, dropped)
	}
	// TCP from the same client is answered in full.
	if resp := s.Respond(dst, q, Request{Client: attacker.Client, TCP: true}); len(resp) == 0 || resp[2]&0x02 != 0 {
		t.Errorf("TCP response limited: %x", resp)
	}
	// Another prefix is unaffected.
	if resp := s.Respond(dst, q, Request{Client: netip.MustParseAddrPort("198.18.1.9:5300")}); len(resp) == 0 || resp[2]&0x02 != 0 {
		t.Errorf("other prefix limited: %x", resp)
	}
	// After a second, the attacker's prefix gets answers again.
	clk.advance(time.Second)
	if resp := s.Respond(dst, q, attacker); len(resp) == 0 || resp[2]&0x02 != 0 {
		t.Errorf("not answered after the bucket refilled: %x", resp)
	}
	st := s.Stats()
	if st.RRLLimited != 20 || st.RRLSlipped != 10 {
		t.Errorf("stats limited %d slipped %d, want 20 and 10", st.RRLLimited, st.RRLSlipped)
	}
	if st.Queries != 28 || st.Responses != 18 {
		t.Errorf("stats queries %d responses %d, want 28 and 18 (%+v)", st.Queries, st.Responses, st)
	}
}

// TestRespondRRLNeverAnswersResponses: a QR=1 message is dropped before the
// limiter, so a slip can never answer a response either.
func TestRespondRRLNeverAnswersResponses(t *testing.T) {
	s := New(Config{RRL: 1, RRLSlip: 1}, testSet(t), nil)
	msg := raw(dnswireQR, 1, 0, 0, 0, hostQ)
	for range 10 {
		if resp := s.Respond(nil, msg, Request{Client: netip.MustParseAddrPort("198.18.0.9:53")}); len(resp) != 0 {
			t.Fatalf("answered a response: %x", resp)
		}
	}
	if st := s.Stats(); st.RRLLimited != 0 || st.Dropped != 10 {
		t.Errorf("limited %d dropped %d, want 0 and 10", st.RRLLimited, st.Dropped)
	}
}

func TestRespondRRLAllocs(t *testing.T) {
	s := New(Config{RRL: 1000, RRLSlip: 2}, testSet(t), nil)
	q := packQuery(t, "host.example.com.", dns.TypeA, withEDNS(1232, false))
	dst := make([]byte, 0, 4096)
	i := 0
	// Cycle through passing, dropped and slipped responses and many
	// prefixes.
	if n := testing.AllocsPerRun(5000, func() {
		i++
		a := netip.AddrFrom4([4]byte{198, 18, byte(i % 3), byte(i)})
		s.Respond(dst, q, Request{Client: netip.AddrPortFrom(a, 5300)})
	}); n != 0 {
		t.Errorf("Respond with RRL: %v allocations, want 0", n)
	}
	if st := s.Stats(); st.RRLLimited == 0 || st.RRLSlipped == 0 {
		t.Errorf("the loop never hit the limit (%+v): the test checks nothing", st)
	}
}

func BenchmarkRRLCheck(b *testing.B) {
	l := newRRL(1e6, 2, 0, nil)
	a := netip.MustParseAddr("198.18.0.1")
	for b.Loop() {
		l.check(a)
	}
}

func BenchmarkRespondRRL(b *testing.B) {
	for _, rate := range []int{0, 1 << 30} {
		name := "off"
		if rate > 0 {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			s := New(Config{RRL: rate}, testSet(b), nil)
			q := packQuery(b, "host.example.com.", dns.TypeA)
			dst := make([]byte, 0, 4096)
			req := Request{Client: netip.MustParseAddrPort("198.18.0.1:5300")}
			for b.Loop() {
				s.Respond(dst, q, req)
			}
		})
	}
}
