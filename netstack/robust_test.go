package netstack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Robustness: malformed frames of every kind, fed through the real receive
// loop (a Stack on a socket pair, with and without the fast path), never
// stop a correct query from being answered, reach the Handler only when
// they are valid, and are counted where they are dropped.

// countHandler counts the messages it is given and answers "ok".
type countHandler struct{ n atomic.Int64 }

func (h *countHandler) HandlePacket(dst, _ []byte, _ Meta) []byte {
	h.n.Add(1)
	return append(dst, "ok"...)
}

// dropTotal sums every counter that a frame dropped for being malformed,
// misaddressed or unwanted can land in: ours (link layer, fast path) and
// gVisor's (IP, UDP, TCP, ICMP, NIC).
func dropTotal(s *Stack) uint64 {
	st := s.Stats()
	n := st.DropRunt + st.DropForeignMAC + st.DropEtherType + st.FastDropped
	gs := s.ns.Stats()
	for _, c := range []interface{ Value() uint64 }{
		gs.DroppedPackets,
		gs.IP.MalformedPacketsReceived, gs.IP.MalformedFragmentsReceived,
		gs.IP.InvalidDestinationAddressesReceived, gs.IP.InvalidSourceAddressesReceived,
		gs.IP.DisabledPacketsReceived, gs.IP.IPTablesInputDropped,
		gs.IP.OptionUnknownReceived,
		gs.UDP.MalformedPacketsReceived, gs.UDP.ChecksumErrors, gs.UDP.UnknownPortErrors,
		gs.UDP.ReceiveBufferErrors,
		gs.TCP.InvalidSegmentsReceived, gs.TCP.ChecksumErrors,
		gs.ICMP.V4.PacketsReceived.Invalid, gs.ICMP.V6.PacketsReceived.Invalid,
		gs.NICs.MalformedL4RcvdPackets,
		gs.ARP.MalformedPacketsReceived,
		// Dropped with an ICMP error to the sender.
		gs.ICMP.V4.PacketsSent.DstUnreachable, gs.ICMP.V4.PacketsSent.ParamProblem,
		gs.ICMP.V6.PacketsSent.DstUnreachable, gs.ICMP.V6.PacketsSent.ParamProblem,
	} {
		n += c.Value()
	}
	for _, m := range []*tcpip.IntegralStatCounterMap{gs.NICs.UnknownL3ProtocolRcvdPacketCounts, gs.NICs.UnknownL4ProtocolRcvdPacketCounts} {
		for _, k := range m.Keys() {
			if c, ok := m.Get(k); ok {
				n += c.Value()
			}
		}
	}
	return n
}

// fate is what a frame must lead to.
type fate uint8

const (
	fateDropped  fate = iota // never reaches the Handler; a drop counter moves
	fateAnswered             // reaches the Handler
	fateEither               // either is correct (e.g. larger than our MTU)
	fateIgnored              // not answered, and rightly in no drop counter: a fragment kept for reassembly, No Next Header
)

func (f fate) String() string { return [...]string{"dropped", "answered", "either", "ignored"}[f] }

