package netstack

import (
	"bytes"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpRcvBuf is the receive buffer of each UDP endpoint: room for a burst of
// queries while the reader is busy.
const udpRcvBuf = 4 << 20

// udpServer serves DNS over one gVisor UDP endpoint (one per IP version) with
// one goroutine. It uses the raw tcpip.Endpoint, not gonet, and keeps every
// buffer and argument it hands to gVisor in itself, so a query costs no
// allocations of ours.
type udpServer struct {
	s  *Stack
	wq waiter.Queue
	ep tcpip.Endpoint

	// Owned by the serve goroutine.
	rx  sliceWriter
	dst []byte
	rd  bytes.Reader
	to  tcpip.FullAddress
}

func newUDPServer(s *Stack, proto tcpip.NetworkProtocolNumber, addr tcpip.Address) (*udpServer, error) {
	u := &udpServer{
		s:   s,
		rx:  sliceWriter{buf: make([]byte, frameBufSize)},
		dst: make([]byte, 0, frameBufSize),
	}
	ep, err := s.ns.NewEndpoint(udp.ProtocolNumber, proto, &u.wq)
	if err != nil {
		return nil, fmt.Errorf("netstack: udp endpoint: %s", err)
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true)
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
	u.rd.Reset(reply)
	u.to = res.RemoteAddr
	if _, err := u.ep.Write(&u.rd, tcpip.WriteOptions{To: &u.to}); err != nil {
		svc.udpErrors.Add(1)
		return true
	}
	svc.udpReplies.Add(1)
	return true
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
