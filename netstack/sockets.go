package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The methods in this file lend the layers above sockets on the userspace
// stack: outbound queries (the resolver, zone transfers), the DNS server's
// TCP listeners, multicast (mDNS) and deferred UDP replies. They speak the
// standard library's net types, so the packages using them know nothing of
// gVisor. Each socket is owned by its caller, who must Close it; Close of
// the Stack makes every open socket fail.

// protoOf returns the network protocol of a, or an error for an invalid
// address.
func protoOf(a netip.Addr) (tcpip.NetworkProtocolNumber, error) {
	switch {
	case a.Is4() || a.Is4In6():
		return ipv4.ProtocolNumber, nil
	case a.Is6():
		return ipv6.ProtocolNumber, nil
	}
	return 0, errors.New("invalid address")
}

// fullAddr converts an address and port to gVisor's form; an unspecified
// address becomes the empty address (any).
func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	a := ap.Addr().Unmap()
	fa := tcpip.FullAddress{Port: ap.Port()}
	if !a.IsUnspecified() {
		fa.Addr = tcpipAddr(a.WithZone(""))
	}
	if a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		fa.NIC = nicID
	}
	return fa
}

func (s *Stack) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// ListenUDP opens a UDP socket on the stack. laddr's address must be valid:
// an unspecified address (0.0.0.0 or ::) picks the family and lets the
// stack choose the source address per destination; port 0 picks a random
// ephemeral port. An IPv6 socket is IPv6 only.
func (s *Stack) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	proto, err := protoOf(laddr.Addr())
	if err != nil {
		return nil, fmt.Errorf("netstack: listen udp %v: %w", laddr, err)
	}
	var wq waiter.Queue
	ep, terr := s.ns.NewEndpoint(udp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, fmt.Errorf("netstack: udp endpoint: %s", terr)
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true)
	}
	if terr := ep.Bind(fullAddr(laddr)); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: bind udp %v: %s", laddr, terr)
	}
	return gonet.NewUDPConn(&wq, ep), nil
}

// ListenMulticastUDP joins group (IGMP or MLD reports go out on the link)
// and returns a socket bound to group's port on every address of the
// group's family. It receives the group's datagrams and unicast datagrams
// to that port; writing to the group address multicasts with TTL (hop
// limit) 255 and without looping back, as mDNS (RFC 6762 11) wants.
func (s *Stack) ListenMulticastUDP(group netip.AddrPort) (net.PacketConn, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	g := group.Addr().Unmap()
	if !g.IsMulticast() {
		return nil, fmt.Errorf("netstack: listen multicast %v: not a multicast group", group)
	}
	proto, _ := protoOf(g)
	var wq waiter.Queue
	ep, terr := s.ns.NewEndpoint(udp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, fmt.Errorf("netstack: udp endpoint: %s", terr)
	}
	fail := func(what string, terr tcpip.Error) (net.PacketConn, error) {
		ep.Close()
		return nil, fmt.Errorf("netstack: multicast %v: %s: %s", group, what, terr)
	}
	so := ep.SocketOptions()
	so.SetReuseAddress(true)
	so.SetReusePort(true)
	so.SetMulticastLoop(false)
	if proto == ipv6.ProtocolNumber {
		so.SetV6Only(true)
	}
	if terr := ep.SetSockOptInt(tcpip.MulticastTTLOption, 255); terr != nil {
		return fail("ttl", terr)
	}
	if terr := ep.SetSockOpt(&tcpip.MulticastInterfaceOption{NIC: nicID}); terr != nil {
		return fail("interface", terr)
	}
	if proto == ipv6.ProtocolNumber {
		// gVisor keeps the IPv6 multicast interface apart; without it a
		// write to ff02::fb finds no route.
		if terr := ep.SetSockOptInt(tcpip.IPv6MulticastInterfaceOption, int(nicID)); terr != nil {
			return fail("ipv6 interface", terr)
		}
	}
	if terr := ep.Bind(tcpip.FullAddress{Port: group.Port()}); terr != nil {
		return fail("bind", terr)
	}
	if terr := ep.SetSockOpt(&tcpip.AddMembershipOption{NIC: nicID, MulticastAddr: tcpipAddr(g)}); terr != nil {
		return fail("join", terr)
	}
	if err := s.dev.addGroup(g); err != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: multicast %v: %w", group, err)
	}
	return gonet.NewUDPConn(&wq, ep), nil
}

// DialTCP connects to raddr over the stack, through the gateway when raddr
// is off-link. ctx bounds the handshake.
func (s *Stack) DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	proto, err := protoOf(raddr.Addr())
	if err != nil {
		return nil, fmt.Errorf("netstack: dial tcp %v: %w", raddr, err)
	}
	c, err := gonet.DialContextTCP(ctx, s.ns, fullAddr(raddr), proto)
	if err != nil {
		return nil, fmt.Errorf("netstack: dial tcp %v: %w", raddr, err)
	}
	return c, nil
}

// ListenTCP listens on laddr; an unspecified address listens on every
// address of its family (IPv6 only for ::).
func (s *Stack) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	proto, err := protoOf(laddr.Addr())
	if err != nil {
		return nil, fmt.Errorf("netstack: listen tcp %v: %w", laddr, err)
	}
	var wq waiter.Queue
	ep, terr := s.ns.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, fmt.Errorf("netstack: tcp endpoint: %s", terr)
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true)
	}
	if terr := ep.Bind(fullAddr(laddr)); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: bind tcp %v: %s", laddr, terr)
	}
	if terr := ep.Listen(tcpBacklog); terr != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: listen tcp %v: %s", laddr, terr)
	}
	return gonet.NewTCPListener(s.ns, &wq, ep), nil
}

// tcpBacklog is the listen backlog of ListenTCP sockets.
const tcpBacklog = 128

// SendUDP sends payload as one UDP datagram from src (one of our
// addresses) to dst, through the stack: a route (and the neighbour's link
// address) is found as for any socket, and a datagram larger than the MTU
// is fragmented. It needs no socket, so src's port may be one the stack
// answers on itself (the DNS port): this is how an answer that was not
// ready when its query arrived reaches the client. It is safe for
// concurrent use.
func (s *Stack) SendUDP(src, dst netip.AddrPort, payload []byte) error {
	proto, err := protoOf(dst.Addr())
	if err != nil {
		return fmt.Errorf("netstack: send udp to %v: %w", dst, err)
	}
	if sp, err := protoOf(src.Addr()); err != nil || sp != proto {
		return fmt.Errorf("netstack: send udp from %v to %v: source and destination families differ", src, dst)
	}
	if len(payload) > 0xffff-8 {
		return fmt.Errorf("netstack: send udp: %d-byte payload too large", len(payload))
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	id := stack.TransportEndpointID{
		LocalAddress: tcpipAddr(src.Addr().Unmap()), LocalPort: src.Port(),
		RemoteAddress: tcpipAddr(dst.Addr().Unmap()), RemotePort: dst.Port(),
	}
	if terr := s.udp.send(proto, id, payload); terr != nil {
		s.svc.udpErrors.Add(1)
		return fmt.Errorf("netstack: send udp %v -> %v: %s", src, dst, terr)
	}
	s.svc.udpSent.Add(1)
	return nil
}
