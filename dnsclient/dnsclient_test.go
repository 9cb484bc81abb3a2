package dnsclient

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/kernelnet"
)

// fakeServer answers on UDP and TCP at addr with handle; it stops with the
// test.
func fakeServer(t *testing.T, addr string, handle func(w dns.ResponseWriter, q *dns.Msg)) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort(strings.Split(addr, ":")[0], itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs last: cleanups run in reverse order
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: dns.HandlerFunc(handle)}, {Listener: ln, Handler: dns.HandlerFunc(handle)}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() { defer wg.Done(); s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func itoa(n int) string { return strconv.Itoa(n) }

func formatInt(n int) string { return strconv.Itoa(n) }

func answerA(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 18, 0, 80)})
	w.WriteMsg(m)
}

func TestExchange(t *testing.T) {
	srv := fakeServer(t, "127.0.0.1:0", answerA)
	r, err := Exchange(context.Background(), kernelnet.Net{}, srv, NewQuery("www.example.test", dns.TypeA, Options{}), Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.TCP || len(r.Msg.Answer) != 1 || r.Server != srv || r.Size == 0 {
		t.Errorf("result %+v", r)
	}
	var out bytes.Buffer
	Print(&out, r, false)
	for _, want := range []string{";; ->>HEADER<<- opcode: QUERY, status: NOERROR", ";; ANSWER SECTION:", "www.example.test.\t60\tIN\tA\t198.18.0.80", ";; SERVER: 127.0.0.1#", "(UDP)", ";; MSG SIZE  rcvd: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dig output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	Print(&out, r, true)
	if got := strings.TrimSpace(out.String()); got != "198.18.0.80" {
		t.Errorf("+short: %q", got)
	}
}

func TestExchangeTruncatedRetriesOverTCP(t *testing.T) {
	srv := fakeServer(t, "127.0.0.1:0", func(w dns.ResponseWriter, q *dns.Msg) {
		if w.LocalAddr().Network() == "udp" {
			m := new(dns.Msg)
			m.SetReply(q)
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
		answerA(w, q)
	})
	r, err := Exchange(context.Background(), kernelnet.Net{}, srv, NewQuery("big.example.test", dns.TypeA, Options{}), Options{Timeout: 2 * time.Second})
	if err != nil || !r.TCP || len(r.Msg.Answer) != 1 {
		t.Fatalf("got %+v, %v; want the answer over TCP", r, err)
	}
}

func TestExchangeIgnoresWrongAnswersAndTimesOut(t *testing.T) {
	srv := fakeServer(t, "127.0.0.1:0", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Id++ // wrong ID
		w.WriteMsg(m)
		m.Id--
		m.Question[0].Name = "other.example.test." // wrong question
		w.WriteMsg(m)
	})
	start := time.Now()
	_, err := Exchange(context.Background(), kernelnet.Net{}, srv, NewQuery("www.example.test", dns.TypeA, Options{}), Options{Timeout: 200 * time.Millisecond, Tries: 2})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 350*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %v, want about 2 tries of 200ms", d)
	}
}

// TestTrace walks a fake hierarchy on loopback addresses: a resolver that
// knows the root, the root refers to test., test. refers to example.test.
// without glue for one of its servers, which answers.
func TestTrace(t *testing.T) {
	// Find a port free on the three addresses.
	var root, tld, leaf netip.AddrPort
	var port int
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		ok := true
		for _, a := range []string{"127.0.0.3", "127.0.0.4"} {
			c, err := net.ListenPacket("udp", net.JoinHostPort(a, formatInt(port)))
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			break
		}
	}
	p := formatInt(port)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	root = fakeServer(t, "127.0.0.2:"+p, func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Ns = []dns.RR{rr("test. 172800 IN NS ns.test.")}
		m.Extra = []dns.RR{rr("ns.test. 172800 IN A 127.0.0.3")}
		w.WriteMsg(m)
	})
	tld = fakeServer(t, "127.0.0.3:"+p, func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Ns = []dns.RR{rr("example.test. 3600 IN NS ns.elsewhere.test.")}
		w.WriteMsg(m)
	})
	leaf = fakeServer(t, "127.0.0.4:"+p, func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		m.Answer = []dns.RR{rr("www.example.test. 300 IN A 198.18.0.80")}
		w.WriteMsg(m)
	})
	_ = tld
	_ = leaf
	// The "resolver" knows the root and the glueless server's address.
	resolver := fakeServer(t, "127.0.0.1:0", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		switch {
		case q.Question[0].Name == "." && q.Question[0].Qtype == dns.TypeNS:
			m.Answer = []dns.RR{rr(". 518400 IN NS a.root.test.")}
			m.Extra = []dns.RR{rr("a.root.test. 518400 IN A " + root.Addr().String())}
		case q.Question[0].Name == "ns.elsewhere.test." && q.Question[0].Qtype == dns.TypeA:
			m.Answer = []dns.RR{rr("ns.elsewhere.test. 300 IN A 127.0.0.4")}
		}
		w.WriteMsg(m)
	})
	var out bytes.Buffer
	r, err := Trace(context.Background(), kernelnet.Net{}, resolver, "www.example.test", dns.TypeA,
		TraceOptions{Options: Options{Timeout: 2 * time.Second}, IPv4: true, Port: uint16(port)}, &out)
	if err != nil {
		t.Fatalf("trace: %v\n%s", err, out.String())
	}
	if len(r.Msg.Answer) != 1 {
		t.Errorf("last response %v", r.Msg)
	}
	text := out.String()
	for _, want := range []string{".\t518400\tIN\tNS\ta.root.test.", "test.\t172800\tIN\tNS\tns.test.", "(a.root.test.)",
		"example.test.\t3600\tIN\tNS\tns.elsewhere.test.", "(ns.test.)", "www.example.test.\t300\tIN\tA\t198.18.0.80", "(ns.elsewhere.test.)"} {
		if !strings.Contains(text, want) {
			t.Errorf("trace lacks %q:\n%s", want, text)
		}
	}
}
