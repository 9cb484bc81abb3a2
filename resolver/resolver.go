// Package resolver answers DNS queries that local data does not: by
// iterative resolution from the root (RFC 1034 section 5.3.3, with QNAME
// minimisation, RFC 9156) or by forwarding to upstream resolvers, with one
// cache (package cache) for both. Server implements dnssvc.Recursion.
//
// A query whose answer is cached is answered on the caller's goroutine
// into the caller's buffer with no allocation (TTLs counting down, the
// question echoed in the case it was asked). Any other UDP query is copied
// into a bounded work queue; a fixed pool of workers resolves it and sends
// the reply with the network's SendUDP. Identical questions in flight are
// resolved once (the replies go to every client that asked). A TCP query
// blocks its caller until the answer is there, at most Config.TimeBudget.
//
// Resolution follows what Unbound and Knot Resolver do: referrals are
// followed only downwards and only with glue inside the bailiwick of the
// server that sent it, glueless NS names are resolved on the side within
// bounds on depth and queries, CNAME and DNAME chains are followed across
// zones, servers are chosen by smoothed RTT with exponential backoff for
// dead ones and avoidance of lame ones, TC=1 is retried over TCP and
// FORMERR without EDNS, every query goes from a fresh socket with a random
// port and ID, and an answer counts only from the address and port asked,
// with the ID and question echoed. Negative answers are cached (RFC 2308,
// and the NXDOMAIN cut of RFC 8020), failures too (RFC 9520), and every
// client query has a time budget after which it gets SERVFAIL with an
// Extended DNS Error (RFC 8914) saying why.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnswire"
)

// Network is what the resolver needs from a network stack: fresh UDP
// sockets for upstream queries, TCP connections for truncated answers,
// and SendUDP for deferred replies to clients. *netstack.Stack implements
// it in the appliance; tests use internal/kernelnet.Net.
type Network interface {
	// ListenUDP opens a UDP socket; laddr's address is unspecified (the
	// family of the server asked) and its port 0 (a random one).
	ListenUDP(laddr netip.AddrPort) (net.PacketConn, error)
	// DialTCP connects to raddr.
	DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error)
	// SendUDP sends one datagram from src to dst.
	SendUDP(src, dst netip.AddrPort, payload []byte) error
}

// Defaults for Config's zero values.
const (
	DefaultTimeBudget   = 4 * time.Second
	DefaultConcurrency  = 256
	DefaultQueueSize    = 1024
	DefaultMaxQueries   = 64
	DefaultMaxDepth     = 3
	DefaultStaleTimeout = 1800 * time.Millisecond // RFC 8767's client response timer
	DefaultFailureTTL   = 5 * time.Second
)

// Config is the resolver's configuration. Validate checks it; New applies
// the defaults for zero values.
type Config struct {
	// Network carries the upstream queries and the deferred replies.
	// Required.
	Network Network
	// Cache is the cache to use; nil makes one with cache.Config's
	// defaults.
	Cache *cache.Cache

	// Forward lists upstream resolvers (address and port). When it is
	// non-empty, queries are forwarded to them with RD=1 (the one with
	// the lowest smoothed RTT first, the others on failure) instead of
	// being resolved from the root.
	Forward []netip.AddrPort
	// RootHints are the root servers iteration starts from (they are
	// used to prime the root NS set); nil means IANARootHints.
	RootHints []Hint
	// NoQNameMinimisation sends the full query name to every server
	// instead of one label more than each server needs (RFC 9156).
	NoQNameMinimisation bool
	// NoPrefetch turns off refreshing popular answers before they
	// expire.
	NoPrefetch bool
	// DisableIPv4 and DisableIPv6 keep upstream queries off a family
	// (for a stack with no address of it).
	DisableIPv4, DisableIPv6 bool

	// TimeBudget bounds the time spent on one client query; after it
	// the client gets SERVFAIL. 0 means DefaultTimeBudget.
	TimeBudget time.Duration
	// Concurrency is the number of resolutions in progress at once (the
	// workers, and separately the TCP queries); 0 means
	// DefaultConcurrency.
	Concurrency int
	// QueueSize bounds the UDP queries waiting for a worker; more are
	// dropped (and counted). 0 means DefaultQueueSize.
	QueueSize int
	// MaxQueries bounds the upstream queries sent for one client query,
	// glueless sub-resolutions included; 0 means DefaultMaxQueries.
	MaxQueries int
	// MaxDepth bounds the nesting of glueless NS name resolutions; 0
	// means DefaultMaxDepth.
	MaxDepth int
	// EDNSSize is the UDP payload size advertised upstream; 0 means
	// 1232.
	EDNSSize int
	// StaleTimeout is how long a client whose answer is stale waits for
	// fresh data before it gets the stale answer (RFC 8767), when the
	// cache serves stale answers; 0 means DefaultStaleTimeout.
	StaleTimeout time.Duration
	// FailureTTL is how long a failure to resolve is remembered and
	// answered from the cache (RFC 9520); 0 means DefaultFailureTTL.
	FailureTTL time.Duration
}

