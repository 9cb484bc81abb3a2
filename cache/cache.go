// Package cache is the DNS cache that recursion and forwarding share:
// RRsets with their trust rank, negative answers (RFC 2308) with the
// NXDOMAIN cut of RFC 8020, cached resolution failures (RFC 9520) and a
// message cache of whole encoded answers that a cache hit copies into a
// reply with no allocation and TTLs counting down.
//
// Memory is bounded by Config.MaxBytes, the slot table included. Readers
// never lock: the table is buckets of bucketSlots atomic pointers to
// immutable entries, an entry may live in either of two buckets chosen by
// its hash (two-choice hashing, so that buckets rarely overflow), writers
// lock the two buckets, and
// eviction is a CLOCK sweep over the buckets (an entry read since the
// hand last passed survives one more pass). Expired entries are dropped
// when met; messages are kept past expiry for Config.ServeStale (RFC
// 8767).
//
// Names given to and returned by the cache are canonical: uncompressed
// wire format, lower-cased ASCII. Returned slices alias immutable cache
// memory and must not be modified; they stay valid after the entry is
// evicted (the garbage collector keeps them).
package cache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Defaults for Config's zero values.
const (
	DefaultMaxBytes       = 64 << 20
	DefaultMaxTTL         = 24 * time.Hour
	DefaultMaxNegativeTTL = time.Hour // Unbound's cache-max-negative-ttl
	// MinMaxBytes is the smallest MaxBytes accepted.
	MinMaxBytes = 64 << 10
	// StaleTTL is the TTL of records in a stale answer (RFC 8767 section
	// 4 recommends 30 seconds).
	StaleTTL = 30
	// PrefetchMinTTL is the smallest original TTL (seconds) for which a
	// hit in the last tenth of the TTL asks for a prefetch.
	PrefetchMinTTL = 10
)

// Config sets the cache's bounds. The zero value is usable: 64 MiB, TTLs
// capped at one day (one hour for negative answers), no stale answers.
type Config struct {
	// MaxBytes bounds the cache's memory: entries, their data and the
	// slot table. 0 means DefaultMaxBytes; at least MinMaxBytes.
	MaxBytes int64
	// MaxTTL caps the TTL of cached positive data; 0 means
	// DefaultMaxTTL.
	MaxTTL time.Duration
	// MinTTL raises shorter TTLs of positive data (and the TTLs sent to
	// clients) to this; 0 keeps them.
	MinTTL time.Duration
	// MaxNegativeTTL caps the TTL of negative answers; 0 means
	// DefaultMaxNegativeTTL.
	MaxNegativeTTL time.Duration
	// ServeStale keeps answers this long past their expiry so that they
	// can be served when fresh data cannot be had (RFC 8767); 0 turns
	// stale answers off.
	ServeStale time.Duration
	// Now is the clock; nil means time.Now. Tests set it to move time.
	Now func() time.Time
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	switch {
	case cfg.MaxBytes != 0 && cfg.MaxBytes < MinMaxBytes:
		return fmt.Errorf("cache size %d: at least %d bytes", cfg.MaxBytes, MinMaxBytes)
	case cfg.MaxTTL < 0 || cfg.MaxTTL > 0 && cfg.MaxTTL < time.Second:
		return fmt.Errorf("cache max TTL %v: at least 1s", cfg.MaxTTL)
	case cfg.MinTTL < 0:
		return fmt.Errorf("cache min TTL %v: negative", cfg.MinTTL)
	case cfg.MinTTL > cfg.maxTTL():
		return fmt.Errorf("cache min TTL %v is above the max TTL %v", cfg.MinTTL, cfg.maxTTL())
	case cfg.MaxNegativeTTL < 0:
		return fmt.Errorf("cache max negative TTL %v: negative", cfg.MaxNegativeTTL)
	case cfg.ServeStale < 0:
		return fmt.Errorf("serve-stale %v: negative", cfg.ServeStale)
	case cfg.MaxTTL > 68*365*24*time.Hour || cfg.ServeStale > 68*365*24*time.Hour:
		return errors.New("cache durations above 68 years do not fit a TTL")
	}
	return nil
}

func (cfg Config) maxTTL() time.Duration {
	if cfg.MaxTTL == 0 {
		return DefaultMaxTTL
	}
	return cfg.MaxTTL
}

// bucketSlots is the associativity of the table: a lookup reads at most
// this many pointers (one cache line).
const bucketSlots = 8

// avgEntryBytes sizes the slot table: about one slot per avgEntryBytes of
// MaxBytes. Smaller entries than that are limited by the slots, larger
// ones by the bytes.
const avgEntryBytes = 160

type bucket struct {
	mu    sync.Mutex
	slots [bucketSlots]atomic.Pointer[entry]
}

