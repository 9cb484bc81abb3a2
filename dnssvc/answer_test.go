package dnssvc

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/zone"
)

// serverFor serves the zone given as text.
func serverFor(tb testing.TB, text string) *Server {
	tb.Helper()
	z, err := zone.Parse(strings.NewReader(text), "", "")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		tb.Fatal(err)
	}
	return New(Config{}, set, nil)
}

// TestCNAMEChainOfFive checks issue 13 item 2: a chain of exactly five
// CNAMEs ends with the answer for the last target (its RRset, or the SOA
// of a negative answer), as NSD and Knot DNS give it; a sixth CNAME is not
// written (Knot's limit; the resolver goes on from there).
func TestCNAMEChainOfFive(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN c.test.\n@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n@ NS ns\nns A 198.18.0.53\n")
	for _, p := range []string{"a", "n", "x", "six"} {
		links := 5
		if p == "six" {
			links = 6
		}
		for i := 1; i <= links; i++ {
			next := fmt.Sprintf("%s%d", p, i+1)
			if i == links {
				next = p + "end"
			}
			fmt.Fprintf(&b, "%s%d CNAME %s\n", p, i, next)
		}
	}
	b.WriteString("aend A 198.18.0.1\nnend TXT \"no A here\"\nsixend A 198.18.0.6\n") // xend does not exist
	s := serverFor(t, b.String())
	for _, tt := range []struct {
		name   string
		rcode  int
		cnames int
		final  uint16 // type of the last answer record, 0 for none
		soa    bool
	}{
		{"a1.c.test.", dns.RcodeSuccess, 5, dns.TypeA, false},
		{"n1.c.test.", dns.RcodeSuccess, 5, 0, true},
		{"x1.c.test.", dns.RcodeNameError, 5, 0, true},
		{"a2.c.test.", dns.RcodeSuccess, 4, dns.TypeA, false},
		{"six1.c.test.", dns.RcodeSuccess, 5, 0, false},
	} {
		for _, edns := range []bool{false, true} {
			opts := []qopt{}
			if edns {
				opts = append(opts, withEDNS(1232, false))
			}
			m, _ := ask(t, s, tt.name, dns.TypeA, opts...)
			cnames, final := 0, uint16(0)
			for _, rr := range m.Answer {
				if rr.Header().Rrtype == dns.TypeCNAME {
					cnames++
				} else {
					final = rr.Header().Rrtype
				}
			}
			soa := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA
			if m.Rcode != tt.rcode || cnames != tt.cnames || final != tt.final || soa != tt.soa || m.Truncated {
				t.Errorf("%s A (EDNS %v): %s, %d CNAMEs, then %s, SOA %v; want %s, %d CNAMEs, then %s, SOA %v\n%v",
					tt.name, edns, dns.RcodeToString[m.Rcode], cnames, dns.Type(final), soa,
					dns.RcodeToString[tt.rcode], tt.cnames, dns.Type(tt.final), tt.soa, m)
			}
		}
	}
}

// TestSiblingGluePacking checks issue 13 item 3: a referral to 13 name
// servers whose addresses are sibling glue, like the root zone's for com.,
// does not fit in 512 octets. What still fits is added, as NSD does it: the
// A record of every name server, then AAAA records while they fit; no TC
// (sibling glue is optional, RFC 9471).
func TestSiblingGluePacking(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN g.test.\n@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n@ NS ns\nns A 198.18.0.53\n")
	b.WriteString("sib NS a.gtld-servers.sib\n")
	for i, c := range "abcdefghijklm" {
		fmt.Fprintf(&b, "tld NS %c.gtld-servers.sib\n", c)
		fmt.Fprintf(&b, "%c.gtld-servers.sib A 198.18.8.%d\n%c.gtld-servers.sib AAAA 2001:2::8:%d\n", c, i+1, c, i+1)
	}
	s := serverFor(t, b.String())
	for _, tt := range []struct {
		opts      []qopt
		limit     int
		a, aaaa   int
		truncated bool
	}{
		{nil, 512, 13, 1, false},
		{[]qopt{withEDNS(512, false)}, 512, 13, 1, false},
		{[]qopt{withEDNS(1232, false)}, 1232, 13, 13, false},
	} {
		m, resp := ask(t, s, "www.tld.g.test.", dns.TypeA, tt.opts...)
		a, aaaa := 0, 0
		for _, rr := range m.Extra {
			switch rr.Header().Rrtype {
			case dns.TypeA:
				a++
			case dns.TypeAAAA:
				aaaa++
			}
		}
		if len(m.Ns) != 13 || a != tt.a || aaaa != tt.aaaa || m.Truncated != tt.truncated || len(resp) > tt.limit {
			t.Errorf("limit %d: %d NS, %d A, %d AAAA, TC %v, %d octets; want 13 NS, %d A, %d AAAA, TC %v\n%v",
				tt.limit, len(m.Ns), a, aaaa, m.Truncated, len(resp), tt.a, tt.aaaa, tt.truncated, m)
		}
	}
}
