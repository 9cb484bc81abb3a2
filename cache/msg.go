package cache

import (
	"errors"

	"github.com/tapdns/tapdns/dnswire"
)

// RR is one resource record of class IN, as given to NewMsg.
type RR struct {
	Name []byte // canonical owner
	Type uint16
	TTL  uint32
	Data []byte // uncompressed rdata
}

// State is the outcome of a message lookup.
type State uint8

const (
	// Miss: nothing usable is cached.
	Miss State = iota
	// Fresh: the answer is within its TTL.
	Fresh
	// Prefetch: a fresh answer in the last tenth of its TTL, and this
	// caller is the first to see it so: it should refresh the answer.
	Prefetch
	// Stale: the answer expired less than Config.ServeStale ago. It may
	// be sent (with TTL StaleTTL) only when fresh data cannot be had.
	Stale
)

// String names the state.
func (s State) String() string {
	switch s {
	case Miss:
		return "miss"
	case Fresh:
		return "fresh"
	case Prefetch:
		return "prefetch"
	case Stale:
		return "stale"
	}
	return "State(?)"
}

// Msg is an encoded answer: the answer, authority and additional sections
// of a response whose question is at offset 12, with the rcode and an
// Extended DNS Error code, as the message cache keeps it. Compression
// pointers in the sections point at the question name or at later names,
// so the sections are valid after any question of the same name in any
// letter case (the 0x20 case of the query is echoed). The zero value is
// invalid (see Valid).
//
// A Msg is a small value (no allocation to return one) that refers to
// immutable memory.
type Msg struct {
	e   *entry
	now int64 // cache clock reading the TTLs count down from
}

// message payload layout: an, ns, ar (uint16 each), the number of TTL
// patches (uint16), then per patch the TTL's offset in the sections
// (uint16) and its value as stored (uint32), then the sections.
const msgHdrLen = 8

// Valid reports whether m holds a message.
func (m Msg) Valid() bool { return m.e != nil }

// Rcode returns the response code (the low eight bits of an extended
// one: a cached message's rcode is at most 15 in practice).
func (m Msg) Rcode() dnswire.Rcode { return dnswire.Rcode(m.e.flag) }

// EDE returns the Extended DNS Error info-code to send, or
// dnswire.EDENone.
func (m Msg) EDE() dnswire.EDE { return dnswire.EDE(m.e.ede) }

// Counts returns the number of records in the answer, authority and
// additional sections.
func (m Msg) Counts() (an, ns, ar uint16) {
	p := m.e.payload()
	return u16(p), u16(p[2:]), u16(p[4:])
}

// Len returns the length of the sections.
func (m Msg) Len() int {
	p := m.e.payload()
	return len(p) - msgHdrLen - 6*int(u16(p[6:]))
}

// TTL returns the seconds left before the message expires (0 when stale).
func (m Msg) TTL() uint32 { return m.e.remaining(m.now) }

// AppendSections appends the sections to dst with every TTL counted down
// by the time since the message was stored, or set to StaleTTL when
// stale is true. It does not allocate when dst has room.
func (m Msg) AppendSections(dst []byte, stale bool) []byte {
	p := m.e.payload()
	np := int(u16(p[6:]))
	patches := p[msgHdrLen : msgHdrLen+6*np]
	secs := p[msgHdrLen+6*np:]
	start := len(dst)
	dst = append(dst, secs...)
	out := dst[start:]
	el := m.e.elapsed(m.now)
	for i := 0; i+6 <= len(patches); i += 6 {
		off := int(u16(patches[i:]))
		ttl := uint32(StaleTTL)
		if !stale {
			ttl = u32(patches[i+2:])
			if ttl > el {
				ttl -= el
			} else {
				ttl = 0
			}
		}
		if off+4 <= len(out) {
			out[off], out[off+1], out[off+2], out[off+3] = byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl)
		}
	}
	return dst
}

