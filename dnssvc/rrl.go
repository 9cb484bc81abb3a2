package dnssvc

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"
)

// Response rate limiting (RRL) keeps tapdns from being a useful amplifier:
// a spoofed source sees at most Config.RRL UDP responses per second per
// client prefix (/24 for IPv4, /56 for IPv6). Over the limit, every
// RRLSlip-th response is "slipped": sent as a minimal response with TC=1 and
// no records, so that a real client behind the prefix retries over TCP
// (which is never limited, since a TCP handshake proves the source
// address); the others are dropped. This is the scheme of NSD and Knot
// DNS, simplified to one class of response: every response to a prefix
// counts, whatever its name, type or rcode.
//
// The state is a fixed table of buckets indexed by a keyed hash of the
// prefix, allocated once in New: nothing grows per client and nothing is
// allocated per query. Two prefixes that hash to the same bucket share its
// budget, which can only limit them earlier, never let an attacker past
// the limit. The hash key is random per Server, so collisions cannot be
// aimed at a chosen victim. Each bucket is a GCRA (a token bucket kept as
// one "theoretical arrival time", updated with compare-and-swap), so the
// check is a hash, an atomic load and, when not limited, one CAS.

// Defaults for the RRL settings.
const (
	// DefaultRRLSlip is the slip commonly used by NSD and Knot DNS: every
	// second limited response is sent truncated.
	DefaultRRLSlip = 2
	// DefaultRRLBuckets is the table size used when Config.RRLBuckets is 0.
	// It costs 16 bytes per bucket (1 MiB).
	DefaultRRLBuckets = 1 << 16
	maxRRLBuckets     = 1 << 24
)

// rrlVerdict is what the limiter decides for one response.
type rrlVerdict uint8

const (
	rrlPass rrlVerdict = iota // send the response
	rrlDrop                   // send nothing
	rrlSlip                   // send a minimal TC=1 response instead
)

// rrlBucket is one table entry. tat is the GCRA's theoretical arrival time
// in nanoseconds of the limiter's clock; limited counts limited responses,
// for the slip.
type rrlBucket struct {
	tat     atomic.Int64
	limited atomic.Uint32
	_       uint32
}

// rrl is a response rate limiter. Its configuration is immutable after
// newRRL; check is safe for concurrent use.
type rrl struct {
	interval int64 // nanoseconds per response at the limit: 1e9/rate
	burst    int64 // how far tat may run ahead of now: one second
	slip     uint32
	seed     uint64
	shift    uint // 64 - log2(len(buckets))
	now      func() int64
	buckets  []rrlBucket
}

// newRRL returns a limiter allowing rate responses per second per prefix,
// with a burst of one second's worth, slipping every slip-th limited
// response (0: none). size is rounded up to a power of two. now returns
// nanoseconds of a monotonic clock; nil means the real one.
func newRRL(rate, slip, size int, now func() int64) *rrl {
	if size <= 0 {
		size = DefaultRRLBuckets
	}
	size = min(size, maxRRLBuckets)
	lg := bits.Len(uint(size - 1))
	if now == nil {
		start := time.Now()
		now = func() int64 { return int64(time.Since(start)) + int64(time.Second) }
	}
	interval := max(int64(time.Second)/int64(rate), 1)
	return &rrl{
		interval: interval,
		burst:    interval * int64(rate),
		slip:     uint32(max(slip, 0)),
		seed:     rand.Uint64() | 1,
		shift:    uint(64 - lg),
		now:      now,
		buckets:  make([]rrlBucket, 1<<lg),
	}
}

// prefixKey maps a client address to its prefix: the /24 of an IPv4
// address (IPv4-mapped IPv6 included) and the /56 of an IPv6 address, with
// the family in the top bits so that the two can never be equal.
func prefixKey(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return 1<<62 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	return 2<<62 | uint64(b[0])<<48 | uint64(b[1])<<40 | uint64(b[2])<<32 |
		uint64(b[3])<<24 | uint64(b[4])<<16 | uint64(b[5])<<8 | uint64(b[6])
}

// bucket returns the bucket of the prefix key k.
func (l *rrl) bucket(k uint64) *rrlBucket {
	// A keyed multiply-xorshift mix: the top bits index the table.
	h := (k ^ l.seed) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	if l.shift >= 64 {
		return &l.buckets[0]
	}
	return &l.buckets[h>>l.shift]
}

// check accounts one response to client and decides its fate.
func (l *rrl) check(client netip.Addr) rrlVerdict {
	b := l.bucket(prefixKey(client))
	now := l.now()
	for {
		tat := b.tat.Load()
		t := max(tat, now)
		if t+l.interval-now > l.burst {
			break // over the limit: this response would exceed the burst
		}
		if b.tat.CompareAndSwap(tat, t+l.interval) {
			return rrlPass
		}
	}
	if l.slip == 0 {
		return rrlDrop
	}
	if b.limited.Add(1)%l.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}
