// Package xdp attaches to a network interface through AF_XDP: an XDP
// program that sends the frames of given addresses to AF_XDP sockets, one
// per RX queue, and the sockets with their frame rings. Everything else
// the interface receives goes on to the kernel, so the host keeps using
// the interface. It knows nothing of DNS or of the stack above it; only
// package netstack imports it.
//
// The XDP program is assembled at run time (cilium/ebpf's asm package; no
// compiler, no object file) and attached through a bpf_link, in native
// (driver) mode where the driver supports it and in generic (SKB) mode
// otherwise. A bpf_link is owned by its file descriptor: when the process
// exits, even by SIGKILL, the kernel detaches the program. A program of
// ours attached the old way (netlink; kernels without XDP links) survives
// its process, so Open detaches one it finds that no live process owns.
//
// Linux only; needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (or root).
package xdp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Errors that Open and NewSocket wrap, for callers that act on the cause.
var (
	ErrNoInterface  = errors.New("no such interface")
	ErrNotSupported = errors.New("XDP not supported")
	ErrPermission   = errors.New("permission denied")
	ErrQueueRange   = errors.New("queue out of range")
	ErrBusy         = errors.New("interface busy")
)

// Mode is how the XDP program runs.
type Mode uint8

const (
	// ModeAuto tries native mode and falls back to generic mode.
	ModeAuto Mode = iota
	// ModeNative runs the program in the driver, before an skb exists.
	ModeNative
	// ModeGeneric runs it in the kernel's receive path after the skb is
	// built (any driver; slower; sockets in copy mode).
	ModeGeneric
)

// String returns "auto", "native" or "generic".
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeNative:
		return "native"
	case ModeGeneric:
		return "generic"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// xdpPacketHeadroom is the room the kernel keeps in front of a received
// frame in its UMEM frame (XDP_PACKET_HEADROOM).
const xdpPacketHeadroom = 256

// Config configures Open.
type Config struct {
	// Interface is the name of an Ethernet interface in the calling
	// thread's network namespace.
	Interface string
	// Queues is the number of sockets, bound to RX queues 0..Queues-1;
	// 0 means 1. Frames arriving on other queues go to the kernel.
	Queues int
	// Mode selects native or generic XDP; ModeAuto (the zero value) tries
	// native first.
	Mode Mode
	// Socket sizes each socket's UMEM and rings; its Ifindex, Queue and
	// Copy are set by Open.
	Socket SocketConfig
	// Addrs are the addresses whose frames the program sends to the
	// sockets (see AddAddr).
	Addrs []netip.Addr

	// legacyAttach attaches through netlink instead of a bpf_link, as on
	// kernels without XDP links; for tests of the leftover cleanup.
	legacyAttach bool
	// noSockets opens no sockets: a test binds its own.
	noSockets bool
}

// Link is an interface attached through AF_XDP: the XDP program and one
// Socket per RX queue. Create it with Open, release it with Close.
type Link struct {
	name     string
	index    int
	mac      net.HardwareAddr
	mtu      int
	rxQueues int // the interface's RX queues (0: unknown)
	mode     Mode
	legacy   bool // attached through netlink, not a bpf_link
	log      *slog.Logger

	nl    *rtnl
	mcast int             // packet socket holding our link-layer multicast memberships
	maddr map[[6]byte]int // those memberships, with counts
	prog  *program
	lnk   link.Link
	socks []*Socket

	mu        sync.Mutex // serializes map updates and Close
	closed    bool
	nativeErr error // why native mode was not used, for the log
}

