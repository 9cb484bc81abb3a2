// Package dnssvc turns DNS query messages into authoritative response
// messages from a zone.Set. It is transport-agnostic: bytes in, bytes out.
//
// Respond parses the query in place (dnswire.ParseQuery), looks the name up
// in the zone set and writes the response with dnswire.Builder, all without
// allocating. Answers from the zones are additionally cached as encoded
// section bytes (see cache.go), so the common query costs a parse, a lookup
// and a copy. The behaviour, and where it follows NSD or Knot DNS when they
// differ, is documented in BEHAVIOUR.md. Config.RRL turns on response rate
// limiting per client prefix for UDP (see rrl.go).
package dnssvc

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/localdata"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// Config holds the server's policy. The zero value is usable.
type Config struct {
	// UDPSize is the EDNS UDP payload size advertised in responses and the
	// largest UDP response sent even when a client offers more. 0 means 1232
	// (the DNS Flag Day 2020 value, also NSD's and Knot's default).
	UDPSize int
	// NSID, when non-empty, is returned in the EDNS NSID option (RFC 5001) to
	// clients that ask for it. Only its first 128 octets are used.
	NSID string
	// Chaos enables answers to CHAOS-class TXT queries for version.bind,
	// version.server, hostname.bind and id.server; otherwise they are refused.
	Chaos bool
	// Version and Identity are the CHAOS answers; empty means defaults.
	Version, Identity string
	// CNAMEAcrossZones makes Respond follow a CNAME chain into other zones
	// of the set. false (the default) follows targets only inside the zone
	// of the query name, as Knot DNS does; NSD follows across its zones
	// unless confine-to-zone is set.
	CNAMEAcrossZones bool
	// RRL is the response rate limit: UDP responses per second per client
	// prefix (/24 IPv4, /56 IPv6), with a burst of one second's worth; 0
	// (the default) turns rate limiting off entirely. TCP is never limited.
	// See rrl.go.
	RRL int
	// RRLSlip sends every RRLSlip-th rate-limited response as a minimal
	// TC=1 response (so that real clients retry over TCP) and drops the
	// others; 0 drops them all. DefaultRRLSlip is the usual choice.
	RRLSlip int
	// RRLBuckets is the size of the fixed rate-limit table (rounded up to a
	// power of two); 0 means DefaultRRLBuckets.
	RRLBuckets int

	// Recursion answers names outside the zones for clients in
	// AllowRecursion (see front.go); nil: REFUSED, an authoritative-only
	// server.
	Recursion Recursion
	// AllowRecursion lists the client prefixes allowed recursion and
	// cached answers (they also get RA=1). Empty with Recursion set means
	// nobody: the command line fills in the on-link prefixes by default.
	AllowRecursion []netip.Prefix
	// MDNS answers names under local. that are in no zone (the mDNS
	// gateway), for clients allowed recursion or, when Recursion is nil,
	// clients on OnLink; nil: such names go to recursion like any other.
	MDNS Recursion
	// OnLink lists our on-link prefixes (IPv6 link-local is always on-link).
	OnLink []netip.Prefix

	// TSIG holds the keys that signed queries are checked against (RFC
	// 8945); nil holds none, so that every signed query is answered
	// NOTAUTH/BADKEY. See xfr.go.
	TSIG *tsig.Keyring
	// Transfers, when set, answers NOTIFY, IXFR over UDP and (through
	// ServeTransfer) AXFR and IXFR over TCP. nil refuses transfers and
	// answers NOTIFY with NOTIMP. See xfr.go.
	Transfers Transfers
}

// Defaults for Config's zero values.
const (
	DefaultVersion  = "tapdns"
	DefaultIdentity = "tapdns"
)

// maxCNAMEHops bounds the CNAME records written for one query: the answer
// for the fifth CNAME's target is still given (its RRset, or NXDOMAIN or
// NODATA with the SOA), but a sixth CNAME is not written: the answer
// stops there, rcode NOERROR, and the resolver continues from the last
// target. 5 is Knot DNS's limit (NSD follows much longer chains); it
// bounds the work per query.
const maxCNAMEHops = 5

