package cache

import (
	"sync/atomic"
	"unsafe"

	"github.com/tapdns/tapdns/dnswire"
)

// kind separates the entry types that share the table.
type kind uint8

const (
	kindRRset kind = iota
	kindNeg
	kindFail
	kindMsg
	numKinds
)

// entry is one cached item. Everything but ref and pf is immutable once
// the entry is published.
type entry struct {
	hash    uint64
	stored  int64  // cache clock (ns) when stored
	expire  int64  // cache clock (ns) when the TTL runs out
	buf     []byte // the canonical name, then the kind's payload
	nameLen uint8
	kind    kind
	rank    Rank  // RRsets
	flag    uint8 // negative: 1 for NXDOMAIN; message: the rcode's low 8 bits
	typ     uint16
	ede     int16  // messages and failures: Extended DNS Error, or EDENone (-1)
	ttl     uint32 // seconds: the shortest TTL as stored
	size    int32
	ref     atomic.Uint32 // read since the CLOCK hand passed
	pf      atomic.Uint32 // a prefetch was asked for
}

func (e *entry) name() []byte    { return e.buf[:e.nameLen:e.nameLen] }
func (e *entry) payload() []byte { return e.buf[e.nameLen:] }

// entryOverhead is what an entry costs beyond its buffer: the struct
// (rounded to its allocation class) and the slot pointing at it.
const entryOverhead = (unsafe.Sizeof(entry{})+15)&^15 + 8

func entrySize(e *entry) int32 {
	return int32(entryOverhead + uintptr(cap(e.buf)+15)&^15)
}

// newEntry allocates an entry whose buffer holds name and payloadLen more
// octets (returned for the caller to fill).
func newEntry(k kind, name []byte, typ uint16, payloadLen int) (*entry, []byte) {
	buf := make([]byte, len(name)+payloadLen)
	copy(buf, name)
	return &entry{kind: k, typ: typ, buf: buf, nameLen: uint8(len(name)), ede: -1}, buf[len(name):]
}

// setTTL sets the entry's times from a TTL in seconds.
func (c *Cache) setTTL(e *entry, ttl uint32) {
	e.ttl = ttl
	e.stored = c.clock()
	e.expire = e.stored + int64(ttl)*1e9
}

// remaining returns the whole seconds of TTL left at now (at least 0).
func (e *entry) remaining(now int64) uint32 {
	if now >= e.expire {
		return 0
	}
	return uint32((e.expire - now) / 1e9)
}

// elapsed returns the whole seconds since e was stored.
func (e *entry) elapsed(now int64) uint32 {
	if now <= e.stored {
		return 0
	}
	return uint32((now - e.stored) / 1e9)
}

// Rank orders how far cached data is trusted (RFC 2181 section 5.4.1):
// data of a lower rank never replaces unexpired data of a higher one.
type Rank uint8

// Ranks, lowest first.
const (
	// RankGlue: addresses from the additional section of a referral.
	// Used to reach servers, never given to clients.
	RankGlue Rank = iota + 1
	// RankReferral: the NS RRset of a referral (a non-authoritative
	// authority section).
	RankReferral
	// RankAnswer: the answer section of a non-authoritative response (a
	// forwarder's answer).
	RankAnswer
	// RankAuthAuthority: the authority section of an authoritative
	// answer.
	RankAuthAuthority
	// RankAuthAnswer: the answer section of an authoritative answer.
	RankAuthAnswer
)

// String names the rank.
func (r Rank) String() string {
	switch r {
	case RankGlue:
		return "glue"
	case RankReferral:
		return "referral"
	case RankAnswer:
		return "answer"
	case RankAuthAuthority:
		return "auth-authority"
	case RankAuthAnswer:
		return "auth-answer"
	}
	return "Rank(?)"
}

// RRset is a cached RRset as returned by GetRRset: a view of immutable
// cache memory.
type RRset struct {
	Name []byte // canonical owner
	Type uint16
	// TTL is what is left of the TTL, in whole seconds (at least 1 for
	// a fresh RRset).
	TTL  uint32
	Rank Rank
	// Data is the records' data back to back, each preceded by its
	// length as a big-endian uint16 (as zone.RRset.Rdata).
	Data []byte
}

// Records calls yield with each record's data until it returns false.
func (rs RRset) Records(yield func(rdata []byte) bool) {
	b := rs.Data
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n || !yield(b[2:2+n]) {
			return
		}
		b = b[2+n:]
	}
}

// Len returns the number of records.
func (rs RRset) Len() int {
	n := 0
	for range rs.Records {
		n++
	}
	return n
}