// Open attaches to cfg.Interface: it detaches a program a dead tapdns
// left, loads and attaches the XDP program, and binds one socket per
// queue. It must run on a thread in the interface's network namespace;
// nothing after it needs that. logger may be nil.
//
// Errors wrap ErrNoInterface, ErrNotSupported, ErrPermission,
// ErrQueueRange or ErrBusy where one of those is the cause.
func Open(cfg Config, logger *slog.Logger) (_ *Link, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	if cfg.Queues < 0 {
		return nil, fmt.Errorf("%d queues: %w", cfg.Queues, ErrQueueRange)
	}
	if err := cfg.Socket.normalize(); err != nil {
		return nil, err
	}
	l := &Link{name: cfg.Interface, log: logger, mcast: -1, maddr: map[[6]byte]int{}}
	defer func() {
		if err != nil {
			l.Close()
			err = fmt.Errorf("xdp %s: %w", cfg.Interface, err)
		}
	}()
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("%w in this network namespace", ErrNoInterface)
	}
	l.index, l.mac, l.mtu = ifc.Index, ifc.HardwareAddr, ifc.MTU
	if len(l.mac) != 6 {
		return nil, fmt.Errorf("%w: not an Ethernet interface", ErrNotSupported)
	}
	if max := cfg.Socket.FrameSize - xdpPacketHeadroom - 14; l.mtu > max {
		return nil, fmt.Errorf("%w: MTU %d is larger than AF_XDP frames of %d bytes allow (at most %d)",
			ErrNotSupported, l.mtu, cfg.Socket.FrameSize, max)
	}
	if ifc.Flags&net.FlagUp == 0 {
		logger.Warn("interface is down; no frames flow until it is brought up", "iface", l.name)
	}
	if l.nl, err = openRtnl(); err != nil {
		return nil, err
	}
	// Protocol 0: the socket receives nothing; it only holds memberships,
	// which the kernel drops when it is closed, even by a killed process.
	if l.mcast, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("packet socket for multicast memberships: %w (needs CAP_NET_RAW): %w", ErrPermission, err)
		}
		return nil, fmt.Errorf("packet socket for multicast memberships: %w", err)
	}
	li, err := l.nl.getLink(l.index)
	if err != nil {
		return nil, err
	}
	l.rxQueues = rxQueueCount(l.name, li.numRXQueues)
	if l.rxQueues > 0 && cfg.Queues > l.rxQueues {
		return nil, fmt.Errorf("%w: %d queues asked for, the interface has %d RX queues", ErrQueueRange, cfg.Queues, l.rxQueues)
	}
	if l.rxQueues > cfg.Queues {
		logger.Warn("the interface has more RX queues than sockets; frames for us that arrive on the others go to the kernel",
			"iface", l.name, "rx_queues", l.rxQueues, "queues", cfg.Queues)
	}
	if err := l.clearLeftover(li); err != nil {
		return nil, err
	}
	if l.prog, err = newProgram(cfg.Queues); err != nil {
		return nil, err
	}
	for _, a := range cfg.Addrs {
		if err := l.addAddr(a.Unmap()); err != nil {
			return nil, err
		}
	}
	if err := l.attach(cfg.Mode, cfg.legacyAttach); err != nil {
		return nil, err
	}
	if l.nativeErr != nil {
		logger.Warn("native XDP unavailable on this interface; using generic (SKB) mode, which is slower",
			"iface", l.name, "reason", l.nativeErr)
	}
	// The program passes every frame to the kernel until a queue's socket
	// is in the XSKMAP, so binding one after the other loses nothing.
	for q := 0; q < cfg.Queues && !cfg.noSockets; q++ {
		sc := cfg.Socket
		sc.Ifindex, sc.Queue, sc.Copy = l.index, q, l.mode == ModeGeneric
		s, err := NewSocket(sc)
		if err != nil {
			if errors.Is(err, ErrQueueRange) && l.rxQueues > 0 {
				err = fmt.Errorf("%w (the interface has %d RX queues)", err, l.rxQueues)
			}
			return nil, err
		}
		l.socks = append(l.socks, s)
		if err := l.prog.setSocket(q, s.FD()); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// attach attaches the program in the requested mode, falling back to
// generic mode for ModeAuto, and to netlink where the kernel has no XDP
// bpf_link.
func (l *Link) attach(mode Mode, legacy bool) error {
	modes := []Mode{ModeNative, ModeGeneric}
	switch mode {
	case ModeNative:
		modes = modes[:1]
	case ModeGeneric:
		modes = modes[1:]
	}
	var errs []error
	if !legacy {
		for _, m := range modes {
			flags := link.XDPDriverMode
			if m == ModeGeneric {
				flags = link.XDPGenericMode
			}
			lnk, err := link.AttachXDP(link.XDPOptions{Program: l.prog.prog, Interface: l.index, Flags: flags})
			if err == nil {
				l.lnk, l.mode = lnk, m
				if len(errs) > 0 {
					l.nativeErr = errs[0]
				}
				return nil
			}
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return bpfError("attach XDP program", err)
			}
			if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("attach XDP program: %w: another XDP program is attached: %w", ErrBusy, err)
			}
			errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
		}
	}
	// Without XDP links (before Linux 5.9), or for tests: netlink. Such an
	// attachment outlives us if we die; the next Open removes it.
	for _, m := range modes {
		err := l.nl.setLinkXDP(l.index, l.prog.prog.FD(), modeFlags(m)|unix.XDP_FLAGS_UPDATE_IF_NOEXIST)
		if err == nil {
			l.mode, l.legacy = m, true
			if m == ModeGeneric && len(errs) > 0 {
				l.nativeErr = errs[0]
			}
			if !legacy {
				l.log.Warn("attached the XDP program through netlink (no XDP bpf_link in this kernel); if tapdns is killed, the next start detaches it",
					"iface", l.name, "link_errors", errors.Join(errs...))
			}
			return nil
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return bpfError("attach XDP program", err)
		}
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("attach XDP program: %w: another XDP program is attached: %w", ErrBusy, err)
		}
		errs = append(errs, fmt.Errorf("%s mode (netlink): %w", m, err))
	}
	return fmt.Errorf("%w: cannot attach an XDP program: %w", ErrNotSupported, errors.Join(errs...))
}