// Request describes where a query came from.
type Request struct {
	// Client sent the query to Local (one of our addresses and the DNS
	// port). Local may be the zero value where the transport does not
	// say; recursion then cannot defer a UDP answer (see Recursion).
	Client, Local netip.AddrPort
	TCP           bool
	// Shard picks the set of counters this query is counted in. Callers
	// that call Respond from several goroutines at once (one per TAP
	// queue) give each a different Shard so that counting does not bounce
	// one cache line between cores. Any value is valid; 0 is fine for one.
	Shard int
}

// Server answers queries. It is safe for concurrent use; Respond does not
// allocate.
type Server struct {
	cfg      Config
	log      *slog.Logger
	udpSize  int    // advertised EDNS size and UDP ceiling
	nsid     []byte // NSID option payload, nil when not configured
	version  []byte // TXT rdata for version.bind / version.server
	identity []byte // TXT rdata for hostname.bind / id.server
	state    atomic.Pointer[state]
	local    atomic.Pointer[localdata.Data]      // nil: none (SetLocal)
	unavail  atomic.Pointer[map[string]struct{}] // SetUnavailable (xfr.go)
	rrl      *rrl                                // nil when rate limiting is off
	rqPool   sync.Pool                           // *rqScratch, see front.go
	noCache  bool                                // set by tests only: every answer from the generic encoder

	// Counters, one set per Request.Shard (modulo counterShards) so that
	// readers on different cores do not share a cache line; Stats sums.
	shards [counterShards]shard
}

// counterShards is the number of counter sets (see Request.Shard).
const counterShards = 16

// shard is one set of counters, padded so that two shards never share a
// cache line.
type shard struct {
	ctr counters
	req requestCounters // by transport, family and type; see qstats.go
	_   [128]byte
}

// state is what one SetZones installs: the set and its answer cache.
type state struct {
	set   *zone.Set
	cache *cache
	// signed is true when a zone of the set is signed: only then does DO
	// change answers (and the cache key).
	signed bool
}

// New returns a Server answering from zones (nil means an empty set).
func New(cfg Config, zones *zone.Set, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger}
	s.rqPool.New = func() any { return new(rqScratch) }
	s.udpSize = cfg.UDPSize
	switch {
	case s.udpSize == 0:
		s.udpSize = dnswire.DefaultEDNS
	case s.udpSize < dnswire.MinUDPSize:
		s.udpSize = dnswire.MinUDPSize
	case s.udpSize > dnswire.MaxMsgLen:
		s.udpSize = dnswire.MaxMsgLen
	}
	if cfg.NSID != "" {
		s.nsid = []byte(cfg.NSID)
		if len(s.nsid) > 128 {
			s.nsid = s.nsid[:128] // keep the OPT small beside a 512-octet limit
		}
	}
	v, id := cfg.Version, cfg.Identity
	if v == "" {
		v = DefaultVersion
	}
	if id == "" {
		id = DefaultIdentity
	}
	s.version, s.identity = txtRdata(v), txtRdata(id)
	if cfg.RRL > 0 {
		s.rrl = newRRL(cfg.RRL, cfg.RRLSlip, cfg.RRLBuckets, nil)
	}
	s.SetZones(zones)
	return s
}

// txtRdata encodes s as TXT rdata: one character-string of at most 255
// octets.
func txtRdata(s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	return append([]byte{byte(len(s))}, s...)
}

// SetZones atomically replaces the zones; queries already being answered
// finish with the set they started with.
func (s *Server) SetZones(z *zone.Set) {
	if z == nil {
		z = &zone.Set{}
	}
	nodes, records := 0, 0
	for _, zz := range z.Zones() {
		nodes += zz.Len()
		records += zz.Records()
	}
	// Room for about one answer per record and one per name (a negative
	// or synthesised answer), within newCache's bounds.
	signed := false
	for _, zz := range z.Zones() {
		signed = signed || zz.Signed()
	}
	s.state.Store(&state{set: z, cache: newCache((nodes + records) / 2), signed: signed})
	s.log.Debug("zones installed", "zones", len(z.Zones()), "nodes", nodes)
}

// Zones returns the set currently served.
func (s *Server) Zones() *zone.Set { return s.state.Load().set }

