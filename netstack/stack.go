package netstack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const nicID = tcpip.NICID(1)

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("netstack: stack closed")

// Stack is the userspace network stack on one TAP device. Create it with New,
// serve with Run, release with Close.
type Stack struct {
	cfg  Config // normalised by New
	log  *slog.Logger
	h    Handler
	mac  [6]byte
	dev  device
	link *linkEndpoint
	ns   *stack.Stack
	gw   gatewayMACs
	fast []*fastHook // one per queue; nil when Config.FastPath is off
	svc  serviceCounters
	udp  *udpServer

	mu      sync.Mutex
	closed  bool
	running bool
	done    chan struct{} // closed by Close
	runWG   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// DefaultMAC returns the MAC address used when Config.MAC is nil: the first
// six bytes of SHA-256("tapdns mac\x00" + tap) with the locally administered
// bit set and the group bit clear. It is stable across restarts, so
// neighbours' caches stay valid, and differs between TAP names.
func DefaultMAC(tap string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("tapdns mac\x00" + tap))
	mac := make(net.HardwareAddr, 6)
	copy(mac, sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// Normalize returns cfg with the defaults filled in, or an error naming the
// first setting that cannot work. The command line's checks are these, so
// that the flags and the package agree on every limit. With XDP, an unset
// MAC and MTU stay unset: they are the interface's, filled in by New.
func (cfg Config) Normalize() (Config, error) {
	xdp := cfg.XDP != ""
	switch {
	case xdp && cfg.TAP != "":
		return cfg, fmt.Errorf("netstack: TAP %q and XDP %q are exclusive", cfg.TAP, cfg.XDP)
	case xdp && len(cfg.XDP) > 15:
		return cfg, fmt.Errorf("netstack: XDP interface name %q must be 1 to 15 bytes", cfg.XDP)
	case !xdp && (cfg.TAP == "" || len(cfg.TAP) > 15):
		return cfg, fmt.Errorf("netstack: TAP name %q must be 1 to 15 bytes", cfg.TAP)
	}
	if cfg.MAC == nil && !xdp {
		cfg.MAC = DefaultMAC(cfg.TAP)
	}
	if cfg.MAC != nil && (len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 || [6]byte(cfg.MAC) == [6]byte{}) {
		return cfg, fmt.Errorf("netstack: MAC %v must be a 6-byte unicast Ethernet address", cfg.MAC)
	}
	if cfg.MTU == 0 && !xdp {
		cfg.MTU = 1500
	}
	// IPv6 (link-local is always on) needs 1280; a frame must fit the
	// 64 KiB buffers.
	if (cfg.MTU != 0 || !xdp) && (cfg.MTU < MinMTU || cfg.MTU > MaxMTU) {
		return cfg, fmt.Errorf("netstack: MTU %d out of range [%d, %d]", cfg.MTU, MinMTU, MaxMTU)
	}
	if !cfg.Addr.IsValid() && !cfg.Addr6.IsValid() {
		return cfg, errors.New("netstack: no address configured (Addr or Addr6)")
	}
	if cfg.Addr.IsValid() {
		if !cfg.Addr.Addr().Is4() || cfg.Addr.Bits() == 0 {
			return cfg, fmt.Errorf("netstack: Addr %v must be an IPv4 address with a prefix length", cfg.Addr)
		}
	}
	if cfg.Gateway.IsValid() {
		if !cfg.Addr.IsValid() || !cfg.Gateway.Is4() || !cfg.Addr.Masked().Contains(cfg.Gateway) || cfg.Gateway == cfg.Addr.Addr() {
			return cfg, fmt.Errorf("netstack: Gateway %v must be another IPv4 address inside Addr's prefix %v", cfg.Gateway, cfg.Addr.Masked())
		}
	}
	if cfg.Addr6.IsValid() {
		a := cfg.Addr6.Addr()
		if !a.Is6() || a.Is4In6() || a.Zone() != "" || cfg.Addr6.Bits() == 0 || a.IsLinkLocalUnicast() || a.IsMulticast() {
			return cfg, fmt.Errorf("netstack: Addr6 %v must be a global or unique-local IPv6 address with a prefix length", cfg.Addr6)
		}
	}
	if cfg.Gateway6.IsValid() {
		g := cfg.Gateway6
		onLink := g.IsLinkLocalUnicast() || (cfg.Addr6.IsValid() && cfg.Addr6.Masked().Contains(g) && g != cfg.Addr6.Addr())
		if !g.Is6() || g.Is4In6() || g.Zone() != "" || !onLink {
			return cfg, fmt.Errorf("netstack: Gateway6 %v must be link-local or inside Addr6's prefix", cfg.Gateway6)
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 53
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	if cfg.Queues < 1 || cfg.Queues > MaxQueues {
		return cfg, fmt.Errorf("netstack: Queues %d out of range [1, %d]", cfg.Queues, MaxQueues)
	}
	return cfg, nil
}

func tcpipAddr(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}

func tcpipPrefix(p netip.Prefix) tcpip.AddressWithPrefix {
	return tcpip.AddressWithPrefix{Address: tcpipAddr(p.Addr()), PrefixLen: p.Bits()}
}

// New attaches to (or creates) the TAP device and builds the stack. It must
// run on a thread in the network namespace of the device; nothing after it
// needs that. h answers queries from Run's goroutines. logger may be nil.
func New(cfg Config, h Handler, logger *slog.Logger) (*Stack, error) {
	if h == nil {
		return nil, errors.New("netstack: nil Handler")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	if cfg.XDP != "" {
		return newXDPStack(cfg, h, logger)
	}
	_, up, err := linkState(cfg.TAP)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	dev, err := openTAP(cfg.TAP, cfg.Queues)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	s, err := newStack(cfg, h, logger, dev)
	if err != nil {
		return nil, err
	}
	// The kernel side's state belongs to whoever configures it (the lab, or
	// the operator after we create the device): we never bring it up, as
	// that would also give it IPv6 link-local addresses in whatever
	// namespace it lives in. A down link only gets a warning.
	if !up && !dev.created {
		logger.Warn("kernel side of the TAP is down; no frames flow until it is brought up", "tap", cfg.TAP)
	}
	logger.Info("netstack ready", "tap", cfg.TAP, "created", dev.created, "queues", cfg.Queues,
		"mac", cfg.MAC.String(), "mtu", cfg.MTU, "addr", cfg.Addr, "gateway", cfg.Gateway,
		"addr6", cfg.Addr6, "gateway6", cfg.Gateway6,
		"linklocal", netip.AddrFrom16(linkLocal(s.mac)),
		"port", cfg.Port, "fastpath", cfg.FastPath)
	return s, nil
}

// newStack builds a Stack on an attached device (a TAP, or a socket pair in
// tests) with a normalised cfg. On error dev is closed.
func newStack(cfg Config, h Handler, logger *slog.Logger, dev device) (*Stack, error) {
	s := &Stack{cfg: cfg, log: logger, h: h, dev: dev, done: make(chan struct{})}
	copy(s.mac[:], cfg.MAC)
	if err := s.build(); err != nil {
		s.teardown()
		return nil, err
	}
	return s, nil
}

// build creates the gVisor stack, NIC, addresses, routes and listeners.
func (s *Stack) build() error {
	cfg := s.cfg
	ios, err := s.dev.frameIOs()
	if err != nil {
		return fmt.Errorf("netstack: %w", err)
	}
	queues := make([]*queue, len(ios))
	for i, io := range ios {
		queues[i] = newQueue(i, io)
	}
	s.link = newLinkEndpoint(s.mac, uint32(cfg.MTU), queues)
	if cfg.Capture != nil {
		s.SetCapture(cfg.Capture)
	}
	if cfg.Gateway.IsValid() {
		s.gw.gw4 = tcpipAddr(cfg.Gateway)
	}
	if cfg.Gateway6.IsValid() {
		s.gw.gw6 = tcpipAddr(cfg.Gateway6)
	}

	s.ns = stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocolWithOptions(ipv4.Options{IGMP: ipv4.IGMPOptions{Enabled: true}}),
			arp.NewProtocol,
			ipv6.NewProtocolWithOptions(ipv6.Options{
				MLD: ipv6.MLDOptions{Enabled: true},
				// A static appliance: no router solicitations, no SLAAC,
				// and no DAD so the addresses answer at once.
				NDPConfigs: ipv6.NDPConfigurations{HandleRAs: ipv6.HandlingRAsDisabled},
				DADConfigs: stack.DADConfigurations{DupAddrDetectTransmits: 0},
			}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol, tcp.NewProtocol},
		NUDDisp:            &s.gw,
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.ns.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)

	if err := s.ns.CreateNICWithOptions(nicID, s.link, stack.NICOptions{Name: cfg.TAP}); err != nil {
		return fmt.Errorf("netstack: create NIC: %s", err)
	}
	addrs := []tcpip.ProtocolAddress{{
		Protocol:          ipv6.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: header.LinkLocalAddr(tcpip.LinkAddress(s.mac[:])), PrefixLen: 64},
	}}
	routes := []tcpip.Route{{Destination: header.IPv6LinkLocalPrefix.Subnet(), NIC: nicID}}
	if cfg.Addr.IsValid() {
		p := tcpipPrefix(cfg.Addr)
		addrs = append(addrs, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: p})
		routes = append(routes, tcpip.Route{Destination: p.Subnet(), NIC: nicID})
	}
	if cfg.Addr6.IsValid() {
		p := tcpipPrefix(cfg.Addr6)
		addrs = append(addrs, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: p})
		routes = append(routes, tcpip.Route{Destination: p.Subnet(), NIC: nicID})
	}
	if cfg.Gateway.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: s.gw.gw4, NIC: nicID})
	}
	if cfg.Gateway6.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv6EmptySubnet, Gateway: s.gw.gw6, NIC: nicID})
	}
	for _, a := range addrs {
		if err := s.ns.AddProtocolAddress(nicID, a, stack.AddressProperties{}); err != nil {
			return fmt.Errorf("netstack: add address %s: %s", a.AddressWithPrefix, err)
		}
	}
	s.ns.SetRouteTable(routes)

	locals := make([]tcpip.Address, 0, len(addrs))
	for _, a := range addrs {
		locals = append(locals, a.AddressWithPrefix.Address)
	}
	s.udp = newUDPServer(s, locals)
	if cfg.FastPath {
		s.fast = make([]*fastHook, len(s.link.queues))
		for i := range s.fast {
			s.fast[i] = newFastHook(s, i)
		}
	}
	return nil
}

