package xdp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The few rtnetlink requests this package needs: read an interface's XDP
// state and RX queue count (RTM_GETLINK), and attach or detach a program
// the old way (RTM_SETLINK with IFLA_XDP), which outlives the process
// that made it. Everything runs in the calling thread's network namespace.

// linkInfo is what RTM_GETLINK tells about an interface.
type linkInfo struct {
	numRXQueues int    // IFLA_NUM_RX_QUEUES (allocated, not necessarily in use)
	attached    uint8  // IFLA_XDP_ATTACHED: unix.XDP_ATTACHED_*
	progID      uint32 // the program's ID when exactly one mode has one
	drvProgID   uint32 // per mode, for XDP_ATTACHED_MULTI
	skbProgID   uint32
}

// Values of IFLA_XDP_ATTACHED (uapi if_link.h).
const (
	xdpAttachedNone  = 0
	xdpAttachedDrv   = 1
	xdpAttachedSKB   = 2
	xdpAttachedHW    = 3
	xdpAttachedMulti = 4
)

const nlaNested = 1 << 15 // NLA_F_NESTED

// rtnl is a route netlink socket. It keeps the network namespace it was
// opened in, so a Link can detach from its interface later from any thread.
type rtnl struct {
	fd  int
	seq uint32
}

// openRtnl opens a route netlink socket in the calling thread's namespace.
func openRtnl() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Errors come with the request echoed; a short ack is enough.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	return &rtnl{fd: fd}, nil
}

func (r *rtnl) close() {
	if r != nil && r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// request sends one request with an ack and returns the payload of the
// first reply that is not an error (nil for a bare ack). It is not safe
// for concurrent use.
func (r *rtnl) request(typ uint16, flags uint16, body []byte) ([]byte, error) {
	fd := r.fd
	r.seq++
	seq := r.seq
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], typ)
	binary.NativeEndian.PutUint16(msg[6:8], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 1<<16)
	var reply []byte
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		b := buf[:n]
		for len(b) >= unix.SizeofNlMsghdr {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return nil, errors.New("netlink: truncated message")
			}
			t := binary.NativeEndian.Uint16(b[4:6])
			s := binary.NativeEndian.Uint32(b[8:12])
			payload := b[unix.SizeofNlMsghdr:l]
			b = b[min(nlAlign(l), len(b)):]
			if s != seq {
				continue
			}
			switch t {
			case unix.NLMSG_ERROR:
				if len(payload) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(payload[0:4])); e != 0 {
					return nil, unix.Errno(-e)
				}
				return reply, nil // the ack
			case unix.NLMSG_DONE:
				return reply, nil
			default:
				if reply == nil {
					reply = append([]byte(nil), payload...)
				}
			}
		}
	}
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// ifinfomsg returns an ifinfomsg for ifindex.
func ifinfomsg(ifindex int) []byte {
	var m unix.IfInfomsg
	m.Family = unix.AF_UNSPEC
	m.Index = int32(ifindex)
	b := (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))
	return append([]byte(nil), b[:]...)
}

// appendAttr appends a netlink attribute.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:2], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// parseAttrs calls f for each attribute in b.
func parseAttrs(b []byte, f func(typ uint16, data []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:4])&^nlaNested, b[4:l])
		b = b[min(nlAlign(l), len(b)):]
	}
}

// getLink reads an interface's XDP state and queue count.
func (r *rtnl) getLink(ifindex int) (linkInfo, error) {
	reply, err := r.request(unix.RTM_GETLINK, 0, ifinfomsg(ifindex))
	if err != nil {
		return linkInfo{}, fmt.Errorf("RTM_GETLINK: %w", err)
	}
	if len(reply) < unix.SizeofIfInfomsg {
		return linkInfo{}, errors.New("RTM_GETLINK: short reply")
	}
	var li linkInfo
	u32 := func(d []byte) uint32 {
		if len(d) < 4 {
			return 0
		}
		return binary.NativeEndian.Uint32(d)
	}
	parseAttrs(reply[unix.SizeofIfInfomsg:], func(typ uint16, data []byte) {
		switch typ {
		case unix.IFLA_NUM_RX_QUEUES:
			li.numRXQueues = int(u32(data))
		case unix.IFLA_XDP:
			parseAttrs(data, func(typ uint16, data []byte) {
				switch typ {
				case unix.IFLA_XDP_ATTACHED:
					if len(data) > 0 {
						li.attached = data[0]
					}
				case unix.IFLA_XDP_PROG_ID:
					li.progID = u32(data)
				case unix.IFLA_XDP_DRV_PROG_ID:
					li.drvProgID = u32(data)
				case unix.IFLA_XDP_SKB_PROG_ID:
					li.skbProgID = u32(data)
				}
			})
		}
	})
	return li, nil
}

// setLinkXDP attaches the program fd (or detaches with fd -1) in the mode
// given by flags (unix.XDP_FLAGS_*) with RTM_SETLINK. Such an attachment
// belongs to the interface, not to a file descriptor: it stays after the
// process exits.
func (r *rtnl) setLinkXDP(ifindex, fd int, flags uint32) error {
	var v [4]byte
	var xdp []byte
	binary.NativeEndian.PutUint32(v[:], uint32(int32(fd)))
	xdp = appendAttr(xdp, unix.IFLA_XDP_FD, v[:])
	binary.NativeEndian.PutUint32(v[:], flags)
	xdp = appendAttr(xdp, unix.IFLA_XDP_FLAGS, v[:])
	body := appendAttr(ifinfomsg(ifindex), unix.IFLA_XDP|nlaNested, xdp)
	if _, err := r.request(unix.RTM_SETLINK, 0, body); err != nil {
		return fmt.Errorf("RTM_SETLINK IFLA_XDP: %w", err)
	}
	return nil
}
