// Package netstack attaches to a Linux TAP device and runs the gVisor
// userspace TCP/IP stack on it with static addresses. It delivers DNS
// payloads (UDP datagrams and RFC 7766 length-framed TCP messages) to a
// Handler and sends back what it returns. It is the only package that
// imports gVisor and water, and it knows nothing of DNS beyond the port.
//
// Frames are read by our own loop, one goroutine per TAP queue, on
// non-blocking fds driven by Go's poller. Each frame is classified first:
// runts, unicast frames for other MACs (bridges flood those) and EtherTypes
// other than IPv4, IPv6 and ARP are counted and dropped, so nothing odd can
// stall the reader. With Config.FastPath, plain UDP queries to our address
// and port are answered right there (see fastpath.go); every other frame is
// handed to gVisor, which does ARP, NDP, ICMP echo, IPv4, IPv6, UDP and TCP.
//
// Decisions worth knowing:
//   - The kernel side of the TAP is never configured or brought up by us:
//     that is the lab's (or operator's) job, and bringing it up would also
//     give it addresses. A down link is reported with a warning.
//   - An existing TAP keeps its persist flag and stays after we exit; one
//     we create is not persistent and disappears with our last fd.
//   - IPv6 addresses are used at once (no DAD) and router advertisements
//     are ignored: the appliance's addressing is static. The link-local
//     address is derived from the MAC (modified EUI-64).
//   - The default MAC is stable per TAP name (see DefaultMAC).
//   - UDP queries that reach gVisor (fast path off, or frames it passes on)
//     are answered by gVisor's default UDP handler on the reader goroutine
//     that delivered them (see udp.go): no UDP endpoint, no receive queue,
//     no goroutine hand-off per query.
//   - TCP follows RFC 7766: pipelined queries are answered in order on one
//     goroutine per connection; connections idle (or stuck inside a message)
//     for 10 s are closed; a connection is closed after 100 queries; at 256
//     connections the longest-idle one is closed to admit a new one, and a
//     new one is refused if none is idle (all three are in Config).
package netstack

import (
	"net"
	"net/netip"
	"time"
)

// Meta describes one message handed to a Handler.
type Meta struct {
	Client netip.AddrPort
	// TCP is true for a message read from a TCP stream (length prefix removed).
	TCP bool
	// Fast is true when the message was answered on the link-layer fast
	// path rather than through the gVisor stack.
	Fast bool
	// Queue is the TAP queue a fast-path message was read from (0 for
	// messages from the stack). Messages of one queue are handed over by
	// one goroutine, so a handler can keep per-queue state such as
	// counters apart and spare the cores a shared cache line.
	Queue int
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
	// XDP, instead of TAP, names an existing Ethernet interface to attach
	// to through AF_XDP (see package netstack/xdp): frames for our
	// addresses are taken from the kernel, all others left to it. MAC and
	// MTU default to the interface's; a MAC must be the interface's.
	XDP string
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
	// Queues is the number of TAP queues (IFF_MULTI_QUEUE), or with XDP of
	// RX queues (0 to Queues-1), one reader each; 0 means 1.
	Queues int
	// FastPath enables answering plain UDP queries at the link layer.
	FastPath bool

	// TCPIdleTimeout closes a TCP connection that has not sent a complete
	// message for this long; it also bounds the time to read any one
	// message (a half-sent length prefix or a slow sender). 0 means 10 s.
	TCPIdleTimeout time.Duration
	// TCPMaxConns bounds concurrent TCP connections: at the limit, the
	// longest-idle connection is closed to admit a new one, and a new one
	// is refused if none is idle. 0 means 256.
	TCPMaxConns int
	// TCPMaxQueries closes a TCP connection after answering this many
	// queries on it (RFC 7766 6.2.1 lets a server close at any time; the
	// client reconnects). 0 means 100; negative means no limit.
	TCPMaxQueries int
}
