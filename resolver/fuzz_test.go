package resolver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

// seedResponses are responses of every shape the resolver meets, packed
// with compression by miekg/dns.
func seedResponses(tb testing.TB) [][]byte {
	var out [][]byte
	add := func(q string, qtype uint16, aa bool, rcode int, an, ns, ar []string, edns bool) {
		m := new(dns.Msg)
		m.SetQuestion(q, qtype)
		m.Response, m.Authoritative, m.Rcode, m.Compress = true, aa, rcode, true
		for _, sec := range []struct {
			dst *[]dns.RR
			rrs []string
		}{{&m.Answer, an}, {&m.Ns, ns}, {&m.Extra, ar}} {
			for _, s := range sec.rrs {
				*sec.dst = append(*sec.dst, mustRR(tb, s))
			}
		}
		if edns {
			m.SetEdns0(1232, false)
		}
		out = append(out, mustPack(tb, m))
	}
	add("www.example.test.", dns.TypeA, true, 0, []string{"www.example.test. 300 IN A 192.0.2.1", "www.example.test. 300 IN A 192.0.2.2"}, nil, nil, true)
	add("www.example.test.", dns.TypeA, false, 0, nil,
		[]string{"example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns.other."},
		[]string{"ns1.example.test. 3600 IN A 192.0.2.53", "ns1.example.test. 3600 IN AAAA 2001:db8::53", "ns.other. 3600 IN A 6.6.6.6"}, true)
	add("nope.example.test.", dns.TypeA, true, dns.RcodeNameError, nil,
		[]string{"example.test. 300 IN SOA ns1.example.test. host.example.test. 1 3600 600 86400 60"}, nil, false)
	add("alias.example.test.", dns.TypeA, true, 0,
		[]string{"alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.1"}, nil, nil, true)
	add("x.dn.example.test.", dns.TypeA, true, 0,
		[]string{"dn.example.test. 300 IN DNAME other.", "x.dn.example.test. 300 IN CNAME x.other."}, nil, nil, false)
	add("example.test.", dns.TypeMX, true, 0, []string{"example.test. 300 IN MX 10 mail.example.test."}, nil,
		[]string{"mail.example.test. 300 IN A 192.0.2.25"}, false)
	add("_sip._udp.example.test.", dns.TypeSRV, true, 0, []string{"_sip._udp.example.test. 300 IN SRV 1 2 5060 sip.example.test."}, nil, nil, false)
	add("example.test.", dns.TypeSOA, true, 0, []string{"example.test. 300 IN SOA ns1.example.test. host.example.test. 1 3600 600 86400 60"}, nil, nil, false)
	add("example.test.", dns.TypeTXT, true, 0, []string{`example.test. 300 IN TXT "hello" "world"`}, nil, nil, false)
	add("1.2.0.192.in-addr.arpa.", dns.TypePTR, true, 0, []string{"1.2.0.192.in-addr.arpa. 300 IN PTR www.example.test."}, nil, nil, false)
	add("www.example.test.", dns.TypeA, false, dns.RcodeRefused, nil, nil, nil, false)
	add(".", dns.TypeNS, true, 0, []string{". 518400 IN NS a.root-servers.net."}, nil, []string{"a.root-servers.net. 518400 IN A 198.41.0.4"}, true)
	return out
}

// FuzzParseMsg checks the response parser: it never panics or reads out
// of bounds, and what it accepts miekg/dns reads the same way.
func FuzzParseMsg(f *testing.F) {
	for _, b := range seedResponses(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m msg
		if err := parseMsg(b, &m); err != nil {
			return
		}
		for _, sec := range [][]rr{m.an, m.ns, m.ar} {
			for _, x := range sec {
				if dnswire.NameLen(x.name) != len(x.name) {
					t.Fatalf("owner %q is not a valid uncompressed name", x.name)
				}
				if x.ttl > 0x7FFFFFFF {
					t.Fatalf("TTL %d above 2^31", x.ttl)
				}
				if pre, names, post, ok := rdataNames(x.typ); ok {
					// The names in the rdata are uncompressed and fill it.
					d := x.data[pre:]
					for range names {
						n := dnswire.NameLen(d)
						if n < 0 {
							t.Fatalf("type %d rdata %q: bad name", x.typ, x.data)
						}
						d = d[n:]
					}
					if len(d) != post {
						t.Fatalf("type %d rdata %q: %d octets after the names", x.typ, x.data, len(d))
					}
				}
			}
		}
		var d dns.Msg
		if d.Unpack(b) != nil {
			return // miekg/dns is stricter about some rdata
		}
		if m.qd != len(d.Question) || m.qd == 1 && !strings.EqualFold(d.Question[0].Name, nameString(m.qname)) {
			t.Fatalf("question %q/%d, miekg %v", m.qname, m.qd, d.Question)
		}
		got := len(m.an) + len(m.ns) + len(m.ar)
		want := len(d.Answer) + len(d.Ns) + len(d.Extra)
		if m.edns {
			got++
		}
		if got != want {
			t.Fatalf("%d records, miekg %d", got, want)
		}
		for i, x := range m.an {
			h := d.Answer[i].Header()
			if !strings.EqualFold(h.Name, nameString(x.name)) || h.Rrtype != x.typ {
				t.Fatalf("answer %d: %q/%d, miekg %q/%d", i, x.name, x.typ, h.Name, h.Rrtype)
			}
		}
	})
}

