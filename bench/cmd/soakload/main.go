// Command soakload drives a DNS server with a bounded mix of valid and
// hostile traffic for a soak test (bench/soak.sh) and checks that no valid
// query goes unanswered. It runs on the kernel side of the server's TAP,
// inside the soak's network namespace, and sends only to -server.
//
// Traffic, each stream on its own goroutine and bounded by -duration:
//
//   - valid: -qps UDP queries per second from -valid-src for names of the
//     embedded tapdns.test zone; each must get a NOERROR answer with the
//     query's ID within 2 s (this stream stays under the server's rate
//     limit, so nothing it sends may be dropped);
//   - tcp: every second, one TCP connection with 5 pipelined queries whose
//     answers must come back in order;
//   - abuse: -abuse-qps UDP queries per second from -abuse-src (another
//     /24), meant to hit the rate limit; answers are counted, not checked;
//   - garbage: -garbage-pps random or damaged DNS payloads per second from
//     -garbage-src (a third /24); any reply must be a response with the
//     payload's ID;
//   - frames: -frames-pps damaged Ethernet frames per second written to
//     -tap with an AF_PACKET socket, addressed to -mac.
//
// It prints one status line every -report and a summary at the end, and
// exits with status 1 if a valid UDP or TCP query was lost or wrong.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

var names = []struct {
	name  string
	qtype uint16
}{
	{"www.tapdns.test.", dns.TypeA}, {"www.tapdns.test.", dns.TypeAAAA},
	{"mail.tapdns.test.", dns.TypeA}, {"ns0.tapdns.test.", dns.TypeAAAA},
	{"tapdns.test.", dns.TypeMX}, {"tapdns.test.", dns.TypeSOA},
	{"docs.tapdns.test.", dns.TypeA},
}

type counters struct {
	validSent, validOK, validBad, validLost, validSlipped atomic.Int64
	tcpConns, tcpOK, tcpFailed                            atomic.Int64
	abuseSent, abuseFull, abuseSlipped                    atomic.Int64
	garbageSent, garbageReplies, garbageOdd               atomic.Int64
	framesSent, framesErr                                 atomic.Int64
}

func (c *counters) line() string {
	return fmt.Sprintf("valid sent=%d ok=%d lost=%d bad=%d slipped=%d | tcp conns=%d ok=%d failed=%d | abuse sent=%d full=%d slipped=%d | garbage sent=%d replies=%d odd=%d | frames sent=%d err=%d",
		c.validSent.Load(), c.validOK.Load(), c.validLost.Load(), c.validBad.Load(), c.validSlipped.Load(),
		c.tcpConns.Load(), c.tcpOK.Load(), c.tcpFailed.Load(),
		c.abuseSent.Load(), c.abuseFull.Load(), c.abuseSlipped.Load(),
		c.garbageSent.Load(), c.garbageReplies.Load(), c.garbageOdd.Load(),
		c.framesSent.Load(), c.framesErr.Load())
}

func main() {
	server := flag.String("server", "198.18.0.2", "server IPv4 address (port 53)")
	duration := flag.Duration("duration", time.Minute, "how long to send (at most 1h)")
	report := flag.Duration("report", 30*time.Second, "status line interval")
	qps := flag.Int("qps", 300, "valid UDP queries per second")
	validSrc := flag.String("valid-src", "198.18.0.1", "source address of valid queries")
	abuseQPS := flag.Int("abuse-qps", 2000, "abusive UDP queries per second")
	abuseSrc := flag.String("abuse-src", "198.18.1.1", "source address of abusive queries")
	garbagePPS := flag.Int("garbage-pps", 200, "garbage DNS payloads per second")
	garbageSrc := flag.String("garbage-src", "198.18.2.1", "source address of garbage payloads")
	framesPPS := flag.Int("frames-pps", 200, "damaged Ethernet frames per second")
	tap := flag.String("tap", "tap0", "kernel side of the server's TAP (for damaged frames)")
	mac := flag.String("mac", "", "server MAC address (damaged frames are sent to it; none without)")
	flag.Parse()
	if *duration <= 0 || *duration > time.Hour {
		fmt.Fprintln(os.Stderr, "soakload: -duration must be in (0, 1h]")
		os.Exit(2)
	}
	srv := netip.MustParseAddr(*server)
	var c counters
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				fmt.Fprintf(os.Stderr, "soakload: %s: %v\n", name, err)
				os.Exit(2)
			}
		}()
	}
	run("valid", func() error { return valid(&c, *validSrc, srv, *qps, deadline) })
	run("tcp", func() error { return tcpLoop(&c, srv, deadline) })
	if *abuseQPS > 0 {
		run("abuse", func() error { return abuse(&c, *abuseSrc, srv, *abuseQPS, deadline) })
	}
	if *garbagePPS > 0 {
		run("garbage", func() error { return garbage(&c, *garbageSrc, srv, *garbagePPS, deadline) })
	}
	if *framesPPS > 0 && *mac != "" {
		hw, err := net.ParseMAC(*mac)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soakload: -mac:", err)
			os.Exit(2)
		}
		run("frames", func() error { return frames(&c, *tap, [6]byte(hw), srv, *framesPPS, deadline) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(*report)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-tick.C:
			fmt.Printf("soakload +%3.0fs %s\n", time.Since(start).Seconds(), c.line())
		case <-done:
			fmt.Printf("soakload total %s\n", c.line())
			if c.validLost.Load()+c.validBad.Load()+c.validSlipped.Load()+c.tcpFailed.Load() > 0 || c.validOK.Load() == 0 {
				fmt.Println("soakload: FAIL: valid queries were lost, wrong or limited")
				os.Exit(1)
			}
			fmt.Println("soakload: PASS: every valid query was answered")
			return
		}
	}
}

