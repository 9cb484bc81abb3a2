package netstack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Test addresses live in the benchmark range (RFC 2544) and the
// documentation prefix; nothing here touches a real network.
var (
	fpOurMAC   = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}
	fpPeerMAC  = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	fpOtherMAC = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x77} // a router the query came through
	fpGW4MAC   = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0xf4}
	fpGW6MAC   = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0xf6}

	fpAddr4 = netip.MustParseAddr("198.18.0.2")
	fpPeer4 = netip.MustParseAddr("198.18.0.1")    // on-link
	fpFar4  = netip.MustParseAddr("198.19.7.9")    // off-link
	fpAddr6 = netip.MustParseAddr("2001:db8::2")   //
	fpPeer6 = netip.MustParseAddr("2001:db8::1")   // on-link
	fpFar6  = netip.MustParseAddr("2001:db8:1::9") // off-link

	fpQuery = []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")
)

func fpConfig() fastPathConfig {
	return fastPathConfig{
		MAC:     fpOurMAC,
		Addr4:   fpAddr4.As4(),
		Addr6:   fpAddr6.As16(),
		Port:    53,
		Prefix4: netip.MustParsePrefix("198.18.0.0/24"),
		Prefix6: netip.MustParsePrefix("2001:db8::/64"),
	}
}

// fpPkt describes a query frame; build encodes it with gVisor's header
// package, so the frames do not depend on the code under test.
type fpPkt struct {
	dstMAC, srcMAC [6]byte
	src, dst       netip.Addr // the family picks IPv4 or IPv6
	sport, dport   uint16
	payload        []byte
	ttl            uint8
	zeroCsum       bool // send UDP checksum 0
	pad            int  // Ethernet padding appended after the datagram
}

func fpQuery4(src netip.Addr, srcMAC [6]byte) fpPkt {
	return fpPkt{dstMAC: fpOurMAC, srcMAC: srcMAC, src: src, dst: fpAddr4, sport: 40000, dport: 53, payload: fpQuery, ttl: 64}
}

func fpQuery6(src netip.Addr, srcMAC [6]byte) fpPkt {
	return fpPkt{dstMAC: fpOurMAC, srcMAC: srcMAC, src: src, dst: fpAddr6, sport: 40000, dport: 53, payload: fpQuery, ttl: 64}
}

func fpTCPIPAddr(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}

func (p fpPkt) build() []byte {
	udpLen := header.UDPMinimumSize + len(p.payload)
	ipLen := header.IPv4MinimumSize
	etherType := header.IPv4ProtocolNumber
	if p.src.Is6() {
		ipLen = header.IPv6MinimumSize
		etherType = header.IPv6ProtocolNumber
	}
	b := make([]byte, header.EthernetMinimumSize+ipLen+udpLen+p.pad)
	header.Ethernet(b).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(p.srcMAC[:]),
		DstAddr: tcpip.LinkAddress(p.dstMAC[:]),
		Type:    etherType,
	})
	ip := b[header.EthernetMinimumSize:]
	src, dst := fpTCPIPAddr(p.src), fpTCPIPAddr(p.dst)
	if p.src.Is4() {
		h := header.IPv4(ip)
		h.Encode(&header.IPv4Fields{
			TotalLength: uint16(ipLen + udpLen),
			TTL:         p.ttl,
			Protocol:    uint8(header.UDPProtocolNumber),
			SrcAddr:     src,
			DstAddr:     dst,
		})
		h.SetChecksum(^h.CalculateChecksum())
	} else {
		header.IPv6(ip).Encode(&header.IPv6Fields{
			PayloadLength:     uint16(udpLen),
			TransportProtocol: header.UDPProtocolNumber,
			HopLimit:          p.ttl,
			SrcAddr:           src,
			DstAddr:           dst,
		})
	}
	u := header.UDP(ip[ipLen : ipLen+udpLen])
	u.Encode(&header.UDPFields{SrcPort: p.sport, DstPort: p.dport, Length: uint16(udpLen)})
	copy(u.Payload(), p.payload)
	if !p.zeroCsum {
		xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(udpLen))
		xsum = checksum.Checksum(p.payload, xsum)
		ck := ^u.CalculateChecksum(xsum)
		if ck == 0 {
			ck = 0xffff
		}
		u.SetChecksum(ck)
	}
	for i := len(b) - p.pad; i < len(b); i++ {
		b[i] = 0xee // padding is garbage, not necessarily zero
	}
	return b
}

// fpRefix recomputes the IPv4 header checksum and the UDP checksum of frame
// after a mutation, as far as the frame's lengths allow, so that a test
// case fails only on the property it is about. It never panics.
func fpRefix(b []byte) {
	if len(b) < header.EthernetMinimumSize {
		return
	}
	ip := b[header.EthernetMinimumSize:]
	switch binary.BigEndian.Uint16(b[12:14]) {
	case fpEtherIPv4:
		if len(ip) < header.IPv4MinimumSize {
			return
		}
		h := header.IPv4(ip)
		hl, tl := int(h.HeaderLength()), int(h.TotalLength())
		if hl < header.IPv4MinimumSize || hl > len(ip) {
			return
		}
		h.SetChecksum(0)
		h.SetChecksum(^checksum.Checksum(ip[:hl], 0))
		if tl > len(ip) || tl < hl+header.UDPMinimumSize {
			return
		}
		fpRefixUDP(ip[hl:tl], h.SourceAddress(), h.DestinationAddress(), true)
	case fpEtherIPv6:
		if len(ip) < header.IPv6MinimumSize {
			return
		}
		h := header.IPv6(ip)
		end := header.IPv6MinimumSize + int(h.PayloadLength())
		if end > len(ip) || int(h.PayloadLength()) < header.UDPMinimumSize {
			return
		}
		fpRefixUDP(ip[header.IPv6MinimumSize:end], h.SourceAddress(), h.DestinationAddress(), false)
	}
}

func fpRefixUDP(seg []byte, src, dst tcpip.Address, v4 bool) {
	u := header.UDP(seg)
	if v4 && u.Checksum() == 0 {
		return
	}
	u.SetChecksum(0)
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(len(seg)))
	ck := ^checksum.Checksum(seg, xsum)
	if ck == 0 {
		ck = 0xffff
	}
	u.SetChecksum(ck)
}

// fpEcho is a Handler that answers "R:" followed by the query (truncated to
// cap(dst)) and records what it was given.
type fpEcho struct {
	calls int
	query []byte
	meta  Meta
	cap   int
}

func (h *fpEcho) HandlePacket(dst, query []byte, m Meta) []byte {
	h.calls++
	h.query = append(h.query[:0], query...)
	h.meta = m
	h.cap = cap(dst)
	dst = append(dst, 'R', ':')
	return append(dst, query[:min(len(query), cap(dst)-len(dst))]...)
}

// fpGarbage fills tx with a pattern, so that a header field the fast path
// forgets to write shows up in the reply checks.
func fpGarbage(tx []byte) {
	for i := range tx {
		tx[i] = 0xa5
	}
}

// fpTX returns a tx buffer of n garbage bytes.
func fpTX(n int) []byte {
	tx := make([]byte, n)
	fpGarbage(tx)
	return tx
}

func fpEchoReply(query []byte) []byte { return append([]byte("R:"), query...) }