// Run serves until ctx is done or Close is called (it returns nil) or the
// TAP fails, e.g. when the device is deleted (it returns the error). Run may
// be called once.
func (s *Stack) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.running {
		s.mu.Unlock()
		return errors.New("netstack: Run called twice")
	}
	s.running = true
	s.runWG.Add(1)
	s.mu.Unlock()
	defer s.runWG.Done()

	var wg sync.WaitGroup
	errc := make(chan error, len(s.link.queues))
	for _, q := range s.link.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.readLoop(q); err != nil {
				errc <- err
			}
		}()
	}
	s.resolveGateways()

	var err error
	select {
	case <-ctx.Done():
	case <-s.done:
	case err = <-errc:
	}
	for _, q := range s.link.queues {
		q.stop()
	}
	wg.Wait()
	return err
}

// resolveGateways asks gVisor to resolve the gateways' link addresses now,
// so the fast path can answer off-link clients from the first query on.
func (s *Stack) resolveGateways() {
	if s.cfg.Gateway.IsValid() {
		_ = s.ns.GetLinkAddress(nicID, s.gw.gw4, tcpip.Address{}, ipv4.ProtocolNumber, nil)
	}
	if s.cfg.Gateway6.IsValid() {
		_ = s.ns.GetLinkAddress(nicID, s.gw.gw6, tcpip.Address{}, ipv6.ProtocolNumber, nil)
	}
}