// Validate reports the first problem with cfg.
func (cfg *Config) Validate() error {
	switch {
	case cfg.Network == nil:
		return errors.New("resolver: no network")
	case cfg.DisableIPv4 && cfg.DisableIPv6:
		return errors.New("resolver: both address families disabled")
	case cfg.TimeBudget < 0 || cfg.TimeBudget > 0 && cfg.TimeBudget < 100*time.Millisecond:
		return fmt.Errorf("resolver: time budget %v: at least 100ms", cfg.TimeBudget)
	case cfg.Concurrency < 0 || cfg.QueueSize < 0 || cfg.MaxQueries < 0 || cfg.MaxDepth < 0:
		return errors.New("resolver: negative limit")
	case cfg.EDNSSize != 0 && (cfg.EDNSSize < dnswire.MinUDPSize || cfg.EDNSSize > 4096):
		return fmt.Errorf("resolver: EDNS size %d: 512 to 4096", cfg.EDNSSize)
	case cfg.StaleTimeout < 0 || cfg.FailureTTL < 0:
		return errors.New("resolver: negative duration")
	case cfg.FailureTTL > 5*time.Minute:
		return fmt.Errorf("resolver: failure TTL %v: at most 5m (RFC 9520)", cfg.FailureTTL)
	}
	for _, f := range cfg.Forward {
		if !f.IsValid() || f.Port() == 0 || f.Addr().IsUnspecified() {
			return fmt.Errorf("resolver: forwarder %v: need an address and a port", f)
		}
		if f.Addr().Is4() && cfg.DisableIPv4 || !f.Addr().Is4() && cfg.DisableIPv6 {
			return fmt.Errorf("resolver: forwarder %v: its address family is disabled", f)
		}
	}
	if len(cfg.Forward) == 0 && cfg.RootHints != nil {
		n := 0
		for _, h := range cfg.RootHints {
			if _, err := wireName(h.Name); err != nil {
				return fmt.Errorf("resolver: root hint %q: %v", h.Name, err)
			}
			for _, a := range h.Addrs {
				if a.Is4() && !cfg.DisableIPv4 || !a.Is4() && !cfg.DisableIPv6 {
					n++
				}
			}
		}
		if n == 0 {
			return errors.New("resolver: no root hint address of an enabled family")
		}
	}
	return nil
}

