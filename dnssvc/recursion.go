package dnssvc

import (
	"net/netip"

	"github.com/tapdns/tapdns/dnswire"
)

// Recursion answers the queries that local data and the zones do not, for
// clients allowed recursion (see Config.AllowRecursion). The resolver
// package implements it, for iteration and for forwarding alike.
//
// Answer is called on the goroutine that read the query: for UDP a TAP
// reader (the link-layer fast path, or gVisor's receive path), which must
// never block.
//   - A cache hit is written into dst[:0] and returned, with no allocation.
//   - For a UDP miss (rq.TCP false) Answer copies what it needs from rq,
//     starts resolving, and returns nil at once; the reply is sent later
//     from rq.Local to rq.Client by the implementation itself (through the
//     network's SendUDP). It may also answer at once with SERVFAIL or
//     REFUSED (for example when its work queue is full), or return nil
//     and send nothing (dropped, and counted by the implementation).
//   - For TCP (rq.TCP true) Answer may block until the reply is ready, at
//     most the per-query time budget, and returns it (the caller is the
//     connection's own goroutine).
//
// A reply never exceeds rq.Limit octets: what does not fit is truncated
// with TC=1, as for authoritative answers.
type Recursion interface {
	Answer(dst []byte, rq *RecursiveQuery) []byte
}

// RecursiveQuery is one query handed to Recursion.Answer. It and
// everything it points to are valid only during the call.
type RecursiveQuery struct {
	// Msg is the query message as received.
	Msg []byte
	// Query is Msg parsed by dnswire.ParseQuery: status OK, opcode QUERY,
	// one question, EDNS version 0 when present.
	Query *dnswire.Query
	// Client sent the query to Local (one of our addresses and the DNS
	// port); a deferred UDP reply goes from Local to Client.
	Client, Local netip.AddrPort
	// TCP is true for a query read from a TCP connection.
	TCP bool
	// Limit is the largest reply allowed, OPT record included: the
	// client's EDNS size capped by ours for UDP (512 without EDNS),
	// 65535 for TCP.
	Limit int
	// UDPSize is the EDNS payload size to advertise in the reply's OPT
	// (present only when the query had one).
	UDPSize uint16
	// NSID is the NSID option payload to return, nil when the client did
	// not ask or none is configured.
	NSID []byte
	// Shard is the counter shard of the calling goroutine (see
	// Request.Shard).
	Shard int
}