// fpFixed writes a fixed reply and records nothing, for allocation tests
// and benchmarks.
type fpFixed struct{ reply []byte }

func (h fpFixed) HandlePacket(dst, _ []byte, _ Meta) []byte { return append(dst, h.reply...) }

// fpFunc adapts a function to Handler.
type fpFunc func(dst, query []byte, m Meta) []byte

func (f fpFunc) HandlePacket(dst, query []byte, m Meta) []byte { return f(dst, query, m) }

// fpVerifyReply parses reply with gVisor's header package and checks that it
// answers the query frame req: MACs, addresses and ports swapped, header
// fields as gVisor sends them, lengths and both checksums valid, payload
// equal to want.
func fpVerifyReply(req, reply []byte, wantDstMAC [6]byte, want []byte) error {
	if len(reply) < header.EthernetMinimumSize {
		return fmt.Errorf("reply of %d bytes", len(reply))
	}
	eth, reqEth := header.Ethernet(reply), header.Ethernet(req)
	if got := eth.DestinationAddress(); got != tcpip.LinkAddress(wantDstMAC[:]) {
		return fmt.Errorf("dst MAC %v, want %v", got, tcpip.LinkAddress(wantDstMAC[:]))
	}
	if got := eth.SourceAddress(); got != reqEth.DestinationAddress() {
		return fmt.Errorf("src MAC %v, want %v", got, reqEth.DestinationAddress())
	}
	if eth.Type() != reqEth.Type() {
		return fmt.Errorf("ethertype %#x, want %#x", eth.Type(), reqEth.Type())
	}
	ipb, reqIP := reply[header.EthernetMinimumSize:], req[header.EthernetMinimumSize:]
	var (
		seg, reqSeg    header.UDP
		src, dst       tcpip.Address
		reqSrc, reqDst tcpip.Address
		hdrLen         int
	)
	switch eth.Type() {
	case header.IPv4ProtocolNumber:
		h, rh := header.IPv4(ipb), header.IPv4(reqIP)
		if !h.IsValid(len(ipb)) {
			return errors.New("invalid IPv4 header")
		}
		if int(h.TotalLength()) != len(ipb) {
			return fmt.Errorf("IPv4 total length %d, frame carries %d", h.TotalLength(), len(ipb))
		}
		if h.HeaderLength() != header.IPv4MinimumSize || !h.IsChecksumValid() {
			return fmt.Errorf("IPv4 header length %d, checksum valid %v", h.HeaderLength(), h.IsChecksumValid())
		}
		if h.Flags() != header.IPv4FlagDontFragment || h.FragmentOffset() != 0 || h.ID() != 0 {
			return fmt.Errorf("IPv4 flags %#x offset %d id %d, want DF, 0, 0", h.Flags(), h.FragmentOffset(), h.ID())
		}
		if tos, _ := h.TOS(); h.TTL() != 64 || tos != 0 || h.TransportProtocol() != header.UDPProtocolNumber {
			return fmt.Errorf("IPv4 TTL %d TOS %d proto %d", h.TTL(), tos, h.TransportProtocol())
		}
		src, dst, reqSrc, reqDst = h.SourceAddress(), h.DestinationAddress(), rh.SourceAddress(), rh.DestinationAddress()
		seg, reqSeg = header.UDP(h.Payload()), header.UDP(rh.Payload())
		hdrLen = header.IPv4MinimumSize
	case header.IPv6ProtocolNumber:
		h, rh := header.IPv6(ipb), header.IPv6(reqIP)
		if !h.IsValid(len(ipb)) {
			return errors.New("invalid IPv6 header")
		}
		if header.IPv6MinimumSize+int(h.PayloadLength()) != len(ipb) {
			return fmt.Errorf("IPv6 payload length %d, frame carries %d", h.PayloadLength(), len(ipb)-header.IPv6MinimumSize)
		}
		tc, fl := h.TOS()
		if tc != 0 || fl != 0 || h.HopLimit() != 64 || h.TransportProtocol() != header.UDPProtocolNumber {
			return fmt.Errorf("IPv6 class %d flow %d hop limit %d next %d", tc, fl, h.HopLimit(), h.TransportProtocol())
		}
		src, dst, reqSrc, reqDst = h.SourceAddress(), h.DestinationAddress(), rh.SourceAddress(), rh.DestinationAddress()
		seg, reqSeg = header.UDP(h.Payload()), header.UDP(rh.Payload())
		hdrLen = header.IPv6MinimumSize
	default:
		return fmt.Errorf("ethertype %#x", eth.Type())
	}
	if src != reqDst || dst != reqSrc {
		return fmt.Errorf("addresses %v -> %v, want %v -> %v", src, dst, reqDst, reqSrc)
	}
	if len(seg) < header.UDPMinimumSize || int(seg.Length()) != len(seg) {
		return fmt.Errorf("UDP length field %d, segment %d", seg.Length(), len(seg))
	}
	if seg.SourcePort() != reqSeg.DestinationPort() || seg.DestinationPort() != reqSeg.SourcePort() {
		return fmt.Errorf("ports %d -> %d, want %d -> %d", seg.SourcePort(), seg.DestinationPort(), reqSeg.DestinationPort(), reqSeg.SourcePort())
	}
	if seg.Checksum() == 0 {
		return errors.New("UDP checksum absent")
	}
	if !seg.IsChecksumValid(src, dst, checksum.Checksum(seg.Payload(), 0)) {
		return errors.New("UDP checksum invalid")
	}
	if !bytes.Equal(seg.Payload(), want) {
		return fmt.Errorf("payload %q, want %q", seg.Payload(), want)
	}
	wantIPLen := hdrLen + header.UDPMinimumSize + len(want)
	if len(ipb) != wantIPLen {
		return fmt.Errorf("IP packet %d bytes, want %d", len(ipb), wantIPLen)
	}
	return nil
}

// Verdict kinds for the case table and the fuzz oracle.
type fpKind uint8

const (
	fpAccept fpKind = iota
	fpPass
	fpDrop
)

func (k fpKind) String() string {
	return [...]string{"fpAcceptAt", "pass", "drop"}[k]
}

type fpWant struct {
	kind   fpKind
	pass   PassReason
	drop   DropReason
	dstMAC [6]byte // fpAcceptAt: the reply's destination MAC
}

func fpAcceptAt(mac [6]byte) fpWant { return fpWant{kind: fpAccept, dstMAC: mac} }
func fpPassed(r PassReason) fpWant  { return fpWant{kind: fpPass, pass: r} }
func fpDropped(r DropReason) fpWant {
	return fpWant{kind: fpDrop, drop: r}
}

// Frame mutators for the table.
func fpSetByte(off int, v byte) func([]byte) []byte {
	return func(b []byte) []byte { b[off] = v; return b }
}

func fpSet16(off int, v uint16) func([]byte) []byte {
	return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
}

func fpAdd16(off int, d int) func([]byte) []byte {
	return func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[off:], uint16(int(binary.BigEndian.Uint16(b[off:]))+d))
		return b
	}
}

func fpChain(ms ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, m := range ms {
			b = m(b)
		}
		return b
	}
}

// fpInsert puts ins at offset off.
func fpInsert(off int, ins ...byte) func([]byte) []byte {
	return func(b []byte) []byte {
		return append(b[:off:off], append(append([]byte(nil), ins...), b[off:]...)...)
	}
}