// pace calls f(i) rate times per second, in batches every 10 ms, until
// deadline.
func pace(rate int, deadline time.Time, f func(i int)) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	i := 0
	for now := range t.C {
		if now.After(deadline) {
			return
		}
		due := int(now.Sub(start).Seconds() * float64(rate))
		for ; i < due; i++ {
			f(i)
		}
	}
}

// udpFrom opens a UDP socket from src to dst:53 with a large receive
// buffer (SO_RCVBUFFORCE, as root), so that a reader goroutine delayed on a
// busy machine does not make the kernel drop replies the server did send.
func udpFrom(src string, dst netip.Addr) (*net.UDPConn, error) {
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 53)))
	if err != nil {
		return nil, err
	}
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20) != nil {
				c.SetReadBuffer(16 << 20)
			}
		})
	}
	return c, nil
}

func query(id uint16, i int) []byte {
	n := names[i%len(names)]
	m := new(dns.Msg).SetQuestion(n.name, n.qtype)
	m.Id, m.RecursionDesired = id, false
	if i%2 == 0 {
		m.SetEdns0(1232, false)
	}
	b, _ := m.Pack()
	return b
}

// valid sends paced queries and matches replies by ID; a query without a
// correct reply within 2 s is lost.
func valid(c *counters, src string, srv netip.Addr, qps int, deadline time.Time) error {
	conn, err := udpFrom(src, srv)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mu sync.Mutex
	pending := map[uint16]time.Time{}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 65536)
		for {
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				if time.Now().After(deadline.Add(2 * time.Second)) {
					return
				}
				continue
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil {
				c.validBad.Add(1)
				continue
			}
			mu.Lock()
			_, ok := pending[m.Id]
			delete(pending, m.Id)
			mu.Unlock()
			switch {
			case !ok:
				c.validBad.Add(1) // a reply to nothing we are waiting for
			case m.Truncated:
				c.validSlipped.Add(1)
			case m.Rcode != dns.RcodeSuccess || !m.Response || len(m.Answer) == 0:
				c.validBad.Add(1)
			default:
				c.validOK.Add(1)
			}
		}
	}()
	expire := func(all bool) {
		mu.Lock()
		defer mu.Unlock()
		for id, t := range pending {
			if all || time.Since(t) > 2*time.Second {
				delete(pending, id)
				c.validLost.Add(1)
			}
		}
	}
	pace(qps, deadline, func(i int) {
		id := uint16(i)
		if i%1000 == 0 {
			expire(false)
		}
		mu.Lock()
		if _, busy := pending[id]; busy { // the ID wrapped within 2 s
			mu.Unlock()
			return
		}
		pending[id] = time.Now()
		mu.Unlock()
		c.validSent.Add(1)
		if _, err := conn.Write(query(id, i)); err != nil {
			c.validBad.Add(1)
		}
	})
	time.Sleep(2 * time.Second)
	expire(true)
	conn.SetReadDeadline(time.Now())
	<-readerDone
	return nil
}

// tcpLoop opens one connection per second with 5 pipelined queries.
func tcpLoop(c *counters, srv netip.Addr, deadline time.Time) error {
	for i := 0; time.Now().Before(deadline); i++ {
		c.tcpConns.Add(1)
		if err := tcpOnce(srv, i); err != nil {
			c.tcpFailed.Add(1)
			fmt.Fprintf(os.Stderr, "soakload: tcp: %v\n", err)
		} else {
			c.tcpOK.Add(1)
		}
		time.Sleep(time.Second)
	}
	return nil
}