// robustFrames returns the malformed and odd frames, named, for a stack
// with MAC mac at ourIP4/ourIP6.
func robustFrames(mac [6]byte) []struct {
	name  string
	frame []byte
	want  fate
} {
	q := []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04test\x00\x00\x01\x00\x01")
	v4 := fpPkt{dstMAC: mac, srcMAC: peerMAC, src: peerIP4, dst: ourIP4, sport: 41000, dport: 53, payload: q, ttl: 64}
	v6 := fpPkt{dstMAC: mac, srcMAC: peerMAC, src: peerIP6, dst: ourIP6, sport: 41000, dport: 53, payload: q, ttl: 64}
	with := func(p fpPkt, f func(*fpPkt)) fpPkt { f(&p); return p }
	mut := func(p fpPkt, refix bool, ms ...func([]byte) []byte) []byte {
		b := fpChain(ms...)(p.build())
		if refix {
			fpRefix(b)
		}
		return b
	}
	// v6ext inserts an extension header of type ext before the UDP header.
	v6ext := func(ext byte, hdr ...byte) []byte {
		b := v6.build()
		next := b[fpO6Next]
		b[fpO6Next] = ext
		hdr[0] = next
		b = fpInsert(fpO6UDP, hdr...)(b)
		binary.BigEndian.PutUint16(b[fpO6PL:], uint16(len(b)-fpO6UDP))
		return b
	}
	// frag4 returns the two IPv4 fragments of a valid query datagram.
	frag4 := func(id uint16) (first, second []byte) {
		b := with(v4, func(p *fpPkt) { p.payload = append(q, make([]byte, 40)...) }).build()
		ip := b[14:]
		udp := ip[20:]
		mk := func(part []byte, off int, more bool) []byte {
			f := append(append([]byte(nil), b[:14+20]...), part...)
			h := header.IPv4(f[14:])
			flags := uint16(off / 8)
			if more {
				flags |= 0x2000
			}
			binary.BigEndian.PutUint16(f[fpO4Frag:], flags)
			binary.BigEndian.PutUint16(f[fpO4TL:], uint16(20+len(part)))
			binary.BigEndian.PutUint16(f[14+4:], id)
			h.SetChecksum(0)
			h.SetChecksum(^h.CalculateChecksum())
			return f
		}
		return mk(udp[:32], 0, true), mk(udp[32:], 32, false)
	}
	lone, _ := frag4(0x4141)
	f1, f2 := frag4(0x4242)
	random := rand.New(rand.NewPCG(1, 2))
	junk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(random.Uint32())
		}
		copy(b, mac[:])
		return b
	}
	return []struct {
		name  string
		frame []byte
		want  fate
	}{
		// Link layer. (A 0-byte read is EOF on the fake TAP's socket, so
		// the shortest runt here is 1 byte; a TAP never returns 0.)
		{"runt 1 byte", []byte{0xff}, fateDropped},
		{"runt 13 bytes", v4.build()[:13], fateDropped},
		{"Ethernet header only", v4.build()[:14], fateDropped},
		{"jumbo 9000 bytes garbage", junk(9000), fateDropped},
		{"jumbo 65535 bytes garbage", junk(65535), fateDropped},
		{"jumbo 9000 bytes valid UDP", with(v4, func(p *fpPkt) { p.payload = append(q, make([]byte, 8950)...) }).build(), fateEither},
		{"VLAN tag", mut(v4, false, fpInsert(12, 0x81, 0x00, 0x00, 0x05)), fateDropped},
		{"EtherType 0x0000", mut(v4, false, fpSet16(12, 0)), fateDropped},
		{"EtherType 0xffff", mut(v4, false, fpSet16(12, 0xffff)), fateDropped},
		{"EtherType 0x88b5", mut(v4, false, fpSet16(12, 0x88b5)), fateDropped},
		{"foreign unicast MAC", with(v4, func(p *fpPkt) { p.dstMAC = [6]byte{2, 9, 9, 9, 9, 9} }).build(), fateDropped},
		{"IPv6 EtherType carrying IPv4", mut(v4, false, fpSet16(12, 0x86dd)), fateDropped},
		{"IPv4 EtherType carrying IPv6", mut(v6, false, fpSet16(12, 0x0800)), fateDropped},
		{"ARP truncated", arpRequest(ourIP4)[:20], fateDropped},

		// IPv4.
		{"IPv4 header cut", v4.build()[:14+12], fateDropped},
		{"IPv4 IHL 4", mut(v4, true, fpSetByte(14, 0x44)), fateDropped},
		{"IPv4 IHL 15 past the end", mut(v4, true, fpSetByte(14, 0x4f))[:14+40], fateDropped},
		{"IPv4 version 5", mut(v4, true, fpSetByte(14, 0x55)), fateDropped},
		{"IPv4 bad header checksum", mut(v4, false, fpAdd16(fpO4Csum, 1)), fateDropped},
		{"IPv4 bad UDP checksum", mut(v4, false, fpAdd16(fpO4UDP+6, 1)), fateDropped},
		{"IPv4 total length past the frame", mut(v4, true, fpAdd16(fpO4TL, 100)), fateDropped},
		{"IPv4 total length 0", mut(v4, true, fpSet16(fpO4TL, 0)), fateDropped},
		{"IPv4 total length below UDP", mut(v4, true, fpSet16(fpO4TL, 27)), fateDropped},
		{"IPv4 UDP length past the datagram", mut(v4, true, fpAdd16(fpO4UDP+4, 50)), fateDropped},
		{"IPv4 UDP length 7", mut(v4, true, fpSet16(fpO4UDP+4, 7)), fateDropped},
		{"IPv4 UDP length short", mut(v4, true, fpAdd16(fpO4UDP+4, -3)), fateDropped},
		{"IPv4 first fragment alone", lone, fateIgnored},
		{"IPv4 lone middle fragment", mut(v4, true, fpSet16(fpO4Frag, 0x2003)), fateIgnored},
		{"IPv4 fragment overruns 64 KiB", mut(v4, true, fpSet16(fpO4Frag, 0x1fff)), fateDropped},
		{"IPv4 options (NOPs)", mut(v4, true, fpInsert(fpO4UDP, 1, 1, 1, 0), fpSetByte(14, 0x46), fpAdd16(fpO4TL, 4)), fateAnswered},
		{"IPv4 options cut", mut(v4, true, fpInsert(fpO4UDP, 0x44, 40, 5, 0), fpSetByte(14, 0x46), fpAdd16(fpO4TL, 4)), fateDropped},
		{"IPv4 src broadcast", mut(v4, true, func(b []byte) []byte { copy(b[14+12:], []byte{255, 255, 255, 255}); return b }), fateDropped},
		{"IPv4 src multicast", mut(v4, true, func(b []byte) []byte { copy(b[14+12:], []byte{224, 0, 0, 1}); return b }), fateDropped},
		{"IPv4 dst another host", mut(v4, true, func(b []byte) []byte { b[fpO4Dst+3] = 77; return b }), fateDropped},
		{"IPv4 unknown protocol 253", mut(v4, true, fpSetByte(fpO4Proto, 253)), fateDropped},
		{"IPv4 TCP header cut", mut(v4, true, fpSetByte(fpO4Proto, 6), fpSet16(fpO4TL, 20+8), func(b []byte) []byte { return b[:14+28] }), fateDropped},
		{"IPv4 wrong port", with(v4, func(p *fpPkt) { p.dport = 5353 }).build(), fateDropped},

		// IPv6.
		{"IPv6 header cut", v6.build()[:14+30], fateDropped},
		{"IPv6 version 4", mut(v6, false, fpSetByte(14, 0x40)), fateDropped},
		{"IPv6 payload length past the frame", mut(v6, false, fpAdd16(fpO6PL, 100)), fateDropped},
		{"IPv6 payload length 0", mut(v6, false, fpSet16(fpO6PL, 0)), fateDropped},
		{"IPv6 UDP checksum 0", with(v6, func(p *fpPkt) { p.zeroCsum = true }).build(), fateDropped},
		{"IPv6 bad UDP checksum", mut(v6, false, fpAdd16(fpO6UDP+6, 1)), fateDropped},
		{"IPv6 UDP length past the payload", mut(v6, true, fpAdd16(fpO6UDP+4, 9)), fateDropped},
		{"IPv6 hop-by-hop PadN", v6ext(0, 0, 0, 1, 4, 0, 0, 0, 0), fateAnswered},
		{"IPv6 destination options PadN", v6ext(60, 0, 0, 1, 4, 0, 0, 0, 0), fateAnswered},
		{"IPv6 routing header, no segments left", v6ext(43, 0, 0, 4, 0, 0, 0, 0, 0), fateAnswered},
		{"IPv6 atomic fragment", v6ext(44, 0, 0, 0, 0, 0, 0, 0, 7), fateAnswered},
		{"IPv6 first fragment alone", v6ext(44, 0, 0, 0, 1, 0, 0, 0, 8), fateIgnored},
		{"IPv6 hop-by-hop length past the end", v6ext(0, 0, 9, 1, 4, 0, 0, 0, 0), fateDropped},
		{"IPv6 unknown option must discard", v6ext(0, 0, 0, 0x80, 4, 0, 0, 0, 0), fateDropped},
		{"IPv6 hop-by-hop not first", func() []byte {
			b := v6ext(60, 0, 0, 1, 4, 0, 0, 0, 0)
			b[fpO6UDP] = 0 // destination options followed by hop-by-hop
			b = fpInsert(fpO6UDP+8, 17, 0, 1, 4, 0, 0, 0, 0)(b)
			binary.BigEndian.PutUint16(b[fpO6PL:], uint16(len(b)-fpO6UDP))
			return b
		}(), fateDropped},
		{"IPv6 unassigned next header 200", v6ext(200, 0, 0, 0, 0, 0, 0, 0, 0), fateDropped},
		// 253 is an experimental extension header in the generic format
		// (RFC 3692, 7045): gVisor skips it, which RFC 7045 allows.
		{"IPv6 experimental extension header 253", v6ext(253, 0, 0, 0, 0, 0, 0, 0, 0), fateEither},
		{"IPv6 no next header", v6ext(59, 0, 0, 0, 0, 0, 0, 0, 0), fateIgnored},
		{"IPv6 dst multicast", mut(v6, true, func(b []byte) []byte {
			copy(b[fpO6Dst:], netip.MustParseAddr("ff02::1").AsSlice())
			return b
		}), fateEither}, // gVisor delivers ff02::1 to the wildcard socket, as Linux does
		{"IPv6 src multicast", mut(v6, true, func(b []byte) []byte {
			copy(b[14+8:], netip.MustParseAddr("ff02::1").AsSlice())
			return b
		}), fateDropped},

		// A fragmented query that reassembles is answered (second
		// fragment first, as they may arrive).
		{"IPv4 second fragment", f2, fateIgnored},
		{"IPv4 first fragment completes", f1, fateAnswered},
	}
}

