// Package mdns is tapdns's Multicast DNS (RFC 6762) responder and its
// unicast-to-mDNS gateway.
//
// The Responder publishes NAME.local with the appliance's addresses, the
// appliance's DNS service by DNS-SD (RFC 6763) as NAME._domain._udp.local,
// and any further records it is given (a zone whose origin is local.). It
// probes for its unique names before using them, renames NAME to NAME-2,
// NAME-3, ... when another host holds them, announces, answers queries by
// multicast, unicast (QU) or legacy unicast, suppresses known answers,
// multicasts no record more than once a second, and says goodbye (TTL 0)
// when it stops. Only messages from sources on the link are read.
//
// The gateway (Responder.Answer, a dnssvc.Recursion) answers unicast DNS
// queries for names under local.: the appliance's own names from its
// records, others by asking the link and waiting at most Config.Timeout,
// with a short cache of what was heard that honours cache-flush and
// goodbyes.
//
// The package reaches the network only through Net, which *netstack.Stack
// implements on the userspace stack and internal/kernelnet on kernel
// sockets for tests.
package mdns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// Port is the mDNS port.
const Port = 5353

// The mDNS groups (RFC 6762 section 3).
var (
	GroupV4 = netip.AddrPortFrom(netip.AddrFrom4([4]byte{224, 0, 0, 251}), Port)
	GroupV6 = netip.AddrPortFrom(netip.MustParseAddr("ff02::fb"), Port)
)

// Record TTLs (RFC 6762 section 10): records named after a host or naming
// one in their rdata (A, AAAA, SRV, NSEC of a host), and all others.
const (
	HostTTL  = 120
	OtherTTL = 4500
	// LegacyTTL caps TTLs in answers to legacy unicast queries (RFC 6762
	// section 6.7) and in the gateway's unicast DNS answers.
	LegacyTTL = 10
)

// DefaultName is the host label published when Config.Name is empty.
const DefaultName = "tapdns"

// DefaultTimeout is how long the gateway waits for answers on the link
// when Config.Timeout is zero.
const DefaultTimeout = time.Second

// Net is the network the Responder uses. *netstack.Stack implements it on
// the userspace stack; internal/kernelnet.Net on kernel sockets (tests).
type Net interface {
	// ListenMulticastUDP joins group on the link and returns a socket
	// bound to group's port that receives the group's datagrams and
	// unicast ones to that port. WriteTo the group multicasts; WriteTo
	// a unicast address sends from the port (RFC 6762 section 6: every
	// mDNS response comes from port 5353).
	ListenMulticastUDP(group netip.AddrPort) (net.PacketConn, error)
	// SendUDP sends one datagram from src to dst; the gateway sends its
	// deferred UDP answers with it, from the address and port the client
	// asked.
	SendUDP(src, dst netip.AddrPort, payload []byte) error
}

// ZoneRecord is a record to publish besides the host's own: one record of
// a zone whose origin is local.
type ZoneRecord struct {
	// Name is the owner, an uncompressed wire-format name under local.
	Name []byte
	Type uint16
	// Data is the rdata, uncompressed.
	Data []byte
}

// Config configures a Responder. Validate it with Check (New does).
type Config struct {
	// Name is the host label: the Responder publishes Name.local. One
	// DNS label of at most 63 octets, without dots; empty means
	// DefaultName. On a conflict the Responder uses Name-2, Name-3, ...
	Name string
	// Addrs are the appliance's addresses with the prefixes of their
	// links (198.18.0.2/24, 2001:2::2/64, fe80::1/64). Each is published
	// as an A or AAAA record of the host name, and messages are read only
	// from sources inside one of the prefixes or link-local. A family
	// without an address gets no socket. At least one.
	Addrs []netip.Prefix
	// DNSPort is the appliance's DNS port, advertised by DNS-SD as the
	// service Name._domain._udp.local; 0 advertises no service.
	DNSPort uint16
	// Records are published too (a zone whose origin is local.): each
	// owner name is probed and defended like the host's, but withdrawn,
	// not renamed, when another host holds it. PTR records are shared.
	// The owner local. itself and DNSSEC types are left out.
	Records []ZoneRecord
	// Timeout bounds how long the gateway waits for answers on the
	// link; 0 means DefaultTimeout.
	Timeout time.Duration

	timing *timing // nil: rfcTiming; unit tests set shorter ones
}

