package metrics

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/resolver"
)

func TestResolverMetrics(t *testing.T) {
	stats := resolver.Stats{
		Queries: 10, CacheHits: 7, CacheMisses: 3,
		UpstreamQueries: 4, Malformed: 1, WrongID: 2,
		Cache: cache.Stats{RRsets: 5, Messages: 2, Bytes: 4096, MaxBytes: 1 << 20, Evictions: 1},
		RecursionTime: resolver.Histogram{
			Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond},
			Counts: []uint64{1, 2, 3},
			Sum:    time.Second,
		},
		Servers: []resolver.ServerStats{{Addr: netip.MustParseAddrPort("198.18.0.53:53"), SRTT: 20 * time.Millisecond, Queries: 4, Timeouts: 1}},
	}
	stats.ServFail[resolver.CauseTimeout] = 2
	stats.UpstreamRcode[3] = 1
	reg, err := NewRegistry(Sources{Resolver: func() resolver.Stats { return stats }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	defer srv.Close()
	fams := Scrape(t, fmt.Sprintf("http://%s/metrics", srv.Addr()))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tapdns_resolver_queries_total", nil, 10},
		{"tapdns_resolver_cache_hits_total", nil, 7},
		{"tapdns_resolver_cache_misses_total", nil, 3},
		{"tapdns_resolver_cache_entries", []string{"type", "rrset"}, 5},
		{"tapdns_resolver_cache_entries", []string{"type", "message"}, 2},
		{"tapdns_resolver_cache_bytes", nil, 4096},
		{"tapdns_resolver_cache_evictions_total", nil, 1},
		{"tapdns_resolver_servfail_total", []string{"cause", "timeout"}, 2},
		{"tapdns_resolver_upstream_responses_total", []string{"rcode", "NXDOMAIN"}, 1},
		{"tapdns_resolver_upstream_errors_total", []string{"kind", "malformed"}, 1},
		{"tapdns_resolver_upstream_rejected_total", []string{"reason", "wrong_id"}, 2},
		{"tapdns_resolver_server_srtt_seconds", []string{"server", "198.18.0.53:53"}, 0.02},
		{"tapdns_resolver_server_timeouts_total", []string{"server", "198.18.0.53:53"}, 1},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["tapdns_resolver_recursion_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 6 || h.GetSampleSum() != 1 || len(h.GetBucket()) != 3 || h.GetBucket()[1].GetCumulativeCount() != 3 {
		t.Errorf("histogram %v", h)
	}
}
