package mdns

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
)

var (
	client = netip.MustParseAddrPort("198.18.0.1:40001")
	local  = netip.MustParseAddrPort("198.18.0.2:53")
)

// recursive returns a RecursiveQuery for name and type, as dnssvc would
// hand it over.
func recursive(t *testing.T, id uint16, name string, typ uint16, tcp bool) *dnssvc.RecursiveQuery {
	t.Helper()
	msg := build(id, dnswire.FlagRD, []q{{name, typ, dnswire.ClassIN}}, nil, nil, nil)
	var qq dnswire.Query
	if st := dnswire.ParseQuery(msg, &qq); st != dnswire.StatusOK {
		t.Fatalf("ParseQuery: %v", st)
	}
	limit := dnswire.MinUDPSize
	if tcp {
		limit = dnswire.MaxMsgLen
	}
	return &dnssvc.RecursiveQuery{Msg: msg, Query: &qq, Client: client, Local: local, TCP: tcp, Limit: limit}
}

// reply is a parsed unicast DNS reply.
type reply struct {
	rcode dnswire.Rcode
	flags uint16
	m     Message
}

func parseReply(t *testing.T, b []byte, id uint16) *reply {
	t.Helper()
	r := &reply{}
	if err := r.m.Parse(b); err != nil {
		t.Fatalf("reply does not parse: %v: % x", err, b)
	}
	if r.m.ID != id || !r.m.Response() {
		t.Fatalf("reply: ID %#x QR %v, want %#x and a response", r.m.ID, r.m.Response(), id)
	}
	if len(r.m.Questions) != 1 {
		t.Fatalf("reply: %d questions, want the query's", len(r.m.Questions))
	}
	for _, rec := range r.m.Records {
		if rec.TTL > LegacyTTL || rec.Flush {
			t.Errorf("reply record %q type %d: TTL %d flush %v, want TTL <= 10 and class IN", rec.Name, rec.Type, rec.TTL, rec.Flush)
		}
	}
	r.rcode = dnswire.FlagsRcode(r.m.Flags)
	r.flags = r.m.Flags
	return r
}

// udpReply waits for the reply the gateway sends by SendUDP.
func udpReply(t *testing.T, h *hub, d time.Duration) dgram {
	t.Helper()
	select {
	case g := <-h.udp:
		if g.src != local || g.dst != client {
			t.Errorf("deferred reply from %v to %v, want from %v to %v", g.src, g.dst, local, client)
		}
		return g
	case <-time.After(d):
		t.Fatalf("no deferred reply within %v", d)
	}
	return dgram{}
}

// gatewayHub starts a responder for the gateway tests, with a short
// timeout; it need not be ready for the gateway to work.
func gatewayHub(t *testing.T, timeout time.Duration) (*running, *peer, *hub) {
	h := newHub()
	p := h.peer(t, peerAddr)
	cfg := cfgFor("tapdns", "198.18.0.2/24")
	cfg.Timeout = timeout
	cfg.timing = nil // the settle time of shared answers matters here
	r := start(t, cfg, h.host("198.18.0.2"))
	return r, p, h
}

// asked waits for the gateway's question on the link.
func asked(p *peer, name string, typ uint16) {
	p.t.Helper()
	p.recv(2*time.Second, func(_ dgram, m *Message) bool {
		return !m.Response() && m.NAuthority == 0 && len(m.Questions) == 1 &&
			bytes.Equal(m.Questions[0].Name, wn(name)) && m.Questions[0].Type == typ && !m.Questions[0].QU
	})
}

func TestGatewayUDP(t *testing.T) {
	t.Parallel()
	r, p, h := gatewayHub(t, 2*time.Second)
	if out := r.Answer(nil, recursive(t, 7, "Printer.local", dnswire.TypeA, false)); out != nil {
		t.Fatalf("a miss was answered at once: % x", out)
	}
	asked(p, "printer.local", dnswire.TypeA)
	sent := time.Now()
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"printer.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.50")}}, nil, nil))
	g := udpReply(t, h, 2*time.Second)
	if d := time.Since(sent); d > 500*time.Millisecond {
		t.Errorf("a unique answer was relayed after %v, want at once", d)
	}
	rep := parseReply(t, g.b, 7)
	if rep.rcode != dnswire.RcodeSuccess || rep.flags&dnswire.FlagRA == 0 || rep.flags&dnswire.FlagRD == 0 {
		t.Errorf("flags %#x, want NOERROR with RD and RA", rep.flags)
	}
	if !bytes.Equal(rep.m.Questions[0].Orig, wn("Printer.local")) {
		t.Errorf("question %q, want it echoed with its case", rep.m.Questions[0].Orig)
	}
	if a := rep.m.Answers(); len(a) != 1 || a[0].Type != dnswire.TypeA || !bytes.Equal(a[0].Data, a4("198.18.0.50")) {
		t.Fatalf("answers %+v, want printer's A", a)
	}
	// Now from the cache, at once, on the caller's goroutine.
	out := r.Answer(nil, recursive(t, 8, "printer.local", dnswire.TypeA, false))
	if out == nil {
		t.Fatal("a cached name was not answered at once")
	}
	if a := parseReply(t, out, 8).m.Answers(); len(a) != 1 {
		t.Errorf("cached answers %+v", a)
	}
	s := r.Stats()
	if s.GatewayCacheHits != 1 || s.GatewayLinkQueries != 1 || s.GatewayAnswered != 2 {
		t.Errorf("stats: %d cache hits, %d link queries, %d answered; want 1, 1, 2", s.GatewayCacheHits, s.GatewayLinkQueries, s.GatewayAnswered)
	}
}

