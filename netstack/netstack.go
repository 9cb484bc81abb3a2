// Package netstack attaches to a Linux TAP device, or to an Ethernet
// interface through AF_XDP (package netstack/xdp, Config.XDP), and runs
// the gVisor userspace TCP/IP stack on it with static addresses. It is the
// only package that imports gVisor, water and cilium/ebpf (through
// netstack/xdp), and it knows nothing of DNS: it
// moves bytes. Datagrams to the served UDP port go to a Handler on the
// reader goroutine, and what it returns is sent back; everything else the
// layers above need is lent as sockets with the standard library's types
// (sockets.go): ListenUDP, ListenTCP, DialTCP, ListenMulticastUDP, and
// SendUDP for replies that are ready later than their query.
//
// Frames are read by our own loop, one goroutine per TAP queue or AF_XDP
// socket, on non-blocking fds driven by Go's poller (link.go: a queue's
// device side is a frameIO; xdplink.go takes AF_XDP frames in bursts and
// sends the fast path's replies once per burst). Each frame is classified first:
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
//   - IGMP and MLD are on, so that groups joined with ListenMulticastUDP
//     are reported to the link's snooping switches and routers.
package netstack

import (
	"net"
	"net/netip"
)

// Meta describes one datagram handed to a Handler.
type Meta struct {
	// Client sent the datagram to Local (one of our addresses and the
	// served port). A reply returned by the Handler goes from Local to
	// Client; one sent later goes the same way with Stack.SendUDP.
	Client, Local netip.AddrPort
	// Fast is true when the datagram was answered on the link-layer fast
	// path rather than through the gVisor stack.
	Fast bool
	// Queue is the link queue a fast-path datagram was read from (0 for
	// datagrams from the stack). Datagrams of one queue are handed over by
	// one goroutine, so a handler can keep per-queue state such as
	// counters apart and spare the cores a shared cache line.
	Queue int
}

// Handler answers datagrams sent to the served UDP port. HandlePacket
// writes the reply into dst[:0] and returns it; an empty result means
// "send nothing now" (dropped, or to be answered later with SendUDP).
// payload and dst are owned by the caller and valid only during the call;
// they never overlap. It is called from the reader goroutines, several at
// once, and must not block.
type Handler interface {
	HandlePacket(dst, payload []byte, m Meta) []byte
}

// Limits of Config.
const (
	// MaxQueues bounds Config.Queues: one reader goroutine and set of
	// buffers per queue (the kernel allows 256 queues per TAP).
	MaxQueues = 64
	// MinMTU is IPv6's minimum link MTU; IPv6 link-local is always on.
	MinMTU = 1280
	// MaxMTU is the largest IP MTU whose frames fit the 64 KiB frame
	// buffers.
	MaxMTU = frameBufSize - 14
)

// Config is the static network configuration of the appliance. Normalize
// fills in the defaults and checks it; New calls it too.
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
	// address derived from the TAP name (DefaultMAC).
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
	// Port is the UDP port whose datagrams go to the Handler (and that the
	// fast path answers); 0 means 53.
	Port uint16
	// Queues is the number of TAP queues (IFF_MULTI_QUEUE), or with XDP of
	// RX queues (0 to Queues-1), one reader each; 0 means 1.
	Queues int
	// FastPath enables answering plain UDP datagrams to Port at the link
	// layer.
	FastPath bool
	// Capture, when set, receives every frame from the first one on (the
	// stack sends some while New configures its addresses, such as MLD
	// reports); SetCapture changes it later.
	Capture Capture
}