// Offsets in a query frame.
const (
	fpO4TL    = 14 + 2
	fpO4Frag  = 14 + 6
	fpO4Proto = 14 + 9
	fpO4Csum  = 14 + 10
	fpO4Dst   = 14 + 16
	fpO4UDP   = 14 + 20
	fpO6PL    = 14 + 4
	fpO6Next  = 14 + 6
	fpO6Dst   = 14 + 24
	fpO6UDP   = 14 + 40
)

func TestFastPathCases(t *testing.T) {
	ipv4Src := func(a string) func([]byte) []byte {
		return func(b []byte) []byte { x := netip.MustParseAddr(a).As4(); copy(b[14+12:], x[:]); return b }
	}
	ipv4Dst := func(a string) func([]byte) []byte {
		return func(b []byte) []byte { x := netip.MustParseAddr(a).As4(); copy(b[fpO4Dst:], x[:]); return b }
	}
	ipv6Src := func(a string) func([]byte) []byte {
		return func(b []byte) []byte { x := netip.MustParseAddr(a).As16(); copy(b[14+8:], x[:]); return b }
	}
	ipv6Dst := func(a string) func([]byte) []byte {
		return func(b []byte) []byte { x := netip.MustParseAddr(a).As16(); copy(b[fpO6Dst:], x[:]); return b }
	}
	v4 := fpQuery4(fpPeer4, fpPeerMAC)
	v4far := fpQuery4(fpFar4, fpOtherMAC)
	v6 := fpQuery6(fpPeer6, fpPeerMAC)
	v6far := fpQuery6(fpFar6, fpOtherMAC)
	with := func(p fpPkt, f func(*fpPkt)) fpPkt { f(&p); return p }

	tests := []struct {
		name     string
		pkt      fpPkt
		mut      func([]byte) []byte // applied after build; nil: none
		refix    bool                // recompute checksums after mut
		gw4, gw6 bool
		want     fpWant
	}{
		// Accepted.
		{name: "v4 on-link", pkt: v4, want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 on-link ignores gateway", pkt: v4, gw4: true, want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 off-link via gateway", pkt: v4far, gw4: true, want: fpAcceptAt(fpGW4MAC)},
		{name: "v4 zero UDP checksum", pkt: with(v4, func(p *fpPkt) { p.zeroCsum = true }), want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 Ethernet padding", pkt: with(v4, func(p *fpPkt) { p.payload = []byte{1, 2, 3}; p.pad = 15 }), want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 one byte payload", pkt: with(v4, func(p *fpPkt) { p.payload = []byte{9} }), want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 TTL 1", pkt: with(v4, func(p *fpPkt) { p.ttl = 1 }), want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 DF set", pkt: v4, mut: fpSet16(fpO4Frag, 0x4000), refix: true, want: fpAcceptAt(fpPeerMAC)},
		{name: "v4 TOS and ID set", pkt: v4, mut: fpChain(fpSetByte(14+1, 0xb8), fpSet16(14+4, 0x1234)), refix: true, want: fpAcceptAt(fpPeerMAC)},
		{name: "v6 on-link", pkt: v6, want: fpAcceptAt(fpPeerMAC)},
		{name: "v6 on-link ignores gateway", pkt: v6, gw6: true, want: fpAcceptAt(fpPeerMAC)},
		{name: "v6 off-link via gateway", pkt: v6far, gw6: true, want: fpAcceptAt(fpGW6MAC)},
		{name: "v6 Ethernet padding", pkt: with(v6, func(p *fpPkt) { p.pad = 7 }), want: fpAcceptAt(fpPeerMAC)},
		{name: "v6 traffic class and flow label", pkt: v6, mut: fpChain(fpSetByte(14+1, 0xab), fpSetByte(14+3, 0xcd)), want: fpAcceptAt(fpPeerMAC)},

		// Not Ethernet II IP to our MAC.
		{name: "foreign dst MAC", pkt: with(v4, func(p *fpPkt) { p.dstMAC = fpOtherMAC }), want: fpPassed(fpPassEther)},
		{name: "broadcast dst MAC", pkt: with(v4, func(p *fpPkt) { p.dstMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }), want: fpPassed(fpPassEther)},
		{name: "multicast src MAC", pkt: with(v4, func(p *fpPkt) { p.srcMAC = [6]byte{0x01, 0, 0x5e, 0, 0, 1} }), want: fpPassed(fpPassSource)},
		{name: "zero src MAC", pkt: with(v4, func(p *fpPkt) { p.srcMAC = [6]byte{} }), want: fpPassed(fpPassSource)},
		{name: "VLAN tag", pkt: v4, mut: fpInsert(12, 0x81, 0x00, 0x00, 0x05), want: fpPassed(fpPassEther)},
		{name: "ARP ethertype", pkt: v4, mut: fpSet16(12, 0x0806), want: fpPassed(fpPassEther)},
		{name: "IPv6 in IPv4 ethertype", pkt: v6, mut: fpSet16(12, 0x0800), want: fpPassed(fpPassMalformed)},

		// IPv4 header.
		{name: "v4 options", pkt: v4, mut: fpChain(fpInsert(fpO4UDP, 1, 1, 1, 0), fpSetByte(14, 0x46), fpAdd16(fpO4TL, 4)), refix: true, want: fpPassed(fpPassOptions)},
		{name: "v4 IHL 4", pkt: v4, mut: fpSetByte(14, 0x44), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 MF", pkt: v4, mut: fpSet16(fpO4Frag, 0x2000), refix: true, want: fpPassed(fpPassFragment)},
		{name: "v4 offset", pkt: v4, mut: fpSet16(fpO4Frag, 0x0010), refix: true, want: fpPassed(fpPassFragment)},
		{name: "v4 DF and offset", pkt: v4, mut: fpSet16(fpO4Frag, 0x4001), refix: true, want: fpPassed(fpPassFragment)},
		{name: "v4 reserved flag", pkt: v4, mut: fpSet16(fpO4Frag, 0x8000), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 bad header checksum", pkt: v4, mut: fpAdd16(fpO4Csum, 1), want: fpPassed(fpPassMalformed)},
		{name: "v4 TTL 0", pkt: with(v4, func(p *fpPkt) { p.ttl = 0 }), want: fpPassed(fpPassMalformed)},
		{name: "v4 TCP", pkt: v4, mut: fpSetByte(fpO4Proto, 6), refix: true, want: fpPassed(fpPassNotUDP)},
		{name: "v4 ICMP", pkt: v4, mut: fpSetByte(fpO4Proto, 1), refix: true, want: fpPassed(fpPassNotUDP)},
		{name: "v4 other dst", pkt: v4, mut: ipv4Dst("198.18.0.3"), refix: true, want: fpPassed(fpPassNotOurs)},
		{name: "v4 broadcast dst", pkt: v4, mut: ipv4Dst("255.255.255.255"), refix: true, want: fpPassed(fpPassNotOurs)},
		{name: "v4 wrong port", pkt: with(v4, func(p *fpPkt) { p.dport = 54 }), want: fpPassed(fpPassNotOurs)},
		{name: "v4 total length too long", pkt: v4, mut: fpAdd16(fpO4TL, 1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 total length too short", pkt: v4, mut: fpAdd16(fpO4TL, -1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 total length below UDP", pkt: v4, mut: fpSet16(fpO4TL, 27), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 UDP length too long", pkt: v4, mut: fpAdd16(fpO4UDP+4, 1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 UDP length too short", pkt: v4, mut: fpAdd16(fpO4UDP+4, -1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v4 UDP length 7", pkt: v4, mut: fpSet16(fpO4UDP+4, 7), refix: true, want: fpPassed(fpPassMalformed)},

		// IPv4 source.
		{name: "v4 src broadcast", pkt: v4, mut: ipv4Src("255.255.255.255"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src directed broadcast", pkt: v4, mut: ipv4Src("198.18.0.255"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src multicast", pkt: v4, mut: ipv4Src("224.0.0.251"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src reserved", pkt: v4, mut: ipv4Src("240.0.0.1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src unspecified", pkt: v4, mut: ipv4Src("0.0.0.0"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src this network", pkt: v4, mut: ipv4Src("0.1.2.3"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src loopback", pkt: v4, mut: ipv4Src("127.0.0.1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src link-local", pkt: v4, mut: ipv4Src("169.254.1.1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src ourselves", pkt: v4, mut: ipv4Src("198.18.0.2"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v4 src port 0", pkt: with(v4, func(p *fpPkt) { p.sport = 0 }), want: fpPassed(fpPassSource)},

		// IPv4 next hop and checksum.
		{name: "v4 off-link no gateway", pkt: v4far, want: fpPassed(fpPassNoGateway)},
		{name: "v4 off-link gateway only for v6", pkt: v4far, gw6: true, want: fpPassed(fpPassNoGateway)},
		{name: "v4 bad UDP checksum", pkt: v4, mut: fpAdd16(fpO4UDP+6, 1), want: fpDropped(fpDropChecksum)},
		{name: "v4 bad UDP payload", pkt: v4, mut: func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }, want: fpDropped(fpDropChecksum)},

		// IPv6.
		{name: "v6 version 4", pkt: v6, mut: fpSetByte(14, 0x40), want: fpPassed(fpPassMalformed)},
		{name: "v6 hop-by-hop", pkt: v6, mut: fpChain(fpInsert(fpO6UDP, 17, 0, 1, 4, 0, 0, 0, 0), fpSetByte(fpO6Next, 0), fpAdd16(fpO6PL, 8)), want: fpPassed(fpPassOptions)},
		{name: "v6 destination options", pkt: v6, mut: fpChain(fpInsert(fpO6UDP, 17, 0, 1, 4, 0, 0, 0, 0), fpSetByte(fpO6Next, 60), fpAdd16(fpO6PL, 8)), want: fpPassed(fpPassOptions)},
		{name: "v6 fragment header", pkt: v6, mut: fpChain(fpInsert(fpO6UDP, 17, 0, 0, 1, 0, 0, 0, 1), fpSetByte(fpO6Next, 44), fpAdd16(fpO6PL, 8)), want: fpPassed(fpPassFragment)},
		{name: "v6 ICMPv6", pkt: v6, mut: fpSetByte(fpO6Next, 58), want: fpPassed(fpPassNotUDP)},
		{name: "v6 TCP", pkt: v6, mut: fpSetByte(fpO6Next, 6), want: fpPassed(fpPassNotUDP)},
		{name: "v6 link-local dst", pkt: v6, mut: ipv6Dst("fe80::2"), refix: true, want: fpPassed(fpPassNotOurs)},
		{name: "v6 multicast dst", pkt: v6, mut: ipv6Dst("ff02::1"), refix: true, want: fpPassed(fpPassNotOurs)},
		{name: "v6 other dst", pkt: v6, mut: ipv6Dst("2001:db8::3"), refix: true, want: fpPassed(fpPassNotOurs)},
		{name: "v6 wrong port", pkt: with(v6, func(p *fpPkt) { p.dport = 5353 }), want: fpPassed(fpPassNotOurs)},
		{name: "v6 src link-local", pkt: v6, mut: ipv6Src("fe80::1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src multicast", pkt: v6, mut: ipv6Src("ff02::1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src unspecified", pkt: v6, mut: ipv6Src("::"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src loopback", pkt: v6, mut: ipv6Src("::1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src v4-mapped", pkt: v6, mut: ipv6Src("::ffff:198.18.0.1"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src ourselves", pkt: v6, mut: ipv6Src("2001:db8::2"), refix: true, want: fpPassed(fpPassSource)},
		{name: "v6 src port 0", pkt: with(v6, func(p *fpPkt) { p.sport = 0 }), want: fpPassed(fpPassSource)},
		{name: "v6 payload length too long", pkt: v6, mut: fpAdd16(fpO6PL, 1), want: fpPassed(fpPassMalformed)},
		{name: "v6 payload length too short", pkt: v6, mut: fpAdd16(fpO6PL, -1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v6 payload length 0 (jumbo)", pkt: v6, mut: fpSet16(fpO6PL, 0), want: fpPassed(fpPassMalformed)},
		{name: "v6 payload length 7", pkt: v6, mut: fpSet16(fpO6PL, 7), want: fpPassed(fpPassMalformed)},
		{name: "v6 UDP length too long", pkt: v6, mut: fpAdd16(fpO6UDP+4, 1), refix: true, want: fpPassed(fpPassMalformed)},
		{name: "v6 off-link no gateway", pkt: v6far, want: fpPassed(fpPassNoGateway)},
		{name: "v6 off-link gateway only for v4", pkt: v6far, gw4: true, want: fpPassed(fpPassNoGateway)},
		{name: "v6 bad UDP checksum", pkt: v6, mut: fpAdd16(fpO6UDP+6, 1), want: fpDropped(fpDropChecksum)},
		{name: "v6 zero UDP checksum", pkt: with(v6, func(p *fpPkt) { p.zeroCsum = true }), want: fpDropped(fpDropChecksum)},
	}
	tx := fpTX(1514)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rx := tt.pkt.build()
			if tt.mut != nil {
				rx = tt.mut(rx)
			}
			if tt.refix {
				fpRefix(rx)
			}
			// The oracle must agree with the table, or the fuzz test
			// checks against the wrong thing.
			if k, _ := fpRefVerdict(fpConfig(), rx, tt.gw4, tt.gw6); k != tt.want.kind {
				t.Errorf("reference verdict %v, table says %v", k, tt.want.kind)
			}
			h := &fpEcho{}
			f := newFastPath(fpConfig(), h)
			orig := bytes.Clone(rx)
			fpGarbage(tx)
			n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, tt.gw4, tt.gw6)
			if !bytes.Equal(rx, orig) {
				t.Fatalf("answer modified rx")
			}
			st := f.stats()
			var want fastPathStats
			switch tt.want.kind {
			case fpAccept:
				want.Answered = 1
				if !handled || n == 0 {
					t.Fatalf("answer = %d, %v; want a reply", n, handled)
				}
				if err := fpVerifyReply(rx, tx[:n], tt.want.dstMAC, fpEchoReply(tt.pkt.payload)); err != nil {
					t.Errorf("reply: %v\n% x", err, tx[:n])
				}
				if h.calls != 1 || !bytes.Equal(h.query, tt.pkt.payload) {
					t.Errorf("handler saw %d calls, query %q; want 1, %q", h.calls, h.query, tt.pkt.payload)
				}
				wantMeta := Meta{Client: netip.AddrPortFrom(tt.pkt.src, tt.pkt.sport), Local: netip.AddrPortFrom(tt.pkt.dst, tt.pkt.dport), Fast: true}
				if h.meta != wantMeta {
					t.Errorf("meta %+v, want %+v", h.meta, wantMeta)
				}
			case fpPass:
				want.Passed[tt.want.pass] = 1
				if handled || n != 0 {
					t.Errorf("answer = %d, %v; want pass", n, handled)
				}
			case fpDrop:
				want.Dropped[tt.want.drop] = 1
				if !handled || n != 0 {
					t.Errorf("answer = %d, %v; want drop", n, handled)
				}
			}
			if tt.want.kind != fpAccept && h.calls != 0 {
				t.Errorf("handler called %d times", h.calls)
			}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

// TestFastPathTruncated feeds every proper prefix of valid queries: none may
// be answered or fpDropped, since each has a length field that lies.
func TestFastPathTruncated(t *testing.T) {
	tx := fpTX(1514)
	for _, p := range []fpPkt{fpQuery4(fpPeer4, fpPeerMAC), fpQuery6(fpPeer6, fpPeerMAC)} {
		full := p.build()
		f := newFastPath(fpConfig(), &fpEcho{})
		for l := 0; l < len(full); l++ {
			rx := bytes.Clone(full[:l])
			if n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, true, true); handled || n != 0 {
				t.Errorf("%v, %d of %d bytes: answer = %d, %v; want pass", p.src, l, len(full), n, handled)
			}
		}
		if n, handled := f.answer(full, tx, fpGW4MAC, fpGW6MAC, true, true); !handled || n == 0 {
			t.Errorf("%v, full frame: answer = %d, %v; want a reply", p.src, n, handled)
		}
		st := f.stats()
		if st.PassedTotal() != uint64(len(full)) || st.Answered != 1 || st.DroppedTotal() != 0 {
			t.Errorf("%v: stats %+v; want %d fpPassed, 1 answered", p.src, st, len(full))
		}
	}
}

// TestFastPathHandlerResults covers what a handler may return: nothing, a
// reallocated slice, memory elsewhere, too much.
func TestFastPathHandlerResults(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, 2000)
	tests := []struct {
		name       string
		h          fpFunc
		want       []byte // reply payload; nil: fpDropped
		copied     uint64
		wantDrop   DropReason
		wantAnswer bool
	}{
		{name: "empty", h: func(dst, _ []byte, _ Meta) []byte { return dst[:0] }, wantDrop: fpDropEmpty},
		{name: "nil", h: func(_, _ []byte, _ Meta) []byte { return nil }, wantDrop: fpDropEmpty},
		{name: "in place", h: func(dst, _ []byte, _ Meta) []byte { return append(dst, "ok"...) }, want: []byte("ok"), wantAnswer: true},
		{name: "full capacity", h: func(dst, _ []byte, _ Meta) []byte { return append(dst, big[:cap(dst)]...) }, want: big[:1472], wantAnswer: true},
		{name: "reallocated", h: func(_, _ []byte, _ Meta) []byte { return []byte("fresh") }, want: []byte("fresh"), copied: 1, wantAnswer: true},
		{name: "echo query slice", h: func(_, q []byte, _ Meta) []byte { return q }, want: fpQuery, copied: 1, wantAnswer: true},
		{name: "offset inside tx", h: func(dst, _ []byte, _ Meta) []byte { return append(dst, "..shifted"...)[2:] }, want: []byte("shifted"), copied: 1, wantAnswer: true},
		{name: "grown past MTU", h: func(dst, _ []byte, _ Meta) []byte { return append(dst, big...) }, wantDrop: fpDropTooBig},
	}
	rx := fpQuery4(fpPeer4, fpPeerMAC).build()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := fpTX(1514)
			f := newFastPath(fpConfig(), tt.h)
			n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
			st := f.stats()
			if !handled {
				t.Fatalf("not handled")
			}
			if !tt.wantAnswer {
				if n != 0 || st.Dropped[tt.wantDrop] != 1 || st.Answered != 0 {
					t.Errorf("n = %d, stats %+v; want fpDropped %v", n, st, tt.wantDrop)
				}
				return
			}
			if err := fpVerifyReply(rx, tx[:n], fpPeerMAC, tt.want); err != nil {
				t.Errorf("reply: %v", err)
			}
			if st.Answered != 1 || st.Copied != tt.copied {
				t.Errorf("stats %+v; want 1 answered, %d copied", st, tt.copied)
			}
		})
	}
}

// TestFastPathMTU checks the capacity offered to the handler: bounded by the
// configured MTU and by len(tx), and no reply at all when nothing fits.
func TestFastPathMTU(t *testing.T) {
	tests := []struct {
		name    string
		mtu     int
		txLen   int
		pkt     fpPkt
		wantCap int // 0: fpPassed with fpPassNoRoom
	}{
		{name: "v4 default", txLen: 1514, pkt: fpQuery4(fpPeer4, fpPeerMAC), wantCap: 1472},
		{name: "v6 default", txLen: 1514, pkt: fpQuery6(fpPeer6, fpPeerMAC), wantCap: 1452},
		{name: "v4 MTU 576", mtu: 576, txLen: 1514, pkt: fpQuery4(fpPeer4, fpPeerMAC), wantCap: 548},
		{name: "v6 MTU 1280", mtu: 1280, txLen: 1514, pkt: fpQuery6(fpPeer6, fpPeerMAC), wantCap: 1232},
		{name: "v4 jumbo MTU, big tx", mtu: 9000, txLen: 9014, pkt: fpQuery4(fpPeer4, fpPeerMAC), wantCap: 8972},
		{name: "v4 short tx", txLen: 100, pkt: fpQuery4(fpPeer4, fpPeerMAC), wantCap: 58},
		{name: "v6 short tx", txLen: 100, pkt: fpQuery6(fpPeer6, fpPeerMAC), wantCap: 38},
		{name: "v4 tx headers only", txLen: 42, pkt: fpQuery4(fpPeer4, fpPeerMAC)},
		{name: "v4 MTU 28", mtu: 28, txLen: 1514, pkt: fpQuery4(fpPeer4, fpPeerMAC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fpConfig()
			cfg.MTU = tt.mtu
			h := &fpEcho{}
			f := newFastPath(cfg, h)
			tx := fpTX(tt.txLen)
			rx := tt.pkt.build()
			n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
			if tt.wantCap == 0 {
				if handled || f.stats().Passed[fpPassNoRoom] != 1 {
					t.Errorf("answer = %d, %v, stats %+v; want pass for no room", n, handled, f.stats())
				}
				return
			}
			if !handled || n == 0 {
				t.Fatalf("answer = %d, %v; want a reply", n, handled)
			}
			if h.cap != tt.wantCap {
				t.Errorf("cap(dst) = %d, want %d", h.cap, tt.wantCap)
			}
			want := fpEchoReply(tt.pkt.payload)
			want = want[:min(len(want), tt.wantCap)]
			if err := fpVerifyReply(rx, tx[:n], fpPeerMAC, want); err != nil {
				t.Errorf("reply: %v", err)
			}
		})
	}
}

// TestFastPathConfig checks the normalisation done by newFastPath.
func TestFastPathConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*fastPathConfig)
		pkt  fpPkt
		want fpWant
	}{
		{name: "no IPv4 address", mod: func(c *fastPathConfig) { c.Addr4 = [4]byte{} }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpPassed(fpPassNotOurs)},
		{name: "no IPv6 address", mod: func(c *fastPathConfig) { c.Addr6 = [16]byte{} }, pkt: fpQuery6(fpPeer6, fpPeerMAC), want: fpPassed(fpPassNotOurs)},
		{name: "link-local IPv6 address disables IPv6", mod: func(c *fastPathConfig) { c.Addr6 = netip.MustParseAddr("fe80::2").As16() },
			pkt: fpWith6Dst(fpQuery6(fpPeer6, fpPeerMAC), "fe80::2"), want: fpPassed(fpPassNotOurs)},
		{name: "port 0 means 53", mod: func(c *fastPathConfig) { c.Port = 0 }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpAcceptAt(fpPeerMAC)},
		{name: "other port", mod: func(c *fastPathConfig) { c.Port = 5353 }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpPassed(fpPassNotOurs)},
		{name: "no IPv4 prefix: all off-link", mod: func(c *fastPathConfig) { c.Prefix4 = netip.Prefix{} }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpPassed(fpPassNoGateway)},
		{name: "no IPv6 prefix: all off-link", mod: func(c *fastPathConfig) { c.Prefix6 = netip.Prefix{} }, pkt: fpQuery6(fpPeer6, fpPeerMAC), want: fpPassed(fpPassNoGateway)},
		{name: "unmasked prefix", mod: func(c *fastPathConfig) { c.Prefix4 = netip.MustParsePrefix("198.18.0.2/24") }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpAcceptAt(fpPeerMAC)},
		{name: "/31 has no broadcast", mod: func(c *fastPathConfig) { c.Prefix4 = netip.MustParsePrefix("198.18.0.2/31") },
			pkt: fpQuery4(netip.MustParseAddr("198.18.0.3"), fpPeerMAC), want: fpAcceptAt(fpPeerMAC)},
		{name: "/0 on-link", mod: func(c *fastPathConfig) { c.Prefix4 = netip.MustParsePrefix("0.0.0.0/0") }, pkt: fpQuery4(fpFar4, fpOtherMAC), want: fpAcceptAt(fpOtherMAC)},
		{name: "IPv6 prefix in Prefix4 ignored", mod: func(c *fastPathConfig) { c.Prefix4 = netip.MustParsePrefix("2001:db8::/64") }, pkt: fpQuery4(fpPeer4, fpPeerMAC), want: fpPassed(fpPassNoGateway)},
	}
	tx := fpTX(1514)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fpConfig()
			tt.mod(&cfg)
			f := newFastPath(cfg, &fpEcho{})
			rx := tt.pkt.build()
			n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
			st := f.stats()
			switch tt.want.kind {
			case fpAccept:
				if !handled || n == 0 {
					t.Fatalf("answer = %d, %v; want reply", n, handled)
				}
				if err := fpVerifyReply(rx, tx[:n], tt.want.dstMAC, fpEchoReply(tt.pkt.payload)); err != nil {
					t.Error(err)
				}
			case fpPass:
				if handled || st.Passed[tt.want.pass] != 1 {
					t.Errorf("answer = %d, %v, stats %+v; want pass %v", n, handled, st, tt.want.pass)
				}
			}
		})
	}
}

func fpWith6Dst(p fpPkt, a string) fpPkt {
	p.dst = netip.MustParseAddr(a)
	return p
}

func TestFastPathNilHandlerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("newFastPath(cfg, nil) did not panic")
		}
	}()
	newFastPath(fpConfig(), nil)
}

func TestFastPathReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range fpNumPass {
		s := r.String()
		if s == "unknown" || seen[s] {
			t.Errorf("pass reason %d: name %q", r, s)
		}
		seen[s] = true
	}
	for r := range fpNumDrop {
		s := r.String()
		if s == "unknown" || seen[s] {
			t.Errorf("drop reason %d: name %q", r, s)
		}
		seen[s] = true
	}
}

// fpRefChecksum is the textbook RFC 1071 sum, 16 bits at a time.
func fpRefChecksum(b []byte) uint16 {
	var s uint32
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// TestFastPathZeroAllocs enforces the zero-allocation claim on every kind of
// outcome.
func TestFastPathZeroAllocs(t *testing.T) {
	h := fpFixed{reply: bytes.Repeat([]byte{0xab}, 100)}
	cases := []struct {
		name string
		rx   []byte
		gw   bool
	}{
		{"v4 answer", fpQuery4(fpPeer4, fpPeerMAC).build(), false},
		{"v4 answer via gateway", fpQuery4(fpFar4, fpOtherMAC).build(), true},
		{"v6 answer", fpQuery6(fpPeer6, fpPeerMAC).build(), false},
		{"v6 answer via gateway", fpQuery6(fpFar6, fpOtherMAC).build(), true},
		{"pass ARP", fpSet16(12, 0x0806)(fpQuery4(fpPeer4, fpPeerMAC).build()), false},
		{"pass foreign MAC", fpPkt{dstMAC: fpOtherMAC, srcMAC: fpPeerMAC, src: fpPeer4, dst: fpAddr4, sport: 1, dport: 53, ttl: 64}.build(), false},
		{"pass no gateway v4", fpQuery4(fpFar4, fpOtherMAC).build(), false},
		{"pass no gateway v6", fpQuery6(fpFar6, fpOtherMAC).build(), false},
		{"drop bad checksum", fpAdd16(fpO4UDP+6, 1)(fpQuery4(fpPeer4, fpPeerMAC).build()), false},
	}
	tx := fpTX(1514)
	f := newFastPath(fpConfig(), h)
	for _, c := range cases {
		allocs := testing.AllocsPerRun(100, func() {
			f.answer(c.rx, tx, fpGW4MAC, fpGW6MAC, c.gw, c.gw)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per answer, want 0", c.name, allocs)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = f.stats() }); allocs != 0 {
		t.Errorf("stats: %v allocs, want 0", allocs)
	}
}

// fpRefVerdict is a slow, independent statement of what the fast path must
// do with frame, written with gVisor's header package and net/netip. It
// ignores the handler (fpAcceptAt means "handed to the handler") and the room
// in tx (the callers use an MTU-sized tx).
func fpRefVerdict(cfg fastPathConfig, frame []byte, gw4, gw6 bool) (fpKind, [6]byte) {
	var none [6]byte
	if len(frame) < header.EthernetMinimumSize {
		return fpPass, none
	}
	eth := header.Ethernet(frame)
	if eth.DestinationAddress() != tcpip.LinkAddress(cfg.MAC[:]) {
		return fpPass, none
	}
	srcMAC := [6]byte([]byte(eth.SourceAddress()))
	if srcMAC[0]&1 != 0 || srcMAC == none {
		return fpPass, none
	}
	b := frame[header.EthernetMinimumSize:]
	var (
		seg      header.UDP
		src, dst netip.Addr
		onLink   bool
		gw       bool
		gwMAC    [6]byte
	)
	switch eth.Type() {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(b)
		if !ip.IsValid(len(b)) || ip.HeaderLength() != header.IPv4MinimumSize || !ip.IsChecksumValid() {
			return fpPass, none
		}
		if ip.Flags()&0x4 != 0 || ip.More() || ip.FragmentOffset() != 0 || ip.TTL() == 0 {
			return fpPass, none
		}
		if ip.TransportProtocol() != header.UDPProtocolNumber {
			return fpPass, none
		}
		src, dst = netip.AddrFrom4(ip.SourceAddress().As4()), netip.AddrFrom4(ip.DestinationAddress().As4())
		if cfg.Addr4 == [4]byte{} || dst != netip.AddrFrom4(cfg.Addr4) {
			return fpPass, none
		}
		p := cfg.Prefix4.Masked()
		bcast := false
		if p.Bits() <= 30 {
			a := p.Addr().As4()
			m := ^uint32(0) >> p.Bits()
			bcast = binary.BigEndian.Uint32(src.AsSlice()) == binary.BigEndian.Uint32(a[:])|m
		}
		s4 := src.As4()
		if src.IsUnspecified() || s4[0] == 0 || s4[0] >= 240 || src.IsLoopback() || src.IsMulticast() ||
			src.IsLinkLocalUnicast() || src == dst || bcast {
			return fpPass, none
		}
		seg = header.UDP(ip.Payload())
		onLink = cfg.Prefix4.Contains(src)
		gw, gwMAC = gw4, fpGW4MAC
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(b)
		if !ip.IsValid(len(b)) || ip.PayloadLength() == 0 || header.IPVersion(b) != header.IPv6Version {
			return fpPass, none
		}
		if ip.TransportProtocol() != header.UDPProtocolNumber { // NextHeader: extension headers included
			return fpPass, none
		}
		src, dst = netip.AddrFrom16(ip.SourceAddress().As16()), netip.AddrFrom16(ip.DestinationAddress().As16())
		our := netip.AddrFrom16(cfg.Addr6)
		if our.IsUnspecified() || our.IsLinkLocalUnicast() || our.IsMulticast() || dst != our {
			return fpPass, none
		}
		s16 := src.As16()
		if src.IsMulticast() || src.IsLinkLocalUnicast() || binary.BigEndian.Uint64(s16[:8]) == 0 || src == dst {
			return fpPass, none
		}
		seg = header.UDP(ip.Payload())
		onLink = cfg.Prefix6.Contains(src)
		gw, gwMAC = gw6, fpGW6MAC
	default:
		return fpPass, none
	}
	port := cfg.Port
	if port == 0 {
		port = 53
	}
	if len(seg) < header.UDPMinimumSize || int(seg.Length()) != len(seg) || seg.DestinationPort() != port || seg.SourcePort() == 0 {
		return fpPass, none
	}
	next := srcMAC
	if !onLink {
		if !gw {
			return fpPass, none
		}
		next = gwMAC
	}
	if seg.Checksum() != 0 || src.Is6() {
		if !seg.IsChecksumValid(fpTCPIPAddr(src), fpTCPIPAddr(dst), checksum.Checksum(seg.Payload(), 0)) || seg.Checksum() == 0 {
			return fpDrop, none
		}
	}
	return fpAccept, next
}

func FuzzFastPath(f *testing.F) {
	seeds := [][]byte{
		fpQuery4(fpPeer4, fpPeerMAC).build(),
		fpQuery4(fpFar4, fpOtherMAC).build(),
		fpQuery6(fpPeer6, fpPeerMAC).build(),
		fpQuery6(fpFar6, fpOtherMAC).build(),
		fpPkt{dstMAC: fpOurMAC, srcMAC: fpPeerMAC, src: fpPeer4, dst: fpAddr4, sport: 1, dport: 53, ttl: 1, pad: 18}.build(),
		fpPkt{dstMAC: fpOurMAC, srcMAC: fpPeerMAC, src: fpPeer6, dst: fpAddr6, sport: 1, dport: 53, ttl: 1, payload: []byte{0xaa, 1, 2}}.build(),
		fpInsert(fpO4UDP, 1, 1, 1, 0)(fpQuery4(fpPeer4, fpPeerMAC).build()),
		{},
	}
	for _, s := range seeds {
		for flags := range byte(8) {
			f.Add(s, flags)
		}
	}
	cfg := fpConfig()
	// The handler echoes the query; a query starting with 0xaa is answered
	// from fresh memory to exercise the copy path.
	h := fpFunc(func(dst, q []byte, _ Meta) []byte {
		if len(q) > 0 && q[0] == 0xaa {
			return append([]byte(nil), q[:min(len(q), cap(dst))]...)
		}
		return append(dst, q[:min(len(q), cap(dst))]...)
	})
	fp := newFastPath(cfg, h)
	f.Fuzz(func(t *testing.T, rx []byte, flags byte) {
		gw4, gw6 := flags&1 != 0, flags&2 != 0
		if flags&4 != 0 {
			// Let mutations reach past the checksums.
			fpRefix(rx)
		}
		orig := bytes.Clone(rx)
		tx := fpTX(1514)
		wantKind, wantMAC := fpRefVerdict(cfg, rx, gw4, gw6)
		before := fp.stats()
		n, handled := fp.answer(rx, tx, fpGW4MAC, fpGW6MAC, gw4, gw6)
		after := fp.stats()
		if !bytes.Equal(rx, orig) {
			t.Fatal("answer modified rx")
		}
		if n < 0 || n > len(tx) {
			t.Fatalf("n = %d", n)
		}
		if total := func(s fastPathStats) uint64 { return s.Answered + s.PassedTotal() + s.DroppedTotal() }; total(after) != total(before)+1 {
			t.Fatalf("stats moved by %d, want 1", total(after)-total(before))
		}
		switch {
		case !handled:
			if n != 0 || wantKind != fpPass {
				t.Fatalf("fpPassed (n=%d), reference says %v\n% x", n, wantKind, rx)
			}
		case n == 0:
			// A drop is right for a bad checksum and for an empty query
			// (the echo handler then returns nothing).
			if wantKind != fpDrop && wantKind != fpAccept {
				t.Fatalf("fpDropped, reference says %v\n% x", wantKind, rx)
			}
			if wantKind == fpAccept && after.Dropped[fpDropEmpty] == before.Dropped[fpDropEmpty] {
				t.Fatalf("fpDropped an acceptable frame\n% x", rx)
			}
		default:
			if wantKind != fpAccept {
				t.Fatalf("answered, reference says %v\n% x", wantKind, rx)
			}
			var q []byte
			switch binary.BigEndian.Uint16(rx[12:14]) {
			case fpEtherIPv4:
				q = header.UDP(header.IPv4(rx[14:]).Payload()).Payload()
			default:
				q = header.UDP(header.IPv6(rx[14:]).Payload()).Payload()
			}
			if err := fpVerifyReply(rx, tx[:n], wantMAC, q); err != nil {
				t.Fatalf("reply: %v\nquery % x\nreply % x", err, rx, tx[:n])
			}
		}
	})
}

func benchFastPath(b *testing.B, rx []byte) {
	f := newFastPath(fpConfig(), fpFixed{reply: bytes.Repeat([]byte{0xab}, 100)})
	tx := fpTX(1514)
	if n, _ := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false); n == 0 {
		b.Fatal("benchmark frame not answered")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rx)))
	for b.Loop() {
		f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
	}
}