func TestGatewayTCPAndTimeout(t *testing.T) {
	t.Parallel()
	r, p, _ := gatewayHub(t, 300*time.Millisecond)
	done := make(chan []byte, 1)
	go func() { done <- r.Answer(nil, recursive(t, 9, "scanner.local", dnswire.TypeA, true)) }()
	asked(p, "scanner.local", dnswire.TypeA)
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"scanner.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.51")}}, nil, nil))
	select {
	case out := <-done:
		if a := parseReply(t, out, 9).m.Answers(); len(a) != 1 || !bytes.Equal(a[0].Data, a4("198.18.0.51")) {
			t.Errorf("answers %+v", a)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("TCP query not answered")
	}
	// Nobody answers: NXDOMAIN after the timeout.
	sent := time.Now()
	out := r.Answer(nil, recursive(t, 10, "nobody.local", dnswire.TypeA, true))
	took := time.Since(sent)
	if rep := parseReply(t, out, 10); rep.rcode != dnswire.RcodeNXDomain {
		t.Errorf("rcode %d, want NXDOMAIN", rep.rcode)
	}
	if took < 280*time.Millisecond || took > 2*time.Second {
		t.Errorf("NXDOMAIN after %v, want after the 300 ms timeout", took)
	}
	if s := r.Stats(); s.GatewayNXDomain != 1 || s.GatewayTimeouts != 1 {
		t.Errorf("stats: %d NXDOMAIN, %d timeouts; want 1, 1", s.GatewayNXDomain, s.GatewayTimeouts)
	}
}

func TestGatewayNSEC(t *testing.T) {
	t.Parallel()
	r, p, _ := gatewayHub(t, 2*time.Second)
	done := make(chan []byte, 1)
	go func() { done <- r.Answer(nil, recursive(t, 11, "printer.local", dnswire.TypeAAAA, true)) }()
	asked(p, "printer.local", dnswire.TypeAAAA)
	// python-zeroconf's NSEC: the responder has A only.
	zc := []byte{0xc0, 0x0c, 0, 0, 0, 1, 0x40}
	p.send(Port, group4, build(0, flagsResponse, nil, nil, nil,
		[]rr{{"printer.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.50")}, {"printer.local", dnswire.TypeNSEC, classINFlushed, HostTTL, append(wn("printer.local"), zc[2:]...)}}))
	select {
	case out := <-done:
		rep := parseReply(t, out, 11)
		if rep.rcode != dnswire.RcodeSuccess || len(rep.m.Answers()) != 0 {
			t.Errorf("rcode %d, %d answers; want NODATA", rep.rcode, len(rep.m.Answers()))
		}
	case <-time.After(time.Second):
		t.Fatal("an NSEC denial did not end the lookup at once")
	}
	// Now A is cached, and the NSEC answers AAAA from the cache too.
	if out := r.Answer(nil, recursive(t, 12, "printer.local", dnswire.TypeAAAA, false)); out == nil {
		t.Error("cached NSEC did not answer AAAA at once")
	}
}