func modeFlags(m Mode) uint32 {
	if m == ModeGeneric {
		return unix.XDP_FLAGS_SKB_MODE
	}
	return unix.XDP_FLAGS_DRV_MODE
}

// clearLeftover detaches programs named ProgramName that are attached to
// the interface through netlink, which only a tapdns that died (or an
// older one) leaves. It refuses to touch any other program, and a program
// of ours held by a bpf_link belongs to a running process.
func (l *Link) clearLeftover(li linkInfo) error {
	type attached struct {
		id    uint32
		flags uint32
	}
	var progs []attached
	switch li.attached {
	case xdpAttachedNone:
		return nil
	case xdpAttachedDrv:
		progs = append(progs, attached{li.progID, unix.XDP_FLAGS_DRV_MODE})
	case xdpAttachedSKB:
		progs = append(progs, attached{li.progID, unix.XDP_FLAGS_SKB_MODE})
	case xdpAttachedHW:
		progs = append(progs, attached{li.progID, unix.XDP_FLAGS_HW_MODE})
	case xdpAttachedMulti:
		if li.drvProgID != 0 {
			progs = append(progs, attached{li.drvProgID, unix.XDP_FLAGS_DRV_MODE})
		}
		if li.skbProgID != 0 {
			progs = append(progs, attached{li.skbProgID, unix.XDP_FLAGS_SKB_MODE})
		}
	}
	for _, p := range progs {
		name, err := progName(p.id)
		if err != nil {
			return err
		}
		if name != ProgramName {
			return fmt.Errorf("%w: XDP program %d (%q) is attached; tapdns does not replace another program (remove it with `ip link set dev %s xdp off`)",
				ErrBusy, p.id, name, l.name)
		}
		owned, err := linkOwns(p.id)
		if err != nil {
			return err
		}
		if owned {
			return fmt.Errorf("%w: another running tapdns is attached (XDP program %d)", ErrBusy, p.id)
		}
		if err := l.nl.setLinkXDP(l.index, -1, p.flags); err != nil {
			return fmt.Errorf("detach the XDP program %d a previous tapdns left: %w", p.id, err)
		}
		l.log.Warn("detached the XDP program a previous tapdns left attached", "iface", l.name, "prog_id", p.id)
	}
	return nil
}

// progName returns the name of the loaded program with this ID.
func progName(id uint32) (string, error) {
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return "", inspectError(fmt.Sprintf("inspect attached XDP program %d", id), err)
	}
	defer p.Close()
	info, err := p.Info()
	if err != nil {
		return "", inspectError(fmt.Sprintf("inspect attached XDP program %d", id), err)
	}
	return info.Name, nil
}

// inspectError wraps a failure to look at another program or link, which
// needs more than loading our own.
func inspectError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w (needs CAP_SYS_ADMIN, or root): %w", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// linkOwns reports whether a bpf_link holds the program with this ID.
func linkOwns(progID uint32) (bool, error) {
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue
		}
		if info.Type == link.XDPType && uint32(info.Program) == progID {
			return true, nil
		}
	}
	if err := it.Err(); err != nil {
		return false, inspectError("list bpf links", err)
	}
	return false, nil
}

// rxQueueCount returns the interface's RX queues in use: the RX and
// combined channels ethtool reports, or netlink's count where the driver
// has no channel information.
func rxQueueCount(name string, fallback int) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fallback
	}
	defer unix.Close(fd)
	var ch struct {
		cmd                                         uint32
		maxRX, maxTX, maxOther, maxCombined         uint32
		rxCount, txCount, otherCount, combinedCount uint32
	}
	ch.cmd = unix.ETHTOOL_GCHANNELS
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(&ch))
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return fallback
	}
	if n := int(ch.rxCount + ch.combinedCount); n > 0 {
		return n
	}
	return fallback
}