// Respond writes the response to query into dst[:0] and returns it. It
// returns a zero-length slice when the query must not be answered (it is a
// response, or too short to carry a DNS header, or a UDP query over the
// rate limit that is not slipped). dst is owned by the caller;
// if it is too small Respond grows it (callers should pass 64 KiB for TCP
// and at least the UDP limit for UDP so that this never happens). query and
// dst must not overlap.
func (s *Server) Respond(dst, query []byte, req Request) []byte {
	sh := &s.shards[uint(req.Shard)%counterShards]
	var q dnswire.Query
	status := dnswire.ParseQuery(query, &q)
	if status == dnswire.StatusDrop {
		sh.ctr.dropped.Add(1)
		return dst[:0]
	}
	sh.req.count(req, q.QType)
	if s.rrl != nil && !req.TCP {
		switch s.rrl.check(req.Client.Addr()) {
		case rrlDrop:
			sh.ctr.rrlDropped.Add(1)
			return dst[:0]
		case rrlSlip:
			sh.ctr.rrlSlipped.Add(1)
			return s.writeSlip(dst, &q)
		}
	}
	if special(&q) {
		return s.respondXFR(dst, query, &q, status, req, sh) // xfr.go: TSIG, NOTIFY, IXFR
	}
	return s.answerQuery(dst, query, &q, status, req, sh, 0)
}

// answerQuery answers a parsed query from local data, the cache, the zones
// or recursion, keeping reserve octets free at the end of the answer (for
// a TSIG record).
func (s *Server) answerQuery(dst, query []byte, q *dnswire.Query, status dnswire.Status, req Request, sh *shard, reserve int) []byte {
	st := s.state.Load()

	limit := dnswire.MaxMsgLen
	if !req.TCP {
		limit = dnswire.MinUDPSize
		if q.EDNS {
			limit = max(dnswire.MinUDPSize, min(int(q.UDPSize), s.udpSize))
		}
	}
	var nsid []byte
	if q.EDNS {
		if q.NSID {
			nsid = s.nsid
		}
		limit -= dnswire.OPTLen(len(nsid)) // the OPT always fits
	}
	limit -= reserve

	if status == dnswire.StatusOK && q.QClass == dnswire.ClassIN && q.Version == 0 {
		blocked := false
		if ld := s.local.Load(); ld != nil {
			switch res, recs := ld.Lookup(q.Name(), q.QType); res {
			case localdata.Answer, localdata.NoData:
				sh.ctr.local.Add(1)
				sh.ctr.rcode[dnswire.RcodeSuccess].Add(1)
				return s.writeLocal(dst, q, recs, req, limit, nsid)
			case localdata.Blocked:
				blocked = true
			}
		}
		if cacheableType(q.QType) && !s.noCache {
			if e := st.cache.get(q.Name(), q.QType, q.DO() && st.signed); e != nil && dnswire.HeaderLen+len(q.Question)+len(e.data) <= limit {
				if dnswire.Rcode(e.rcode) == dnswire.RcodeSuccess {
					sh.ctr.cached.Add(1)
				} else {
					sh.ctr.cachedNX.Add(1)
				}
				return s.writeCached(dst, q, e, nsid, s.ra(req))
			}
		}
		// Transfers are never recursive (respond answers them).
		if q.QType != dnswire.TypeAXFR && q.QType != dnswire.TypeIXFR &&
			(blocked || s.cfg.Recursion != nil || s.cfg.MDNS != nil) && st.set.Zone(q.Name()) == nil {
			if reply, ok := s.outside(dst, query, q, req, sh, blocked, limit, nsid); ok {
				return reply
			}
		}
	}
	return s.respond(dst, q, status, st, sh, req, limit, nsid)
}

// ra is the RA flag for req's client: set when recursion is available to
// it (RFC 1035 4.1.1), on every answer, as BIND and Unbound do.
func (s *Server) ra(req Request) uint16 {
	if s.cfg.Recursion != nil && s.recursionAllowed(req.Client.Addr()) {
		return dnswire.FlagRA
	}
	return 0
}

// cacheableType reports whether answers for qtype may come from the cache
// (see answer: transfers and ANY never do).
func cacheableType(t uint16) bool {
	return t != dnswire.TypeANY && t != dnswire.TypeAXFR && t != dnswire.TypeIXFR
}

// responseFlags returns the header flags of a response to q before AA, TC
// and rcode: RFC 1035 4.1.1 copies the opcode and RD. CD is cleared, as
// RFC 4035 3.1.6 recommends for authoritative responses (NSD and Knot DNS
// both clear it).
func responseFlags(q *dnswire.Query) uint16 {
	return dnswire.FlagQR | q.Flags&(dnswire.OpcodeMask|dnswire.FlagRD)
}

