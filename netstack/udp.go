package netstack

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// maxCachedRoutes bounds the route cache. Clients of an authoritative
// server are mostly a few resolvers; replies to clients beyond the bound
// find a route per datagram, as an unconnected socket does.
const maxCachedRoutes = 4096

// udpServer answers DNS over UDP inside gVisor's receive path. It is the
// stack's default UDP handler (stack.SetTransportProtocolHandler), which
// gVisor calls for a datagram no endpoint is bound to, on the goroutine that
// delivered the frame: a queue's reader. So there is no UDP endpoint, no
// receive queue and no hand-off to another goroutine per query; the query
// is answered and the reply written before the reader reads the next frame,
// as on the fast path. Replies go out through a cached stack.Route per
// (local, remote) address pair: finding and resolving a route per datagram
// costs four allocations and about 15% of the time.
type udpServer struct {
	s      *Stack
	locals []tcpip.Address // our unicast addresses: only these are served
	pool   sync.Pool       // *udpScratch; several readers may call handle at once

	// routes caches a *stack.Route per routeKey. A sync.Map: several
	// readers (one per queue, on different cores) look up concurrently and
	// a hit writes nothing shared. Entries are never removed while the
	// stack runs, so a route is never released while a reader uses it.
	routes  sync.Map
	nroutes atomic.Int64
}

// udpScratch holds one caller's buffers: the query copied out of the
// packet, and the reply.
type udpScratch struct {
	rx  sliceWriter
	dst []byte
}

type routeKey struct{ local, remote tcpip.Address }

func newUDPServer(s *Stack, locals []tcpip.Address) *udpServer {
	u := &udpServer{s: s, locals: locals}
	u.pool.New = func() any {
		return &udpScratch{rx: sliceWriter{buf: make([]byte, frameBufSize)}, dst: make([]byte, 0, frameBufSize)}
	}
	s.ns.SetTransportProtocolHandler(udp.ProtocolNumber, u.handle)
	return u
}

// handle is gVisor's default UDP handler. It returns false for datagrams
// that are not ours to answer (another port, a broadcast or multicast
// destination), which gVisor then treats as it would without a handler
// (ICMP port unreachable for unicast).
func (u *udpServer) handle(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
	if id.LocalPort != u.s.cfg.Port || !slices.Contains(u.locals, id.LocalAddress) {
		return false
	}
	svc := &u.s.svc
	hdr := header.UDP(pkt.TransportHeader().Slice())
	nh := pkt.Network()
	lengthValid, csumValid := header.UDPValid(hdr, func() uint16 { return pkt.Data().Checksum() },
		uint16(pkt.Data().Size()), pkt.NetworkProtocolNumber, nh.SourceAddress(), nh.DestinationAddress(),
		pkt.RXChecksumValidated)
	if !lengthValid || !csumValid || id.RemotePort == 0 {
		svc.udpErrors.Add(1) // as a bound endpoint would, drop it
		return true
	}
	svc.udpQueries.Add(1)
	sc := u.pool.Get().(*udpScratch)
	defer u.pool.Put(sc)
	sc.rx.n = 0
	if _, err := pkt.Data().ReadTo(&sc.rx, true); err != nil || sc.rx.n > len(sc.rx.buf) {
		svc.udpErrors.Add(1) // cannot happen: the buffer holds any datagram
		return true
	}
	m := Meta{
		Client: netip.AddrPortFrom(netipAddr(id.RemoteAddress), id.RemotePort),
		Local:  netip.AddrPortFrom(netipAddr(id.LocalAddress), id.LocalPort),
	}
	reply := u.s.h.HandlePacket(sc.dst[:0], sc.rx.buf[:sc.rx.n], m)
	if len(reply) == 0 {
		svc.udpNoReply.Add(1)
		return true
	}
	if err := u.send(pkt.NetworkProtocolNumber, id, reply); err != nil {
		svc.udpErrors.Add(1)
		return true
	}
	svc.udpReplies.Add(1)
	return true
}

// route returns a route from local to remote, from the cache when it can.
// cached is false for a route the caller must release after use (the
// cache was full).
func (u *udpServer) route(proto tcpip.NetworkProtocolNumber, local, remote tcpip.Address) (r *stack.Route, cached bool, err tcpip.Error) {
	key := routeKey{local: local, remote: remote}
	if v, ok := u.routes.Load(key); ok {
		return v.(*stack.Route), true, nil
	}
	r, err = u.s.ns.FindRoute(nicID, local, remote, proto, false)
	if err != nil {
		return nil, false, err
	}
	if u.nroutes.Load() >= maxCachedRoutes {
		return r, false, nil
	}
	if v, loaded := u.routes.LoadOrStore(key, r); loaded {
		r.Release() // another reader was first
		return v.(*stack.Route), true, nil
	}
	u.nroutes.Add(1)
	return r, true, nil
}

// send writes payload as a UDP datagram answering the one identified by
// id, as a bound endpoint's Write would, but through a cached route.
func (u *udpServer) send(proto tcpip.NetworkProtocolNumber, id stack.TransportEndpointID, payload []byte) tcpip.Error {
	r, cached, err := u.route(proto, id.LocalAddress, id.RemoteAddress)
	if err != nil {
		return err
	}
	if !cached {
		defer r.Release()
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: header.UDPMinimumSize + int(r.MaxHeaderLength()),
		Payload:            buffer.MakeWithData(payload),
	})
	defer pkt.DecRef()
	length := uint16(header.UDPMinimumSize + len(payload))
	h := header.UDP(pkt.TransportHeader().Push(header.UDPMinimumSize))
	pkt.TransportProtocolNumber = udp.ProtocolNumber
	h.Encode(&header.UDPFields{SrcPort: id.LocalPort, DstPort: id.RemotePort, Length: length})
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
		// gVisor's UDP sockets set DF by default (path MTU discovery); a
		// datagram that must be fragmented here is sent without it, as
		// Linux does for a socket whose path MTU is the link's.
		DF: proto == ipv4.ProtocolNumber && uint32(length) <= r.MTU(),
	}, pkt)
}

// close releases the cached routes; handle is no longer called once the
// NIC is removed.
func (u *udpServer) close() {
	u.routes.Range(func(k, v any) bool {
		v.(*stack.Route).Release()
		u.routes.Delete(k)
		return true
	})
	u.nroutes.Store(0)
}

// netipAddr converts a gVisor address to the package's public type.
func netipAddr(a tcpip.Address) netip.Addr {
	switch a.Len() {
	case 4:
		return netip.AddrFrom4(a.As4())
	case 16:
		return netip.AddrFrom16(a.As16())
	}
	return netip.Addr{}
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