// Name, Index, MAC and MTU describe the interface as Open found it.
func (l *Link) Name() string          { return l.name }
func (l *Link) Index() int            { return l.index }
func (l *Link) MAC() net.HardwareAddr { return l.mac }
func (l *Link) MTU() int              { return l.mtu }

// Mode returns the mode the program runs in (ModeNative or ModeGeneric).
func (l *Link) Mode() Mode { return l.mode }

// RXQueues returns the interface's RX queue count (0: unknown).
func (l *Link) RXQueues() int { return l.rxQueues }

// Sockets returns the sockets, indexed by RX queue.
func (l *Link) Sockets() []*Socket { return l.socks }

// AddAddr makes the program send frames for a to the sockets: IPv4 and
// ARP for an IPv4 address, IPv6 and neighbour solicitations for an IPv6
// one, and the datagrams of a multicast group. A multicast group's frames
// then reach only us, not the kernel. The NIC's link-layer filter is told
// to accept the group's frames, or for an IPv6 unicast address those of
// its solicited-node group: the kernel, which does not have our
// addresses, has not joined them. The membership lasts until RemoveAddr
// or Close, or until the process dies. Adding an address twice is no
// error.
func (l *Link) AddAddr(a netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	return l.addAddr(a.Unmap())
}

func (l *Link) addAddr(a netip.Addr) error {
	if mac, ok := groupMAC(a); ok {
		if l.maddr[mac] == 0 {
			if err := l.membership(unix.PACKET_ADD_MEMBERSHIP, mac); err != nil {
				return fmt.Errorf("accept multicast %v for %v: %w", net.HardwareAddr(mac[:]), a, err)
			}
		}
		l.maddr[mac]++
	}
	return l.prog.addAddr(a)
}

// RemoveAddr undoes AddAddr.
func (l *Link) RemoveAddr(a netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	a = a.Unmap()
	if mac, ok := groupMAC(a); ok && l.maddr[mac] > 0 {
		if l.maddr[mac]--; l.maddr[mac] == 0 {
			delete(l.maddr, mac)
			_ = l.membership(unix.PACKET_DROP_MEMBERSHIP, mac)
		}
	}
	return l.prog.removeAddr(a)
}

// groupMAC returns the link-layer multicast address the frames for a are
// sent to when a is a multicast group (RFC 1112 6.4, RFC 2464 7), or the
// one of its solicited-node group when a is an IPv6 unicast address
// (RFC 4291 2.7.1).
func groupMAC(a netip.Addr) ([6]byte, bool) {
	switch {
	case a.Is4() && a.IsMulticast():
		b := a.As4()
		return [6]byte{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}, true
	case a.Is6() && a.IsMulticast():
		b := a.As16()
		return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}, true
	case a.Is6():
		b := a.As16()
		return [6]byte{0x33, 0x33, 0xff, b[13], b[14], b[15]}, true
	}
	return [6]byte{}, false
}

// membership adds (PACKET_ADD_MEMBERSHIP) or drops mac in the interface's
// multicast filter, held by the packet socket. The kernel counts
// memberships per address, so the host's own are unaffected.
func (l *Link) membership(opt int, mac [6]byte) error {
	mr := unix.PacketMreq{Ifindex: int32(l.index), Type: unix.PACKET_MR_MULTICAST, Alen: 6}
	copy(mr.Address[:], mac[:])
	if err := unix.SetsockoptPacketMreq(l.mcast, unix.SOL_PACKET, opt, &mr); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return fmt.Errorf("%w (needs CAP_NET_RAW): %w", ErrPermission, err)
		}
		return err
	}
	return nil
}

// Close detaches the program, so the kernel gets every frame again, then
// closes the sockets and the program. The sockets must not be in use. It
// is idempotent.
func (l *Link) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if l.lnk != nil {
		if err := l.lnk.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach XDP program: %w", err))
		}
		l.lnk = nil
	}
	if l.legacy {
		if err := l.nl.setLinkXDP(l.index, -1, modeFlags(l.mode)); err != nil {
			errs = append(errs, fmt.Errorf("detach XDP program: %w", err))
		}
		l.legacy = false
	}
	for _, s := range l.socks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if l.prog != nil {
		l.prog.close()
	}
	// Closing the packet socket drops its memberships; no privilege needed.
	if l.mcast >= 0 {
		unix.Close(l.mcast)
		l.mcast = -1
	}
	clear(l.maddr)
	l.nl.close()
	return errors.Join(errs...)
}