// goodQuery sends a correct query from a fresh port and waits for the
// answer.
func goodQuery(t *testing.T, w *wire, mac [6]byte, sport uint16) {
	t.Helper()
	w.send(udp4Frame(mac, ourIP4, sport, 53, []byte("\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01")))
	w.recv(func(f []byte) bool { p, ok := udp4Payload(f, sport); return ok && string(p) == "ok" })
}

// robustStack starts a fake-TAP stack with a counting handler and has the
// other side learn our MAC, as every robustness test begins.
func robustStack(t *testing.T, fast bool) (*countHandler, *Stack, *wire) {
	t.Helper()
	h := &countHandler{}
	cfg := fakeConfig()
	cfg.FastPath = fast
	s, w := newFakeStack(t, cfg, h)
	w.send(arpRequest(ourIP4))
	w.recv(isARPReply)
	return h, s, w
}

func TestFakeTAPMalformedFrames(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fastpath=%v", fast), func(t *testing.T) {
			h, s, w := robustStack(t, fast)
			sport := uint16(20000)
			for _, tc := range robustFrames(s.mac) {
				t.Run(tc.name, func(t *testing.T) {
					in0, drops0, calls0 := s.Stats().FramesIn, dropTotal(s), h.n.Load()
					w.send(tc.frame)
					sport++
					goodQuery(t, w, s.mac, sport)
					// The frame may be answered on the other UDP
					// goroutine (IPv6, or reassembled by gVisor): give it
					// time to finish.
					settle := time.Now().Add(50 * time.Millisecond)
					if tc.want == fateAnswered {
						settle = time.Now().Add(2 * time.Second)
					}
					for h.n.Load()-calls0 < 2 && time.Now().Before(settle) {
						time.Sleep(2 * time.Millisecond)
					}
					in, drops, calls := s.Stats().FramesIn, dropTotal(s), h.n.Load()
					if in-in0 != 2 {
						t.Errorf("FramesIn moved by %d, want 2", in-in0)
					}
					got := fateDropped
					if calls-calls0 == 2 {
						got = fateAnswered
					} else if calls-calls0 != 1 {
						t.Fatalf("Handler called %d times, want 1 or 2", calls-calls0)
					}
					switch tc.want {
					case fateDropped:
						if got != fateDropped {
							t.Errorf("frame answered, want dropped")
						} else if drops == drops0 {
							t.Errorf("frame dropped, but no drop counter moved")
						}
					case fateIgnored, fateAnswered:
						if want := map[fate]fate{fateIgnored: fateDropped, fateAnswered: fateAnswered}[tc.want]; got != want {
							t.Errorf("frame %s, want %s", got, tc.want)
						}
					}
				})
			}
			st := waitStats(s, func(st Stats) bool { return frameSum(st) == st.FramesIn })
			if sum := frameSum(st); sum != st.FramesIn {
				t.Errorf("frames in %d, but drops+stack+fast = %d (%+v)", st.FramesIn, sum, st)
			}
		})
	}
}