// readLoop reads frames from q until stopped or a read fails.
func (s *Stack) readLoop(q *queue) error {
	mac := s.mac
	q.onFrame = func(frame []byte) { s.receive(q, &mac, frame) }
	err := q.run()
	if err == errStopped {
		return nil
	}
	q.ctr.readErrors.Add(1)
	if s.cfg.XDP != "" {
		return fmt.Errorf("netstack: read from xdp %s (queue %d; interface removed?): %w", s.cfg.XDP, q.idx, err)
	}
	return fmt.Errorf("netstack: read from tap %s (queue %d; device removed or detached?): %w", s.cfg.TAP, q.idx, err)
}

// receive handles one frame read from q: it is counted, then dropped,
// answered on the fast path or handed to gVisor. frame may be reused when
// it returns. Every frame, however malformed, ends in exactly one of the
// drop, fast-path or stack counters (a frame gVisor is not attached for
// yet is only in FramesIn).
func (s *Stack) receive(q *queue, mac *[6]byte, frame []byte) {
	q.ctr.framesIn.Add(1)
	q.ctr.bytesIn.Add(uint64(len(frame)))
	et, why := classify(frame, mac)
	switch why {
	case dropRunt:
		q.ctr.runt.Add(1)
		return
	case dropForeignMAC:
		q.ctr.foreignMAC.Add(1)
		return
	case dropEtherType:
		q.ctr.etherType.Add(1)
		return
	}
	if s.fast != nil && et != uint16(header.ARPProtocolNumber) {
		tx := q.io.txBuf()
		if n, handled := s.fast[q.idx].answer(frame, tx); handled {
			switch {
			case n > 0:
				if q.sendFast(tx[:n]) == nil {
					q.ctr.fastAnswered.Add(1)
				}
			case n == fpSentByStack:
				q.ctr.fastViaStack.Add(1)
			default:
				q.ctr.fastDropped.Add(1)
			}
			return
		}
	}
	if s.link.deliver(et, frame) {
		q.ctr.toStack.Add(1)
	}
}

