// Package netstack attaches to a Linux TAP device and runs the gVisor
// userspace TCP/IP stack on it with static addresses. It delivers DNS
// payloads (UDP datagrams and RFC 7766 length-framed TCP messages) to a
// Handler and sends back what it returns. It is the only package that
// imports gVisor and water, and it knows nothing of DNS beyond the port.
package netstack

import (
	"net"
	"net/netip"
)

// Meta describes one message handed to a Handler.
type Meta struct {
	Client netip.AddrPort
	// TCP is true for a message read from a TCP stream (length prefix removed).
	TCP bool
	// Fast is true when the message was answered on the link-layer fast
	// path rather than through the gVisor stack.
	Fast bool
}

// Handler answers messages. ServeDNS writes the reply into dst[:0] and returns
// it; an empty result means "send nothing". query and dst are owned by the
// caller and valid only during the call; they never overlap. It is called
// from several goroutines at once and must not block.
type Handler interface {
	ServeDNS(dst, query []byte, m Meta) []byte
}

// Config is the static network configuration of the appliance.
type Config struct {
	// TAP is the device name. An existing device is attached to and left in
	// place on exit; a missing one is created and removed on exit.
	TAP string
	// MAC is our Ethernet address; nil means a stable locally administered
	// address derived from the TAP name.
	MAC net.HardwareAddr
	// MTU is the IP MTU; 0 means 1500.
	MTU int
	// Addr is our IPv4 address and on-link prefix; Gateway the IPv4 default
	// route (invalid: none).
	Addr    netip.Prefix
	Gateway netip.Addr
	// Addr6 and Gateway6 are the IPv6 equivalents (invalid: no IPv6 address;
	// link-local is always configured).
	Addr6    netip.Prefix
	Gateway6 netip.Addr
	// Port is the UDP and TCP port served; 0 means 53.
	Port uint16
	// Queues is the number of TAP queues (IFF_MULTI_QUEUE), one reader each;
	// 0 means 1.
	Queues int
	// FastPath enables answering plain UDP queries at the link layer.
	FastPath bool
}
