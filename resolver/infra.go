package resolver

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Server selection (what Unbound calls the infrastructure cache): per
// upstream address a smoothed RTT and variance (RFC 6298), the timeout
// derived from them, exponential backoff on timeouts, and per (address,
// zone) the lame marks.
const (
	// defaultInitialRTO is the timeout of a server never asked before,
	// and its score for selection (Unbound's UNKNOWN_SERVER_NICENESS).
	defaultInitialRTO = 376 * time.Millisecond
	minRTO            = 50 * time.Millisecond
	maxRTO            = 3 * time.Second
	// rttBand: servers within this of the best score are chosen among at
	// random, which spreads load and lets unknown servers be measured.
	rttBand = 400 * time.Millisecond
	// deadAfter consecutive timeouts put a server in backoff: it is not
	// chosen for deadBackoff << (timeouts - deadAfter), at most
	// maxBackoff, unless no other server is left.
	deadAfter   = 3
	deadBackoff = 5 * time.Second
	maxBackoff  = 15 * time.Minute
	// lameTTL is how long a server stays lame for a zone; infraTTL how
	// long an unused server's measurements are kept.
	lameTTL  = 15 * time.Minute
	infraTTL = 15 * time.Minute
	// noEDNSTTL is how long a server that rejected EDNS is asked without.
	noEDNSTTL = 15 * time.Minute
	maxInfra  = 10000
)

type srvInfo struct {
	srtt, rttvar time.Duration // srtt 0: no sample yet
	rto          time.Duration
	timeouts     int // consecutive
	deadUntil    time.Time
	noEDNSUntil  time.Time
	used         time.Time
	queries      uint64
	timeoutsAll  uint64
}

type lameKey struct {
	addr netip.AddrPort
	zone string
}

type infra struct {
	mu   sync.Mutex
	srv  map[netip.AddrPort]*srvInfo
	lame map[lameKey]time.Time
}

func newInfra() *infra {
	return &infra{srv: map[netip.AddrPort]*srvInfo{}, lame: map[lameKey]time.Time{}}
}

// get returns a's record, creating it; i.mu is held.
func (i *infra) get(a netip.AddrPort, now time.Time) *srvInfo {
	si := i.srv[a]
	if si != nil && now.Sub(si.used) > infraTTL {
		si = nil // forget old measurements
	}
	if si == nil {
		if len(i.srv) >= maxInfra {
			i.prune(now)
		}
		si = &srvInfo{}
		i.srv[a] = si
	}
	si.used = now
	return si
}

// prune drops unused records, and half of all if that is not enough.
func (i *infra) prune(now time.Time) {
	for a, si := range i.srv {
		if now.Sub(si.used) > infraTTL {
			delete(i.srv, a)
		}
	}
	for k, until := range i.lame {
		if now.After(until) {
			delete(i.lame, k)
		}
	}
	n := 0
	for a := range i.srv {
		if len(i.srv) < maxInfra/2 {
			break
		}
		if n%2 == 0 {
			delete(i.srv, a)
		}
		n++
	}
}

// rto returns the timeout for the next query to a; i.mu is held.
func (i *infra) rto(a netip.AddrPort, initial time.Duration) time.Duration {
	si := i.srv[a]
	if si == nil || si.rto == 0 {
		return initial
	}
	return si.rto
}

// candidate is a server address for pick.
type candidate struct {
	addr  netip.AddrPort
	score time.Duration
}

// pick chooses among addrs (skipping those in skip, and those lame for
// zone) a server to ask, and the timeout to use: at random among the ones
// whose score is within rttBand of the best, servers in backoff only when
// nothing else is left. It returns an invalid address when none is left.
func (i *infra) pick(addrs []netip.AddrPort, zone []byte, skip func(netip.AddrPort) bool, initial time.Duration) (netip.AddrPort, time.Duration) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	var live, dead [16]candidate
	liveS, deadS := live[:0], dead[:0]
	for _, a := range addrs {
		if skip(a) {
			continue
		}
		if until, ok := i.lame[lameKey{a, string(zone)}]; ok {
			if now.Before(until) {
				continue
			}
			delete(i.lame, lameKey{a, string(zone)})
		}
		c := candidate{addr: a, score: i.rto(a, initial)}
		if si := i.srv[a]; si != nil && now.Before(si.deadUntil) {
			deadS = append(deadS, c)
		} else {
			liveS = append(liveS, c)
		}
	}
	set := liveS
	if len(set) == 0 {
		set = deadS
	}
	if len(set) == 0 {
		return netip.AddrPort{}, 0
	}
	best := slices.MinFunc(set, func(a, b candidate) int { return int(a.score - b.score) }).score
	n := 0
	for _, c := range set {
		if c.score <= best+rttBand {
			set[n] = c
			n++
		}
	}
	c := set[rand.IntN(n)]
	return c.addr, c.score
}

// sample records an answer from a after rtt.
func (i *infra) sample(a netip.AddrPort, rtt time.Duration) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	si := i.get(a, now)
	si.queries++
	si.timeouts = 0
	si.deadUntil = time.Time{}
	if si.srtt == 0 {
		si.srtt, si.rttvar = rtt, rtt/2
	} else {
		d := si.srtt - rtt
		if d < 0 {
			d = -d
		}
		si.rttvar = (3*si.rttvar + d) / 4
		si.srtt = (7*si.srtt + rtt) / 8
	}
	si.rto = min(max(si.srtt+4*si.rttvar, minRTO), maxRTO)
}

// timeout records a query to a that got no answer: the timeout doubles,
// and after deadAfter in a row the server is backed off.
func (i *infra) timeout(a netip.AddrPort, initial time.Duration) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	si := i.get(a, now)
	si.queries++
	si.timeoutsAll++
	si.timeouts++
	if si.rto == 0 {
		si.rto = initial
	}
	si.rto = min(2*si.rto, maxRTO)
	if si.timeouts >= deadAfter {
		si.deadUntil = now.Add(min(deadBackoff<<min(si.timeouts-deadAfter, 16), maxBackoff))
	}
}

// markLame keeps a away from queries for zone for lameTTL.
func (i *infra) markLame(a netip.AddrPort, zone []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.lame) >= maxInfra {
		i.prune(time.Now())
	}
	i.lame[lameKey{a, string(zone)}] = time.Now().Add(lameTTL)
}

// noEDNS reports whether a is to be asked without EDNS.
func (i *infra) noEDNS(a netip.AddrPort) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	si := i.srv[a]
	return si != nil && time.Now().Before(si.noEDNSUntil)
}

// setNoEDNS remembers that a rejected EDNS.
func (i *infra) setNoEDNS(a netip.AddrPort) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.get(a, now).noEDNSUntil = now.Add(noEDNSTTL)
}

// snapshot lists the servers for Stats, sorted by address.
func (i *infra) snapshot(initial time.Duration) []ServerStats {
	i.mu.Lock()
	out := make([]ServerStats, 0, len(i.srv))
	for a, si := range i.srv {
		rto := si.rto
		if rto == 0 {
			rto = initial
		}
		out = append(out, ServerStats{Addr: a, SRTT: si.srtt, RTO: rto, Queries: si.queries, Timeouts: si.timeoutsAll})
	}
	i.mu.Unlock()
	slices.SortFunc(out, func(a, b ServerStats) int { return a.Addr.Compare(b.Addr) })
	return out
}
