package mdns

import "sync/atomic"

// Stats counts what the Responder did. Every field only grows, except
// CacheRecords.
type Stats struct {
	// Name is the host name published now (presentation format).
	Name string

	// Messages read, and why some were dropped before being parsed.
	Received  uint64 // datagrams read from the mDNS sockets
	Huge      uint64 // larger than MaxMsgLen
	OffLink   uint64 // from a source not on the link (RFC 6762 section 11)
	Looped    uint64 // our own multicasts, looped back
	QueueFull uint64 // dropped because Run was behind
	// Parsed messages.
	Malformed uint64 // did not parse
	Ignored   uint64 // other opcode or rcode, or a response not from port 5353
	Queries   uint64
	Responses uint64

	// What was sent.
	Probes             uint64 // probe packets
	Announcements      uint64 // announcement packets
	Goodbyes           uint64 // goodbye packets
	MulticastResponses uint64
	UnicastResponses   uint64 // to QU questions
	LegacyResponses    uint64 // to queries from ports other than 5353
	SendErrors         uint64
	ReadErrors         uint64

	// Answers not sent, or sent later.
	KnownAnswers uint64 // records left out because the querier listed them (section 7.1)
	Duplicates   uint64 // records left out because another host multicast them (section 7.4)
	// NSECInverted counts NSEC records read as python-zeroconf writes
	// them (listing the missing types) rather than as RFC 6762 says.
	NSECInverted uint64
	RateLimited  uint64 // records delayed by the one-multicast-a-second rule

	// Names.
	Conflicts     uint64 // other hosts' records for our unique names
	Renames       uint64 // host name changes after a conflict
	TiebreaksLost uint64 // simultaneous probes lost (section 8.2)

	// The gateway.
	GatewayQueries     uint64 // unicast queries handed to Answer
	GatewayOwn         uint64 // answered from our own records
	GatewayCacheHits   uint64 // answered from the cache at once
	GatewayLinkQueries uint64 // questions multicast on the link
	GatewayAnswered    uint64 // replies with records
	GatewayNoData      uint64 // replies without records for a name that exists
	GatewayNXDomain    uint64 // replies saying the name does not exist
	GatewayTimeouts    uint64 // lookups that waited the whole timeout
	GatewayRefused     uint64 // names not under local., other classes, zone transfers
	GatewayOverload    uint64 // SERVFAIL: too many waiting, or shutting down
	CacheRecords       uint64 // records cached now
	CacheFull          uint64 // records not cached for want of room
}

// counters are the atomics behind Stats.
type counters struct {
	received, huge, offLink, looped, queueFull, malformed, ignored, queries, responses     atomic.Uint64
	probes, announcements, goodbyes, multicastResponses, unicastResponses, legacyResponses atomic.Uint64
	sendErrors, readErrors, knownAnswers, duplicates, rateLimited, nsecInverted            atomic.Uint64
	conflicts, renames, tiebreaksLost                                                      atomic.Uint64
	gwQueries, gwOwn, gwCacheHits, gwLinkQueries, gwAnswered, gwNoData, gwNXDomain         atomic.Uint64
	gwTimeouts, gwRefused, gwOverload                                                      atomic.Uint64
}

// Stats returns a snapshot of the counters. It is safe to call at any
// time from any goroutine.
func (r *Responder) Stats() Stats {
	c := &r.stats
	n, full := r.cache.stats()
	return Stats{
		Name:     r.Name(),
		Received: c.received.Load(), Huge: c.huge.Load(), OffLink: c.offLink.Load(), Looped: c.looped.Load(),
		QueueFull: c.queueFull.Load(), Malformed: c.malformed.Load(), Ignored: c.ignored.Load(),
		Queries: c.queries.Load(), Responses: c.responses.Load(),
		Probes: c.probes.Load(), Announcements: c.announcements.Load(), Goodbyes: c.goodbyes.Load(),
		MulticastResponses: c.multicastResponses.Load(), UnicastResponses: c.unicastResponses.Load(),
		LegacyResponses: c.legacyResponses.Load(), SendErrors: c.sendErrors.Load(), ReadErrors: c.readErrors.Load(),
		KnownAnswers: c.knownAnswers.Load(), Duplicates: c.duplicates.Load(), NSECInverted: c.nsecInverted.Load(), RateLimited: c.rateLimited.Load(),
		Conflicts: c.conflicts.Load(), Renames: c.renames.Load(), TiebreaksLost: c.tiebreaksLost.Load(),
		GatewayQueries: c.gwQueries.Load(), GatewayOwn: c.gwOwn.Load(), GatewayCacheHits: c.gwCacheHits.Load(),
		GatewayLinkQueries: c.gwLinkQueries.Load(), GatewayAnswered: c.gwAnswered.Load(), GatewayNoData: c.gwNoData.Load(),
		GatewayNXDomain: c.gwNXDomain.Load(), GatewayTimeouts: c.gwTimeouts.Load(), GatewayRefused: c.gwRefused.Load(),
		GatewayOverload: c.gwOverload.Load(), CacheRecords: uint64(n), CacheFull: full,
	}
}
