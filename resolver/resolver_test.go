package resolver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
)

const testZone = `
$ORIGIN test.
$TTL 3600
@            SOA ns1.test. host.test. 1 3600 600 86400 300
@            NS  ns1
@            NS  ns2
ns1          A   $2
ns2          A   $3
www          A   192.0.2.1
www          A   192.0.2.2
alias        CNAME www
toother      CNAME www.example.other.
example      NS  ns.example
ns.example   A   $5
glueless     NS  ns.provider.other.
dn           DNAME example.other.
`

const otherZone = `
$ORIGIN other.
$TTL 3600
@            SOA ns.other. host.other. 1 3600 600 86400 300
@            NS  ns
ns           A   $4
www.example  A   192.0.2.10
provider     NS  ns.provider
ns.provider  A   $6
`

const exampleTestZone = `
$ORIGIN example.test.
$TTL 300
@            SOA ns.example.test. host.example.test. 1 3600 600 86400 60
@            NS  ns
ns           A   $5
www          A   192.0.2.20
deep.a.b.c   A   192.0.2.21
mx           MX  10 mail
mail         A   192.0.2.22
big          TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
`

const gluelessZone = `
$ORIGIN glueless.test.
$TTL 300
@            SOA ns.provider.other. host.glueless.test. 1 3600 600 86400 60
@            NS  ns.provider.other.
www          A   192.0.2.30
`

// stdLab is the usual fake Internet: root (1), test. (2, 3), other. (4),
// example.test. (5), provider.other. serving glueless.test. (6).
func stdLab(t *testing.T) *lab {
	l := newLab(t)
	l.serve(1, rootZone)
	l.serve(2, testZone)
	l.serve(3, testZone)
	l.serve(4, otherZone)
	l.serve(5, exampleTestZone)
	l.serve(6, gluelessZone, `
$ORIGIN provider.other.
@ 300 SOA ns host 1 3600 600 86400 60
@ 300 NS ns
ns 300 A $6
`)
	return l
}

func TestResolve(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"www.test.", dns.TypeA, dns.RcodeSuccess, []string{"www.test. A 192.0.2.1", "www.test. A 192.0.2.2"}},
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, []string{"www.example.test. A 192.0.2.20"}},
		{"deep.a.b.c.example.test.", dns.TypeA, dns.RcodeSuccess, []string{"deep.a.b.c.example.test. A 192.0.2.21"}},
		{"alias.test.", dns.TypeA, dns.RcodeSuccess, []string{"alias.test. CNAME www.test.", "www.test. A 192.0.2.1", "www.test. A 192.0.2.2"}},
		// CNAME into another TLD: the chain goes on from the root.
		{"toother.test.", dns.TypeA, dns.RcodeSuccess, []string{"toother.test. CNAME www.example.other.", "www.example.other. A 192.0.2.10"}},
		// DNAME into another TLD, with the CNAME synthesised.
		{"www.dn.test.", dns.TypeA, dns.RcodeSuccess, []string{"dn.test. DNAME example.other.", "www.dn.test. CNAME www.example.other.", "www.example.other. A 192.0.2.10"}},
		// Asked for the CNAME, the DNAME comes with it (the server's CNAME
		// is the one it synthesised), and the next question about the name
		// does not find that CNAME cached without its DNAME.
		{"www.dn.test.", dns.TypeCNAME, dns.RcodeSuccess, []string{"dn.test. DNAME example.other.", "www.dn.test. CNAME www.example.other."}},
		{"www.dn.test.", dns.TypeMX, dns.RcodeSuccess, []string{"dn.test. DNAME example.other.", "www.dn.test. CNAME www.example.other."}},
		// Glueless delegation: ns.provider.other. resolved on the side.
		{"www.glueless.test.", dns.TypeA, dns.RcodeSuccess, []string{"www.glueless.test. A 192.0.2.30"}},
		{"nope.example.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"www.example.test.", dns.TypeMX, dns.RcodeSuccess, nil},
		{"mx.example.test.", dns.TypeMX, dns.RcodeSuccess, []string{"mx.example.test. MX 10 mail.example.test."}},
		{"nope.", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := l.ask(s, tc.name, tc.qtype, withEDNS(1232))
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := answers(r); !slices.Equal(got, tc.want) {
				t.Errorf("answer\n got %q\nwant %q", got, tc.want)
			}
			if !r.RecursionAvailable || r.Authoritative || !r.Response || !r.RecursionDesired {
				t.Errorf("flags RA=%v AA=%v QR=%v RD=%v, want RA, QR, RD and not AA", r.RecursionAvailable, r.Authoritative, r.Response, r.RecursionDesired)
			}
			if tc.rcode == dns.RcodeNameError || len(tc.want) == 0 {
				if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
					t.Errorf("negative answer authority %v, want the SOA", r.Ns)
				}
			}
			// The same again comes from the cache, at once.
			r2, hit := l.askRaw(s, tc.name, tc.qtype, false, withEDNS(1232))
			if !hit {
				t.Errorf("second query not answered from the cache")
			}
			if got := answers(r2); !slices.Equal(got, tc.want) || r2.Rcode != tc.rcode {
				t.Errorf("cached answer %q %s, want %q %s", got, dns.RcodeToString[r2.Rcode], tc.want, dns.RcodeToString[tc.rcode])
			}
		})
	}
	st := s.Stats()
	if st.CacheHits < uint64(len(tests)) || st.Resolutions < uint64(len(tests)) {
		t.Errorf("stats: %d hits, %d resolutions; want at least %d each", st.CacheHits, st.Resolutions, len(tests))
	}
	if st.UpstreamRcode[dns.RcodeSuccess] == 0 || len(st.Servers) < 5 {
		t.Errorf("upstream stats: rcode %v, %d servers", st.UpstreamRcode, len(st.Servers))
	}
}

