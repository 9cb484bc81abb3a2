package metrics

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapdns/tapdns/resolver"
)

// maxServerSeries bounds the per-server series: the servers asked most
// (a recursive resolver meets thousands; a forwarder has a few).
const maxServerSeries = 100

// resolverCollector exports resolver.Stats (recursion or forwarding and
// the cache) under tapdns_resolver_*.
type resolverCollector struct {
	stats func() resolver.Stats

	queries, hits, misses, stale, dropped, coalesced, prefetches, resolutions *prometheus.Desc
	servfail, duration                                                        *prometheus.Desc
	cacheEntries, cacheBytes, cacheMaxBytes, cacheInserts, cacheEvictions     *prometheus.Desc
	cacheExpired                                                              *prometheus.Desc
	upQueries, upResponses, upTimeouts, upErrors, upTCP, upNoEDNS             *prometheus.Desc
	rejected, lame                                                            *prometheus.Desc
	srvRTT, srvRTO, srvQueries, srvTimeouts                                   *prometheus.Desc
}

func newResolverCollector(stats func() resolver.Stats) *resolverCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return desc("resolver_"+name, help, labels...)
	}
	return &resolverCollector{
		stats:       stats,
		queries:     d("queries_total", "Queries handed to recursion (or forwarding)."),
		hits:        d("cache_hits_total", "Queries answered from the cache at once (cached failures included)."),
		misses:      d("cache_misses_total", "Queries not answered from the cache at once."),
		stale:       d("cache_stale_answers_total", "Answers sent with stale data (RFC 8767)."),
		dropped:     d("dropped_total", "Queries not answered: work queue or waiting list full, or no address to answer from."),
		coalesced:   d("coalesced_total", "Queries that joined an identical one being resolved."),
		prefetches:  d("prefetches_total", "Refreshes of answers near expiry queued."),
		resolutions: d("resolutions_total", "Resolutions run (for clients and prefetches)."),
		servfail:    d("servfail_total", "SERVFAIL answers by cause.", "cause"),
		duration:    d("recursion_duration_seconds", "Time taken by resolutions."),

		cacheEntries:   d("cache_entries", "Cache entries by type.", "type"),
		cacheBytes:     d("cache_bytes", "Memory accounted by the cache, its slot table included."),
		cacheMaxBytes:  d("cache_max_bytes", "The cache's bound (--cache-size)."),
		cacheInserts:   d("cache_inserts_total", "Entries stored in the cache."),
		cacheEvictions: d("cache_evictions_total", "Entries removed before they expired to keep the cache under its bound."),
		cacheExpired:   d("cache_expired_total", "Expired entries removed."),

		upQueries:   d("upstream_queries_total", "Queries sent to authoritative servers or forwarders (UDP and TCP)."),
		upResponses: d("upstream_responses_total", "Responses from upstream servers by rcode.", "rcode"),
		upTimeouts:  d("upstream_timeouts_total", "Upstream queries that got no answer in time."),
		upErrors:    d("upstream_errors_total", "Upstream queries that failed, by kind.", "kind"),
		upTCP:       d("upstream_tcp_retries_total", "Truncated upstream answers asked again over TCP."),
		upNoEDNS:    d("upstream_noedns_retries_total", "Upstream queries asked again without EDNS after FORMERR."),
		rejected: d("upstream_rejected_total", "Upstream data rejected: datagrams with the wrong source, ID or question (spoofing), glue outside the bailiwick, referrals that do not lead down.",
			"reason"),
		lame: d("upstream_lame_total", "Servers marked lame for a zone."),

		srvRTT:      d("server_srtt_seconds", "Smoothed round-trip time of an upstream server.", "server"),
		srvRTO:      d("server_timeout_seconds", "Timeout the next query to an upstream server gets.", "server"),
		srvQueries:  d("server_queries_total", "Queries sent to an upstream server.", "server"),
		srvTimeouts: d("server_timeouts_total", "Queries to an upstream server that timed out.", "server"),
	}
}

