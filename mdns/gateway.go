package mdns

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

// Gateway bounds.
const (
	maxLookups = 256  // distinct questions being asked on the link
	maxWaiters = 1024 // unicast queries waiting for them
)

// owned is the snapshot of the names the Responder publishes, for Answer.
// It is immutable once stored.
type owned struct {
	host  string              // the host name, presentation format
	names map[string][]ownRec // canonical name -> records (nil: the name exists, no records)
	uniq  map[string]bool     // names with unique records: answered from here alone
}

type ownRec struct {
	typ    uint16
	ttl    uint32
	data   []byte
	unique bool
}

// gwQuery is what a reply needs from a unicast query. In Answer its
// slices alias the caller's; queued, they are copies.
type gwQuery struct {
	name          []byte // canonical question name
	question      []byte // the question entry as received
	qtype, qclass uint16
	id, flags     uint16
	edns          bool
	do            bool // the query's DNSSEC OK bit, echoed (RFC 3225)
	udpSize       uint16
	nsid          []byte
	limit         int
}

// gwRequest is a unicast query waiting for the link.
type gwRequest struct {
	gwQuery
	client, local netip.AddrPort
	tcp           bool
	reply         chan []byte // TCP: the reply, buffered
}

// lookup is one question the gateway is asking on the link.
type lookup struct {
	name     []byte
	qtype    uint16
	waiters  []*gwRequest
	deadline time.Time // answer what was heard by then
	resend   time.Time // ask again then (zero: no more)
	gap      time.Duration
	settle   time.Time // shared answers heard: answer then (zero: none yet)
}

// Answer is the gateway: it answers a unicast DNS query for a name under
// local. (see dnssvc.Recursion for the calling convention). The
// appliance's own unique names are answered from its records, and other
// names from the cache when it holds an answer; otherwise the question is
// asked on the link, and the reply, with what was heard within
// Config.Timeout or NXDOMAIN, goes later by SendUDP (UDP) or is returned
// (TCP, which blocks until then). TTLs are at most LegacyTTL.
func (r *Responder) Answer(dst []byte, rq *dnssvc.RecursiveQuery) []byte {
	q := gwQuery{
		name: rq.Query.Name(), question: rq.Query.Question, qtype: rq.Query.QType, qclass: rq.Query.QClass,
		id: rq.Query.ID, flags: rq.Query.Flags, edns: rq.Query.EDNS, do: rq.Query.DO(), udpSize: rq.UDPSize, nsid: rq.NSID, limit: rq.Limit,
	}
	r.stats.gwQueries.Add(1)
	if !underLocal(q.name) || q.qclass != dnswire.ClassIN && q.qclass != dnswire.ClassANY {
		r.stats.gwRefused.Add(1)
		return r.rcodeReply(dst, &q, dnswire.RcodeRefused)
	}
	if q.qtype == dnswire.TypeAXFR || q.qtype == dnswire.TypeIXFR {
		r.stats.gwRefused.Add(1)
		return r.rcodeReply(dst, &q, dnswire.RcodeNotImp)
	}
	o := r.own.Load()
	if o != nil && o.uniq[string(q.name)] {
		r.stats.gwOwn.Add(1)
		return r.ownReply(dst, &q, o)
	}
	now := time.Now()
	if out, ok := r.cachedReply(dst, &q, now, false); ok {
		r.stats.gwCacheHits.Add(1)
		return out
	}
	req := &gwRequest{gwQuery: q.clone(), client: rq.Client, local: rq.Local, tcp: rq.TCP}
	if rq.TCP {
		req.reply = make(chan []byte, 1)
	}
	select {
	case <-r.done:
		r.stats.gwOverload.Add(1)
		return r.rcodeReply(dst, &q, dnswire.RcodeServFail)
	default:
	}
	select {
	case r.gwq <- req:
	default:
		r.stats.gwOverload.Add(1)
		return r.rcodeReply(dst, &q, dnswire.RcodeServFail)
	}
	if !rq.TCP {
		return nil
	}
	t := time.NewTimer(r.cfg.Timeout + time.Second)
	defer t.Stop()
	select {
	case out := <-req.reply:
		return append(dst[:0], out...)
	case <-t.C:
	case <-r.done:
	}
	r.stats.gwOverload.Add(1)
	return r.rcodeReply(dst, &q, dnswire.RcodeServFail)
}

