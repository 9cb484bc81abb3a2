package dnssvc

import (
	"net/netip"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/localdata"
)

// The front decides who answers a query, in this order (the README's
// precedence table):
//
//  1. local data: --override and --hosts names (localdata), answered
//     with AA=1;
//  2. the zones, authoritatively (the answer cache, then respond);
//  3. outside every zone: a --block name gets NXDOMAIN with Extended DNS
//     Error 15 (Blocked);
//  4. a name under local. goes to the mDNS gateway when there is one, for
//     clients allowed recursion (or, without recursion, on-link clients);
//  5. recursion (the cache, then the resolver or forwarders) for clients
//     in Config.AllowRecursion; every other client gets REFUSED with
//     Extended DNS Error 18 (Prohibited), so tapdns is never an open
//     resolver;
//  6. without recursion, REFUSED as before.

// localSuffix is "local." in wire form: names under it go to the mDNS
// gateway (RFC 6762 3).
const localSuffix = "\x05local\x00"

// SetRecursion installs the recursion and the mDNS gateway (either may be
// nil), for servers whose Recursion needs a network that is built after
// the Server (the appliance makes the stack after loading the zones). It
// must be called before Respond is first called, and not after.
func (s *Server) SetRecursion(rec, mdns Recursion) {
	s.cfg.Recursion, s.cfg.MDNS = rec, mdns
}

// SetLocal atomically replaces the local data (nil: none).
func (s *Server) SetLocal(d *localdata.Data) { s.local.Store(d) }

// Local returns the local data in use (nil when none).
func (s *Server) Local() *localdata.Data { return s.local.Load() }

// recursionAllowed reports whether client may use recursion (and gets RA).
func (s *Server) recursionAllowed(client netip.Addr) bool {
	client = client.Unmap()
	for _, p := range s.cfg.AllowRecursion {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// onLink reports whether client is on one of our links' prefixes (the
// mDNS gateway's audience when recursion is off).
func (s *Server) onLink(client netip.Addr) bool {
	client = client.Unmap()
	if client.Is6() && client.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range s.cfg.OnLink {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// outside answers a query whose name is in none of the zones, when the
// front has something to say about it; ok false leaves it to respond
// (REFUSED). msg is the query as received; limit excludes the OPT record.
func (s *Server) outside(dst, msg []byte, q *dnswire.Query, req Request, sh *shard, blocked bool, limit int, nsid []byte) (reply []byte, ok bool) {
	allowed := s.cfg.Recursion != nil && s.recursionAllowed(req.Client.Addr())
	if blocked {
		sh.ctr.blocked.Add(1)
		sh.ctr.rcode[dnswire.RcodeNXDomain].Add(1)
		return s.writeEmpty(dst, q, dnswire.FlagAA|s.raFlag(allowed), dnswire.RcodeNXDomain, dnswire.EDEBlocked, nsid), true
	}
	name := q.Name()
	if s.cfg.MDNS != nil && len(name) >= len(localSuffix) && string(name[len(name)-len(localSuffix):]) == localSuffix {
		if allowed || (s.cfg.Recursion == nil && s.onLink(req.Client.Addr())) {
			sh.ctr.mdns.Add(1)
			return s.handOff(s.cfg.MDNS, dst, msg, q, req, limit, nsid), true
		}
	}
	if s.cfg.Recursion == nil {
		return nil, false
	}
	if !allowed {
		sh.ctr.refusedRec.Add(1)
		sh.ctr.rcode[dnswire.RcodeRefused].Add(1)
		return s.writeEmpty(dst, q, 0, dnswire.RcodeRefused, dnswire.EDEProhibited, nsid), true
	}
	sh.ctr.recursed.Add(1)
	return s.handOff(s.cfg.Recursion, dst, msg, q, req, limit, nsid), true
}

// rqScratch holds a RecursiveQuery and its Query between Respond and a
// Recursion. They come from a pool rather than Respond's stack: a value
// passed through an interface escapes, and Respond's own Query would then
// be allocated for every query, recursive or not.
type rqScratch struct {
	q  dnswire.Query
	rq RecursiveQuery
}

// handOff passes q to r (which must not keep rq past the call).
func (s *Server) handOff(r Recursion, dst, msg []byte, q *dnswire.Query, req Request, limit int, nsid []byte) []byte {
	sc := s.rqPool.Get().(*rqScratch)
	sc.q = *q
	sc.rq = RecursiveQuery{
		Msg: msg, Query: &sc.q, Client: req.Client, Local: req.Local, TCP: req.TCP,
		Limit: limit, UDPSize: uint16(s.udpSize), NSID: nsid, Shard: req.Shard,
	}
	if q.EDNS {
		sc.rq.Limit += dnswire.OPTLen(len(nsid))
	}
	reply := r.Answer(dst, &sc.rq)
	sc.rq = RecursiveQuery{} // drop the references to the caller's buffers
	s.rqPool.Put(sc)
	return reply
}

// raFlag is RA for a client allowed recursion.
func (s *Server) raFlag(allowed bool) uint16 {
	if allowed {
		return dnswire.FlagRA
	}
	return 0
}

// writeLocal answers from local data: the records (none for NODATA) with
// AA set, or TC alone when they do not fit.
func (s *Server) writeLocal(dst []byte, q *dnswire.Query, recs localdata.Records, req Request, limit int, nsid []byte) []byte {
	allowed := s.cfg.Recursion != nil && s.recursionAllowed(req.Client.Addr())
	flags := responseFlags(q) | dnswire.FlagAA | s.raFlag(allowed)
	if dnswire.HeaderLen+len(q.Question)+len(recs.Data) > limit {
		flags |= dnswire.FlagTC
		recs = localdata.Records{}
	}
	var ar byte
	if q.EDNS {
		ar = 1
	}
	dst = append(dst[:0], byte(q.ID>>8), byte(q.ID), byte(flags>>8), byte(flags), 0, 1,
		byte(recs.Count>>8), byte(recs.Count), 0, 0, 0, ar)
	dst = append(dst, q.Question...)
	dst = append(dst, recs.Data...)
	if q.EDNS {
		dst = dnswire.AppendOPT(dst, uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nsid)
	}
	return dst
}

// writeEmpty writes a response with no records: the header (flags added
// to the usual ones, rcode), the question as received, and the OPT with
// the Extended DNS Error ede when the query had EDNS.
func (s *Server) writeEmpty(dst []byte, q *dnswire.Query, flags uint16, rcode dnswire.Rcode, ede dnswire.EDE, nsid []byte) []byte {
	flags |= responseFlags(q) | uint16(rcode&0xF)
	var ar byte
	if q.EDNS {
		ar = 1
	}
	dst = append(dst[:0], byte(q.ID>>8), byte(q.ID), byte(flags>>8), byte(flags), 0, 1, 0, 0, 0, 0, 0, ar)
	dst = append(dst, q.Question...)
	if q.EDNS {
		dst = dnswire.AppendOPTEDE(dst, uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nsid, ede)
	}
	return dst
}
