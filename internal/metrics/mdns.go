package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapdns/tapdns/mdns"
)

// mdnsCollector exports the mDNS responder's and gateway's counters.
type mdnsCollector struct {
	src func() mdns.Stats

	name, received, dropped, messages, sent, sendErrors, readErrors, suppressed *prometheus.Desc
	conflicts, renames, tiebreaks, nsecInverted                                 *prometheus.Desc
	gwQueries, gwOwn, gwCacheHits, gwLinkQueries, gwReplies, gwTimeouts         *prometheus.Desc
	gwRefused, gwOverload, cacheRecords, cacheFull                              *prometheus.Desc
}

func newMDNSCollector(src func() mdns.Stats) *mdnsCollector {
	return &mdnsCollector{
		src:        src,
		name:       desc("mdns_name_info", "Always 1; the label is the host name published now (it changes on a conflict).", "name"),
		received:   desc("mdns_received_total", "Datagrams read on the mDNS port."),
		dropped:    desc("mdns_dropped_total", "mDNS datagrams not acted on, by reason.", "reason"),
		messages:   desc("mdns_messages_total", "mDNS messages read, by kind.", "kind"),
		sent:       desc("mdns_sent_total", "mDNS messages sent, by kind.", "kind"),
		sendErrors: desc("mdns_send_errors_total", "mDNS messages and gateway replies that could not be sent."),
		readErrors: desc("mdns_read_errors_total", "Failed reads of the mDNS sockets."),
		suppressed: desc("mdns_suppressed_total", "Records left out of or delayed in multicast answers, by reason.", "reason"),
		conflicts:  desc("mdns_conflicts_total", "Records of other hosts that claimed one of our unique names."),
		renames:    desc("mdns_renames_total", "Host name changes after a conflict."),
		tiebreaks:  desc("mdns_tiebreaks_lost_total", "Simultaneous probes lost (RFC 6762 8.2)."),
		nsecInverted: desc("mdns_nsec_inverted_total",
			"NSEC records heard that list the missing types (as python-zeroconf 0.47 writes them) and were read that way."),

		gwQueries:     desc("mdns_gateway_queries_total", "Unicast DNS queries for names under local. handed to the gateway."),
		gwOwn:         desc("mdns_gateway_own_total", "Gateway queries answered from our own records."),
		gwCacheHits:   desc("mdns_gateway_cache_hits_total", "Gateway queries answered at once from the cache."),
		gwLinkQueries: desc("mdns_gateway_link_queries_total", "Questions the gateway multicast on the link."),
		gwReplies:     desc("mdns_gateway_replies_total", "Gateway replies from the cache and the link, by result.", "result"),
		gwTimeouts:    desc("mdns_gateway_timeouts_total", "Gateway lookups that waited the whole --mdns-timeout."),
		gwRefused:     desc("mdns_gateway_refused_total", "Gateway queries refused (not under local., other class, zone transfer)."),
		gwOverload:    desc("mdns_gateway_overload_total", "Gateway queries answered SERVFAIL: too many waiting, or shutting down."),
		cacheRecords:  desc("mdns_cache_records", "Records in the gateway's cache."),
		cacheFull:     desc("mdns_cache_full_total", "Records heard but not cached for want of room."),
	}
}

// Describe implements prometheus.Collector.
func (c *mdnsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.name, c.received, c.dropped, c.messages, c.sent, c.sendErrors, c.readErrors, c.suppressed,
		c.conflicts, c.renames, c.tiebreaks, c.nsecInverted,
		c.gwQueries, c.gwOwn, c.gwCacheHits, c.gwLinkQueries, c.gwReplies, c.gwTimeouts, c.gwRefused, c.gwOverload,
		c.cacheRecords, c.cacheFull,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *mdnsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	gauge(ch, c.name, 1, s.Name)
	counter(ch, c.received, s.Received)
	for _, d := range []struct {
		reason string
		n      uint64
	}{{"huge", s.Huge}, {"off_link", s.OffLink}, {"malformed", s.Malformed}, {"ignored", s.Ignored},
		{"looped", s.Looped}, {"queue_full", s.QueueFull}} {
		counter(ch, c.dropped, d.n, d.reason)
	}
	counter(ch, c.messages, s.Queries, "query")
	counter(ch, c.messages, s.Responses, "response")
	for _, d := range []struct {
		kind string
		n    uint64
	}{{"probe", s.Probes}, {"announcement", s.Announcements}, {"goodbye", s.Goodbyes},
		{"multicast_response", s.MulticastResponses}, {"unicast_response", s.UnicastResponses},
		{"legacy_response", s.LegacyResponses}} {
		counter(ch, c.sent, d.n, d.kind)
	}
	counter(ch, c.sendErrors, s.SendErrors)
	counter(ch, c.readErrors, s.ReadErrors)
	counter(ch, c.suppressed, s.KnownAnswers, "known_answer")
	counter(ch, c.suppressed, s.Duplicates, "duplicate")
	counter(ch, c.suppressed, s.RateLimited, "rate_limited")
	counter(ch, c.nsecInverted, s.NSECInverted)
	counter(ch, c.conflicts, s.Conflicts)
	counter(ch, c.renames, s.Renames)
	counter(ch, c.tiebreaks, s.TiebreaksLost)
	counter(ch, c.gwQueries, s.GatewayQueries)
	counter(ch, c.gwOwn, s.GatewayOwn)
	counter(ch, c.gwCacheHits, s.GatewayCacheHits)
	counter(ch, c.gwLinkQueries, s.GatewayLinkQueries)
	counter(ch, c.gwReplies, s.GatewayAnswered, "answer")
	counter(ch, c.gwReplies, s.GatewayNoData, "nodata")
	counter(ch, c.gwReplies, s.GatewayNXDomain, "nxdomain")
	counter(ch, c.gwTimeouts, s.GatewayTimeouts)
	counter(ch, c.gwRefused, s.GatewayRefused)
	counter(ch, c.gwOverload, s.GatewayOverload)
	gauge(ch, c.cacheRecords, float64(s.CacheRecords))
	counter(ch, c.cacheFull, s.CacheFull)
}
