package dnssvc

import (
	"runtime"
	"testing"

	"github.com/miekg/dns"
)

// TestRespondAllocs enforces the zero-allocation claim on every path of
// Respond: cached and generic answers, negative answers, referrals, EDNS
// and its errors, truncation, CNAME chains, wildcards and malformed input.
func TestRespondAllocs(t *testing.T) {
	set := testSet(t)
	tests := []struct {
		name string
		cfg  Config
		msg  []byte
		tcp  bool
	}{
		{name: "A cached", msg: packQuery(t, "host.example.com.", dns.TypeA)},
		{name: "MX with additional", msg: packQuery(t, "example.com.", dns.TypeMX, withEDNS(1232, false))},
		{name: "NXDOMAIN", msg: packQuery(t, "nope.example.com.", dns.TypeA)},
		{name: "NODATA", msg: packQuery(t, "host.example.com.", dns.TypeMX)},
		{name: "referral", msg: packQuery(t, "www.sub.example.com.", dns.TypeA)},
		{name: "referral glue truncated", msg: packQuery(t, "www.bigglue.example.com.", dns.TypeA)},
		{name: "EDNS NSID", cfg: Config{NSID: "abc"}, msg: packQuery(t, "host.example.com.", dns.TypeA, withEDNS(1232, true), withNSID())},
		{name: "BADVERS", msg: packQuery(t, "host.example.com.", dns.TypeA, withEDNS(1232, true), withVersion(1))},
		{name: "truncation", msg: packQuery(t, "big.example.com.", dns.TypeTXT)},
		{name: "TCP big", msg: packQuery(t, "big.example.com.", dns.TypeTXT), tcp: true},
		{name: "CNAME chain", msg: packQuery(t, "www.example.com.", dns.TypeA)},
		{name: "CNAME loop", msg: packQuery(t, "loop1.example.com.", dns.TypeA)},
		{name: "CNAME across zones", cfg: Config{CNAMEAcrossZones: true}, msg: packQuery(t, "ext.example.com.", dns.TypeA)},
		{name: "wildcard", msg: packQuery(t, "x.wild.example.com.", dns.TypeA)},
		{name: "wildcard CNAME", msg: packQuery(t, "x.wc.example.com.", dns.TypeA)},
		{name: "ANY TCP", msg: packQuery(t, "example.com.", dns.TypeANY), tcp: true},
		{name: "CNAME loop through a wildcard", msg: packQuery(t, "cnamewcloop.example.com.", dns.TypeA)},
		{name: "DNAME", msg: packQuery(t, "x.dn2.example.com.", dns.TypeA)},
		{name: "DNAME loop", msg: packQuery(t, "a.dloop.example.com.", dns.TypeA)},
		{name: "CNAME below a cut", msg: packQuery(t, "tochild.example.com.", dns.TypeA)},
		{name: "SRV with additional", msg: packQuery(t, "_sip._udp.example.com.", dns.TypeSRV)},
		{name: "refused", msg: packQuery(t, "example.net.", dns.TypeA)},
		{name: "refused EDNS EDE", msg: packQuery(t, "example.net.", dns.TypeA, withEDNS(1232, true))},
		{name: "AXFR EDE", msg: packQuery(t, "example.com.", dns.TypeAXFR, withEDNS(1232, false)), tcp: true},
		{name: "CHAOS", cfg: Config{Chaos: true}, msg: packQuery(t, "version.bind.", dns.TypeTXT, withClass(dns.ClassCHAOS))},
		{name: "FORMERR", msg: raw(0, 2, 0, 0, 0, hostQ, hostQ)},
		{name: "FORMERR two OPTs", msg: raw(0, 1, 0, 0, 2, hostQ, optRR, optRR)},
		{name: "NOTIMP", msg: raw(dnswireNotify, 1, 0, 0, 0, hostQ)},
		{name: "drop", msg: raw(dnswireQR, 1, 0, 0, 0, hostQ)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg, set, nil)
			dst := make([]byte, 0, 65535)
			req := Request{TCP: tc.tcp}
			// The first call may fill the cache; both paths must be free.
			if n := mallocs(func() { s.Respond(dst, tc.msg, req) }); n != 0 {
				t.Errorf("first Respond: %v allocations, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { s.Respond(dst, tc.msg, req) }); n != 0 {
				t.Errorf("Respond: %v allocations, want 0", n)
			}
		})
	}
}

// TestRespondConcurrent answers from several goroutines while the zones
// are replaced, for the race detector.
func TestRespondConcurrent(t *testing.T) {
	set := testSet(t)
	s := New(Config{}, set, nil)
	qs := [][]byte{
		packQuery(t, "host.example.com.", dns.TypeA),
		packQuery(t, "example.com.", dns.TypeMX),
		packQuery(t, "www.example.com.", dns.TypeA),
	}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			dst := make([]byte, 0, 512)
			for i := 0; i < 2000; i++ {
				out := s.Respond(dst, qs[i%len(qs)], Request{})
				var m dns.Msg
				if err := m.Unpack(out); err != nil || len(m.Answer) == 0 {
					t.Errorf("bad response: %v %v", err, &m)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		s.SetZones(set)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if st := s.Stats(); st.Queries != 8000 || st.Responses != 8000 || st.Rcode[0] != 8000 {
		t.Errorf("Stats = %+v, want 8000 queries and NOERROR responses", st)
	}
}

// mallocs counts the heap allocations of one call of f (testing.AllocsPerRun
// would warm up with an uncounted call first).
func mallocs(f func()) uint64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}