// nameString renders a wire name as miekg/dns does (no escapes needed for
// the comparison of plain names; others compare unequal and are skipped
// by EqualFold failing only when they differ).
func nameString(n []byte) string {
	s, _, err := dns.UnpackDomainName(n, 0)
	if err != nil {
		return "?"
	}
	return s
}

// FuzzRootHints: the hints parser never panics, and what it accepts is
// usable (names valid, every server with an address).
func FuzzRootHints(f *testing.F) {
	f.Add(". 3600000 NS A.ROOT-SERVERS.NET.\nA.ROOT-SERVERS.NET. 3600000 A 198.41.0.4\nA.ROOT-SERVERS.NET. 3600000 AAAA 2001:503:ba3e::2:30\n")
	f.Add("; comment\n. NS a.\na. IN A 192.0.2.1 ; x\n")
	f.Fuzz(func(t *testing.T, text string) {
		hints, err := ParseRootHints(strings.NewReader(text), "fuzz")
		if err != nil {
			return
		}
		if len(hints) == 0 {
			t.Fatal("no error and no hints")
		}
		for _, h := range hints {
			if _, err := wireName(h.Name); err != nil && h.Name != "." {
				t.Fatalf("hint name %q: %v", h.Name, err)
			}
			if len(h.Addrs) == 0 {
				t.Fatalf("hint %q without address", h.Name)
			}
		}
	})
}

// FuzzResponse runs an arbitrary response through everything the
// resolver does with one: classification, referral and glue handling,
// answer and chain scrubbing, caching, encoding the answer and writing
// the client's reply, which must be a valid message.
func FuzzResponse(f *testing.F) {
	for _, b := range seedResponses(f) {
		f.Add(b, uint8(0), false)
		f.Add(b, uint8(1), true)
		f.Add(b, uint8(2), false)
	}
	c, err := cache.New(cache.Config{MaxBytes: cache.MinMaxBytes})
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Network: noNet{}, Cache: c}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, zoneLabels uint8, forward bool) {
		m := new(msg)
		if parseMsg(b, m) != nil || m.qd != 1 {
			return
		}
		zone := suffix(m.qname, int(zoneLabels)%(labels(m.qname)+1))
		q := question{name: m.qname, qtype: m.qtype}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		queries := 0
		r := &request{s: s, ctx: ctx, queries: &queries}
		var st step
		switch s.classify(m, zone, q, forward) {
		case respReferral:
			ns := r.takeReferral(m, zone, q)
			if len(ns.zone) <= len(zone) || !isSubdomain(ns.zone, zone) || !isSubdomain(q.name, ns.zone) {
				t.Fatalf("referral from %q for %q to %q", zone, q.name, ns.zone)
			}
			return
		case respAnswer, respNXDomain, respNoData:
			st = r.takeAnswer(m, zone, q.name, q.qtype, forward)
		default:
			return
		}
		for _, x := range st.records {
			// Scrubbing: nothing from outside the server's bailiwick,
			// except the CNAMEs synthesised from its DNAMEs.
			if !isSubdomain(x.Name, zone) {
				t.Fatalf("record for %q taken from a server of %q", x.Name, zone)
			}
		}
		if st.kind == stepFail {
			return
		}
		cm, err := c.NewMsg(q.name, q.qtype, st.rcode, -1, st.records, st.authority)
		if err != nil {
			return
		}
		wire := appendQuery(nil, 1, q.name, q.qtype, true, 1232)
		var pq dnswire.Query
		if st := dnswire.ParseQuery(wire, &pq); st != dnswire.StatusOK {
			t.Fatalf("query for %q: %v", q.name, st)
		}
		rq := &dnssvc.RecursiveQuery{Msg: wire, Query: &pq, TCP: true, Limit: dnswire.MaxMsgLen, UDPSize: 1232}
		cl := clientOf(rq)
		out := s.reply(nil, &cl, cm, false)
		// The reply is well-formed; and when miekg/dns could read the
		// server's response, it reads the reply too (it checks the
		// rdata of more types than the resolver needs to).
		var back msg
		if err := parseMsg(out, &back); err != nil {
			t.Fatalf("reply does not parse: %v\n% x", err, out)
		}
		var d, orig dns.Msg
		if orig.Unpack(b) != nil {
			return
		}
		if err := d.Unpack(out); err != nil {
			t.Fatalf("reply does not unpack: %v\n% x", err, out)
		}
		if !d.Truncated && len(d.Answer) != len(st.records) {
			t.Fatalf("reply has %d answers, want %d", len(d.Answer), len(st.records))
		}
	})
}