// frameSum is where the received frames went; it equals FramesIn once no
// frame is in flight.
func frameSum(st Stats) uint64 {
	return st.DropRunt + st.DropForeignMAC + st.DropEtherType + st.StackFrames + st.FastAnswered + st.FastDropped
}

// mutate returns a randomly damaged copy of b: bytes flipped, cut short,
// extended with garbage, or a length field rewritten.
func mutate(r *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	switch r.IntN(5) {
	case 0:
		for range 1 + r.IntN(4) {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
	case 1:
		b = b[:1+r.IntN(len(b))]
	case 2:
		for range r.IntN(64) {
			b = append(b, byte(r.Uint32()))
		}
	case 3:
		if len(b) > 20 {
			off := 14 + r.IntN(len(b)-15)
			b[off] = byte(r.Uint32())
			if off+1 < len(b) {
				b[off+1] = byte(r.Uint32())
			}
		}
	case 4:
		fpRefix(b) // a valid-checksum variant of an earlier damage
		b[14+r.IntN(len(b)-14)] ^= 0x80
		fpRefix(b)
	}
	return b
}

// TestFakeTAPRandomFrames sends thousands of randomly damaged frames of
// every kind through the receive loop; afterwards a correct query is still
// answered and every frame is accounted for.
func TestFakeTAPRandomFrames(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fastpath=%v", fast), func(t *testing.T) {
			h, s, w := robustStack(t, fast)
			var seeds [][]byte
			for _, tc := range robustFrames(s.mac) {
				if len(tc.frame) > 14 && len(tc.frame) < 2000 {
					seeds = append(seeds, tc.frame)
				}
			}
			seeds = append(seeds, arpRequest(ourIP4), tcpSYN(s.mac))
			r := rand.New(rand.NewPCG(7, uint64(len(seeds))))
			for i := range n {
				w.send(mutate(r, seeds[i%len(seeds)]))
				if i%500 == 499 {
					goodQuery(t, w, s.mac, uint16(30000+i))
				}
			}
			goodQuery(t, w, s.mac, 29999)
			st := waitStats(s, func(st Stats) bool { return st.FramesIn >= uint64(n+2) && frameSum(st) == st.FramesIn })
			if sum := frameSum(st); sum != st.FramesIn {
				t.Errorf("frames in %d, but drops+stack+fast = %d", st.FramesIn, sum)
			}
			if st.TAPReadErrors != 0 {
				t.Errorf("%d read errors", st.TAPReadErrors)
			}
			t.Logf("%d frames: handler calls %d, stats %+v", n, h.n.Load(), st)
		})
	}
}