func tcpOnce(srv netip.Addr, round int) error {
	conn, err := net.DialTimeout("tcp", netip.AddrPortFrom(srv, 53).String(), 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	var out []byte
	for j := range 5 {
		q := query(uint16(round*8+j), j)
		out = binary.BigEndian.AppendUint16(out, uint16(len(q)))
		out = append(out, q...)
	}
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Write(out); err != nil {
		return err
	}
	for j := range 5 {
		var hdr [2]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return fmt.Errorf("reply %d: %w", j, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			return fmt.Errorf("reply %d: %w", j, err)
		}
		var m dns.Msg
		if err := m.Unpack(b); err != nil {
			return err
		}
		if m.Id != uint16(round*8+j) || m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 || m.Truncated {
			return fmt.Errorf("reply %d wrong: id %d rcode %d answers %d", j, m.Id, m.Rcode, len(m.Answer))
		}
	}
	return nil
}

// abuse floods queries from one address and counts what comes back.
func abuse(c *counters, src string, srv netip.Addr, qps int, deadline time.Time) error {
	conn, err := udpFrom(src, srv)
	if err != nil {
		return err
	}
	defer conn.Close()
	go countReplies(conn, deadline, func(m *dns.Msg) {
		if m.Truncated {
			c.abuseSlipped.Add(1)
		} else {
			c.abuseFull.Add(1)
		}
	})
	pace(qps, deadline, func(i int) {
		c.abuseSent.Add(1)
		conn.Write(query(uint16(i), i))
	})
	return nil
}

// garbage sends random and damaged payloads; any reply must be a response.
func garbage(c *counters, src string, srv netip.Addr, pps int, deadline time.Time) error {
	conn, err := udpFrom(src, srv)
	if err != nil {
		return err
	}
	defer conn.Close()
	go countReplies(conn, deadline, func(m *dns.Msg) {
		c.garbageReplies.Add(1)
		if !m.Response {
			c.garbageOdd.Add(1)
		}
	})
	r := rand.New(rand.NewPCG(1, 1))
	pace(pps, deadline, func(i int) {
		var b []byte
		if i%2 == 0 {
			b = query(uint16(i), i)
			for range 1 + r.IntN(3) {
				b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
			}
			b = b[:1+r.IntN(len(b))]
		} else {
			b = make([]byte, r.IntN(100))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		}
		c.garbageSent.Add(1)
		conn.Write(b)
	})
	return nil
}

func countReplies(conn *net.UDPConn, deadline time.Time, f func(*dns.Msg)) {
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(deadline.Add(time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			if time.Now().After(deadline) {
				return
			}
			continue
		}
		var m dns.Msg
		if m.Unpack(buf[:n]) == nil {
			f(&m)
		}
	}
}

// frames writes damaged IPv4/UDP/DNS frames to the TAP's kernel side.
func frames(c *counters, tap string, mac [6]byte, srv netip.Addr, pps int, deadline time.Time) error {
	ifc, err := net.InterfaceByName(tap)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6}
	r := rand.New(rand.NewPCG(2, 2))
	base := udpFrame(mac, [6]byte(ifc.HardwareAddr), netip.MustParseAddr("198.18.3.9"), srv, query(1, 0))
	pace(pps, deadline, func(i int) {
		f := append([]byte(nil), base...)
		switch i % 4 {
		case 0: // flip bytes past the Ethernet header
			for range 1 + r.IntN(4) {
				f[14+r.IntN(len(f)-14)] ^= byte(1 + r.IntN(255))
			}
		case 1: // cut
			f = f[:14+r.IntN(len(f)-14)]
		case 2: // lie in a length field
			off := []int{14 + 2, 14 + 20 + 4}[r.IntN(2)]
			binary.BigEndian.PutUint16(f[off:], uint16(r.Uint32()))
		case 3: // unknown EtherType or IPv6 with junk
			binary.BigEndian.PutUint16(f[12:], []uint16{0x86dd, 0x88b5, 0x8100}[r.IntN(3)])
		}
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			c.framesErr.Add(1)
			return
		}
		c.framesSent.Add(1)
	})
	return nil
}

// udpFrame builds a correct Ethernet/IPv4/UDP frame (checksums included).
func udpFrame(dstMAC, srcMAC [6]byte, src, dst netip.Addr, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], dstMAC[:])
	copy(f[6:12], srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^sum16(ip, 0))
	u := f[34:]
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], 53)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	pseudo := uint32(binary.BigEndian.Uint16(s4[0:])) + uint32(binary.BigEndian.Uint16(s4[2:])) +
		uint32(binary.BigEndian.Uint16(d4[0:])) + uint32(binary.BigEndian.Uint16(d4[2:])) + 17 + uint32(len(u))
	binary.BigEndian.PutUint16(u[6:], ^sum16(u, pseudo))
	return f
}

func sum16(b []byte, acc uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