// Server resolves and answers recursive queries. It implements
// dnssvc.Recursion. Answer may be called before Run (misses wait in the
// queue) and after Close (misses are dropped).
type Server struct {
	cfg   Config
	log   *slog.Logger
	net   Network
	cache *cache.Cache
	hints []nameAddrs
	root  []byte

	infra *infra
	queue chan job

	fmu     sync.Mutex
	flights map[flightKey]*flight
	tcpSem  chan struct{}

	primeMu   sync.Mutex
	primeDone chan struct{} // non-nil while the root is being primed

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers and every goroutine they start
	runMu  sync.Mutex
	ran    bool
	done   chan struct{} // closed when Run returns

	// authPort is the port authoritative servers are asked on: 53, or
	// the fake servers' port in tests.
	authPort uint16
	// initialRTO is the timeout for a server never asked before.
	initialRTO time.Duration

	bufs sync.Pool // *[]byte of dnswire.MaxMsgLen: receive buffers

	shards [counterShards]shard
	stats  counters
}

// nameAddrs is an NS name with the addresses known for it.
type nameAddrs struct {
	name  []byte
	addrs []netip.Addr
}

// New checks cfg and returns a Server; call Run to start its workers.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.TimeBudget, DefaultTimeBudget)
	setDefault(&cfg.Concurrency, DefaultConcurrency)
	setDefault(&cfg.QueueSize, DefaultQueueSize)
	setDefault(&cfg.MaxQueries, DefaultMaxQueries)
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.EDNSSize, dnswire.DefaultEDNS)
	setDefault(&cfg.StaleTimeout, DefaultStaleTimeout)
	setDefault(&cfg.FailureTTL, DefaultFailureTTL)
	if cfg.Cache == nil {
		c, err := cache.New(cache.Config{})
		if err != nil {
			return nil, err
		}
		cfg.Cache = c
	}
	if cfg.RootHints == nil {
		cfg.RootHints = IANARootHints()
	}
	s := &Server{
		cfg:        cfg,
		log:        logger,
		net:        cfg.Network,
		cache:      cfg.Cache,
		root:       []byte{0},
		queue:      make(chan job, cfg.QueueSize),
		flights:    map[flightKey]*flight{},
		tcpSem:     make(chan struct{}, cfg.Concurrency),
		done:       make(chan struct{}),
		authPort:   53,
		initialRTO: defaultInitialRTO,
	}
	s.infra = newInfra()
	s.bufs.New = func() any { b := make([]byte, dnswire.MaxMsgLen); return &b }
	for _, h := range cfg.RootHints {
		n, _ := wireName(h.Name)
		var addrs []netip.Addr
		for _, a := range h.Addrs {
			if s.familyOK(a) {
				addrs = append(addrs, a.Unmap())
			}
		}
		s.hints = append(s.hints, nameAddrs{name: n, addrs: addrs})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// familyOK reports whether upstream queries may go to a.
func (s *Server) familyOK(a netip.Addr) bool {
	if a.Unmap().Is4() {
		return !s.cfg.DisableIPv4
	}
	return !s.cfg.DisableIPv6
}

// Cache returns the cache the Server uses.
func (s *Server) Cache() *cache.Cache { return s.cache }

// Run starts the workers and blocks until ctx is done or Close is called,
// then waits for every resolution in progress to stop. It returns nil
// after a normal stop, and an error if called twice.
func (s *Server) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.ran {
		s.runMu.Unlock()
		return errors.New("resolver: Run called twice")
	}
	s.ran = true
	s.runMu.Unlock()
	defer close(s.done)
	if s.ctx.Err() != nil {
		return nil // closed before it ran
	}
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	for range s.cfg.Concurrency {
		s.wg.Add(1)
		go s.worker()
	}
	s.log.Debug("resolver running", "forwarders", len(s.cfg.Forward), "workers", s.cfg.Concurrency)
	<-s.ctx.Done()
	s.wg.Wait()
	return nil
}

// Close stops the Server: Run returns once the resolutions in progress
// have stopped, and later misses are dropped. It is idempotent and waits
// for Run to return when Run was called.
func (s *Server) Close() error {
	s.cancel()
	s.runMu.Lock()
	ran := s.ran
	s.runMu.Unlock()
	if ran {
		<-s.done
	}
	s.wg.Wait() // TCP resolutions started without Run
	return nil
}

