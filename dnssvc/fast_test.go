package dnssvc

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/zone"
)

// zoneQuestions lists a query for every owner name and type in the test
// zones, plus types that give NODATA.
func zoneQuestions(t *testing.T) []dns.Question {
	var qs []dns.Question
	for _, f := range []string{"testdata/example.com.zone", "testdata/example.org.zone", "testdata/child.example.com.zone"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(bytes.NewReader(src), "", f)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			h := rr.Header()
			qs = append(qs, dns.Question{Name: h.Name, Qtype: h.Rrtype, Qclass: dns.ClassINET},
				dns.Question{Name: h.Name, Qtype: dns.TypeMX, Qclass: dns.ClassINET},
				dns.Question{Name: "nx." + h.Name, Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}
		if err := zp.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return qs
}

// mixCase returns name with every other letter upper-cased.
func mixCase(name string) string {
	b := []byte(name)
	for i := range b {
		if i%2 == 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// TestCachedEqualsGeneric proves that answers copied from the cache are
// byte for byte what the generic encoder writes, for every name and type
// of the test zones, in several spellings, with and without EDNS, over UDP
// and TCP.
func TestCachedEqualsGeneric(t *testing.T) {
	set := testSet(t)
	warm := New(Config{NSID: "x"}, set, nil)
	variants := []struct {
		name string
		opts []qopt
		tcp  bool
	}{
		{"plain", nil, false},
		{"edns", []qopt{withEDNS(1232, false)}, false},
		{"edns-do-nsid", []qopt{withEDNS(4096, true), withNSID()}, false},
		{"edns-512", []qopt{withEDNS(512, false)}, false},
		{"tcp", nil, true},
	}
	// Fill the cache with lower-case queries first.
	for _, q := range zoneQuestions(t) {
		warm.Respond(nil, packQuery(t, strings.ToLower(q.Name), q.Qtype), Request{TCP: true})
	}
	before := warm.Stats().Cached
	n := 0
	for _, q := range zoneQuestions(t) {
		for _, name := range []string{q.Name, strings.ToUpper(q.Name), mixCase(q.Name)} {
			for _, v := range variants {
				msg := packQuery(t, name, q.Qtype, v.opts...)
				fresh := New(Config{NSID: "x"}, set, nil) // empty cache: generic encoder
				want := fresh.Respond(nil, msg, Request{TCP: v.tcp})
				got := warm.Respond(nil, msg, Request{TCP: v.tcp})
				if !bytes.Equal(got, want) {
					t.Errorf("%s %s %s: cached response differs\n got % x\nwant % x", name, dns.TypeToString[q.Qtype], v.name, got, want)
				}
				n++
			}
		}
	}
	cached := warm.Stats().Cached - before
	if cached < uint64(n)/8 {
		t.Errorf("only %d of %d responses came from the cache", cached, n)
	}
	t.Logf("%d responses compared, %d from the cache", n, cached)
}

// benchZone is a zone of n names with an A record each.
func benchZone(tb testing.TB, n int) *zone.Set {
	var sb strings.Builder
	sb.WriteString("$ORIGIN bench.example.\n$TTL 300\n@ SOA ns.bench.example. h.bench.example. 1 3600 600 86400 60\n@ NS ns\nns A 198.18.0.53\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "name%d A 198.18.%d.%d\n", i, i/256, i%256)
	}
	z, err := zone.Parse(strings.NewReader(sb.String()), "", "")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func BenchmarkRespond(b *testing.B) {
	s := New(Config{}, benchZone(b, 1000), nil)
	q := packQuery(b, "name500.bench.example.", dns.TypeA, withEDNS(1232, false))
	dst := make([]byte, 0, 65535)
	if out := s.Respond(dst, q, Request{}); len(out) == 0 {
		b.Fatal("no response")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Respond(dst, q, Request{})
	}
}

// BenchmarkRespondMiekg does the same job the straightforward way with
// miekg/dns: Unpack, a map lookup, Pack.
func BenchmarkRespondMiekg(b *testing.B) {
	records := map[string][]dns.RR{}
	for i := 0; i < 1000; i++ {
		rr, err := dns.NewRR(fmt.Sprintf("name%d.bench.example. 300 IN A 198.18.%d.%d", i, i/256, i%256))
		if err != nil {
			b.Fatal(err)
		}
		records[strings.ToLower(rr.Header().Name)] = append(records[rr.Header().Name], rr)
	}
	q := packQuery(b, "name500.bench.example.", dns.TypeA, withEDNS(1232, false))
	dst := make([]byte, 0, 65535)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var m dns.Msg
		if err := m.Unpack(q); err != nil {
			b.Fatal(err)
		}
		r := new(dns.Msg)
		r.SetReply(&m)
		r.Authoritative = true
		for _, rr := range records[strings.ToLower(m.Question[0].Name)] {
			if rr.Header().Rrtype == m.Question[0].Qtype {
				r.Answer = append(r.Answer, rr)
			}
		}
		r.SetEdns0(1232, false)
		r.Compress = true
		if _, err := r.PackBuffer(dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRespondGeneric measures the generic encoder: an MX answer with
// additional addresses, with the answer cache disabled.
func BenchmarkRespondGeneric(b *testing.B) {
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"MX+additional", "example.com.", dns.TypeMX},
		{"NXDOMAIN", "nope.example.com.", dns.TypeA},
		{"CNAME chain", "www.example.com.", dns.TypeA},
		{"referral", "www.sub.example.com.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Config{}, testSet(b), nil)
			s.state.Load().cache = newCache(0)
			s.state.Load().cache.entries = nil // no room: every answer is encoded
			q := packQuery(b, bc.qname, bc.qtype, withEDNS(1232, false))
			dst := make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				s.Respond(dst, q, Request{})
			}
		})
	}
}