func TestGatewayOwnNames(t *testing.T) {
	t.Parallel()
	r, _, _ := gatewayHub(t, time.Second)
	out := r.Answer(nil, recursive(t, 13, "tapdns.local", dnswire.TypeA, false))
	if out == nil {
		t.Fatal("own name not answered at once")
	}
	rep := parseReply(t, out, 13)
	if rep.flags&dnswire.FlagAA == 0 || len(rep.m.Answers()) != 1 || !bytes.Equal(rep.m.Answers()[0].Data, a4("198.18.0.2")) {
		t.Errorf("own name: flags %#x answers %+v, want AA and 198.18.0.2", rep.flags, rep.m.Answers())
	}
	out = r.Answer(nil, recursive(t, 14, "tapdns._domain._udp.local", dnswire.TypeSRV, false))
	if rep := parseReply(t, out, 14); len(rep.m.Answers()) != 1 || !bytes.Equal(rep.m.Answers()[0].Data, srvData(53, "tapdns.local")) {
		t.Errorf("own SRV: %+v", rep.m.Answers())
	}
	out = r.Answer(nil, recursive(t, 15, "tapdns.local", dnswire.TypeTXT, false))
	if rep := parseReply(t, out, 15); rep.rcode != dnswire.RcodeSuccess || len(rep.m.Answers()) != 0 {
		t.Errorf("own name, other type: rcode %d answers %+v, want NODATA", rep.rcode, rep.m.Answers())
	}
	for _, name := range []string{"example.com", "localx"} {
		out = r.Answer(nil, recursive(t, 16, name, dnswire.TypeA, false))
		if rep := parseReply(t, out, 16); rep.rcode != dnswire.RcodeRefused {
			t.Errorf("%s: rcode %d, want REFUSED", name, rep.rcode)
		}
	}
}

func TestGatewaySharedAndGoodbye(t *testing.T) {
	t.Parallel()
	r, p, h := gatewayHub(t, 2*time.Second)
	p2 := h.peer(t, "198.18.0.10")
	if out := r.Answer(nil, recursive(t, 17, "_ipp._tcp.local", dnswire.TypePTR, false)); out != nil {
		t.Fatal("answered a miss at once")
	}
	asked(p, "_ipp._tcp.local", dnswire.TypePTR)
	// Two responders, shared records, a little apart: both are relayed.
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"_ipp._tcp.local", dnswire.TypePTR, dnswire.ClassIN, OtherTTL, wn("A._ipp._tcp.local")}}, nil,
		[]rr{{"A._ipp._tcp.local", dnswire.TypeSRV, classINFlushed, HostTTL, srvData(631, "a.local")}, {"a.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.9")}}))
	time.Sleep(60 * time.Millisecond)
	p2.send(Port, group4, build(0, flagsResponse, nil, []rr{{"_ipp._tcp.local", dnswire.TypePTR, dnswire.ClassIN, OtherTTL, wn("B._ipp._tcp.local")}}, nil, nil))
	rep := parseReply(t, udpReply(t, h, 2*time.Second).b, 17)
	if got := len(rep.m.Answers()); got != 2 {
		t.Fatalf("got %d PTR answers, want both responders'", got)
	}
	if !bytes.Equal(rep.m.Answers()[0].Data, wn("A._ipp._tcp.local")) {
		t.Errorf("PTR target %q, want its case kept", rep.m.Answers()[0].Data)
	}
	if findRecord(&rep.m, wn("a._ipp._tcp.local"), dnswire.TypeSRV) == nil || findRecord(&rep.m, wn("a.local"), dnswire.TypeA) == nil {
		t.Errorf("additional %+v, want the SRV and its target's address", rep.m.Additional())
	}
	// A goodbye removes B's instance from the cache.
	p2.send(Port, group4, build(0, flagsResponse, nil, []rr{{"_ipp._tcp.local", dnswire.TypePTR, dnswire.ClassIN, 0, wn("B._ipp._tcp.local")}}, nil, nil))
	deadline := time.Now().Add(2 * time.Second)
	for {
		out := r.Answer(nil, recursive(t, 18, "_ipp._tcp.local", dnswire.TypePTR, false))
		if out != nil && len(parseReply(t, out, 18).m.Answers()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("goodbye did not remove the record")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGatewayCacheFlush(t *testing.T) {
	t.Parallel()
	r, p, _ := gatewayHub(t, time.Second)
	announce := func(addr string) {
		p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"moved.local", dnswire.TypeA, classINFlushed, HostTTL, a4(addr)}}, nil, nil))
	}
	answersOf := func() int {
		out := r.Answer(nil, recursive(t, 19, "moved.local", dnswire.TypeA, false))
		if out == nil {
			return -1
		}
		return len(parseReply(t, out, 19).m.Answers())
	}
	announce("198.18.0.60")
	waitFor(t, "first address cached", func() bool { return answersOf() == 1 })
	time.Sleep(r.st.tm.flush + 100*time.Millisecond)
	announce("198.18.0.61") // cache-flush: the old address goes within a second
	waitFor(t, "both for a moment", func() bool { return answersOf() >= 1 })
	time.Sleep(r.st.tm.flush + 100*time.Millisecond)
	out := r.Answer(nil, recursive(t, 20, "moved.local", dnswire.TypeA, false))
	if a := parseReply(t, out, 20).m.Answers(); len(a) != 1 || !bytes.Equal(a[0].Data, a4("198.18.0.61")) {
		t.Errorf("after the cache-flush: %+v, want only the new address", a)
	}
}