// TestReplyHeader checks what the client sees beyond the records: its ID,
// its question in its own letter case (0x20), the OPT.
func TestReplyHeader(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{}, cache.Config{})
	for _, hit := range []bool{false, true} {
		q := new(dns.Msg)
		q.SetQuestion("WwW.eXaMpLe.TeSt.", dns.TypeA)
		q.Id = 0x1234
		q.CheckingDisabled = true
		q.SetEdns0(1232, true)
		wire, _ := q.Pack()
		rq := l.request(wire, true)
		rq.NSID = []byte("tapdns-1")
		out := s.Answer(nil, rq)
		r := unpack(t, out)
		if r.Id != 0x1234 || r.Question[0].Name != "WwW.eXaMpLe.TeSt." || !r.CheckingDisabled {
			t.Errorf("hit=%v: id %#x question %q CD=%v; want the query's", hit, r.Id, r.Question[0].Name, r.CheckingDisabled)
		}
		if len(r.Answer) != 1 || r.Answer[0].Header().Name != "WwW.eXaMpLe.TeSt." {
			t.Errorf("hit=%v: answer %v, want the owner in the query's case", hit, r.Answer)
		}
		o := r.IsEdns0()
		if o == nil || o.UDPSize() != 1232 || !o.Do() {
			t.Fatalf("hit=%v: OPT %v, want size 1232 and DO echoed", hit, o)
		}
		var nsid string
		for _, opt := range o.Option {
			if n, ok := opt.(*dns.EDNS0_NSID); ok {
				nsid = n.Nsid
			}
		}
		if nsid != "746170646e732d31" {
			t.Errorf("hit=%v: NSID %q, want tapdns-1 in hex", hit, nsid)
		}
	}
}

func TestTTLCountdown(t *testing.T) {
	l := stdLab(t)
	s := l.resolver(Config{NoPrefetch: true}, cache.Config{})
	r := l.ask(s, "www.example.test.", dns.TypeA)
	if r.Answer[0].Header().Ttl != 300 {
		t.Fatalf("first TTL %d, want 300", r.Answer[0].Header().Ttl)
	}
	l.advance(100*time.Second + 300*time.Millisecond)
	r, hit := l.askRaw(s, "www.example.test.", dns.TypeA, false)
	if !hit || r.Answer[0].Header().Ttl != 200 {
		t.Errorf("after 100.3s: TTL %d (hit %v), want 200 from the cache", r.Answer[0].Header().Ttl, hit)
	}
	l.advance(200 * time.Second)
	before := l.servers[5].udpQueries.Load()
	r, hit = l.askRaw(s, "www.example.test.", dns.TypeA, false)
	if hit || r.Answer[0].Header().Ttl != 300 || l.servers[5].udpQueries.Load() == before {
		t.Errorf("after expiry: TTL %d, hit %v; want a fresh answer from the server", r.Answer[0].Header().Ttl, hit)
	}
}

