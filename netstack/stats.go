package netstack

import "sync/atomic"

// Stats is a snapshot of a Stack's counters. Counters only grow.
type Stats struct {
	// Link layer, all queues together.
	FramesIn, BytesIn   uint64 // frames read from the TAP, including dropped ones
	FramesOut, BytesOut uint64 // frames written to the TAP (fast path and gVisor)
	DropRunt            uint64 // shorter than an Ethernet header
	DropForeignMAC      uint64 // unicast to another MAC (flooded by a bridge)
	DropEtherType       uint64 // not IPv4, IPv6 or ARP
	DropOversize        uint64 // outbound frames larger than the frame buffer
	TAPReadErrors       uint64 // failed reads (each one ends Run)
	TAPWriteErrors      uint64 // failed writes (frame dropped)

	// Where received IP/ARP frames went.
	StackFrames  uint64 // handed to gVisor
	FastAnswered uint64 // answered by the link-layer fast path
	FastDropped  uint64 // consumed by the fast path without an answer
	FastViaStack uint64 // fast-path replies too large for a frame, sent through the stack

	// Datagrams to the served port through the gVisor stack.
	UDPQueries uint64 // datagrams handed to the Handler by the stack
	UDPReplies uint64 // replies written back
	UDPNoReply uint64 // the Handler returned nothing
	UDPSent    uint64 // datagrams sent with SendUDP (deferred replies, and fast-path replies too large for one frame)
	UDPErrors  uint64 // bad datagrams, and gVisor write errors
}

// linkCounters are one queue's link-layer counters. Each queue has its own
// so that readers on different CPUs do not share cache lines.
type linkCounters struct {
	framesIn, bytesIn   atomic.Uint64
	framesOut, bytesOut atomic.Uint64
	runt, foreignMAC    atomic.Uint64
	etherType           atomic.Uint64
	dropOversize        atomic.Uint64
	readErrors          atomic.Uint64
	writeErrors         atomic.Uint64
	toStack             atomic.Uint64
	fastAnswered        atomic.Uint64
	fastDropped         atomic.Uint64
	fastViaStack        atomic.Uint64
	_                   [64]byte // keep the next queue's counters off this line
}

func (c *linkCounters) addTo(s *Stats) {
	s.FramesIn += c.framesIn.Load()
	s.BytesIn += c.bytesIn.Load()
	s.FramesOut += c.framesOut.Load()
	s.BytesOut += c.bytesOut.Load()
	s.DropRunt += c.runt.Load()
	s.DropForeignMAC += c.foreignMAC.Load()
	s.DropEtherType += c.etherType.Load()
	s.DropOversize += c.dropOversize.Load()
	s.TAPReadErrors += c.readErrors.Load()
	s.TAPWriteErrors += c.writeErrors.Load()
	s.StackFrames += c.toStack.Load()
	s.FastAnswered += c.fastAnswered.Load()
	s.FastDropped += c.fastDropped.Load()
	s.FastViaStack += c.fastViaStack.Load()
}

// serviceCounters count datagrams to the served port through the stack.
type serviceCounters struct {
	udpQueries, udpReplies, udpNoReply, udpErrors atomic.Uint64
	udpSent                                       atomic.Uint64
}

func (c *serviceCounters) addTo(s *Stats) {
	s.UDPQueries = c.udpQueries.Load()
	s.UDPReplies = c.udpReplies.Load()
	s.UDPNoReply = c.udpNoReply.Load()
	s.UDPSent = c.udpSent.Load()
	s.UDPErrors = c.udpErrors.Load()
}