func BenchmarkFastPathIPv4(b *testing.B) { benchFastPath(b, fpQuery4(fpPeer4, fpPeerMAC).build()) }
func BenchmarkFastPathIPv6(b *testing.B) { benchFastPath(b, fpQuery6(fpPeer6, fpPeerMAC).build()) }

func BenchmarkFastPathPass(b *testing.B) {
	f := newFastPath(fpConfig(), fpFixed{})
	rx := fpSet16(12, 0x0806)(fpQuery4(fpPeer4, fpPeerMAC).build())
	tx := fpTX(1514)
	b.ReportAllocs()
	for b.Loop() {
		f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
	}
}

// fpBalance returns prefix followed by two bytes chosen so that the UDP
// datagram src:sport -> dst:dport carrying it sums (with a zero checksum
// field) to 0xffff: its correct checksum is then 0, sent as 0xffff. prefix
// must have even length.
func fpBalance(src, dst netip.Addr, sport, dport uint16, prefix []byte) []byte {
	p := append(bytes.Clone(prefix), 0, 0)
	u := make([]byte, header.UDPMinimumSize)
	header.UDP(u).Encode(&header.UDPFields{SrcPort: sport, DstPort: dport, Length: uint16(len(u) + len(p))})
	s := header.PseudoHeaderChecksum(header.UDPProtocolNumber, fpTCPIPAddr(src), fpTCPIPAddr(dst), uint16(len(u)+len(p)))
	s = checksum.Checksum(p, checksum.Checksum(u, s))
	binary.BigEndian.PutUint16(p[len(p)-2:], 0xffff-s)
	return p
}

