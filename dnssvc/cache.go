package dnssvc

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
)

// cache keeps the encoded answer, authority and additional records of
// answers from the zones, keyed by canonical query name, type and DO bit
// (DNSSEC answers carry signatures and proofs), so that a
// repeated query costs a parse, a hash probe and a copy: no zone lookup, no
// encoding. Every answer to a class IN query that the zones decide is kept:
// exact matches, CNAME and DNAME chains, wildcard synthesis, NODATA,
// NXDOMAIN and referrals, with the AA flag and rcode they had.
//
// Why this is valid: the question is always at offset 12 and, for one
// name, the question name always has the same labels (only its case
// varies), so every compression pointer of the generic encoder's output
// points at the same place in every such response, and the lookup depends
// only on the canonical name and type. The sections do not depend on EDNS
// or the transport (ANY, the only transport-dependent answer, is never
// cached), only on DO, which is part of the key; and only complete responses (nothing truncated, nothing
// optional left out) are stored; a cached answer that does not fit under a
// query's limit falls back to the generic encoder. A cache belongs to one
// immutable zone set (see state), so entries never go stale.
// TestCachedEqualsGeneric checks the equality byte for byte.
//
// Entries are added by Respond after the generic encoder answered a query,
// without allocating: slots, entries and the byte arena are allocated when
// the zone set is installed and claimed with atomics. When they run out
// (say, under a flood of random names) answers simply stay on the generic
// path: the cache never evicts, so it costs no locks and no allocation.
type cache struct {
	seed    maphash.Seed
	slots   []atomic.Pointer[entry]
	mask    uint64
	entries []entry
	nent    atomic.Int64
	arena   []byte
	used    atomic.Int64
}

// entry is immutable once published in a slot.
type entry struct {
	hash       uint64
	qtype      uint16
	do         bool
	an, ns, ar uint16
	flags      uint16 // FlagAA or 0
	rcode      uint8  // RcodeSuccess or RcodeNXDomain
	name       []byte // canonical query name
	data       []byte // the sections after the question, without OPT
}

const (
	cacheProbe    = 8
	cacheMinSlots = 1 << 10
	cacheMaxSlots = 1 << 20
	avgEntryBytes = 96
)

// newCache sizes a cache for a set of nodes zone nodes (about two cached
// types per node).
func newCache(nodes int) *cache {
	n := cacheMinSlots
	for n < 4*nodes && n < cacheMaxSlots {
		n <<= 1
	}
	return &cache{
		seed:    maphash.MakeSeed(),
		slots:   make([]atomic.Pointer[entry], n),
		mask:    uint64(n - 1),
		entries: make([]entry, n/2),
		arena:   make([]byte, n/2*avgEntryBytes),
	}
}

func (c *cache) hash(name []byte, qtype uint16, do bool) uint64 {
	k := uint64(qtype)
	if do {
		k |= 1 << 16
	}
	return maphash.Bytes(c.seed, name) ^ k*0x9E3779B97F4A7C15
}

// get returns the entry for the canonical name, qtype and DO bit, or nil.
func (c *cache) get(name []byte, qtype uint16, do bool) *entry {
	h := c.hash(name, qtype, do)
	for p := uint64(0); p < cacheProbe; p++ {
		e := c.slots[(h+p)&c.mask].Load()
		if e == nil {
			return nil
		}
		if e.hash == h && e.qtype == qtype && e.do == do && bytes.Equal(e.name, name) {
			return e
		}
	}
	return nil
}

// put stores copies of name and data (the sections after the question)
// unless there is no room. Two racing puts of one key may both succeed;
// their entries are equal and get returns the first.
func (c *cache) put(name []byte, qtype uint16, do bool, data []byte, an, ns, ar, flags uint16, rcode uint8) {
	h := c.hash(name, qtype, do)
	var e *entry
	for p := uint64(0); p < cacheProbe; p++ {
		s := &c.slots[(h+p)&c.mask]
		if old := s.Load(); old != nil {
			if old.hash == h && old.qtype == qtype && old.do == do && bytes.Equal(old.name, name) {
				return
			}
			continue
		}
		if e == nil {
			if e = c.alloc(name, data); e == nil {
				return
			}
			e.hash, e.qtype, e.do, e.an, e.ns, e.ar, e.flags, e.rcode = h, qtype, do, an, ns, ar, flags, rcode
		}
		if s.CompareAndSwap(nil, e) {
			return
		}
	}
}

// alloc claims an entry and arena space holding copies of name and data.
func (c *cache) alloc(name, data []byte) *entry {
	n := c.nent.Add(1) - 1
	if n >= int64(len(c.entries)) {
		return nil
	}
	size := int64(len(name) + len(data))
	end := c.used.Add(size)
	if end > int64(len(c.arena)) {
		return nil
	}
	b := c.arena[end-size : end : end]
	copy(b, name)
	copy(b[len(name):], data)
	e := &c.entries[n]
	e.name = b[:len(name):len(name)]
	e.data = b[len(name):]
	return e
}