func (q *gwQuery) clone() gwQuery {
	c := *q
	c.name = bytes.Clone(q.name)
	c.question = bytes.Clone(q.question)
	c.nsid = bytes.Clone(q.nsid)
	return c
}

// startReply begins a reply to q in dst.
func startReply(b *dnswire.Builder, dst []byte, q *gwQuery, aa bool) {
	flags := dnswire.FlagQR | dnswire.FlagRA | q.flags&(dnswire.FlagRD|dnswire.FlagCD)
	if aa {
		flags |= dnswire.FlagAA
	}
	limit := q.limit
	if q.edns {
		limit -= dnswire.OPTLen(len(q.nsid))
	}
	b.Start(dst, q.id, flags, limit)
	if q.question != nil {
		b.Question(q.question)
	}
}

// finishReply sets the rcode and TC and adds the OPT record.
func finishReply(b *dnswire.Builder, q *gwQuery, rcode dnswire.Rcode, tc bool) []byte {
	flags := dnswire.FlagsWith(b.Flags(), dnswire.OpcodeQuery, rcode)
	if tc {
		flags |= dnswire.FlagTC
	}
	b.SetFlags(flags)
	if q.edns {
		var flags uint16
		if q.do {
			flags = dnswire.EDNSFlagDO
		}
		b.AddOPT(q.udpSize, 0, flags, q.nsid)
	}
	return b.Finish()
}

func (r *Responder) rcodeReply(dst []byte, q *gwQuery, rcode dnswire.Rcode) []byte {
	var b dnswire.Builder
	startReply(&b, dst, q, false)
	return finishReply(&b, q, rcode, false)
}

// ownReply answers from the Responder's own records, authoritatively.
func (r *Responder) ownReply(dst []byte, q *gwQuery, o *owned) []byte {
	var b dnswire.Builder
	startReply(&b, dst, q, true)
	qend := b.Mark()
	tc := false
	for _, rr := range o.names[string(q.name)] {
		if q.qtype != dnswire.TypeANY && q.qtype != rr.typ && rr.typ != dnswire.TypeCNAME {
			continue
		}
		if !addRRAt(&b, dnswire.Answer, dnswire.HeaderLen, rr.typ, dnswire.ClassIN, min(rr.ttl, LegacyTTL), rr.data) {
			b.Rollback(qend)
			tc = true
			break
		}
	}
	return finishReply(&b, q, dnswire.RcodeSuccess, tc)
}

// matchType reports whether a record of type typ answers qtype.
func matchType(typ, qtype uint16) bool {
	return typ != dnswire.TypeNSEC && (qtype == dnswire.TypeANY || typ == qtype || typ == dnswire.TypeCNAME)
}

