package e2e

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/internal/labtest"
)

// packMsg packs a query for name/qtype with the given ID; response sets
// QR=1.
func packMsg(t *testing.T, id uint16, name string, qtype uint16, response bool) []byte {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Id, m.Response, m.RecursionDesired = id, response, false
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// udpConn opens a UDP socket in ns bound to local ("198.18.0.1:0", ...)
// and connected to the appliance's port 53 at server.
func udpConn(t *testing.T, ns *labtest.NS, local, server string) net.Conn {
	t.Helper()
	var c net.Conn
	err := ns.Do(func() error {
		la, err := net.ResolveUDPAddr("udp", local)
		if err != nil {
			return err
		}
		ra, err := net.ResolveUDPAddr("udp", net.JoinHostPort(server, "53"))
		if err != nil {
			return err
		}
		c, err = net.DialUDP("udp", la, ra)
		return err
	})
	if err != nil {
		t.Fatalf("udp socket %s -> %s: %v", local, server, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReplies reads responses from c until quiet for wait and returns them
// unpacked.
func readReplies(t *testing.T, c net.Conn, wait time.Duration) []*dns.Msg {
	t.Helper()
	var out []*dns.Msg
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		out = append(out, m)
	}
}

// TestTAPDeleted deletes the TAP under a running tapdns: it must exit
// promptly with status 1 and say why, not spin or hang.
func TestTAPDeleted(t *testing.T) {
	for _, fast := range []string{"--fastpath=true", "--fastpath=false"} {
		t.Run(fast, func(t *testing.T) {
			ns, p := startTapdns(t, fast)
			start := time.Now()
			ns.MustRun(t, "ip", "link", "del", "tap0")
			code, ok := p.Wait(3*stopLimit() + 2*time.Second)
			if !ok {
				t.Fatalf("tapdns still running %v after its TAP was deleted", time.Since(start).Round(time.Millisecond))
			}
			took := time.Since(start)
			t.Logf("exited %v after the TAP was deleted, status %d", took.Round(time.Millisecond), code)
			if took > 3*stopLimit() {
				t.Errorf("took %v to exit, want at most %v", took.Round(time.Millisecond), 3*stopLimit())
			}
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if msg := p.Stderr(); !strings.Contains(msg, "read from tap tap0") || !strings.Contains(msg, "device removed") {
				t.Errorf("stderr does not say the TAP went away:\n%s", msg)
			}
		})
	}
}

// TestResponsesNeverAnswered sends messages with QR=1 (on the fast path,
// through gVisor, and over TCP) and hostile payloads: no response is ever
// answered, garbage gets at most a DNS error, and correct queries are
// answered throughout.
func TestResponsesNeverAnswered(t *testing.T) {
	for _, fast := range []string{"--fastpath=true", "--fastpath=false"} {
		t.Run(fast, func(t *testing.T) {
			ns, _ := startTapdns(t, fast)
			for _, server := range []string{appliance4, appliance6} {
				local := "198.18.0.1:0"
				if server == appliance6 {
					local = "[2001:2::1]:0"
				}
				c := udpConn(t, ns, local, server)
				for id := range uint16(5) {
					for _, qt := range []uint16{dns.TypeA, dns.TypeSOA, dns.TypeANY} {
						c.Write(packMsg(t, 0x5000+id, "www.tapdns.test.", qt, true))
					}
				}
				if rs := readReplies(t, c, 300*time.Millisecond); len(rs) != 0 {
					t.Errorf("%s: %d replies to responses, want none: %v", server, len(rs), rs[0])
				}
				// Garbage: every reply must be a response with the
				// message's ID.
				r := rand.New(rand.NewPCG(5, 6))
				sent := map[uint16]bool{}
				for i := range 200 {
					b := make([]byte, r.IntN(80))
					for j := range b {
						b[j] = byte(r.Uint32())
					}
					if len(b) >= 3 {
						b[2] &^= 0x80 // a query, else it is dropped anyway
						sent[binary.BigEndian.Uint16(b)] = true
					}
					if i%2 == 0 && len(b) >= 12 {
						copy(b[4:], []byte{0, 1}) // one question, to get further
					}
					c.Write(b)
				}
				for _, m := range readReplies(t, c, 300*time.Millisecond) {
					if !m.Response || !sent[m.Id] {
						t.Errorf("%s: odd reply to garbage: %v", server, m)
					}
				}
				c.Write(packMsg(t, 0x7777, "www.tapdns.test.", dns.TypeA, false))
				rs := readReplies(t, c, time.Second)
				if len(rs) != 1 || rs[0].Id != 0x7777 || len(rs[0].Answer) != 1 {
					t.Errorf("%s: correct query after the garbage: %v, want one answer", server, rs)
				}
			}

			// TCP: a response pipelined before a query is skipped; the
			// first reply is the query's.
			conn, err := ns.Dial("tcp", appliance4+":53")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var out []byte
			for _, m := range [][]byte{
				packMsg(t, 0x6001, "www.tapdns.test.", dns.TypeA, true),
				packMsg(t, 0x6002, "www.tapdns.test.", dns.TypeA, false),
			} {
				out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
				out = append(out, m...)
			}
			conn.Write(out)
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			var hdr [2]byte
			if _, err := io.ReadFull(conn, hdr[:]); err != nil {
				t.Fatalf("tcp: %v", err)
			}
			body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
			if _, err := io.ReadFull(conn, body); err != nil {
				t.Fatalf("tcp: %v", err)
			}
			if id := binary.BigEndian.Uint16(body); id != 0x6002 {
				t.Errorf("tcp: first reply has ID %#x, want 0x6002 (the response 0x6001 must go unanswered)", id)
			}
		})
	}
}

// TestRRL runs tapdns with --rrl 5: a burst of UDP queries from one client
// gets about 5 answers, half of the rest as TC=1 slips with no records and
// nothing for the others; a client in another /24 and an IPv6 client are
// unaffected, and TCP from the limited client is answered.
func TestRRL(t *testing.T) {
	for _, fast := range []string{"--fastpath=true", "--fastpath=false"} {
		t.Run(fast, func(t *testing.T) {
			ns, _ := startTapdns(t, fast, "--rrl", "5", "--rrl-slip", "2", "--gateway", "198.18.0.1")
			// A second client address in another /24, reached through the
			// gateway (the kernel side).
			ns.MustRun(t, "ip", "addr", "add", "198.18.1.1/32", "dev", "tap0")
			time.Sleep(1100 * time.Millisecond) // refill after the readiness probes

			const burst = 40
			attacker := udpConn(t, ns, "198.18.0.1:0", appliance4)
			for i := range burst {
				attacker.Write(packMsg(t, uint16(i), "www.tapdns.test.", dns.TypeA, false))
			}
			var full, slipped int
			for _, m := range readReplies(t, attacker, 500*time.Millisecond) {
				switch {
				case m.Truncated:
					slipped++
					if len(m.Answer)+len(m.Ns)+len(m.Extra) != 0 || len(m.Question) != 1 {
						t.Errorf("slip carries records or no question: %v", m)
					}
				case len(m.Answer) == 1:
					full++
				default:
					t.Errorf("unexpected reply: %v", m)
				}
			}
			dropped := burst - full - slipped
			t.Logf("burst of %d: %d answered, %d slipped, %d dropped", burst, full, slipped, dropped)
			if full < 5 || full > 8 {
				t.Errorf("%d answered, want about 5 (the rate)", full)
			}
			if limited := burst - full; slipped < limited/2-2 || slipped > limited/2+2 || dropped < limited/2-2 {
				t.Errorf("of %d limited, %d slipped and %d dropped; want about half each", limited, slipped, dropped)
			}

			for _, other := range []struct{ local, server string }{
				{"198.18.1.1:0", appliance4},
				{"[2001:2::1]:0", appliance6},
			} {
				c := udpConn(t, ns, other.local, other.server)
				for i := range 5 {
					c.Write(packMsg(t, uint16(100+i), "www.tapdns.test.", dns.TypeA, false))
				}
				rs := readReplies(t, c, 500*time.Millisecond)
				n := 0
				for _, m := range rs {
					if !m.Truncated && len(m.Answer) == 1 {
						n++
					}
				}
				if n != 5 {
					t.Errorf("client %s: %d of 5 answered in full, want 5 (another prefix)", other.local, n)
				}
			}

			if r := dig(t, ns, appliance4, "+tcp", "www.tapdns.test", "A"); r.Status != "NOERROR" || len(r.Answer) != 1 || r.Flags["tc"] {
				t.Errorf("TCP from the limited client: %+v, want a full answer", r)
			}
		})
	}
}

// TestTCPLimitFlags checks that --tcp-max-queries and --tcp-idle-timeout
// reach the stack: a connection is closed (with a FIN) after its query
// cap, and an idle one after the idle timeout.
func TestTCPLimitFlags(t *testing.T) {
	ns, _ := startTapdns(t, "--tcp-max-queries", "2", "--tcp-idle-timeout", "500ms", "--tcp-max-conns", "4")
	conn, err := ns.Dial("tcp", appliance4+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	for id := range uint16(3) {
		m := packMsg(t, 0x4000+id, "www.tapdns.test.", dns.TypeA, false)
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	conn.Write(out)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for id := range uint16(2) {
		var hdr [2]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			t.Fatalf("reply %d: %v", id, err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(conn, body); err != nil {
			t.Fatalf("reply %d: %v", id, err)
		}
		if got := binary.BigEndian.Uint16(body); got != 0x4000+id {
			t.Errorf("reply %d has ID %#x, want %#x", id, got, 0x4000+id)
		}
	}
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after 2 queries: read %d bytes, %v; want EOF (--tcp-max-queries 2)", n, err)
	}

	idle, err := ns.Dial("tcp", appliance4+":53")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	start := time.Now()
	idle.SetReadDeadline(start.Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("idle connection closed after %v, want about 500ms (--tcp-idle-timeout)", d)
	}
}