// Cache is safe for concurrent use. Lookups take no lock and do not
// allocate.
type Cache struct {
	seed           maphash.Seed
	buckets        []bucket
	mask           uint64
	maxBytes       int64
	minTTL, maxTTL uint32 // seconds
	maxNegTTL      uint32
	stale          int64 // ns; 0: off
	now            func() time.Time
	epoch          time.Time

	used    atomic.Int64 // bytes, the slot table included
	evictMu sync.Mutex
	hand    uint64 // CLOCK hand, guarded by evictMu

	entries   [numKinds]atomic.Int64
	inserts   atomic.Uint64
	evictions atomic.Uint64
	expired   atomic.Uint64
}

// New returns an empty cache.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cache{seed: maphash.MakeSeed(), maxBytes: cfg.MaxBytes, now: cfg.Now}
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMaxBytes
	}
	c.maxTTL = uint32(cfg.maxTTL() / time.Second)
	c.minTTL = uint32(cfg.MinTTL / time.Second)
	c.maxNegTTL = uint32(DefaultMaxNegativeTTL / time.Second)
	if cfg.MaxNegativeTTL > 0 {
		c.maxNegTTL = uint32(min(cfg.MaxNegativeTTL, 68*365*24*time.Hour) / time.Second)
	}
	c.stale = int64(cfg.ServeStale)
	if c.now == nil {
		c.now = time.Now
	}
	c.epoch = c.now()
	n := uint64(16)
	for n*bucketSlots*avgEntryBytes < uint64(c.maxBytes) {
		n <<= 1
	}
	c.buckets = make([]bucket, n)
	c.mask = n - 1
	c.used.Store(int64(n) * bucketBytes)
	return c, nil
}

// bucketBytes is the memory of one bucket.
const bucketBytes = 8 + bucketSlots*8

// clock returns nanoseconds since the cache was made (monotonic with the
// default clock).
func (c *Cache) clock() int64 { return int64(c.now().Sub(c.epoch)) }

// Now returns the cache's clock reading, for Msg.AppendSections and
// friends; it is what lookups use.
func (c *Cache) Now() int64 { return c.clock() }

func (c *Cache) hash(k kind, name []byte, typ uint16) uint64 {
	h := maphash.Bytes(c.seed, name)
	return h ^ (uint64(typ)<<8|uint64(k))*0x9E3779B97F4A7C15
}

// buckets returns the two buckets an entry of hash h may live in
// (two-choice hashing: an entry goes to the emptier one, which keeps
// buckets from overflowing long before the cache is full).
func (c *Cache) bucketsOf(h uint64) (*bucket, *bucket) {
	return &c.buckets[h&c.mask], &c.buckets[(h>>32)&c.mask]
}

// find returns the entry for the key, expired or not, or nil.
func (c *Cache) find(k kind, name []byte, typ uint16) *entry {
	h := c.hash(k, name, typ)
	b1, b2 := c.bucketsOf(h)
	for _, b := range [2]*bucket{b1, b2} {
		for i := range b.slots {
			e := b.slots[i].Load()
			if e != nil && e.hash == h && e.typ == typ && e.kind == k && string(e.name()) == string(name) {
				return e
			}
		}
	}
	return nil
}

// touch marks e as recently used for the CLOCK sweep, writing the shared
// line only when the bit is clear.
func touch(e *entry) {
	if e.ref.Load() == 0 {
		e.ref.Store(1)
	}
}

// gone reports whether e is past any use at now: expired, and past the
// stale window for messages.
func (c *Cache) gone(e *entry, now int64) bool {
	if now < e.expire {
		return false
	}
	return e.kind != kindMsg || c.stale == 0 || now >= e.expire+c.stale
}

// lock2 locks the two buckets of a key in address order, once when they
// are the same; unlock2 undoes it.
func lock2(b1, b2 *bucket) {
	switch {
	case b1 == b2:
		b1.mu.Lock()
	case uintptr(unsafe.Pointer(b1)) < uintptr(unsafe.Pointer(b2)):
		b1.mu.Lock()
		b2.mu.Lock()
	default:
		b2.mu.Lock()
		b1.mu.Lock()
	}
}

func unlock2(b1, b2 *bucket) {
	b1.mu.Unlock()
	if b2 != b1 {
		b2.mu.Unlock()
	}
}