// cachedReply builds the reply to q from the cache (and the Responder's
// shared records, which the link never echoes back to it). Unless final,
// it builds one only when the cache answers: records of the type, or an
// NSEC that denies it; final replies say NODATA or NXDOMAIN otherwise.
func (r *Responder) cachedReply(dst []byte, q *gwQuery, now time.Time, final bool) ([]byte, bool) {
	o := r.own.Load()
	var own []ownRec
	if o != nil {
		own = o.names[string(q.name)]
	}
	c := &r.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	es := c.names[string(q.name)]
	positive, deny, exists := false, false, len(own) > 0
	for i := range es {
		e := &es[i]
		if !e.expires.After(now) {
			continue
		}
		exists = true
		if matchType(e.typ, q.qtype) {
			positive = true
		}
		if e.typ == dnswire.TypeNSEC && q.qtype != dnswire.TypeANY && !nsecHas(e.data, q.qtype) {
			deny = true
		}
	}
	if !positive && !deny && !final {
		return nil, false
	}
	var b dnswire.Builder
	startReply(&b, dst, q, false)
	qend := b.Mark()
	tc := false
	n := 0
	for i := range es {
		e := &es[i]
		if !e.expires.After(now) || !matchType(e.typ, q.qtype) {
			continue
		}
		if !addRRAt(&b, dnswire.Answer, dnswire.HeaderLen, e.typ, dnswire.ClassIN, ttlLeft(e, now), e.data) {
			tc = true
			break
		}
		n++
	}
	for _, rr := range own {
		if tc || !matchType(rr.typ, q.qtype) {
			continue
		}
		if !addRRAt(&b, dnswire.Answer, dnswire.HeaderLen, rr.typ, dnswire.ClassIN, min(rr.ttl, LegacyTTL), rr.data) {
			tc = true
			break
		}
		n++
	}
	if tc {
		b.Rollback(qend)
		r.stats.gwAnswered.Add(1)
		return finishReply(&b, q, dnswire.RcodeSuccess, true), true
	}
	rcode := dnswire.RcodeSuccess
	switch {
	case n > 0:
		r.stats.gwAnswered.Add(1)
		c.additional(&b, es, q.qtype, now)
	case exists:
		r.stats.gwNoData.Add(1)
	default:
		r.stats.gwNXDomain.Add(1)
		rcode = dnswire.RcodeNXDomain
	}
	return finishReply(&b, q, rcode, false), true
}

// ttlLeft is the TTL to give a unicast client for a cached record.
func ttlLeft(e *centry, now time.Time) uint32 {
	return uint32(min(e.expires.Sub(now)/time.Second, LegacyTTL))
}

// additional adds, best effort, what a DNS-SD client wants next: for PTR
// answers the SRV and TXT they name, for SRV the target's addresses.
// c.mu is held.
func (c *cache) additional(b *dnswire.Builder, es []centry, qtype uint16, now time.Time) {
	var nb [dnswire.MaxNameLen]byte
	for i := range es {
		e := &es[i]
		if !e.expires.After(now) || !matchType(e.typ, qtype) {
			continue
		}
		switch e.typ {
		case dnswire.TypePTR:
			n := dnswire.CanonicalName(&nb, e.data)
			if n < 0 {
				continue
			}
			for _, t := range c.names[string(nb[:n])] {
				if t.expires.After(now) && (t.typ == dnswire.TypeSRV || t.typ == dnswire.TypeTXT) {
					addRR(b, dnswire.Additional, t.name, t.typ, dnswire.ClassIN, ttlLeft(&t, now), t.data)
					if t.typ == dnswire.TypeSRV && len(t.data) > 6 {
						c.addresses(b, t.data[6:], now)
					}
				}
			}
		case dnswire.TypeSRV:
			if len(e.data) > 6 {
				c.addresses(b, e.data[6:], now)
			}
		}
	}
}

func (c *cache) addresses(b *dnswire.Builder, name []byte, now time.Time) {
	var nb [dnswire.MaxNameLen]byte
	n := dnswire.CanonicalName(&nb, name)
	if n < 0 {
		return
	}
	for _, t := range c.names[string(nb[:n])] {
		if t.expires.After(now) && (t.typ == dnswire.TypeA || t.typ == dnswire.TypeAAAA) {
			addRR(b, dnswire.Additional, t.name, t.typ, dnswire.ClassIN, ttlLeft(&t, now), t.data)
		}
	}
}

