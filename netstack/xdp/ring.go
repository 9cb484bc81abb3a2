package xdp

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The four rings are single-producer single-consumer queues shared with
// the kernel: an array of entries and three words (producer index,
// consumer index, flags) in memory mapped from the socket. Indexes run
// freely and wrap at 2^32; an entry's slot is index & mask. Each side keeps
// cached copies of both indexes so that most operations touch no shared
// word at all, and publishes its own index once per burst.
//
// Memory order: the producer writes entries, then stores the producer
// index (a release); the consumer loads the producer index (an acquire),
// then reads entries. Go's atomics are sequentially consistent, which is
// at least that on every architecture.

// ringWords points at a ring's shared words.
type ringWords struct {
	producer *atomic.Uint32
	consumer *atomic.Uint32
	flags    *atomic.Uint32
}

func mapWords(mem []byte, off unix.XDPRingOffset) ringWords {
	return ringWords{
		producer: (*atomic.Uint32)(unsafe.Pointer(&mem[off.Producer])),
		consumer: (*atomic.Uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags:    (*atomic.Uint32)(unsafe.Pointer(&mem[off.Flags])),
	}
}

// needWakeup reports whether the kernel asked to be woken up (by a system
// call) before it processes this ring (XDP_USE_NEED_WAKEUP).
func (w *ringWords) needWakeup() bool {
	return w.flags.Load()&unix.XDP_RING_NEED_WAKEUP != 0
}

// ring is one of the four rings, seen from our side. Entries are UMEM
// addresses (uint64) for the fill ring (we produce) and the completion
// ring (we consume), frame descriptors for the RX ring (we consume) and
// the TX ring (we produce).
type ring[T uint64 | unix.XDPDesc] struct {
	ringWords
	ring []T
	mask uint32
	// prod and cons are the cached indexes. For a ring we produce, cons is
	// the last consumer index seen plus the ring size, so that cons-prod
	// is the number of free slots.
	prod, cons uint32
}

// addrRing is the fill or the completion ring.
type addrRing = ring[uint64]

// descRing is the RX or the TX ring.
type descRing = ring[unix.XDPDesc]

func newRing[T uint64 | unix.XDPDesc](mem []byte, off unix.XDPRingOffset, size uint32, produce bool) ring[T] {
	r := ring[T]{
		ringWords: mapWords(mem, off),
		ring:      unsafe.Slice((*T)(unsafe.Pointer(&mem[off.Desc])), size),
		mask:      size - 1,
	}
	r.prod = r.producer.Load()
	r.cons = r.consumer.Load()
	if produce {
		r.cons += size
	}
	return r
}

// free returns the number of slots we may produce into, refreshing the
// consumer index only when fewer than want are known to be free.
func (r *ring[T]) free(want uint32) uint32 {
	if n := r.cons - r.prod; n >= want {
		return n
	}
	r.cons = r.consumer.Load() + uint32(len(r.ring))
	return r.cons - r.prod
}

// push appends an entry; the caller has checked free.
func (r *ring[T]) push(e T) {
	r.ring[r.prod&r.mask] = e
	r.prod++
}

// publish makes the entries pushed so far visible to the kernel.
func (r *ring[T]) publish() { r.producer.Store(r.prod) }

// avail returns the number of entries ready to consume, refreshing the
// producer index only when none are known.
func (r *ring[T]) avail() uint32 {
	if n := r.prod - r.cons; n > 0 {
		return n
	}
	r.prod = r.producer.Load()
	return r.prod - r.cons
}

// pop returns the next entry; the caller has checked avail.
func (r *ring[T]) pop() T {
	e := r.ring[r.cons&r.mask]
	r.cons++
	return e
}

// release hands the slots consumed so far back to the kernel.
func (r *ring[T]) release() { r.consumer.Store(r.cons) }

// pending returns the number of entries we produced that the kernel has
// not consumed yet (for a ring we produce).
func (r *ring[T]) pending() uint32 {
	return r.prod - r.consumer.Load()
}