// insert publishes e, replacing an entry of the same key unless keep says
// the old one wins. It reports whether e was stored.
func (c *Cache) insert(e *entry, keep func(old *entry) bool) bool {
	e.hash = c.hash(e.kind, e.name(), e.typ)
	e.size = entrySize(e)
	now := c.clock()
	b1, b2 := c.bucketsOf(e.hash)
	lock2(b1, b2)
	bs := [2]*bucket{b1, b2}
	if b1 == b2 {
		bs[1] = nil
	}
	var free [2]int // free slots per bucket, after dropping what is gone
	var vb *bucket
	vi := -1
	for bi, b := range bs {
		if b == nil {
			continue
		}
		for i := range b.slots {
			old := b.slots[i].Load()
			if old == nil {
				free[bi]++
				continue
			}
			if old.hash == e.hash && old.typ == e.typ && old.kind == e.kind && string(old.name()) == string(e.name()) {
				if keep != nil && now < old.expire && keep(old) {
					unlock2(b1, b2)
					return false
				}
				b.slots[i].Store(e)
				c.used.Add(int64(e.size) - int64(old.size))
				c.entries[old.kind].Add(-1)
				c.entries[e.kind].Add(1)
				unlock2(b1, b2)
				c.inserts.Add(1)
				c.shrink()
				return true
			}
			if c.gone(old, now) {
				c.remove(b, i, old, true)
				free[bi]++
				continue
			}
			if vi < 0 || better(old, vb.slots[vi].Load()) {
				vb, vi = b, i
			}
		}
	}
	b := b1
	if bs[1] != nil && free[1] > free[0] {
		b = b2
	}
	slot := -1
	for i := range b.slots {
		if b.slots[i].Load() == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		// Both buckets full: the entry not read since the last sweep
		// that expires first makes room.
		c.remove(vb, vi, vb.slots[vi].Load(), false)
		b, slot = vb, vi
	}
	b.slots[slot].Store(e)
	c.used.Add(int64(e.size))
	c.entries[e.kind].Add(1)
	unlock2(b1, b2)
	c.inserts.Add(1)
	c.shrink()
	return true
}

// better reports whether a is a better eviction victim than b.
func better(a, b *entry) bool {
	ra, rb := a.ref.Load(), b.ref.Load()
	if ra != rb {
		return ra < rb
	}
	return a.expire < b.expire
}

// remove clears slot i of b, which holds e; b is locked.
func (c *Cache) remove(b *bucket, i int, e *entry, expired bool) {
	b.slots[i].Store(nil)
	c.used.Add(-int64(e.size))
	c.entries[e.kind].Add(-1)
	if expired {
		c.expired.Add(1)
	} else {
		c.evictions.Add(1)
	}
}

// shrink runs the CLOCK hand until the cache is back under its bound
// (with 1/32 of slack, so that sweeps are not run per insert).
func (c *Cache) shrink() {
	if c.used.Load() <= c.maxBytes {
		return
	}
	c.evictMu.Lock()
	defer c.evictMu.Unlock()
	target := c.maxBytes - c.maxBytes/32
	now := c.clock()
	// Two passes clear every reference bit; a third finds everything
	// evictable. The bound only matters if MaxBytes were below the slot
	// table itself, which Validate rules out.
	for visited := 0; c.used.Load() > target && visited < 3*len(c.buckets); visited++ {
		b := &c.buckets[c.hand&c.mask]
		c.hand++
		b.mu.Lock()
		for i := range b.slots {
			e := b.slots[i].Load()
			switch {
			case e == nil:
			case c.gone(e, now):
				c.remove(b, i, e, true)
			case e.ref.Load() != 0:
				e.ref.Store(0)
			default:
				c.remove(b, i, e, false)
			}
		}
		b.mu.Unlock()
	}
}

// delete removes the entry of the key, if any.
func (c *Cache) delete(k kind, name []byte, typ uint16) {
	h := c.hash(k, name, typ)
	b1, b2 := c.bucketsOf(h)
	lock2(b1, b2)
	defer unlock2(b1, b2)
	for _, b := range [2]*bucket{b1, b2} {
		for i := range b.slots {
			e := b.slots[i].Load()
			if e != nil && e.hash == h && e.typ == typ && e.kind == k && string(e.name()) == string(name) {
				b.slots[i].Store(nil)
				c.used.Add(-int64(e.size))
				c.entries[k].Add(-1)
			}
		}
	}
}

// Flush removes every entry.
func (c *Cache) Flush() {
	for i := range c.buckets {
		b := &c.buckets[i]
		b.mu.Lock()
		for j := range b.slots {
			if e := b.slots[j].Load(); e != nil {
				b.slots[j].Store(nil)
				c.used.Add(-int64(e.size))
				c.entries[e.kind].Add(-1)
			}
		}
		b.mu.Unlock()
	}
}

// Stats is a snapshot of a cache's counters and size.
type Stats struct {
	// Entries by kind, and in all.
	Messages, RRsets, Negatives, Failures, Entries int64
	// Bytes is the memory accounted, the slot table included; MaxBytes
	// its bound.
	Bytes, MaxBytes int64
	// Inserts counts entries stored; Evictions those removed to make
	// room before they expired; Expired those removed once expired.
	Inserts, Evictions, Expired uint64
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Messages:  c.entries[kindMsg].Load(),
		RRsets:    c.entries[kindRRset].Load(),
		Negatives: c.entries[kindNeg].Load(),
		Failures:  c.entries[kindFail].Load(),
		Bytes:     c.used.Load(),
		MaxBytes:  c.maxBytes,
		Inserts:   c.inserts.Load(),
		Evictions: c.evictions.Load(),
		Expired:   c.expired.Load(),
	}
	s.Entries = s.Messages + s.RRsets + s.Negatives + s.Failures
	return s
}

// clampTTL applies the positive TTL bounds.
func (c *Cache) clampTTL(ttl uint32) uint32 {
	return max(min(ttl, c.maxTTL), c.minTTL)
}
