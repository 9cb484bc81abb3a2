package dnssvc

import (
	"net/netip"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// Zone transfers, NOTIFY and TSIG at the query front. The work is done by
// package tsig and by the Transfers implementation (package xfr); this
// file routes. Respond hands respondXFR only the queries that may need it
// (a record besides the OPT in the additional section, opcode NOTIFY,
// QTYPE IXFR), so the common query pays three compares; ServeTransfer
// takes the AXFR and IXFR queries read from TCP connections.

// MsgWriter writes one DNS message on a TCP connection (the method of
// dnstcp.MsgWriter). It is an alias of an unnamed interface so that the
// writers and Transfers implementations of other packages match it
// without importing this one.
type MsgWriter = interface {
	WriteMsg(msg []byte) error
}

// Transfers is the zone-transfer side of the server; package xfr
// implements it. Notify and AllowTransfer are called on the query path (a
// TAP reader for UDP) and must not block. The secondary zones it cannot
// serve yet are given with SetUnavailable.
type Transfers interface {
	// Notify handles a NOTIFY for zone (canonical) from client, verified
	// with key (nil when unsigned), and returns the rcode to answer.
	Notify(zone []byte, client netip.AddrPort, key *tsig.Key) dnswire.Rcode
	// AllowTransfer reports whether client, verified with key, may
	// transfer zones (also: IXFR over UDP, answered with the SOA).
	AllowTransfer(client netip.Addr, key *tsig.Key) bool
	// ServeTransfer answers the AXFR or IXFR query msg for z over TCP,
	// writing every message with w (signed with sess when it is not nil),
	// and returns the first write error.
	ServeTransfer(w MsgWriter, z *zone.Zone, msg []byte, client netip.AddrPort, sess *tsig.Session) error
}

// special reports whether Respond must hand q to respondXFR.
func special(q *dnswire.Query) bool {
	ar := q.ARCount
	if q.EDNS {
		ar--
	}
	return ar > 0 || q.QType == dnswire.TypeIXFR || q.Opcode() == dnswire.OpcodeNotify
}

// respondXFR answers the queries special selects: it checks a TSIG record
// (RFC 8945 5.2: FORMERR when misplaced or malformed, NOTAUTH with the
// TSIG error when it fails) and signs the answer, answers NOTIFY, and IXFR
// over UDP with the SOA (RFC 1995 2). Everything else takes the usual
// path, with room kept for the TSIG record.
func (s *Server) respondXFR(dst, query []byte, q *dnswire.Query, status dnswire.Status, req Request, sh *shard) []byte {
	var sess *tsig.Session
	if ar := q.ARCount; ar > 1 || ar == 1 && !q.EDNS {
		var err error
		sess, err = s.cfg.TSIG.Verify(query, time.Now())
		if err != nil {
			s.log.Debug("malformed TSIG record", "client", req.Client.String())
			return s.errorAnswer(dst, q, dnswire.RcodeFormErr, nil, sh)
		}
		if sess != nil && sess.Err() != tsig.NoError {
			s.log.Debug("TSIG check failed", "client", req.Client.String(), "key", sess.KeyNameText(), "error", sess.Err().String())
			return s.errorAnswer(dst, q, dnswire.RcodeNotAuth, sess, sh)
		}
	}
	var key *tsig.Key
	reserve := 0
	if sess != nil {
		key, reserve = sess.Key(), sess.Overhead()
	}
	var resp []byte
	if t := s.cfg.Transfers; t != nil {
		switch {
		case q.Opcode() == dnswire.OpcodeNotify:
			resp = s.notify(dst, q, status, req, key, sh)
		case q.QType == dnswire.TypeIXFR && !req.TCP && status == dnswire.StatusOK && q.QClass == dnswire.ClassIN:
			resp = s.ixfrUDP(dst, q, req, key, sh)
		}
	}
	if resp == nil {
		resp = s.answerQuery(dst, query, q, status, req, sh, reserve)
	}
	if sess != nil && len(resp) > 0 {
		resp, _ = sess.Sign(resp, time.Now()) // room was kept: cannot fail
	}
	return resp
}

// errorAnswer writes an answer without records: the question, the OPT
// when the query had one, and rcode; signed (or shaped, for a TSIG error)
// by sess when it is not nil.
func (s *Server) errorAnswer(dst []byte, q *dnswire.Query, rcode dnswire.Rcode, sess *tsig.Session, sh *shard) []byte {
	var b dnswire.Builder
	b.Start(dst, q.ID, dnswire.FlagsWith(responseFlags(q), q.Opcode(), rcode), dnswire.MaxMsgLen)
	if q.Question != nil {
		b.Question(q.Question)
	}
	if q.EDNS {
		b.AddOPT(uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nil)
	}
	sh.ctr.rcode[rcode].Add(1)
	resp := b.Finish()
	if sess != nil {
		resp, _ = sess.Sign(resp, time.Now())
	}
	return resp
}

// notify answers a NOTIFY (RFC 1996): FORMERR unless it asks about one
// zone's SOA, otherwise what Transfers.Notify says, with AA set as the
// zone's servers answer.
func (s *Server) notify(dst []byte, q *dnswire.Query, status dnswire.Status, req Request, key *tsig.Key, sh *shard) []byte {
	rcode := dnswire.RcodeFormErr
	if status == dnswire.StatusNotImp && q.QDCount == 1 && q.Question != nil && q.QType == dnswire.TypeSOA && q.QClass == dnswire.ClassIN {
		// A copy: q's own storage must not reach the interface call, or
		// every Respond would allocate its Query.
		var name [dnswire.MaxNameLen]byte
		n := copy(name[:], q.Name())
		rcode = s.cfg.Transfers.Notify(name[:n], req.Client, key)
	}
	var b dnswire.Builder
	b.Start(dst, q.ID, dnswire.FlagsWith(dnswire.FlagQR|dnswire.FlagAA, dnswire.OpcodeNotify, rcode), dnswire.MaxMsgLen)
	if q.Question != nil {
		b.Question(q.Question)
	}
	if q.EDNS {
		b.AddOPT(uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nil)
	}
	sh.ctr.rcode[rcode].Add(1)
	return b.Finish()
}

// ixfrUDP answers IXFR over UDP with the zone's SOA alone, for clients
// allowed to transfer (RFC 1995 2: the whole answer would not fit, or the
// client is up to date; either way it learns the serial and comes back
// over TCP). SERVFAIL for a secondary zone not served; nil (the usual
// path: NOTAUTH or REFUSED) otherwise.
func (s *Server) ixfrUDP(dst []byte, q *dnswire.Query, req Request, key *tsig.Key, sh *shard) []byte {
	name := q.Name()
	z := s.state.Load().set.Zone(name)
	if z == nil || z.Origin != string(name) {
		if s.unavailable(name, z) {
			return s.errorAnswer(dst, q, dnswire.RcodeServFail, nil, sh)
		}
		return nil
	}
	if !s.cfg.Transfers.AllowTransfer(req.Client.Addr(), key) {
		return nil
	}
	soa := z.Apex.RRset(dnswire.TypeSOA)
	var b dnswire.Builder
	b.Start(dst, q.ID, responseFlags(q)|dnswire.FlagAA, dnswire.MaxMsgLen)
	b.Question(q.Question)
	soa.Records(func(rd []byte) bool {
		b.AddRRAt(dnswire.Answer, questionOff, dnswire.TypeSOA, dnswire.ClassIN, soa.TTL, rd)
		return false
	})
	if q.EDNS {
		b.AddOPT(uint16(s.udpSize), 0, q.EDNSFlags&dnswire.EDNSFlagDO, nil)
	}
	sh.ctr.rcode[dnswire.RcodeSuccess].Add(1)
	return b.Finish()
}

// SetUnavailable replaces the list of secondary zones (canonical origins)
// that are not being served, because they were never loaded or have
// expired: queries for names in them get SERVFAIL (RFC 1034 4.3.5), not
// the data of a parent zone.
func (s *Server) SetUnavailable(origins [][]byte) {
	m := make(map[string]struct{}, len(origins))
	for _, o := range origins {
		m[string(o)] = struct{}{}
	}
	s.unavail.Store(&m)
}

// unavailMap returns the map SetUnavailable installed, nil for none.
func (s *Server) unavailMap() map[string]struct{} {
	if p := s.unavail.Load(); p != nil {
		return *p
	}
	return nil
}

// unavailable reports whether name lies in a secondary zone that is not
// being served and is more specific than z, the zone the lookup found
// (nil for none).
func (s *Server) unavailable(name []byte, z *zone.Zone) bool {
	return unavailableIn(s.unavailMap(), name, z)
}

// unavailableIn is unavailable with the map given: the responder loads it
// once per answer. It does not allocate.
func unavailableIn(m map[string]struct{}, name []byte, z *zone.Zone) bool {
	if len(m) == 0 {
		return false
	}
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if _, ok := m[string(name[i:])]; ok {
			return z == nil || len(z.Origin) < len(name)-i
		}
		if name[i] == 0 {
			break
		}
	}
	return false
}