func TestGatewayShutdown(t *testing.T) {
	t.Parallel()
	r, _, _ := gatewayHub(t, 5*time.Second)
	done := make(chan []byte, 1)
	go func() { done <- r.Answer(nil, recursive(t, 21, "slow.local", dnswire.TypeA, true)) }()
	time.Sleep(100 * time.Millisecond)
	r.stop()
	select {
	case out := <-done:
		if rep := parseReply(t, out, 21); rep.rcode != dnswire.RcodeServFail {
			t.Errorf("rcode %d, want SERVFAIL on shutdown", rep.rcode)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a TCP query still waits after Run returned")
	}
	out := r.Answer(nil, recursive(t, 22, "late.local", dnswire.TypeA, false))
	if out == nil || parseReply(t, out, 22).rcode != dnswire.RcodeServFail {
		t.Error("a query after shutdown was not refused with SERVFAIL")
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGatewayAllocs(t *testing.T) {
	r, _, _ := gatewayHub(t, time.Second)
	rq := recursive(t, 23, "tapdns.local", dnswire.TypeA, false)
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { r.Answer(dst, rq) }); n != 0 {
		t.Errorf("own-name answer: %v allocations, want 0", n)
	}
	var m Message
	if err := m.Parse(build(0, flagsResponse, nil, []rr{{"cached.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.70")}}, nil, nil)); err != nil {
		t.Fatal(err)
	}
	r.cache.add(&m, time.Now(), time.Second)
	rq = recursive(t, 24, "cached.local", dnswire.TypeA, false)
	if out := r.Answer(dst, rq); out == nil || len(parseReply(t, out, 24).m.Answers()) != 1 {
		t.Fatal("cache hit not answered at once")
	}
	if n := testing.AllocsPerRun(100, func() { r.Answer(dst, rq) }); n != 0 {
		t.Errorf("cache hit: %v allocations, want 0", n)
	}
}

func TestGatewayZeroconfNSEC(t *testing.T) {
	t.Parallel()
	r, p, _ := gatewayHub(t, 2*time.Second)
	nodata := func(name string) {
		t.Helper()
		out := r.Answer(nil, recursive(t, 30, name, dnswire.TypeAAAA, false))
		if out == nil {
			t.Fatalf("%s AAAA: not answered at once", name)
		}
		if rep := parseReply(t, out, 30); rep.rcode != dnswire.RcodeSuccess || len(rep.m.Answers()) != 0 {
			t.Errorf("%s AAAA: rcode %d answers %+v, want NODATA", name, rep.rcode, rep.m.Answers())
		}
	}
	cachedA := func(name string) func() bool {
		return func() bool {
			out := r.Answer(nil, recursive(t, 31, name, dnswire.TypeA, false))
			return out != nil && len(parseReply(t, out, 31).m.Answers()) == 1
		}
	}
	missingAAAA := appendNSEC(nil, wn("zc.local"), []uint16{dnswire.TypeAAAA})
	// python-zeroconf's answer to an A question: the A, and an NSEC that
	// lists the type it lacks.
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"zc.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.80")}}, nil,
		[]rr{{"zc.local", dnswire.TypeNSEC, classINFlushed, OtherTTL, missingAAAA}}))
	waitFor(t, "zc.local A cached", cachedA("zc.local"))
	nodata("zc.local")
	// Its answer to an AAAA question is that NSEC alone; the A known from
	// before says how to read it.
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"zc2.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.81")}}, nil, nil))
	waitFor(t, "zc2.local A cached", cachedA("zc2.local"))
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"zc2.local", dnswire.TypeNSEC, classINFlushed, OtherTTL, appendNSEC(nil, wn("zc2.local"), []uint16{dnswire.TypeAAAA})}}, nil, nil))
	waitFor(t, "zc2.local NSEC cached", func() bool { return r.Stats().NSECInverted == 2 })
	nodata("zc2.local")
	// An RFC 6762 NSEC (the types that exist) is read as it is.
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"rfc.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.82")}}, nil,
		[]rr{{"rfc.local", dnswire.TypeNSEC, classINFlushed, HostTTL, appendNSEC(nil, wn("rfc.local"), []uint16{dnswire.TypeA})}}))
	waitFor(t, "rfc.local A cached", cachedA("rfc.local"))
	nodata("rfc.local")
	if n := r.Stats().NSECInverted; n != 2 {
		t.Errorf("NSECInverted: got %d, want 2", n)
	}
}