// Lookup returns the cached message for the canonical name and query
// type, and whether it is fresh, fresh but due for a prefetch, or stale.
// It takes no lock and does not allocate.
func (c *Cache) Lookup(name []byte, qtype uint16) (Msg, State) {
	e := c.find(kindMsg, name, qtype)
	if e == nil {
		return Msg{}, Miss
	}
	now := c.clock()
	if now < e.expire {
		touch(e)
		// The last tenth of the TTL: the first reader to see it asks
		// for a refresh, before the answer is gone (Unbound's rule).
		if e.ttl >= PrefetchMinTTL && (e.expire-now)*10 < int64(e.ttl)*1e9 && e.pf.Load() == 0 && e.pf.CompareAndSwap(0, 1) {
			return Msg{e: e, now: now}, Prefetch
		}
		return Msg{e: e, now: now}, Fresh
	}
	if c.stale > 0 && now < e.expire+c.stale {
		return Msg{e: e, now: now}, Stale
	}
	return Msg{}, Miss
}

// ErrTooLarge is NewMsg's error for sections longer than a message can be.
var ErrTooLarge = errors.New("cache: message too large")

// NewMsg encodes an answer to the canonical name and query type (class
// IN): the answer and authority records in order, with names compressed,
// rcode (0..15) and an Extended DNS Error info-code (dnswire.EDENone for
// none). TTLs
// are clamped to the cache's bounds: MinTTL and MaxTTL, except that an SOA
// in the authority section (a negative answer's) is only capped by the
// negative maximum. The message expires with its shortest TTL. It is not
// stored: see Put.
func (c *Cache) NewMsg(name []byte, qtype uint16, rcode dnswire.Rcode, ede dnswire.EDE, answer, authority []RR) (Msg, error) {
	var b dnswire.Builder
	q := make([]byte, 0, len(name)+4)
	q = append(append(q, name...), byte(qtype>>8), byte(qtype), 0, 1)
	b.Start(make([]byte, 0, 512), 0, 0, dnswire.MaxMsgLen)
	b.Question(q)
	qend := b.Len()
	type patch struct {
		off int
		ttl uint32
	}
	patches := make([]patch, 0, len(answer)+len(authority))
	minTTL := uint32(0xFFFFFFFF)
	for sec, rrs := range [2][]RR{answer, authority} {
		for _, rr := range rrs {
			ttl := c.clampTTL(rr.TTL)
			if sec == 1 && rr.Type == dnswire.TypeSOA {
				ttl = min(rr.TTL, c.maxNegTTL)
			}
			at := b.Len()
			if !b.AddRR(dnswire.Answer+dnswire.Section(sec), rr.Name, rr.Type, dnswire.ClassIN, ttl, rr.Data) {
				return Msg{}, ErrTooLarge
			}
			off := dnswire.SkipName(b.Bytes(), at) + 4 // type, class
			patches = append(patches, patch{off - qend, ttl})
			minTTL = min(minTTL, ttl)
		}
	}
	if minTTL == 0xFFFFFFFF {
		minTTL = 0 // no records: nothing says how long it holds
	}
	secs := b.Bytes()[qend:]
	if len(secs) > 0xFFFF || len(patches) > 0xFFFF {
		return Msg{}, ErrTooLarge
	}
	e, p := newEntry(kindMsg, name, qtype, msgHdrLen+6*len(patches)+len(secs))
	put16(p, uint16(b.Count(dnswire.Answer)))
	put16(p[2:], uint16(b.Count(dnswire.Authority)))
	put16(p[4:], 0)
	put16(p[6:], uint16(len(patches)))
	for i, pt := range patches {
		put16(p[msgHdrLen+6*i:], uint16(pt.off))
		put32(p[msgHdrLen+6*i+2:], pt.ttl)
	}
	copy(p[msgHdrLen+6*len(patches):], secs)
	e.flag = uint8(rcode)
	e.ede = clampEDE(ede)
	c.setTTL(e, minTTL)
	return Msg{e: e, now: e.stored}, nil
}

// Put stores m (made by NewMsg) in the message cache, replacing what is
// cached for its name and type. A message whose TTL is 0 is not stored.
// Put a Msg at most once.
func (c *Cache) Put(m Msg) bool {
	if m.e == nil || m.e.ttl == 0 {
		return false
	}
	return c.insert(m.e, nil)
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
