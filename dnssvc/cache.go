package dnssvc

import (
	"sync/atomic"
	"unsafe"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// cache keeps the encoded answer, authority and additional records of
// exact positive answers, keyed by the answering RRset, so that the next
// query for the same name and type is answered by copying bytes.
//
// Why this is valid: the question is always at offset 12 and, for one
// RRset, the question name always has the same labels (only its case
// varies), so every compression pointer of the generic encoder's output
// points at the same place in every such response. The sections do not
// depend on EDNS, DO or the transport (ANY, the only transport-dependent
// answer, is never cached), and only complete responses (nothing
// truncated, nothing optional left out) are stored; a cached answer that
// does not fit under a query's limit falls back to the generic encoder.
//
// Entries are filled in by Respond after the generic encoder answered a
// query, without allocating: slots, entries and the byte arena are
// allocated when the zone set is installed, and claimed with atomics.
// When they run out, answers simply stay on the generic path.
type cache struct {
	slots   []slot
	mask    uint64
	entries []entry
	nent    atomic.Int64
	arena   []byte
	used    atomic.Int64
}

type slot struct {
	key atomic.Pointer[zone.RRset]
	ent atomic.Pointer[entry] // nil until filled (or when space ran out)
}

type entry struct {
	data       []byte
	an, ns, ar uint16
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
		slots:   make([]slot, n),
		mask:    uint64(n - 1),
		entries: make([]entry, n/2),
		arena:   make([]byte, n/2*avgEntryBytes),
	}
}

func (c *cache) index(key *zone.RRset) uint64 {
	// Fibonacci hashing of the address; Go's heap does not move objects.
	return uint64(uintptr(unsafe.Pointer(key))) * 0x9E3779B97F4A7C15 >> 32
}

// get appends the cached sections for key to b and reports true, or
// reports false (and leaves b alone) when there is no entry or it does not
// fit under b's limit.
func (c *cache) get(key *zone.RRset, b *dnswire.Builder) bool {
	i := c.index(key)
	for p := uint64(0); p < cacheProbe; p++ {
		s := &c.slots[(i+p)&c.mask]
		switch s.key.Load() {
		case key:
			e := s.ent.Load()
			if e == nil || b.Len()+len(e.data) > b.Limit() {
				return false
			}
			b.AppendSections(e.data, e.an, e.ns, e.ar)
			return true
		case nil:
			return false
		}
	}
	return false
}

// put stores a copy of data (the sections after the question) for key,
// unless key is already present or there is no room.
func (c *cache) put(key *zone.RRset, data []byte, an, ns, ar uint16) {
	i := c.index(key)
	for p := uint64(0); p < cacheProbe; p++ {
		s := &c.slots[(i+p)&c.mask]
		k := s.key.Load()
		if k == nil && s.key.CompareAndSwap(nil, key) {
			c.fill(s, data, an, ns, ar)
			return
		}
		if k == key || s.key.Load() == key {
			return
		}
	}
}

func (c *cache) fill(s *slot, data []byte, an, ns, ar uint16) {
	n := c.nent.Add(1) - 1
	if n >= int64(len(c.entries)) {
		return
	}
	end := c.used.Add(int64(len(data)))
	if end > int64(len(c.arena)) {
		return
	}
	d := c.arena[end-int64(len(data)) : end : end]
	copy(d, data)
	c.entries[n] = entry{data: d, an: an, ns: ns, ar: ar}
	s.ent.Store(&c.entries[n])
}