// Stats returns a snapshot of the counters. It is safe to call at any time,
// also after Close.
func (s *Stack) Stats() Stats {
	var st Stats
	for _, q := range s.link.queues {
		q.ctr.addTo(&st)
	}
	s.svc.addTo(&st)
	return st
}

// Close stops Run (if running) and waits for it, then tears down in the
// order that lets every goroutine finish: readers stopped, NIC removed,
// gVisor closed and waited for, TAP files closed (which removes a device
// New created). It is idempotent and safe to call concurrently with Run.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.mu.Unlock()
		s.runWG.Wait()
		s.closeErr = s.teardown()
	})
	return s.closeErr
}

// teardown releases everything New built; parts that were not built are
// skipped.
func (s *Stack) teardown() error {
	if s.ns != nil {
		if err := s.ns.RemoveNIC(nicID); err != nil {
			s.log.Debug("remove NIC", "err", err.String())
		}
		s.ns.Close()
		s.ns.Wait()
	}
	if s.udp != nil {
		s.udp.close()
	}
	if s.dev != nil {
		return s.dev.close()
	}
	return nil
}

// LinkLocal returns the stack's IPv6 link-local address (fe80::/64, from
// the MAC), which it always has.
func (s *Stack) LinkLocal() netip.Addr { return netip.AddrFrom16(linkLocal(s.mac)) }

// linkLocal returns the IPv6 link-local address derived from mac (modified
// EUI-64, RFC 4291).
func linkLocal(mac [6]byte) [16]byte {
	return header.LinkLocalAddr(tcpip.LinkAddress(mac[:])).As16()
}