// TestFastPathChecksumEdges covers the checksum values with special
// meaning: a computed 0 is sent as 0xffff (RFC 768), a received 0 means
// "none" on IPv4 and is invalid on IPv6 even when the data would match.
func TestFastPathChecksumEdges(t *testing.T) {
	const sport = 40000
	t.Run("reply checksum computes to 0", func(t *testing.T) {
		for _, c := range []struct{ our, peer netip.Addr }{{fpAddr4, fpPeer4}, {fpAddr6, fpPeer6}} {
			body := fpBalance(c.our, c.peer, 53, sport, []byte("zz"))
			f := newFastPath(fpConfig(), fpFixed{reply: body})
			q := fpQuery4(c.peer, fpPeerMAC)
			if c.peer.Is6() {
				q = fpQuery6(c.peer, fpPeerMAC)
			}
			rx, tx := q.build(), fpTX(1514)
			n, _ := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
			if err := fpVerifyReply(rx, tx[:n], fpPeerMAC, body); err != nil {
				t.Errorf("%v: %v", c.peer, err)
			}
			if got := binary.BigEndian.Uint16(tx[n-len(body)-2:]); got != 0xffff {
				t.Errorf("%v: reply checksum %#04x, want 0xffff", c.peer, got)
			}
		}
	})
	for _, c := range []struct {
		name     string
		peer     netip.Addr
		zero     bool
		wantDrop bool
	}{
		{"v4 query checksum 0xffff", fpPeer4, false, false},
		{"v6 query checksum 0xffff", fpPeer6, false, false},
		{"v4 query checksum 0, data would match", fpPeer4, true, false},
		{"v6 query checksum 0, data would match", fpPeer6, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			our := fpAddr4
			q := fpQuery4(c.peer, fpPeerMAC)
			if c.peer.Is6() {
				our, q = fpAddr6, fpQuery6(c.peer, fpPeerMAC)
			}
			q.payload = fpBalance(c.peer, our, sport, 53, []byte("qq"))
			q.zeroCsum = c.zero
			rx, tx := q.build(), fpTX(1514)
			off := len(rx) - len(q.payload) - 2
			if got, want := binary.BigEndian.Uint16(rx[off:]), map[bool]uint16{false: 0xffff, true: 0}[c.zero]; got != want {
				t.Fatalf("test frame has checksum %#04x, want %#04x", got, want)
			}
			f := newFastPath(fpConfig(), &fpEcho{})
			n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
			if c.wantDrop {
				if !handled || n != 0 || f.stats().Dropped[fpDropChecksum] != 1 {
					t.Errorf("answer = %d, %v, stats %+v; want checksum drop", n, handled, f.stats())
				}
				return
			}
			if err := fpVerifyReply(rx, tx[:n], fpPeerMAC, fpEchoReply(q.payload)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFastPathConcurrent runs answer from several goroutines at once, as
// the per-queue readers do; with -race it shows that answer shares no
// mutable state beyond its atomic counters.
func TestFastPathConcurrent(t *testing.T) {
	const workers, rounds = 4, 200
	f := newFastPath(fpConfig(), fpFunc(func(dst, q []byte, _ Meta) []byte { return append(dst, q...) }))
	frames := [][]byte{
		fpQuery4(fpPeer4, fpPeerMAC).build(),
		fpQuery6(fpPeer6, fpPeerMAC).build(),
		fpSet16(12, 0x0806)(fpQuery4(fpPeer4, fpPeerMAC).build()),
	}
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			tx := fpTX(1514)
			for i := 0; i < rounds; i++ {
				for j, rx := range frames {
					n, handled := f.answer(rx, tx, fpGW4MAC, fpGW6MAC, false, false)
					if j == 2 {
						if handled {
							errs <- fmt.Errorf("ARP frame handled")
							return
						}
						continue
					}
					if err := fpVerifyReply(rx, tx[:n], fpPeerMAC, fpQuery); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	st := f.stats()
	if st.Answered != 2*workers*rounds || st.Passed[fpPassEther] != workers*rounds {
		t.Errorf("stats %+v; want %d answered, %d passed", st, 2*workers*rounds, workers*rounds)
	}
}

// TestFastPathPseudoHeader checks the fast path's pseudo-header sums
// against gVisor's header.PseudoHeaderChecksum over random addresses and
// lengths, the carries included.
func TestFastPathPseudoHeader(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		var a4, b4 [4]byte
		var a6, b6 [16]byte
		for j := range a4 {
			a4[j], b4[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		for j := range a6 {
			a6[j], b6[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		if i%7 == 0 { // all-ones words drive every carry
			a4, b4 = [4]byte{0xff, 0xff, 0xff, 0xff}, [4]byte{0xff, 0xff, 0xff, 0xfe}
			for j := range a6 {
				a6[j], b6[j] = 0xff, 0xff
			}
		}
		n := int(r.Uint32() & 0xffff)
		if got, want := fpPseudo4(a4, b4, n), header.PseudoHeaderChecksum(header.UDPProtocolNumber, tcpip.AddrFrom4(a4), tcpip.AddrFrom4(b4), uint16(n)); got != want {
			t.Fatalf("fpPseudo4(%v, %v, %d) = %#04x, want %#04x", a4, b4, n, got, want)
		}
		if got, want := fpPseudo6(&a6, &b6, n), header.PseudoHeaderChecksum(header.UDPProtocolNumber, tcpip.AddrFrom16(a6), tcpip.AddrFrom16(b6), uint16(n)); got != want {
			t.Fatalf("fpPseudo6(%x, %x, %d) = %#04x, want %#04x", a6, b6, n, got, want)
		}
	}
}
