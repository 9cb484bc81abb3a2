package dnssvc

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/localdata"
)

// fakeRecursion answers every query with one A record 198.18.9.9 (marking
// recursion), or defers (returns nil) when defer is set, and records what
// it was given.
type fakeRecursion struct {
	mu       sync.Mutex
	defer_   bool
	got      []RecursiveQuery
	gotNames []string
}

func (f *fakeRecursion) Answer(dst []byte, rq *RecursiveQuery) []byte {
	f.mu.Lock()
	f.got = append(f.got, *rq)
	f.gotNames = append(f.gotNames, string(rq.Query.Name()))
	f.mu.Unlock()
	if f.defer_ {
		return nil
	}
	flags := dnswire.FlagQR | dnswire.FlagRA | rq.Query.Flags&dnswire.FlagRD
	dst = append(dst[:0], byte(rq.Query.ID>>8), byte(rq.Query.ID), byte(flags>>8), byte(flags), 0, 1, 0, 1, 0, 0, 0, 0)
	dst = append(dst, rq.Query.Question...)
	return append(dst, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 9, 9)
}

func frontServer(t *testing.T, rec, mdns Recursion) *Server {
	t.Helper()
	cfg := Config{Recursion: rec, MDNS: mdns,
		AllowRecursion: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:2::/64")},
		OnLink:         []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")},
	}
	if rec == nil {
		cfg.AllowRecursion = nil
	}
	s := New(cfg, testSet(t), nil)
	var b localdata.Builder
	for _, o := range []string{"override.example.net=198.18.7.1", "host.example.com=198.18.7.2"} {
		if err := b.AddOverride(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AddHosts(strings.NewReader("198.18.7.3 printer.lab\n"), "hosts"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddBlock(strings.NewReader("ads.example.net\nblocked.example.com\n"), "block"); err != nil {
		t.Fatal(err)
	}
	d, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s.SetLocal(d)
	return s
}

func TestFrontPrecedence(t *testing.T) {
	rec := &fakeRecursion{}
	s := frontServer(t, rec, nil)
	inside := netip.MustParseAddrPort("198.18.0.1:5000")
	outsider := netip.MustParseAddrPort("203.0.113.9:5000")
	tests := []struct {
		name    string
		client  netip.AddrPort
		qname   string
		qtype   uint16
		rcode   int
		aa, ra  bool
		answer  string // first answer's rdata; "" for none
		ede     string
		recurse bool
	}{
		{"override beats the zone", inside, "host.example.com.", dns.TypeA, dns.RcodeSuccess, true, true, "198.18.7.2", "", false},
		{"override NODATA for another type", inside, "host.example.com.", dns.TypeAAAA, dns.RcodeSuccess, true, true, "", "", false},
		{"override outside the zones", outsider, "override.example.net.", dns.TypeA, dns.RcodeSuccess, true, false, "198.18.7.1", "", false},
		{"hosts entry", inside, "printer.lab.", dns.TypeA, dns.RcodeSuccess, true, true, "198.18.7.3", "", false},
		{"hosts PTR", inside, "3.7.18.198.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, true, true, "printer.lab.", "", false},
		{"zone answer with RA", inside, "ns1.example.com.", dns.TypeA, dns.RcodeSuccess, true, true, "192.0.2.53", "", false},
		{"zone answer to an outsider: no RA", outsider, "ns1.example.com.", dns.TypeA, dns.RcodeSuccess, true, false, "192.0.2.53", "", false},
		{"zone beats the block list", inside, "blocked.example.com.", dns.TypeA, dns.RcodeNameError, true, true, "", "", false},
		{"blocked", inside, "ads.example.net.", dns.TypeA, dns.RcodeNameError, true, true, "", "15", false},
		{"blocked subdomain", inside, "x.y.ads.example.net.", dns.TypeAAAA, dns.RcodeNameError, true, true, "", "15", false},
		{"blocked for outsiders too", outsider, "ads.example.net.", dns.TypeA, dns.RcodeNameError, true, false, "", "15", false},
		{"recursion", inside, "www.elsewhere.test.", dns.TypeA, dns.RcodeSuccess, false, true, "198.18.9.9", "", true},
		{"recursion for ANY", inside, "www.elsewhere.test.", dns.TypeANY, dns.RcodeSuccess, false, true, "198.18.9.9", "", true},
		{"recursion over IPv6", netip.MustParseAddrPort("[2001:2::7]:5000"), "www.elsewhere.test.", dns.TypeA, dns.RcodeSuccess, false, true, "198.18.9.9", "", true},
		{"outsider refused", outsider, "www.elsewhere.test.", dns.TypeA, dns.RcodeRefused, false, false, "", "18", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.got)
			q := packQuery(t, tc.qname, tc.qtype, withEDNS(1232, false), withFlags(true, false))
			resp := s.Respond(make([]byte, 0, 4096), q, Request{Client: tc.client, Local: netip.MustParseAddrPort("198.18.0.2:53")})
			var m dns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if m.Rcode != tc.rcode || m.Authoritative != tc.aa || m.RecursionAvailable != tc.ra {
				t.Errorf("rcode %s aa %v ra %v, want %s %v %v", dns.RcodeToString[m.Rcode], m.Authoritative, m.RecursionAvailable,
					dns.RcodeToString[tc.rcode], tc.aa, tc.ra)
			}
			got := ""
			if len(m.Answer) > 0 {
				f := strings.Fields(m.Answer[0].String())
				got = f[len(f)-1]
			}
			if got != tc.answer {
				t.Errorf("answer %q, want %q (%v)", got, tc.answer, m.Answer)
			}
			gotEDE := ""
			if o := m.IsEdns0(); o != nil {
				for _, op := range o.Option {
					if e, ok := op.(*dns.EDNS0_EDE); ok {
						gotEDE = strconv.Itoa(int(e.InfoCode))
					}
				}
			}
			if gotEDE != tc.ede {
				t.Errorf("EDE %q, want %q", gotEDE, tc.ede)
			}
			if recursed := len(rec.got) > before; recursed != tc.recurse {
				t.Errorf("handed to recursion: %v, want %v", recursed, tc.recurse)
			}
		})
	}
	st := s.Stats()
	if st.Local != 5 || st.Blocked != 3 || st.RecursionRefused != 1 || st.Recursed != 3 {
		t.Errorf("stats local %d blocked %d refused %d recursed %d, want 5 3 1 3", st.Local, st.Blocked, st.RecursionRefused, st.Recursed)
	}
	if st.Queries != uint64(len(tests)) {
		t.Errorf("Queries = %d, want %d", st.Queries, len(tests))
	}
}

func TestFrontRecursiveQuery(t *testing.T) {
	rec := &fakeRecursion{defer_: true}
	s := frontServer(t, rec, nil)
	q := packQuery(t, "WwW.Elsewhere.TEST.", dns.TypeA, withEDNS(4096, true), withNSID())
	req := Request{Client: netip.MustParseAddrPort("198.18.0.1:5000"), Local: netip.MustParseAddrPort("198.18.0.2:53"), Shard: 3}
	if resp := s.Respond(make([]byte, 0, 4096), q, req); len(resp) != 0 {
		t.Fatalf("deferred query answered at once: %x", resp)
	}
	if len(rec.got) != 1 {
		t.Fatalf("recursion called %d times", len(rec.got))
	}
	rq := rec.got[0]
	if rq.Client != req.Client || rq.Local != req.Local || rq.TCP || rq.Shard != 3 || string(rq.Msg) != string(q) {
		t.Errorf("query %+v, want the request's addresses, shard and message", rq)
	}
	if rec.gotNames[0] != "\x03www\x09elsewhere\x04test\x00" {
		t.Errorf("name %q, want the canonical name", rec.gotNames[0])
	}
	if rq.Limit != 1232 || rq.UDPSize != 1232 {
		t.Errorf("limit %d udp size %d, want 1232 and 1232 (our size caps the client's 4096)", rq.Limit, rq.UDPSize)
	}
	// Without EDNS the limit is 512.
	s.Respond(make([]byte, 0, 4096), packQuery(t, "a.elsewhere.test.", dns.TypeA), req)
	if got := rec.got[1].Limit; got != 512 {
		t.Errorf("limit without EDNS %d, want 512", got)
	}
	// TCP: 65535.
	req.TCP = true
	s.Respond(make([]byte, 0, 4096), packQuery(t, "a.elsewhere.test.", dns.TypeA), req)
	if got := rec.got[2]; got.Limit != 65535 || !got.TCP {
		t.Errorf("TCP: limit %d tcp %v, want 65535 true", got.Limit, got.TCP)
	}
}

func TestFrontMDNS(t *testing.T) {
	rec, gw := &fakeRecursion{}, &fakeRecursion{}
	s := frontServer(t, rec, gw)
	q := packQuery(t, "printer.local.", dns.TypeA)
	s.Respond(make([]byte, 0, 512), q, Request{Client: netip.MustParseAddrPort("198.18.0.1:5000")})
	if len(gw.got) != 1 || len(rec.got) != 0 {
		t.Errorf("local. name: gateway %d recursion %d, want 1 and 0", len(gw.got), len(rec.got))
	}
	// An outsider gets REFUSED, not the link's names.
	resp := s.Respond(make([]byte, 0, 512), q, Request{Client: netip.MustParseAddrPort("203.0.113.1:5000")})
	if len(gw.got) != 1 || resp[3]&0xF != dns.RcodeRefused {
		t.Errorf("outsider: gateway called %d times, rcode %d", len(gw.got), resp[3]&0xF)
	}
	// Without recursion, on-link clients may use the gateway.
	gw2 := &fakeRecursion{}
	s2 := frontServer(t, nil, gw2)
	s2.Respond(make([]byte, 0, 512), q, Request{Client: netip.MustParseAddrPort("198.18.0.1:5000")})
	s2.Respond(make([]byte, 0, 512), q, Request{Client: netip.MustParseAddrPort("[fe80::1]:5000")})
	resp = s2.Respond(make([]byte, 0, 512), q, Request{Client: netip.MustParseAddrPort("203.0.113.1:5000")})
	if len(gw2.got) != 2 || resp[3]&0xF != dns.RcodeRefused {
		t.Errorf("no recursion: gateway called %d times (want 2), off-link rcode %d", len(gw2.got), resp[3]&0xF)
	}
}

func TestFrontAllocs(t *testing.T) {
	rec := &fakeRecursion{}
	s := frontServer(t, rec, nil)
	dst := make([]byte, 0, 4096)
	req := Request{Client: netip.MustParseAddrPort("198.18.0.1:5000")}
	for _, c := range []struct {
		name  string
		qtype uint16
	}{{"printer.lab.", dns.TypeA}, {"x.ads.example.net.", dns.TypeA}, {"www.example.com.", dns.TypeA}, {"www.elsewhere.test.", dns.TypeA}} {
		q := packQuery(t, c.name, c.qtype, withEDNS(1232, false))
		s.Respond(dst, q, req)
		rec.mu.Lock()
		rec.got, rec.gotNames = nil, nil
		rec.mu.Unlock()
		if n := testing.AllocsPerRun(100, func() {
			s.Respond(dst, q, req)
			rec.got, rec.gotNames = rec.got[:0], rec.gotNames[:0]
		}); n > 0 && c.name != "www.elsewhere.test." {
			t.Errorf("%s: %v allocations, want 0", c.name, n)
		}
	}
}

// TestFrontRRLCoversRecursion checks that response rate limiting applies
// to recursive answers as it does to authoritative ones: a client over
// the limit gets slips and drops, and the resolver is not even asked.
func TestFrontRRLCoversRecursion(t *testing.T) {
	rec := &fakeRecursion{}
	s := New(Config{Recursion: rec, RRL: 5, RRLSlip: 2,
		AllowRecursion: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}}, testSet(t), nil)
	clk := &fakeClock{ns: int64(time.Hour)}
	s.rrl.now = clk.now
	q := packQuery(t, "www.elsewhere.test.", dns.TypeA, withEDNS(1232, false))
	client := Request{Client: netip.MustParseAddrPort("198.18.0.9:5300"), Local: netip.MustParseAddrPort("198.18.0.2:53")}
	var answered, slipped, dropped int
	for range 25 {
		resp := s.Respond(make([]byte, 0, 4096), q, client)
		switch {
		case len(resp) == 0:
			dropped++
		case resp[2]&0x02 != 0: // TC: a slip
			slipped++
		default:
			answered++
		}
	}
	if answered != 5 || slipped != 10 || dropped != 10 {
		t.Errorf("answered %d slipped %d dropped %d, want 5, 10, 10", answered, slipped, dropped)
	}
	if got := len(rec.got); got != answered {
		t.Errorf("resolver asked %d times, want %d (only for the answered queries)", got, answered)
	}
}