// Check validates the configuration and fills in defaults.
func (c *Config) Check() error {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Name) > dnswire.MaxLabelLen || strings.ContainsAny(c.Name, ".\x00") {
		return fmt.Errorf("mdns: name %q: must be one DNS label of at most 63 octets, without dots", c.Name)
	}
	if len(c.Addrs) == 0 {
		return errors.New("mdns: no address to publish")
	}
	for _, p := range c.Addrs {
		if !p.IsValid() || !p.Addr().IsGlobalUnicast() && !p.Addr().IsLinkLocalUnicast() {
			return fmt.Errorf("mdns: address %v: not a unicast address", p)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("mdns: timeout %v: must not be negative", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	for i, r := range c.Records {
		if n := dnswire.NameLen(r.Name); n < 0 || n != len(r.Name) || !underLocal(r.Name) {
			return fmt.Errorf("mdns: record %d: owner is not a name under local.", i)
		}
	}
	return nil
}

// Responder is an mDNS responder and gateway on one link. Create it with
// New, serve with Run, release with Close.
type Responder struct {
	cfg   Config
	log   *slog.Logger
	net   Net
	conns [2]net.PacketConn // by family: 0 IPv4, 1 IPv6; nil when absent
	dst   [2]*net.UDPAddr   // the groups, as WriteTo wants them

	pkts  chan packet       // reader goroutines -> Run
	gwq   chan *gwRequest   // Answer -> Run
	zoneq chan []ZoneRecord // SetRecords -> Run (the latest only)
	bufs  chan []byte       // free packet buffers

	st        *state                // owned by Run's goroutine
	own       atomic.Pointer[owned] // the names published now, for Answer
	cache     cache
	stats     counters
	started   atomic.Bool
	done      chan struct{} // closed when Run returns
	readers   sync.WaitGroup
	closing   atomic.Bool // set by Close: a read error then ends the reader
	closeOnce sync.Once
	closeErr  error
}

// packet is a datagram read from a socket, on its way to Run.
type packet struct {
	fam int
	src netip.AddrPort
	b   []byte // from r.bufs
}

// queueLen bounds the datagrams waiting for Run; more are dropped and
// counted. mDNS is a trickle, so the queue only fills under a flood.
const queueLen = 256

// New validates cfg and opens the sockets: one per address family that
// cfg.Addrs has. It sends nothing until Run.
func New(cfg Config, n Net, log *slog.Logger) (*Responder, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Responder{
		cfg:   cfg,
		log:   log,
		net:   n,
		pkts:  make(chan packet, queueLen),
		gwq:   make(chan *gwRequest, maxWaiters),
		zoneq: make(chan []ZoneRecord, 1),
		bufs:  make(chan []byte, queueLen),
		done:  make(chan struct{}),
	}
	r.cache.init()
	for _, p := range cfg.Addrs {
		fam, group := 0, GroupV4
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			fam, group = 1, GroupV6
		}
		if r.conns[fam] != nil {
			continue
		}
		c, err := n.ListenMulticastUDP(group)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("mdns: join %v: %w", group.Addr(), err)
		}
		r.conns[fam] = c
		r.dst[fam] = net.UDPAddrFromAddrPort(group)
	}
	r.st = newState(r)
	return r, nil
}

// Run serves until ctx is done, then sends goodbyes for every record it
// announced and returns nil. It may be called once; Close is still needed
// afterwards (it is idempotent).
func (r *Responder) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("mdns: Run called twice")
	}
	defer close(r.done)
	for fam, c := range r.conns {
		if c != nil {
			r.readers.Add(1)
			go r.read(fam, c)
		}
	}
	defer func() {
		r.Close()
		r.readers.Wait()
	}()
	st := r.st
	st.start(time.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		st.runDue(now)
		timer.Reset(st.nextEvent(now).Sub(now))
		select {
		case <-ctx.Done():
			st.shutdown()
			return nil
		case p := <-r.pkts:
			st.handle(p, time.Now())
			r.putBuf(p.b)
		case q := <-r.gwq:
			st.lookup(q, time.Now())
		case recs := <-r.zoneq:
			st.setZone(recs, time.Now())
		case <-timer.C:
		}
	}
}