// lookup takes a queued unicast query on Run's goroutine: it joins the
// lookup of the same question or starts one.
func (st *state) lookup(q *gwRequest, now time.Time) {
	r := st.r
	// The cache may have learnt the answer since Answer looked.
	if out, ok := r.cachedReply(st.out, &q.gwQuery, now, false); ok {
		r.stats.gwCacheHits.Add(1)
		st.deliver(q, out)
		return
	}
	st.key = append(append(st.key[:0], q.name...), byte(q.qtype>>8), byte(q.qtype))
	lk := st.lookups[string(st.key)]
	if lk == nil {
		if len(st.lookups) >= maxLookups {
			r.stats.gwOverload.Add(1)
			st.deliver(q, r.rcodeReply(st.out, &q.gwQuery, dnswire.RcodeServFail))
			return
		}
		lk = &lookup{name: q.name, qtype: q.qtype, deadline: now.Add(r.cfg.Timeout), gap: st.tm.resend}
		if r.cfg.Timeout > st.tm.resend {
			lk.resend = now.Add(st.tm.resend)
		}
		st.lookups[string(st.key)] = lk
		st.ask(lk)
	}
	lk.waiters = append(lk.waiters, q)
}

// ask multicasts the lookup's question (a QM question: the answers, by
// multicast, refresh every cache on the link).
func (st *state) ask(lk *lookup) {
	for fam := range st.r.conns {
		if st.r.conns[fam] == nil {
			continue
		}
		b := &st.b
		b.Start(st.out, 0, 0, MaxMsgLen)
		st.key = appendQuestion(st.key[:0], lk.name, lk.qtype, dnswire.ClassIN)
		b.Question(st.key)
		if st.r.send(fam, b.Finish(), nil) {
			st.r.stats.gwLinkQueries.Add(1)
		}
	}
}

// heard checks a response against the open lookups: records with the
// cache-flush bit or an NSEC denying the type finish a lookup at once;
// shared records finish it timing.settle later, so that the other
// responders' answers are in too.
func (st *state) heard(m *Message, now time.Time) {
	for key, lk := range st.lookups {
		done, hit := false, false
		for i := range m.Records {
			k := &m.Records[i]
			if k.TTL == 0 || k.Class != dnswire.ClassIN || !bytes.Equal(k.Name, lk.name) {
				continue
			}
			if matchType(k.Type, lk.qtype) {
				hit = true
				if k.Flush {
					done = true
				}
			}
			if k.Type == dnswire.TypeNSEC && lk.qtype != dnswire.TypeANY && !nsecHas(k.Data, lk.qtype) {
				done = true
			}
		}
		switch {
		case done:
			st.complete(key, lk, now)
		case hit && lk.settle.IsZero():
			lk.settle = now.Add(st.tm.settle)
			if lk.settle.After(lk.deadline) {
				lk.settle = lk.deadline
			}
		}
	}
}

// runLookups finishes the lookups that are due and asks again for the
// ones that wait long.
func (st *state) runLookups(now time.Time) {
	for key, lk := range st.lookups {
		switch {
		case !now.Before(lk.deadline), !lk.settle.IsZero() && !now.Before(lk.settle):
			if lk.settle.IsZero() {
				st.r.stats.gwTimeouts.Add(1)
			}
			st.complete(key, lk, now)
		case !lk.resend.IsZero() && !now.Before(lk.resend):
			st.ask(lk)
			lk.gap *= 2
			lk.resend = now.Add(lk.gap)
			if !lk.resend.Before(lk.deadline) {
				lk.resend = time.Time{}
			}
		}
	}
}

// complete answers every query waiting for the lookup from the cache.
func (st *state) complete(key string, lk *lookup, now time.Time) {
	delete(st.lookups, key)
	for _, q := range lk.waiters {
		out, _ := st.r.cachedReply(st.out, &q.gwQuery, now, true)
		st.deliver(q, out)
	}
}

// deliver sends a reply to a queued query: returned to the waiting TCP
// handler, or sent by UDP from the address the client asked.
func (st *state) deliver(q *gwRequest, out []byte) {
	if q.tcp {
		select {
		case q.reply <- bytes.Clone(out):
		default:
		}
		return
	}
	if err := st.r.net.SendUDP(q.local, q.client, out); err != nil {
		st.r.stats.sendErrors.Add(1)
		st.r.log.Debug("mdns: gateway reply not sent", "client", q.client, "err", err)
	}
}
