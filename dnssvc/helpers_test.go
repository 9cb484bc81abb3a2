package dnssvc

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/zone"
)

// testSet loads the zones in testdata/.
func testSet(tb testing.TB) *zone.Set {
	tb.Helper()
	var zs []*zone.Zone
	for _, f := range []string{"testdata/example.com.zone", "testdata/example.org.zone", "testdata/child.example.com.zone"} {
		z, err := zone.LoadFile(f)
		if err != nil {
			tb.Fatalf("LoadFile(%s): %v", f, err)
		}
		zs = append(zs, z)
	}
	set, err := zone.NewSet(zs...)
	if err != nil {
		tb.Fatalf("NewSet: %v", err)
	}
	return set
}

// qopt modifies a query message before it is packed.
type qopt func(*dns.Msg)

func withEDNS(size uint16, do bool) qopt {
	return func(m *dns.Msg) { m.SetEdns0(size, do) }
}

func withNSID() qopt {
	return func(m *dns.Msg) {
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	}
}

func withVersion(v uint8) qopt {
	return func(m *dns.Msg) { m.IsEdns0().SetVersion(v) }
}

func withClass(c uint16) qopt {
	return func(m *dns.Msg) { m.Question[0].Qclass = c }
}

func withOpcode(op int) qopt {
	return func(m *dns.Msg) { m.Opcode = op }
}

func withFlags(rd, cd bool) qopt {
	return func(m *dns.Msg) { m.RecursionDesired, m.CheckingDisabled = rd, cd }
}

// packQuery builds a query with miekg/dns.
func packQuery(tb testing.TB, name string, qtype uint16, opts ...qopt) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.Id = 0xBEEF
	m.RecursionDesired = false
	m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	for _, o := range opts {
		o(m)
	}
	b, err := m.Pack()
	if err != nil {
		tb.Fatalf("pack query: %v", err)
	}
	return b
}

// rrStrings returns the records of a section in a normalised text form
// ("owner ttl class type rdata", single spaces, lower-cased), sorted.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ToLower(strings.Join(strings.Fields(rr.String()), " ")))
	}
	slices.Sort(out)
	return out
}

func norm(rrs []string) []string {
	var out []string
	for _, s := range rrs {
		out = append(out, strings.ToLower(strings.Join(strings.Fields(s), " ")))
	}
	slices.Sort(out)
	return out
}
