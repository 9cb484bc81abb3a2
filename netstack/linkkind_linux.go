package netstack

import (
	"bytes"
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// describeLink says what kind of device name is when it is not a TAP ("the
// loopback device", "a veth device", "a TUN (layer 3) device"), or "" when
// it cannot tell or it is a TAP. It asks the kernel by netlink, so it sees
// the calling thread's network namespace.
func describeLink(name string) string {
	kind, tunType, loopback, ok := linkKind(name)
	switch {
	case !ok:
		return ""
	case loopback:
		return "is the loopback device"
	case kind == "tun" && tunType == unix.IFF_TUN:
		return "is a TUN (layer 3) device"
	case kind == "tun":
		return ""
	case kind == "":
		return "is a network interface (hardware or without a kind)"
	}
	return "is a " + kind + " device"
}

// linkKind returns the rtnetlink kind of interface name (IFLA_INFO_KIND:
// "veth", "bridge", "tun", ...; "" for hardware and loopback), the TUN
// type (IFF_TUN or IFF_TAP) for kind "tun", and whether it is a loopback.
func linkKind(name string) (kind string, tunType int, loopback, ok bool) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return "", 0, false, false
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return "", 0, false, false
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		flags := binary.NativeEndian.Uint32(m.Data[8:12]) // ifinfomsg.ifi_flags
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			continue
		}
		var ifname string
		var info []byte
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				ifname = string(bytes.TrimRight(a.Value, "\x00"))
			case unix.IFLA_LINKINFO:
				info = a.Value
			}
		}
		if ifname != name {
			continue
		}
		kind, tunType = parseLinkInfo(info)
		return kind, tunType, flags&syscall.IFF_LOOPBACK != 0, true
	}
	return "", 0, false, false
}

// parseLinkInfo reads IFLA_INFO_KIND and, for tun, IFLA_TUN_TYPE from the
// nested IFLA_LINKINFO attributes.
func parseLinkInfo(b []byte) (kind string, tunType int) {
	for _, a := range nestedAttrs(b) {
		switch a.typ {
		case unix.IFLA_INFO_KIND:
			kind = string(bytes.TrimRight(a.val, "\x00"))
		case unix.IFLA_INFO_DATA:
			for _, d := range nestedAttrs(a.val) {
				if d.typ == unix.IFLA_TUN_TYPE && len(d.val) >= 1 {
					tunType = int(d.val[0])
				}
			}
		}
	}
	return kind, tunType
}

type nlAttr struct {
	typ uint16
	val []byte
}

// nestedAttrs splits netlink attributes (4-octet aligned, headers in
// host order), stopping at the first malformed one.
func nestedAttrs(b []byte) []nlAttr {
	var out []nlAttr
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4])
		if l < 4 || l > len(b) {
			break
		}
		out = append(out, nlAttr{typ: t &^ unix.NLA_F_NESTED, val: b[4:l]})
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return out
}
