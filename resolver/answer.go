package resolver

import (
	"net/netip"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

var _ dnssvc.Recursion = (*Server)(nil)

// client is what a reply needs from the query it answers. The slices
// point into the query (Answer) or into a job's copy.
type client struct {
	id, flags uint16 // the query's ID and flags
	question  []byte // as received: the case is echoed
	edns, do  bool
	udpSize   uint16
	nsid      []byte
	limit     int
}

func clientOf(rq *dnssvc.RecursiveQuery) client {
	q := rq.Query
	return client{
		id: q.ID, flags: q.Flags, question: q.Question,
		edns: q.EDNS, do: q.DO(), udpSize: rq.UDPSize, nsid: rq.NSID, limit: rq.Limit,
	}
}

// Answer implements dnssvc.Recursion: a cached answer is written into
// dst[:0] and returned, without allocating; otherwise a UDP query is
// queued for a worker (nil is returned and the reply is sent later with
// the network's SendUDP) and a TCP query waits for its answer.
func (s *Server) Answer(dst []byte, rq *dnssvc.RecursiveQuery) []byte {
	sh := &s.shards[uint(rq.Shard)%counterShards]
	sh.queries.Add(1)
	q := rq.Query
	cl := clientOf(rq)
	switch {
	case q.QClass != dnswire.ClassIN:
		return s.writeEmpty(dst, &cl, dnswire.RcodeRefused, dnswire.EDENotSupported)
	case q.QType == dnswire.TypeAXFR || q.QType == dnswire.TypeIXFR:
		return s.writeEmpty(dst, &cl, dnswire.RcodeRefused, dnswire.EDENotSupported)
	case q.QType == dnswire.TypeOPT || q.QType >= 128 && q.QType < dnswire.TypeANY:
		return s.writeEmpty(dst, &cl, dnswire.RcodeNotImp, dnswire.EDENone) // meta types (RFC 6895 3.1)
	case q.Flags&dnswire.FlagRD == 0:
		// No recursion asked: REFUSED with EDE 20 (RFC 8914 4.21), cached
		// or not, as Unbound (access-control allow) and Knot Resolver
		// answer by default. Answering from the cache would let anyone
		// allowed to query see which names other clients resolved
		// (cache snooping). Local data and zones are answered before.
		return s.writeEmpty(dst, &cl, dnswire.RcodeRefused, dnswire.EDENotAuthoritative)
	}
	name := q.Name()
	m, st := s.cache.Lookup(name, q.QType)
	switch st {
	case cache.Fresh:
		sh.hits.Add(1)
		return s.reply(dst, &cl, m, false)
	case cache.Prefetch:
		sh.hits.Add(1)
		if !s.cfg.NoPrefetch {
			s.enqueuePrefetch(name, q.QType)
		}
		return s.reply(dst, &cl, m, false)
	case cache.Stale:
		if _, ok := s.cache.GetFailure(name, q.QType); ok {
			// Resolving failed a moment ago: the stale answer now
			// (RFC 8767 section 4's failure recheck).
			sh.hits.Add(1)
			sh.stale.Add(1)
			return s.reply(dst, &cl, m, true)
		}
	case cache.Miss:
		if ede, ok := s.cache.GetFailure(name, q.QType); ok {
			sh.hits.Add(1)
			return s.writeEmpty(dst, &cl, dnswire.RcodeServFail, ede)
		}
	}
	sh.misses.Add(1)
	if rq.TCP {
		return s.answerTCP(dst, &cl, name, q.QType, st == cache.Stale)
	}
	if !rq.Local.IsValid() {
		// No address to answer from later: resolve anyway, so that the
		// client's retry finds the answer cached, and drop this one.
		s.enqueuePrefetch(name, q.QType)
		sh.dropped.Add(1)
		return nil
	}
	if !s.enqueue(rq, st == cache.Stale) {
		sh.dropped.Add(1)
	}
	return nil
}

// reply writes a response from the cached message m: the query's ID,
// RD and CD, RA set, AA clear; the question as asked; the sections with
// TTLs counted down (StaleTTL when stale); the OPT when the query had one,
// with an Extended DNS Error saying why for a failure or a stale answer.
// What does not fit under the client's limit is sent as TC=1 without
// records.
func (s *Server) reply(dst []byte, c *client, m cache.Msg, stale bool) []byte {
	rcode := m.Rcode()
	ede := m.EDE()
	if stale {
		ede = edeStaleAnswer
		if rcode == dnswire.RcodeNXDomain {
			ede = edeStaleNXDomain
		}
	}
	an, ns, ar := m.Counts()
	n := dnswire.HeaderLen + len(c.question) + m.Len()
	if c.edns {
		n += dnswire.OPTLen(len(c.nsid))
		if ede >= 0 {
			n += dnswire.EDELen
		}
	}
	flags := dnswire.FlagQR | dnswire.FlagRA | c.flags&(dnswire.FlagRD|dnswire.FlagCD) | uint16(rcode&0xF)
	if n > c.limit {
		flags |= dnswire.FlagTC
		an, ns, ar = 0, 0, 0
	}
	if c.edns {
		ar++
	}
	dst = append(dst[:0], byte(c.id>>8), byte(c.id), byte(flags>>8), byte(flags), 0, 1,
		byte(an>>8), byte(an), byte(ns>>8), byte(ns), byte(ar>>8), byte(ar))
	dst = append(dst, c.question...)
	if flags&dnswire.FlagTC == 0 {
		dst = m.AppendSections(dst, stale)
	}
	if c.edns {
		dst = s.appendOPT(dst, c, ede)
	}
	return dst
}

func (s *Server) appendOPT(dst []byte, c *client, ede dnswire.EDE) []byte {
	var do uint16
	if c.do {
		do = dnswire.EDNSFlagDO
	}
	return dnswire.AppendOPTEDE(dst, c.udpSize, 0, do, c.nsid, ede)
}

// writeEmpty writes a response without records: header, question, OPT.
func (s *Server) writeEmpty(dst []byte, c *client, rcode dnswire.Rcode, ede dnswire.EDE) []byte {
	flags := dnswire.FlagQR | dnswire.FlagRA | c.flags&(dnswire.FlagRD|dnswire.FlagCD) | uint16(rcode&0xF)
	var ar byte
	if c.edns {
		ar = 1
	}
	dst = append(dst[:0], byte(c.id>>8), byte(c.id), byte(flags>>8), byte(flags), 0, 1, 0, 0, 0, 0, 0, ar)
	dst = append(dst, c.question...)
	if c.edns {
		dst = s.appendOPT(dst, c, ede)
	}
	return dst
}

// maxNSID is the NSID length a queued query keeps (dnssvc sends at most
// 128 octets).
const maxNSID = 128

// job is a query waiting for a worker: a fixed-size copy of what the
// reply needs, so that queueing it allocates nothing.
type job struct {
	name     [dnswire.MaxNameLen]byte
	question [dnswire.MaxNameLen + 4]byte
	nsid     [maxNSID]byte
	nameLen  uint8
	qLen     uint16
	nsidLen  uint8
	qtype    uint16
	id       uint16
	flags    uint16
	edns, do bool
	udpSize  uint16
	limit    int
	client   netip.AddrPort // the reply goes from local to client
	local    netip.AddrPort
	start    time.Time
	prefetch bool // a refresh before expiry: nobody to answer
	stale    bool // a stale answer is cached
}

func (j *job) qname() []byte { return j.name[:j.nameLen] }

func (j *job) replyTo() client {
	return client{
		id: j.id, flags: j.flags, question: j.question[:j.qLen],
		edns: j.edns, do: j.do, udpSize: j.udpSize, nsid: j.nsid[:j.nsidLen], limit: j.limit,
	}
}

// enqueue copies a UDP miss into the work queue; false when it is full
// or the Server is closed.
func (s *Server) enqueue(rq *dnssvc.RecursiveQuery, stale bool) bool {
	if s.ctx.Err() != nil {
		return false
	}
	q := rq.Query
	var j job
	j.nameLen = uint8(copy(j.name[:], q.Name()))
	j.qLen = uint16(copy(j.question[:], q.Question))
	j.nsidLen = uint8(copy(j.nsid[:], rq.NSID))
	j.qtype, j.id, j.flags = q.QType, q.ID, q.Flags
	j.edns, j.do, j.udpSize, j.limit = q.EDNS, q.DO(), rq.UDPSize, rq.Limit
	j.client, j.local = rq.Client, rq.Local
	j.start = time.Now()
	j.stale = stale
	select {
	case s.queue <- j:
		return true
	default:
		return false
	}
}

// enqueuePrefetch queues a refresh of a popular answer near its expiry;
// when the queue is full the answer simply expires.
func (s *Server) enqueuePrefetch(name []byte, qtype uint16) {
	if s.ctx.Err() != nil {
		return
	}
	var j job
	j.nameLen = uint8(copy(j.name[:], name))
	j.qtype = qtype
	j.prefetch = true
	j.start = time.Now()
	select {
	case s.queue <- j:
		s.stats.prefetches.Add(1)
	default:
	}
}

// sendUDP sends the reply to a queued query.
func (s *Server) sendUDP(j *job, m cache.Msg, stale bool) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	c := j.replyTo()
	var out []byte
	if m.Valid() {
		out = s.reply((*bp)[:0], &c, m, stale)
	} else {
		out = s.writeEmpty((*bp)[:0], &c, dnswire.RcodeServFail, edeNoReachableAuthority)
	}
	if err := s.net.SendUDP(j.local, j.client, out); err != nil {
		s.log.Debug("reply not sent", "client", j.client, "err", err)
	}
}
