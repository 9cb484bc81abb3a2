package dnssvc

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
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