// tcpSYN is a TCP SYN from the peer to our port 53.
func tcpSYN(mac [6]byte) []byte {
	b := make([]byte, 14+20+20)
	ethHeader(b, mac, peerMAC, header.IPv4ProtocolNumber)
	src, dst := fpTCPIPAddr(peerIP4), fpTCPIPAddr(ourIP4)
	ip := header.IPv4(b[14:])
	ip.Encode(&header.IPv4Fields{TotalLength: 40, TTL: 64, Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(b[34:])
	tcp.Encode(&header.TCPFields{SrcPort: 42000, DstPort: 53, SeqNum: 1, DataOffset: 20, Flags: header.TCPFlagSyn, WindowSize: 65535})
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, 20)
	tcp.SetChecksum(^tcp.CalculateChecksum(xsum))
	return b
}

// idleFakeStack is a Stack on a socket pair that is not running: the
// caller plays the reader goroutine and calls receive itself. Nothing reads
// the far end, so replies fill its buffer and are then counted as write
// errors.
func idleFakeStack(tb testing.TB, cfg Config, h Handler) *Stack {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("socketpair: %v", err)
	}
	unix.SetNonblock(fds[0], true)
	unix.SetNonblock(fds[1], true)
	dev := &tapDevice{name: "fake0", files: []*os.File{os.NewFile(uintptr(fds[0]), "fake0")}}
	cfg, err = cfg.Normalize()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newStack(cfg, h, nil, dev)
	if err != nil {
		tb.Fatalf("newStack: %v", err)
	}
	tb.Cleanup(func() {
		s.Close()
		unix.Close(fds[1])
	})
	return s
}

