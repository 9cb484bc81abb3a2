// Package kernelnet gives DNS packages' tests the same small network
// interface that *netstack.Stack offers (see docs/ARCHITECTURE.md), on the
// kernel's sockets. It exists for tests only: tapdns itself never sends DNS
// through the kernel. Use it only inside a namespace the test created (see
// internal/labtest) or on loopback.
package kernelnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Net opens kernel sockets. The zero value is ready to use. Sockets are
// opened in the network namespace of the calling thread.
type Net struct {
	// Interface names the device used to join multicast groups; empty
	// lets the kernel choose.
	Interface string
}

func network(a netip.Addr, v4, v6 string) string {
	if a.Is4() || a.Is4In6() {
		return v4
	}
	return v6
}

// ListenUDP opens a UDP socket on laddr; port 0 lets the kernel choose.
func (Net) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	if !laddr.Addr().IsValid() {
		return nil, errors.New("kernelnet: ListenUDP needs an address (0.0.0.0 or :: for any)")
	}
	return net.ListenUDP(network(laddr.Addr(), "udp4", "udp6"), net.UDPAddrFromAddrPort(laddr))
}

// DialTCP connects to raddr.
func (Net) DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network(raddr.Addr(), "tcp4", "tcp6"), raddr.String())
}

// ListenTCP listens on laddr.
func (Net) ListenTCP(laddr netip.AddrPort) (net.Listener, error) {
	return net.ListenTCP(network(laddr.Addr(), "tcp4", "tcp6"), net.TCPAddrFromAddrPort(laddr))
}

// ListenMulticastUDP binds group's port on every address and joins group.
func (n Net) ListenMulticastUDP(group netip.AddrPort) (net.PacketConn, error) {
	var ifi *net.Interface
	if n.Interface != "" {
		var err error
		if ifi, err = net.InterfaceByName(n.Interface); err != nil {
			return nil, err
		}
	}
	netw := network(group.Addr(), "udp4", "udp6")
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	any := "0.0.0.0"
	if netw == "udp6" {
		any = "::"
	}
	pc, err := lc.ListenPacket(context.Background(), netw, net.JoinHostPort(any, itoa(group.Port())))
	if err != nil {
		return nil, err
	}
	g := &net.UDPAddr{IP: group.Addr().AsSlice()}
	if netw == "udp4" {
		p := ipv4.NewPacketConn(pc)
		if err := p.JoinGroup(ifi, g); err != nil {
			pc.Close()
			return nil, err
		}
		if ifi != nil {
			_ = p.SetMulticastInterface(ifi)
		}
		_ = p.SetMulticastTTL(255)
	} else {
		p := ipv6.NewPacketConn(pc)
		if err := p.JoinGroup(ifi, g); err != nil {
			pc.Close()
			return nil, err
		}
		if ifi != nil {
			_ = p.SetMulticastInterface(ifi)
		}
		_ = p.SetMulticastHopLimit(255)
	}
	return pc, nil
}

// SendUDP sends one datagram from src to dst. The kernel will not let two
// sockets hold src's port, so src's port is honoured only when free; tests
// that need an exact source port should bind it themselves.
func (Net) SendUDP(src, dst netip.AddrPort, payload []byte) error {
	c, err := net.DialUDP(network(dst.Addr(), "udp4", "udp6"), net.UDPAddrFromAddrPort(src), net.UDPAddrFromAddrPort(dst))
	if err != nil {
		c, err = net.DialUDP(network(dst.Addr(), "udp4", "udp6"), nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}

func itoa(v uint16) string {
	var b [5]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
