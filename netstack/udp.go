package netstack

import (
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpRcvBuf is the receive buffer of each UDP endpoint: room for a burst of
// queries while the reader is busy.
const udpRcvBuf = 4 << 20

// maxCachedRoutes bounds each UDP server's route cache; when it is full the
// cache starts over (clients of an authoritative server are mostly a few
// resolvers, so this rarely happens).
const maxCachedRoutes = 4096

// udpServer serves DNS over one gVisor UDP endpoint (one per IP version) with
// one goroutine. It reads with the raw tcpip.Endpoint (gonet would allocate
// an address per packet) and writes replies itself through a cached
// stack.Route per (local, remote) address pair: an unconnected endpoint
// Write looks up and resolves a new route for every datagram, which costs
// four allocations and about 15% of the time. Every buffer and argument it
// hands to gVisor lives in the server.
type udpServer struct {
	s     *Stack
	proto tcpip.NetworkProtocolNumber
	local tcpip.Address // bound address; zero: every address of the NIC
	wq    waiter.Queue
	ep    tcpip.Endpoint

	// Owned by the serve goroutine.
	rx     sliceWriter
	dst    []byte
	routes map[routeKey]*stack.Route
}

type routeKey struct{ local, remote tcpip.Address }

func newUDPServer(s *Stack, proto tcpip.NetworkProtocolNumber, addr tcpip.Address) (*udpServer, error) {
	u := &udpServer{
		s:      s,
		proto:  proto,
		local:  addr,
		rx:     sliceWriter{buf: make([]byte, frameBufSize)},
		dst:    make([]byte, 0, frameBufSize),
		routes: make(map[routeKey]*stack.Route),
	}
	ep, err := s.ns.NewEndpoint(udp.ProtocolNumber, proto, &u.wq)
	if err != nil {
		return nil, fmt.Errorf("netstack: udp endpoint: %s", err)
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true)
		// The reply's source must be the address the query went to
		// (link-local or global).
		ep.SocketOptions().SetIPv6ReceivePacketInfo(true)
	}
	ep.SocketOptions().SetReceiveBufferSize(udpRcvBuf, true)
	if err := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: addr, Port: s.cfg.Port}); err != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: bind udp [%s]:%d: %s", addr, s.cfg.Port, err)
	}
	u.ep = ep
	return u, nil
}

// serve answers datagrams until stop is closed or the endpoint is closed.
func (u *udpServer) serve(stop <-chan struct{}) {
	entry, notify := waiter.NewChannelEntry(waiter.ReadableEvents)
	u.wq.EventRegister(&entry)
	defer u.wq.EventUnregister(&entry)
	defer u.releaseRoutes()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if !u.serveOne() {
			select {
			case <-notify:
			case <-stop:
				return
			}
		}
	}
}

// serveOne reads and answers one datagram. It returns false when there was
// nothing to read (or the endpoint is closed), meaning: wait.
func (u *udpServer) serveOne() bool {
	svc := &u.s.svc
	u.rx.n = 0
	res, err := u.ep.Read(&u.rx, tcpip.ReadOptions{NeedRemoteAddr: true})
	if err != nil {
		switch err.(type) {
		case *tcpip.ErrWouldBlock, *tcpip.ErrClosedForReceive:
			return false
		}
		svc.udpErrors.Add(1)
		return true
	}
	svc.udpQueries.Add(1)
	if u.rx.n != res.Total {
		svc.udpErrors.Add(1) // cannot happen: the buffer holds any datagram
		return true
	}
	reply := u.s.h.ServeDNS(u.dst[:0], u.rx.buf[:u.rx.n], Meta{Client: addrPort(res.RemoteAddr)})
	if len(reply) == 0 {
		svc.udpNoReply.Add(1)
		return true
	}
	local := u.local
	if res.ControlMessages.HasIPv6PacketInfo {
		local = res.ControlMessages.IPv6PacketInfo.Addr
	}
	if err := u.send(local, res.RemoteAddr, reply); err != nil {
		svc.udpErrors.Add(1)
		return true
	}
	svc.udpReplies.Add(1)
	return true
}

// send writes payload as a UDP datagram from local:Port to remote, as the
// endpoint's Write would, but through a cached route.
func (u *udpServer) send(local tcpip.Address, remote tcpip.FullAddress, payload []byte) tcpip.Error {
	key := routeKey{local: local, remote: remote.Addr}
	r := u.routes[key]
	if r == nil {
		if len(u.routes) >= maxCachedRoutes {
			u.releaseRoutes()
		}
		var err tcpip.Error
		r, err = u.s.ns.FindRoute(nicID, local, remote.Addr, u.proto, false)
		if err != nil {
			return err
		}
		u.routes[key] = r
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.UDPMinimumSize + int(r.MaxHeaderLength()),
		Payload:            buffer.MakeWithData(payload),
	})
	defer pkt.DecRef()
	length := uint16(header.UDPMinimumSize + len(payload))
	h := header.UDP(pkt.TransportHeader().Push(header.UDPMinimumSize))
	pkt.TransportProtocolNumber = udp.ProtocolNumber
	h.Encode(&header.UDPFields{SrcPort: u.s.cfg.Port, DstPort: remote.Port, Length: length})
	xsum := r.PseudoHeaderChecksum(udp.ProtocolNumber, length)
	xsum = checksum.Checksum(payload, xsum)
	// A computed checksum of 0 is sent as all ones (RFC 768, RFC 8200 8.1).
	if c := ^h.CalculateChecksum(xsum); c != 0 {
		h.SetChecksum(c)
	} else {
		h.SetChecksum(0xffff)
	}
	return r.WritePacket(stack.NetworkHeaderParams{
		Protocol: udp.ProtocolNumber,
		TTL:      r.DefaultTTL(),
		// gVisor's UDP sockets set DF by default (path MTU discovery).
		DF: u.proto == ipv4.ProtocolNumber,
	}, pkt)
}

func (u *udpServer) releaseRoutes() {
	for k, r := range u.routes {
		r.Release()
		delete(u.routes, k)
	}
}

// addrPort converts a gVisor address to the package's public type.
func addrPort(a tcpip.FullAddress) netip.AddrPort {
	var ip netip.Addr
	switch a.Addr.Len() {
	case 4:
		ip = netip.AddrFrom4(a.Addr.As4())
	case 16:
		ip = netip.AddrFrom16(a.Addr.As16())
	}
	return netip.AddrPortFrom(ip, a.Port)
}

// sliceWriter is an io.Writer into a fixed buffer; gVisor copies a received
// datagram into it. Bytes beyond the buffer are discarded but reported as
// written, as gVisor requires complete writes.
type sliceWriter struct {
	buf []byte
	n   int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.n += copy(w.buf[w.n:], p)
	return len(p), nil
}
