package dnssvc

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestRequestStats(t *testing.T) {
	s := New(Config{}, testSet(t), nil)
	v4 := netip.MustParseAddrPort("198.18.0.1:5353")
	v6 := netip.MustParseAddrPort("[2001:2::1]:5353")
	mapped := netip.MustParseAddrPort("[::ffff:198.18.0.1]:5353")
	dst := make([]byte, 0, 65535)
	queries := []struct {
		msg  []byte
		req  Request
		tcp  int
		v6   int
		name string
	}{
		{packQuery(t, "host.example.com.", dns.TypeA), Request{Client: v4}, 0, 0, "A"},
		{packQuery(t, "host.example.com.", dns.TypeAAAA), Request{Client: v6, TCP: true}, 1, 1, "AAAA"},
		{packQuery(t, "host.example.com.", dns.TypeMX), Request{Client: mapped}, 0, 0, "MX"},
		{packQuery(t, "host.example.com.", dns.TypeHINFO), Request{Client: v6}, 0, 1, "other"},
		{packQuery(t, "example.com.", dns.TypeANY), Request{Client: v4, TCP: true}, 1, 0, "ANY"},
		{raw(0, 2, 0, 0, 0, hostQ, hostQ), Request{Client: v4}, 0, 0, "other"}, // FORMERR (QDCOUNT 2): no type
	}
	want := RequestStats{}
	for _, q := range queries {
		s.Respond(dst, q.msg, q.req)
		b := -1
		for i := range NumQTypeBuckets {
			if QTypeBucketName(i) == q.name {
				b = i
			}
		}
		if b < 0 {
			t.Fatalf("no bucket named %q", q.name)
		}
		want.N[q.tcp][q.v6][b]++
	}
	// A dropped message (a response) is not a request.
	s.Respond(dst, raw(dnswireQR, 1, 0, 0, 0, hostQ), Request{Client: v4})
	if got := s.RequestStats(); got != want {
		t.Errorf("RequestStats = %v, want %v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.RequestStats() }); n != 0 {
		t.Errorf("RequestStats: %v allocations", n)
	}
}

func TestQTypeBucket(t *testing.T) {
	seen := map[string]bool{}
	for i := range NumQTypeBuckets {
		name := QTypeBucketName(i)
		if seen[name] {
			t.Errorf("bucket name %q twice", name)
		}
		seen[name] = true
		if i < len(qtypeBuckets) {
			if got := qtypeBucket(qtypeBuckets[i].t); got != i {
				t.Errorf("qtypeBucket(%s) = %d, want %d", name, got, i)
			}
			if dns.TypeToString[qtypeBuckets[i].t] != name {
				t.Errorf("bucket %d: name %q, miekg says %q", i, name, dns.TypeToString[qtypeBuckets[i].t])
			}
		}
	}
	if got := QTypeBucketName(NumQTypeBuckets - 1); got != "other" {
		t.Errorf("last bucket %q, want other", got)
	}
	if got := qtypeBucket(65000); got != NumQTypeBuckets-1 {
		t.Errorf("qtypeBucket(65000) = %d, want other", got)
	}
}