// writeCached writes the response for a cache hit: header, the question as
// received, the cached sections and the OPT.
func (s *Server) writeCached(dst []byte, q *dnswire.Query, e *entry, nsid []byte, ra uint16) []byte {
	flags := responseFlags(q) | e.flags | uint16(e.rcode) | ra
	ar := e.ar
	if q.EDNS {
		ar++
	}
	dst = append(dst[:0], byte(q.ID>>8), byte(q.ID), byte(flags>>8), byte(flags), 0, 1,
		byte(e.an>>8), byte(e.an), byte(e.ns>>8), byte(e.ns), byte(ar>>8), byte(ar))
	dst = append(dst, q.Question...)
	dst = append(dst, e.data...)
	if q.EDNS {
		dst = dnswire.AppendOPT(dst, uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nsid)
	}
	return dst
}

// writeSlip writes the response sent instead of a rate-limited one: the
// header with TC set, the question as received and the OPT, no records. It
// is never larger than the query's header, question and OPT, so a slipped
// response amplifies nothing.
func (s *Server) writeSlip(dst []byte, q *dnswire.Query) []byte {
	flags := responseFlags(q) | dnswire.FlagTC
	var qd, ar byte
	if q.Question != nil {
		qd = 1
	}
	if q.EDNS {
		ar = 1
	}
	dst = append(dst[:0], byte(q.ID>>8), byte(q.ID), byte(flags>>8), byte(flags), 0, qd, 0, 0, 0, 0, 0, ar)
	dst = append(dst, q.Question...)
	if q.EDNS {
		dst = dnswire.AppendOPT(dst, uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nil)
	}
	return dst
}

// respond is the generic path: every response not copied from the cache.
func (s *Server) respond(dst []byte, q *dnswire.Query, status dnswire.Status, st *state, sh *shard, req Request, limit int, nsid []byte) []byte {
	tcp := req.TCP
	flags := responseFlags(q) | s.ra(req)
	if status == dnswire.StatusNotImp {
		// A clean header for an opcode we do not implement: QR and the
		// opcode only, as BIND answers (ISC's EDNS compliance test
		// "opcodeflg" sends opcode 15 with every flag set and flags a
		// copied RD).
		flags = dnswire.FlagQR | q.Flags&dnswire.OpcodeMask
	}
	var b dnswire.Builder
	b.Start(dst, q.ID, flags, limit)
	if q.Question != nil {
		b.Question(q.Question)
	}

	do := q.DO() && st.signed
	r := responder{s: s, st: st, b: &b, q: q, tcp: tcp, qend: b.Mark(), ede: dnswire.EDENone, do: do, unavail: s.unavailMap()}
	rcode := dnswire.RcodeSuccess
	cacheable := false
	switch {
	case status == dnswire.StatusFormErr:
		rcode = dnswire.RcodeFormErr
	case status == dnswire.StatusNotImp:
		rcode = dnswire.RcodeNotImp
	case q.EDNS && q.Version > 0:
		rcode = dnswire.RcodeBadVers // RFC 6891 6.1.3: no answer, OPT version 0
	default:
		rcode, cacheable = r.answer()
	}
	if r.tc {
		b.SetFlags(b.Flags() | dnswire.FlagTC)
		sh.ctr.truncated.Add(1)
	}
	if cacheable && !s.noCache && !r.tc && !r.dropped && (rcode == dnswire.RcodeSuccess || rcode == dnswire.RcodeNXDomain) {
		st.cache.put(q.Name(), q.QType, do, b.Bytes()[r.qend.Len():], uint16(b.Count(dnswire.Answer)),
			uint16(b.Count(dnswire.Authority)), uint16(b.Count(dnswire.Additional)),
			b.Flags()&dnswire.FlagAA, uint8(rcode))
	}
	b.SetFlags(dnswire.FlagsWith(b.Flags(), dnswire.FlagsOpcode(flags), rcode&0xF))
	if q.EDNS {
		// An EDE option goes only on responses without records (REFUSED),
		// so the limit needs no room for it.
		b.AddOPTEDE(uint16(s.udpSize), uint8(rcode>>4), q.EDNSFlags&dnswire.EDNSFlagDO, nsid, r.ede)
	}
	sh.ctr.rcode[min(int(rcode), len(sh.ctr.rcode)-1)].Add(1)
	return b.Finish()
}