// SetRecords replaces the zone records published (Config.Records), for a
// reload of the local. zone. Names whose records are unchanged keep their
// state; removed or changed records get goodbyes, and new or changed names
// are probed and announced. It does not block: a newer call replaces one
// Run has not taken yet. The records are copied.
func (r *Responder) SetRecords(recs []ZoneRecord) error {
	for i, z := range recs {
		if n := dnswire.NameLen(z.Name); n < 0 || n != len(z.Name) || !underLocal(z.Name) {
			return fmt.Errorf("mdns: record %d: owner is not a name under local.", i)
		}
	}
	cp := make([]ZoneRecord, len(recs))
	for i, z := range recs {
		cp[i] = ZoneRecord{Name: bytes.Clone(z.Name), Type: z.Type, Data: bytes.Clone(z.Data)}
	}
	for {
		select {
		case r.zoneq <- cp:
			return nil
		default:
		}
		select {
		case <-r.zoneq: // drop the older pending set
		default:
		}
	}
}

// Close closes the sockets, which ends Run's readers. It is idempotent.
func (r *Responder) Close() error {
	r.closeOnce.Do(func() {
		r.closing.Store(true)
		for _, c := range r.conns {
			if c != nil {
				if err := c.Close(); err != nil && r.closeErr == nil {
					r.closeErr = err
				}
			}
		}
	})
	return r.closeErr
}

// Timeout returns the gateway's wait for answers on the link.
func (r *Responder) Timeout() time.Duration { return r.cfg.Timeout }

// Name returns the host name published now (Name.local, or a renamed one),
// in presentation format with the trailing dot.
func (r *Responder) Name() string {
	if o := r.own.Load(); o != nil {
		return o.host
	}
	return r.cfg.Name + ".local."
}

// read is the reader goroutine of one socket. It checks what is cheap
// (size, source) and hands the rest to Run.
func (r *Responder) read(fam int, c net.PacketConn) {
	defer r.readers.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			// Not every PacketConn says net.ErrClosed after Close
			// (gVisor's gonet does not).
			if errors.Is(err, net.ErrClosed) || r.closing.Load() {
				return
			}
			r.stats.readErrors.Add(1)
			select {
			case <-r.done:
				return
			case <-time.After(10 * time.Millisecond): // no busy loop on a failing socket
			}
			continue
		}
		r.stats.received.Add(1)
		src := addrPort(from)
		switch {
		case n > MaxMsgLen:
			r.stats.huge.Add(1)
			continue
		case !r.onLink(src.Addr()):
			r.stats.offLink.Add(1)
			continue
		case src.Port() == Port && r.isOurs(src.Addr()):
			// Our own multicast, looped back by the stack.
			r.stats.looped.Add(1)
			continue
		}
		b := r.getBuf()
		b = append(b[:0], buf[:n]...)
		select {
		case r.pkts <- packet{fam: fam, src: src, b: b}:
		default:
			r.stats.queueFull.Add(1)
			r.putBuf(b)
		}
	}
}

func (r *Responder) getBuf() []byte {
	select {
	case b := <-r.bufs:
		return b
	default:
		return make([]byte, 0, MaxMsgLen)
	}
}

func (r *Responder) putBuf(b []byte) {
	select {
	case r.bufs <- b:
	default:
	}
}

// addrPort converts a socket address to a netip.AddrPort, IPv4 unmapped.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if ua, ok := a.(*net.UDPAddr); ok {
		ap = ua.AddrPort()
	} else if a != nil {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// OnLink reports whether a is a source on the link: link-local, or inside
// the prefix of one of the configured addresses (RFC 6762 section 11).
func (r *Responder) OnLink(a netip.Addr) bool { return r.onLink(a) }

func (r *Responder) onLink(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if a.IsLinkLocalUnicast() {
		return true
	}
	if !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range r.cfg.Addrs {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

// isOurs reports whether a is one of the configured addresses.
func (r *Responder) isOurs(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range r.cfg.Addrs {
		if p.Addr().WithZone("") == a {
			return true
		}
	}
	return false
}

// send writes one datagram on family fam's socket to dst (nil: the group).
func (r *Responder) send(fam int, b []byte, dst *net.UDPAddr) bool {
	c := r.conns[fam]
	if c == nil {
		return false
	}
	if dst == nil {
		dst = r.dst[fam]
	}
	if _, err := c.WriteTo(b, dst); err != nil {
		r.stats.sendErrors.Add(1)
		r.log.Debug("mdns: send failed", "dst", dst, "err", err)
		return false
	}
	return true
}

// underLocal reports whether the wire name is local. or below it.
func underLocal(name []byte) bool {
	const local = "\x05local\x00"
	if len(name) < len(local) || !equalFold(name[len(name)-len(local):], []byte(local)) {
		return false
	}
	// The suffix must start at a label boundary.
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if i == len(name)-len(local) {
			return true
		}
		if name[i] == 0 {
			break
		}
	}
	return false
}

// jitter returns a random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + rand.N(hi-lo)
}