// FuzzReceive feeds arbitrary frames to the receive path of a Stack (the
// link-layer filter, the fast path and gVisor, all on the calling
// goroutine, as the reader runs them) and checks that each is accounted
// for exactly once.
func FuzzReceive(f *testing.F) {
	h := &countHandler{}
	cfg := fakeConfig()
	cfg.FastPath = true
	s := idleFakeStack(f, cfg, h)
	for _, tc := range robustFrames(s.mac) {
		f.Add(tc.frame, false)
	}
	f.Add(tcpSYN(s.mac), true)
	f.Add(arpRequest(ourIP4), false)
	q := s.link.queues[0]
	fast := s.fast
	f.Fuzz(func(t *testing.T, frame []byte, slow bool) {
		if len(frame) == 0 || len(frame) > frameBufSize {
			return // a TAP read returns 1 to 64 KiB
		}
		in0, acc0 := q.ctr.framesIn.Load(), accounted(&q.ctr)
		s.fast = fast
		if slow {
			s.fast = nil
		}
		s.receive(q, &s.mac, frame)
		if q.ctr.framesIn.Load() != in0+1 || accounted(&q.ctr) != acc0+1 {
			t.Fatalf("frame not accounted for exactly once")
		}
	})
}

func accounted(c *linkCounters) uint64 {
	return c.runt.Load() + c.foreignMAC.Load() + c.etherType.Load() + c.toStack.Load() +
		c.fastAnswered.Load() + c.fastDropped.Load()
}

// TestLabMalformedFrames injects the malformed frames through a real TAP
// (an AF_PACKET socket on the kernel side, in a namespace of its own);
// afterwards correct queries over UDP and TCP are still answered and the
// frames were counted.
func TestLabMalformedFrames(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fastpath=%v", fast), func(t *testing.T) {
			ns := labtest.NewNS(t, "netstack")
			ns.AddTAP(t, "tap0", "198.18.0.1/24", "2001:2::1/64")
			cfg := labConfig("tap0")
			cfg.FastPath = fast
			s, stop := labStack(t, ns, cfg)
			udpExchange(t, ns, "198.18.0.2:53", []byte("before"))
			// A larger MTU on the kernel side lets jumbo frames through
			// to tapdns, whose own MTU stays 1500.
			ns.MustRun(t, "ip", "link", "set", "tap0", "mtu", "9000")
			st0, drops0 := s.Stats(), dropTotal(s)
			sent := 0
			withPacketSocket(t, ns, "tap0", func(send func([]byte) error) {
				for _, tc := range robustFrames(s.mac) {
					// The kernel refuses frames shorter than an Ethernet
					// header or longer than the device's MTU allows.
					if len(tc.frame) < 14 || len(tc.frame) > 9014 {
						continue
					}
					for range 3 {
						if err := send(tc.frame); err != nil {
							t.Fatalf("%s: inject: %v", tc.name, err)
						}
						sent++
					}
				}
			})
			udpExchange(t, ns, "198.18.0.2:53", []byte("after"))
			udpExchange(t, ns, "[2001:2::2]:53", []byte("after6"))
			tcpEcho(t, ns, "198.18.0.2:53", 3)
			st := waitStats(s, func(st Stats) bool { return st.FramesIn-st0.FramesIn >= uint64(sent) })
			if got := st.FramesIn - st0.FramesIn; got < uint64(sent) {
				t.Errorf("FramesIn moved by %d, want >= %d injected", got, sent)
			}
			if d := dropTotal(s) - drops0; d < uint64(sent)/2 {
				t.Errorf("drop counters moved by %d for %d injected frames, want most of them", d, sent)
			}
			if st.TAPReadErrors != 0 {
				t.Errorf("%d TAP read errors", st.TAPReadErrors)
			}
			t.Logf("%d frames injected: %d counted as drops; stats %+v", sent, dropTotal(s)-drops0, st)
			if err := stop(); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// withPacketSocket calls f with a function that sends raw frames out of
// the kernel side of tap in ns.
func withPacketSocket(t *testing.T, ns *labtest.NS, tap string, f func(send func([]byte) error)) {
	t.Helper()
	var fd, ifindex int
	if err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(tap)
		if err != nil {
			return err
		}
		ifindex = ifc.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatalf("packet socket in %s: %v", ns.Name, err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	f(func(b []byte) error { return unix.Sendto(fd, b, 0, sa) })
}