// ServeTransfer answers query on a TCP connection when it is an AXFR or
// IXFR for the apex of a zone being served and Config.Transfers is set:
// it writes the answer's messages with w and returns handled true, and
// keep false when the connection should close (a write failed). For any
// other query it returns handled false and writes nothing; the caller
// answers with Respond (which refuses transfers it does not serve, and
// shapes TSIG errors).
func (s *Server) ServeTransfer(w MsgWriter, query []byte, req Request) (handled, keep bool) {
	t := s.cfg.Transfers
	if t == nil {
		return false, true
	}
	var q dnswire.Query
	if dnswire.ParseQuery(query, &q) != dnswire.StatusOK || q.QClass != dnswire.ClassIN ||
		q.QType != dnswire.TypeAXFR && q.QType != dnswire.TypeIXFR || q.EDNS && q.Version > 0 {
		return false, true
	}
	var sess *tsig.Session
	if q.ARCount > 1 || q.ARCount == 1 && !q.EDNS {
		var err error
		if sess, err = s.cfg.TSIG.Verify(query, time.Now()); err != nil || sess != nil && sess.Err() != tsig.NoError {
			return false, true // Respond answers FORMERR or NOTAUTH
		}
	}
	name := q.Name()
	z := s.state.Load().set.Zone(name)
	if z == nil || z.Origin != string(name) {
		return false, true // NOTAUTH, or SERVFAIL for an unavailable secondary
	}
	sh := &s.shards[uint(req.Shard)%counterShards]
	sh.req.count(req, q.QType)
	sh.ctr.rcode[dnswire.RcodeSuccess].Add(1)
	err := t.ServeTransfer(w, z, query, req.Client, sess)
	return true, err == nil
}