// worker resolves queued UDP queries until the Server closes.
func (s *Server) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.queue:
			s.serveJob(&j)
		}
	}
}

// Cause says why a resolution failed (SERVFAIL).
type Cause uint8

// Failure causes.
const (
	// CauseNone: no failure.
	CauseNone Cause = iota
	// CauseTimeout: the servers asked did not answer in time.
	CauseTimeout
	// CauseNetwork: sending or receiving failed (unreachable, refused
	// connection, no socket).
	CauseNetwork
	// CauseLame: every server answered, but none usefully (REFUSED,
	// SERVFAIL, a bad referral, a non-authoritative answer).
	CauseLame
	// CauseMalformed: the answers could not be parsed.
	CauseMalformed
	// CauseNoAddress: no address could be found for any name server.
	CauseNoAddress
	// CauseBudget: the time budget ran out.
	CauseBudget
	// CauseLimit: the bound on upstream queries or glueless depth was
	// reached.
	CauseLimit
	// CauseLoop: a CNAME or DNAME chain was too long or looped.
	CauseLoop
	// CauseShutdown: the Server closed.
	CauseShutdown
	numCauses
)

var causeNames = [numCauses]string{"none", "timeout", "network", "lame", "malformed", "no-address", "budget", "limit", "loop", "shutdown"}

// String names the cause (for metrics labels).
func (c Cause) String() string {
	if c < numCauses {
		return causeNames[c]
	}
	return "Cause(?)"
}

// Extended DNS Error info-codes (RFC 8914) the resolver sends.
const (
	edeOther                dnswire.EDE = 0
	edeStaleAnswer          dnswire.EDE = 3
	edeStaleNXDomain        dnswire.EDE = 19
	edeNoReachableAuthority dnswire.EDE = 22
	edeNetworkError         dnswire.EDE = 23
)

// EDE returns the Extended DNS Error info-code sent with a SERVFAIL of
// this cause.
func (c Cause) EDE() dnswire.EDE {
	switch c {
	case CauseTimeout, CauseLame, CauseNoAddress, CauseBudget:
		return edeNoReachableAuthority
	case CauseNetwork, CauseMalformed:
		return edeNetworkError
	}
	return edeOther
}

// counterShards is the number of per-caller counter sets (see
// dnssvc.RecursiveQuery.Shard).
const counterShards = 16

// shard holds the counters Answer bumps, one set per caller shard so that
// readers on different cores do not share a cache line.
type shard struct {
	queries, hits, misses, stale, dropped atomic.Uint64
	_                                     [88]byte
}

// histBounds are the upper bounds of the recursion time histogram.
var histBounds = [...]time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second,
}

// counters are the slow-path counters (workers and upstream queries).
type counters struct {
	coalesced, prefetches, resolutions, staleTimeouts atomic.Uint64
	servfail                                          [numCauses]atomic.Uint64
	upQueries, upTCP, upNoEDNS                        atomic.Uint64
	upRcode                                           [16]atomic.Uint64
	upTimeouts, upNetErrors, upMalformed              atomic.Uint64
	wrongSource, wrongID, wrongQuestion               atomic.Uint64
	glueRejected, lame, badReferral                   atomic.Uint64
	hist                                              [len(histBounds) + 1]atomic.Uint64
	histSum                                           atomic.Int64 // ns
}

// Histogram is a snapshot of the recursion time histogram: Counts[i]
// counts resolutions that took at most Bounds[i] (and more than
// Bounds[i-1]); the last count has no upper bound.
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Sum    time.Duration
}

