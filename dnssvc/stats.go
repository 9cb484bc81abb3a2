package dnssvc

import (
	"sync/atomic"

	"github.com/tapdns/tapdns/dnswire"
)

// counters are the Server's statistics, updated with atomics.
type counters struct {
	dropped   atomic.Uint64
	truncated atomic.Uint64
	cached    atomic.Uint64     // NOERROR answers from the cache, not in rcode[0]
	cachedNX  atomic.Uint64     // NXDOMAIN answers from the cache, not in rcode[3]
	rcode     [17]atomic.Uint64 // 0..15 and BADVERS (16); larger ones count as 16

	// Rate limiting: responses dropped, and sent as TC=1 slips instead
	// (neither is in rcode).
	rrlDropped, rrlSlipped atomic.Uint64

	// The front (front.go): answers from local data (in rcode), blocked
	// names (in rcode as NXDOMAIN), recursion refused (in rcode as
	// REFUSED), and queries handed to recursion or the mDNS gateway (not
	// in rcode: they count their own answers).
	local, blocked, refusedRec, recursed, mdns atomic.Uint64
}

// Stats is a snapshot of a Server's counters since New.
type Stats struct {
	// Queries counts messages passed to Respond.
	Queries uint64
	// Dropped counts messages left unanswered: shorter than a header, or
	// responses (QR=1).
	Dropped uint64
	// Responses counts the responses written: Queries - Dropped -
	// (RRLLimited - RRLSlipped). Slipped responses are included.
	Responses uint64
	// Rcode counts responses by (extended) rcode; index 16 is BADVERS.
	Rcode [17]uint64
	// FormErr is Rcode[1], the malformed queries answered.
	FormErr uint64
	// Truncated counts responses with TC set.
	Truncated uint64
	// Cached counts answers copied from the precompiled answer cache.
	Cached uint64
	// RRLLimited counts UDP responses over the rate limit (Config.RRL):
	// dropped ones and slipped ones together. RRLSlipped counts those of
	// them sent as a minimal TC=1 response instead; they are in Responses
	// but in no Rcode.
	RRLLimited, RRLSlipped uint64
	// Local counts answers from --override and --hosts data, Blocked the
	// NXDOMAIN answers for --block names, and RecursionRefused the
	// REFUSED answers to clients outside --allow-recursion (all three are
	// in Rcode too).
	Local, Blocked, RecursionRefused uint64
	// Recursed counts queries handed to recursion and MDNS those handed to
	// the mDNS gateway; their answers are counted there, not in Responses
	// or Rcode.
	Recursed, MDNS uint64
}

// Stats returns a snapshot of the counters. Counters are read one by one,
// so a snapshot taken under load may be off by the queries in flight.
func (s *Server) Stats() Stats {
	var st Stats
	// One counter per response on the hot path: Queries and Responses
	// are sums, and cached answers are added to their rcode here.
	var cached, cachedNX, rrlDropped uint64
	for i := range s.shards {
		c := &s.shards[i].ctr
		st.Dropped += c.dropped.Load()
		cached += c.cached.Load()
		cachedNX += c.cachedNX.Load()
		for j := range st.Rcode {
			st.Rcode[j] += c.rcode[j].Load()
		}
		st.RRLSlipped += c.rrlSlipped.Load()
		rrlDropped += c.rrlDropped.Load()
		st.Truncated += c.truncated.Load()
		st.Local += c.local.Load()
		st.Blocked += c.blocked.Load()
		st.RecursionRefused += c.refusedRec.Load()
		st.Recursed += c.recursed.Load()
		st.MDNS += c.mdns.Load()
	}
	st.Cached = cached + cachedNX
	st.Rcode[dnswire.RcodeSuccess] += cached
	st.Rcode[dnswire.RcodeNXDomain] += cachedNX
	for _, n := range st.Rcode {
		st.Responses += n
	}
	st.RRLLimited = rrlDropped + st.RRLSlipped
	st.Responses += st.RRLSlipped
	st.Queries = st.Responses + st.Dropped + rrlDropped + st.Recursed + st.MDNS
	st.FormErr = st.Rcode[1]
	return st
}
