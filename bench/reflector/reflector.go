// Package reflector is the bare-TAP ceiling used by the tapdns benchmarks.
//
// It turns a DNS query frame into a "reply" by the smallest in-place
// rewrite (swap MACs, IPv4 addresses and UDP ports, set the DNS QR bit,
// zero the UDP checksum) and answers ARP requests for its address. It does
// not parse DNS: it measures how many frames per second one core can read
// from and write back to a TAP, the upper bound for any server on a TAP.
package reflector

import (
	"bytes"
	"net"
	"net/netip"
)

// Reflector holds the identity it answers for. The zero value answers
// nothing; use New.
type Reflector struct {
	mac [6]byte
	ip  [4]byte
}

// New returns a Reflector for the IPv4 address ip and Ethernet address mac.
func New(ip netip.Addr, mac net.HardwareAddr) *Reflector {
	r := &Reflector{ip: ip.As4()}
	copy(r.mac[:], mac)
	return r
}

// Reflect rewrites the frame f in place into the frame to send back and
// returns its length, or 0 when the frame is to be dropped. Handled: ARP
// requests for our address, unfragmented IPv4 UDP to our address, port 53,
// with at least a DNS header. It does not allocate.
func (r *Reflector) Reflect(f []byte) int {
	if len(f) < 14 {
		return 0
	}
	switch uint16(f[12])<<8 | uint16(f[13]) {
	case 0x0806:
		return r.arp(f)
	case 0x0800:
		return r.udp(f)
	}
	return 0
}

func (r *Reflector) arp(f []byte) int {
	if len(f) < 14+28 {
		return 0
	}
	a := f[14 : 14+28]
	// Ethernet, IPv4, hlen 6, plen 4, op request.
	if a[0] != 0 || a[1] != 1 || a[2] != 8 || a[3] != 0 || a[4] != 6 || a[5] != 4 ||
		a[6] != 0 || a[7] != 1 || !bytes.Equal(a[24:28], r.ip[:]) {
		return 0
	}
	copy(f[0:6], f[6:12])
	copy(f[6:12], r.mac[:])
	a[7] = 2
	copy(a[18:28], a[8:18]) // target = sender (MAC and IP)
	copy(a[8:14], r.mac[:])
	copy(a[14:18], r.ip[:])
	return 14 + 28
}

func (r *Reflector) udp(f []byte) int {
	if len(f) < 14+20 {
		return 0
	}
	ih := f[14:]
	ihl := int(ih[0]&0x0f) * 4
	if ih[0]>>4 != 4 || ihl < 20 || len(ih) < ihl+8+12 || ih[9] != 17 {
		return 0
	}
	if ih[6]&0x3f != 0 || ih[7] != 0 { // fragment
		return 0
	}
	if !bytes.Equal(ih[16:20], r.ip[:]) {
		return 0
	}
	uh := ih[ihl:]
	if uh[2] != 0 || uh[3] != 53 {
		return 0
	}
	copy(f[0:6], f[6:12])
	copy(f[6:12], r.mac[:])
	// Swapping the two addresses leaves the header checksum unchanged.
	var t [4]byte
	copy(t[:], ih[12:16])
	copy(ih[12:16], ih[16:20])
	copy(ih[16:20], t[:])
	uh[0], uh[1], uh[2], uh[3] = uh[2], uh[3], uh[0], uh[1]
	uh[6], uh[7] = 0, 0 // no UDP checksum: allowed for IPv4
	uh[8+2] |= 0x80     // QR
	return len(f)
}