// ServerStats describes one upstream server as server selection sees it.
type ServerStats struct {
	Addr netip.AddrPort
	// SRTT is the smoothed round-trip time (0 until one answer came);
	// RTO the timeout the next query would get.
	SRTT, RTO time.Duration
	Queries   uint64
	Timeouts  uint64
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	// Cache is the cache's own snapshot (size, entries, evictions).
	Cache cache.Stats
	// Queries counts calls of Answer; CacheHits those answered from the
	// message cache at once, CacheMisses those that were not (queued,
	// or blocked for TCP). StaleAnswers counts replies with stale data
	// (RFC 8767); Dropped queries not answered because the queue or a
	// flight's waiting list was full.
	Queries, CacheHits, CacheMisses, StaleAnswers, Dropped uint64
	// Coalesced counts queries that joined an identical one in flight;
	// Prefetches the background resolutions queued: refreshes of answers
	// near expiry, and misses that could not be answered later (no
	// local address) resolved for the client's retry; Resolutions the
	// resolutions run.
	Coalesced, Prefetches, Resolutions uint64
	// ServFail counts SERVFAIL answers by cause (index Cause).
	ServFail [numCauses]uint64
	// Upstream queries: sent (UDP and TCP), retried over TCP after
	// TC=1, retried without EDNS after FORMERR; responses by rcode;
	// timeouts, network errors and malformed responses.
	UpstreamQueries, UpstreamTCP, UpstreamNoEDNS   uint64
	UpstreamRcode                                  [16]uint64
	UpstreamTimeouts, UpstreamNetErrors, Malformed uint64
	// Spoofing attempts rejected: datagrams from another address or
	// port than the one asked, with another ID, or with another
	// question. GlueRejected counts out-of-bailiwick glue records
	// dropped, BadReferrals referrals that did not lead down, Lame the
	// servers marked lame for a zone.
	WrongSource, WrongID, WrongQuestion uint64
	GlueRejected, BadReferrals, Lame    uint64
	// RecursionTime is the histogram of resolution times.
	RecursionTime Histogram
	// Servers lists the upstream servers known, by address.
	Servers []ServerStats
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{Cache: s.cache.Stats()}
	for i := range s.shards {
		sh := &s.shards[i]
		st.Queries += sh.queries.Load()
		st.CacheHits += sh.hits.Load()
		st.CacheMisses += sh.misses.Load()
		st.StaleAnswers += sh.stale.Load()
		st.Dropped += sh.dropped.Load()
	}
	c := &s.stats
	st.Coalesced = c.coalesced.Load()
	st.Prefetches = c.prefetches.Load()
	st.Resolutions = c.resolutions.Load()
	for i := range st.ServFail {
		st.ServFail[i] = c.servfail[i].Load()
	}
	st.UpstreamQueries = c.upQueries.Load()
	st.UpstreamTCP = c.upTCP.Load()
	st.UpstreamNoEDNS = c.upNoEDNS.Load()
	for i := range st.UpstreamRcode {
		st.UpstreamRcode[i] = c.upRcode[i].Load()
	}
	st.UpstreamTimeouts = c.upTimeouts.Load()
	st.UpstreamNetErrors = c.upNetErrors.Load()
	st.Malformed = c.upMalformed.Load()
	st.WrongSource = c.wrongSource.Load()
	st.WrongID = c.wrongID.Load()
	st.WrongQuestion = c.wrongQuestion.Load()
	st.GlueRejected = c.glueRejected.Load()
	st.BadReferrals = c.badReferral.Load()
	st.Lame = c.lame.Load()
	st.RecursionTime.Bounds = histBounds[:]
	st.RecursionTime.Counts = make([]uint64, len(c.hist))
	for i := range c.hist {
		st.RecursionTime.Counts[i] = c.hist[i].Load()
	}
	st.RecursionTime.Sum = time.Duration(c.histSum.Load())
	st.Servers = s.infra.snapshot(s.initialRTO)
	return st
}

// observe adds one resolution time to the histogram.
func (c *counters) observe(d time.Duration) {
	i := 0
	for i < len(histBounds) && d > histBounds[i] {
		i++
	}
	c.hist[i].Add(1)
	c.histSum.Add(int64(d))
}