func TestQNameMinimisation(t *testing.T) {
	for _, minimise := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[minimise], func(t *testing.T) {
			l := stdLab(t)
			s := l.resolver(Config{NoQNameMinimisation: !minimise}, cache.Config{})
			if r := l.ask(s, "deep.a.b.c.example.test.", dns.TypeA); len(r.Answer) != 1 {
				t.Fatalf("answer %v", r.Answer)
			}
			root := l.servers[1].queries()
			tld := append(l.servers[2].queries(), l.servers[3].queries()...)
			leaf := l.servers[5].queries()
			if minimise {
				// The root sees "test." (after the priming ". NS"), the
				// TLD "example.test.", the leaf one label more at a time.
				if !slices.Equal(root, []string{". NS", "test. A"}) {
					t.Errorf("root asked %q", root)
				}
				if !slices.Equal(tld, []string{"example.test. A"}) {
					t.Errorf("test. asked %q", tld)
				}
				want := []string{"c.example.test. A", "b.c.example.test. A", "a.b.c.example.test. A", "deep.a.b.c.example.test. A"}
				if !slices.Equal(leaf, want) {
					t.Errorf("example.test. asked %q, want %q", leaf, want)
				}
			} else {
				for _, q := range append(root[1:], tld...) {
					if q != "deep.a.b.c.example.test. A" {
						t.Errorf("without minimisation a server was asked %q", q)
					}
				}
			}
		})
	}
}

func TestNextMinimised(t *testing.T) {
	// A 20-label name from the root: one label at a time for
	// minimiseOneLab steps, then strides, all within maxMinimiseCount.
	nl, qmin, steps := 20, 0, 0
	for qmin < nl {
		next := nextMinimised(qmin, nl, steps)
		if next <= qmin {
			t.Fatalf("step %d: %d labels after %d", steps, next, qmin)
		}
		if steps < minimiseOneLab && next != qmin+1 {
			t.Errorf("step %d: %d labels after %d, want one more", steps, next, qmin)
		}
		qmin = next
		steps++
	}
	if steps > maxMinimiseCount+1 {
		t.Errorf("%d steps for 20 labels, want at most %d", steps, maxMinimiseCount+1)
	}
}

func TestRootHintsText(t *testing.T) {
	h := IANARootHints()
	if len(h) != 13 || h[0].Name != "a.root-servers.net." || h[1].Addrs[0].String() != "170.247.170.2" {
		t.Errorf("IANA hints %v", h[:2])
	}
	var b strings.Builder
	for _, x := range h {
		b.WriteString(".  3600000  NS  " + strings.ToUpper(x.Name) + "\n")
		for _, a := range x.Addrs {
			typ := "AAAA"
			if a.Is4() {
				typ = "A"
			}
			b.WriteString(x.Name + " 3600000 IN " + typ + " " + a.String() + " ; comment\n")
		}
	}
	got, err := ParseRootHints(strings.NewReader(b.String()), "hints")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 13 || got[12].Name != "m.root-servers.net." || len(got[12].Addrs) != 2 {
		t.Errorf("parsed %v", got)
	}
}

func TestRootHintsErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"", "no NS records"},
		{". NS a.root.\n", "a.root. has no address"},
		{". NS a.root.\na.root. A 1.2.3.4.5\n", "line 2: bad A address"},
		{". NS a.root.\na.root. A 2001:db8::1\n", "line 2: bad A address"},
		{"x. NS a.root.\n", "line 1: NS record owned by x."},
		{". MX 10 a.root.\n", "line 1: want OWNER"},
		{". NS a.root\n", "line 1: NS target \"a.root\": not absolute"},
		{". 99999999999 NS a.root.\n", "line 1: TTL"},
		{". NS a.root.\na.root. TXT x\n", "line 2: record type TXT"},
	}
	for _, tc := range tests {
		_, err := ParseRootHints(strings.NewReader(tc.text), "h")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