// Describe implements prometheus.Collector.
func (c *resolverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.queries, c.hits, c.misses, c.stale, c.dropped, c.coalesced, c.prefetches, c.resolutions,
		c.servfail, c.duration,
		c.cacheEntries, c.cacheBytes, c.cacheMaxBytes, c.cacheInserts, c.cacheEvictions, c.cacheExpired,
		c.upQueries, c.upResponses, c.upTimeouts, c.upErrors, c.upTCP, c.upNoEDNS, c.rejected, c.lame,
		c.srvRTT, c.srvRTO, c.srvQueries, c.srvTimeouts,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *resolverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter(ch, c.queries, s.Queries)
	counter(ch, c.hits, s.CacheHits)
	counter(ch, c.misses, s.CacheMisses)
	counter(ch, c.stale, s.StaleAnswers)
	counter(ch, c.dropped, s.Dropped)
	counter(ch, c.coalesced, s.Coalesced)
	counter(ch, c.prefetches, s.Prefetches)
	counter(ch, c.resolutions, s.Resolutions)
	for i, n := range s.ServFail {
		if cause := resolver.Cause(i); cause != resolver.CauseNone {
			counter(ch, c.servfail, n, cause.String())
		}
	}
	h := s.RecursionTime
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum, total uint64
	for i, n := range h.Counts {
		total += n
		if i < len(h.Bounds) {
			cum += n
			buckets[h.Bounds[i].Seconds()] = cum
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.duration, total, h.Sum.Seconds(), buckets)

	cs := s.Cache
	gauge(ch, c.cacheEntries, float64(cs.Messages), "message")
	gauge(ch, c.cacheEntries, float64(cs.RRsets), "rrset")
	gauge(ch, c.cacheEntries, float64(cs.Negatives), "negative")
	gauge(ch, c.cacheEntries, float64(cs.Failures), "failure")
	gauge(ch, c.cacheBytes, float64(cs.Bytes))
	gauge(ch, c.cacheMaxBytes, float64(cs.MaxBytes))
	counter(ch, c.cacheInserts, cs.Inserts)
	counter(ch, c.cacheEvictions, cs.Evictions)
	counter(ch, c.cacheExpired, cs.Expired)

	counter(ch, c.upQueries, s.UpstreamQueries)
	for i, n := range s.UpstreamRcode {
		if n > 0 || i <= 5 {
			counter(ch, c.upResponses, n, rcodeNames[i])
		}
	}
	counter(ch, c.upTimeouts, s.UpstreamTimeouts)
	counter(ch, c.upErrors, s.UpstreamNetErrors, "network")
	counter(ch, c.upErrors, s.Malformed, "malformed")
	counter(ch, c.upTCP, s.UpstreamTCP)
	counter(ch, c.upNoEDNS, s.UpstreamNoEDNS)
	counter(ch, c.rejected, s.WrongSource, "wrong_source")
	counter(ch, c.rejected, s.WrongID, "wrong_id")
	counter(ch, c.rejected, s.WrongQuestion, "wrong_question")
	counter(ch, c.rejected, s.GlueRejected, "out_of_bailiwick")
	counter(ch, c.rejected, s.BadReferrals, "bad_referral")
	counter(ch, c.lame, s.Lame)

	srv := s.Servers
	if len(srv) > maxServerSeries {
		srv = slices.Clone(srv)
		slices.SortFunc(srv, func(a, b resolver.ServerStats) int { return cmp.Compare(b.Queries, a.Queries) })
		srv = srv[:maxServerSeries]
	}
	for _, x := range srv {
		a := x.Addr.String()
		gauge(ch, c.srvRTT, x.SRTT.Seconds(), a)
		gauge(ch, c.srvRTO, x.RTO.Seconds(), a)
		counter(ch, c.srvQueries, x.Queries, a)
		counter(ch, c.srvTimeouts, x.Timeouts, a)
	}
}