// PutRRset caches the records (uncompressed rdata) of the RRset owned by
// the canonical name, of class IN, unless an unexpired copy of higher rank
// is cached. The TTL is clamped to the configured bounds. It reports
// whether the RRset was stored. An RRset of rank RankAnswer or above
// replaces any negative answer cached for its name and type.
func (c *Cache) PutRRset(name []byte, typ uint16, ttl uint32, rank Rank, rdata [][]byte) bool {
	if len(name) == 0 || len(name) > 255 || len(rdata) == 0 {
		return false
	}
	n := 0
	for _, rd := range rdata {
		if len(rd) > 0xFFFF {
			return false
		}
		n += 2 + len(rd)
	}
	e, p := newEntry(kindRRset, name, typ, n)
	for _, rd := range rdata {
		p[0], p[1] = byte(len(rd)>>8), byte(len(rd))
		copy(p[2:], rd)
		p = p[2+len(rd):]
	}
	e.rank = rank
	c.setTTL(e, c.clampTTL(ttl))
	ok := c.insert(e, func(old *entry) bool { return old.rank > rank })
	if ok && rank >= RankAnswer {
		c.delete(kindNeg, name, typ)
		c.delete(kindNeg, name, 0)
	}
	return ok
}

// GetRRset returns the fresh cached RRset of the name and type.
func (c *Cache) GetRRset(name []byte, typ uint16) (RRset, bool) {
	e := c.find(kindRRset, name, typ)
	if e == nil {
		return RRset{}, false
	}
	now := c.clock()
	if now >= e.expire {
		return RRset{}, false
	}
	touch(e)
	return RRset{Name: e.name(), Type: typ, TTL: e.remaining(now), Rank: e.rank, Data: e.payload()}, true
}

// Negative is a cached negative answer (RFC 2308).
type Negative struct {
	// NXDomain is true for a name that does not exist, false for a name
	// without data of the type asked (NODATA).
	NXDomain bool
	// Name is the name the answer was cached for: the name asked, or for
	// an NXDOMAIN cut (RFC 8020) the ancestor that does not exist.
	Name []byte
	// TTL is what is left of the negative TTL, in whole seconds.
	TTL uint32
	// SOAName and SOA are the owner and data of the zone's SOA record
	// for the authority section (its TTL is TTL).
	SOAName, SOA []byte
}

// PutNegative caches a negative answer for the canonical name: NXDOMAIN
// (every type) when nx is set, NODATA for typ otherwise. ttl is the
// negative TTL (RFC 2308 section 5: min of the SOA's TTL and MINIMUM),
// capped by the configured bound; soaName and soa are the SOA record's
// owner and data.
func (c *Cache) PutNegative(name []byte, typ uint16, nx bool, ttl uint32, soaName, soa []byte) bool {
	if len(name) == 0 || len(name) > 255 || len(soaName) > 255 || len(soa) > 0xFFFF {
		return false
	}
	if nx {
		typ = 0
	}
	e, p := newEntry(kindNeg, name, typ, 1+len(soaName)+len(soa))
	p[0] = byte(len(soaName))
	copy(p[1:], soaName)
	copy(p[1+len(soaName):], soa)
	if nx {
		e.flag = 1
	}
	c.setTTL(e, min(ttl, c.maxNegTTL))
	return c.insert(e, nil)
}

// GetNegative returns the cached negative answer that applies to the
// canonical name and type: NODATA for them, NXDOMAIN for the name, or
// NXDOMAIN for one of its ancestors (RFC 8020: nothing exists below a
// name that does not exist).
func (c *Cache) GetNegative(name []byte, typ uint16) (Negative, bool) {
	now := c.clock()
	if typ != 0 {
		if e := c.find(kindNeg, name, typ); e != nil && now < e.expire {
			return negativeOf(e, now), true
		}
	}
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		if e := c.find(kindNeg, name[i:], 0); e != nil && now < e.expire {
			return negativeOf(e, now), true
		}
	}
	return Negative{}, false
}

func negativeOf(e *entry, now int64) Negative {
	touch(e)
	p := e.payload()
	n := int(p[0])
	return Negative{NXDomain: e.flag == 1, Name: e.name(), TTL: e.remaining(now), SOAName: p[1 : 1+n : 1+n], SOA: p[1+n:]}
}

// PutFailure caches the failure to resolve the name and type (RFC 9520)
// for ttl seconds, with the Extended DNS Error info-code that says why
// (dnswire.EDENone for none).
func (c *Cache) PutFailure(name []byte, typ uint16, ede dnswire.EDE, ttl uint32) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	e, _ := newEntry(kindFail, name, typ, 0)
	e.ede = clampEDE(ede)
	c.setTTL(e, ttl)
	return c.insert(e, nil)
}

// GetFailure reports whether a failure to resolve the name and type is
// cached, and its Extended DNS Error info-code.
func (c *Cache) GetFailure(name []byte, typ uint16) (ede dnswire.EDE, ok bool) {
	e := c.find(kindFail, name, typ)
	if e == nil || c.clock() >= e.expire {
		return 0, false
	}
	return dnswire.EDE(e.ede), true
}

// clampEDE stores an info-code in an entry's int16: codes above 0x7FFF
// (none are assigned) are kept as Other Error.
func clampEDE(e dnswire.EDE) int16 {
	if e < dnswire.EDENone || e > 0x7FFF {
		return 0
	}
	return int16(e)
}
