package mdns

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// fastTiming is the protocol's timing ten times faster, for the tests
// that check what is sent rather than when.
func fastTiming() *timing {
	t := rfcTiming()
	for _, d := range []*time.Duration{&t.probe, &t.announce, &t.tieBreak, &t.conflict, &t.mcast, &t.defend,
		&t.sharedLo, &t.sharedHi, &t.truncLo, &t.truncHi, &t.flush, &t.settle, &t.resend} {
		*d /= 10
	}
	return &t
}

// cfgFor returns a configuration with fast timing; tests of the real
// intervals set timing to nil.
func cfgFor(name string, addrs ...string) Config {
	c := Config{Name: name, DNSPort: 53, timing: fastTiming()}
	for _, a := range addrs {
		c.Addrs = append(c.Addrs, netip.MustParsePrefix(a))
	}
	return c
}

var (
	group4   = GroupV4
	peerAddr = "198.18.0.9"
)

// isProbe accepts probe queries.
func isProbe(_ dgram, m *Message) bool { return !m.Response() && m.NAuthority > 0 }

// isResponse accepts responses.
func isResponse(_ dgram, m *Message) bool { return m.Response() }

// hasRecord accepts responses with a record of this name and type in
// any section.
func hasRecord(name string, typ uint16) func(dgram, *Message) bool {
	w := wn(name)
	return func(_ dgram, m *Message) bool {
		return m.Response() && findRecord(m, w, typ) != nil
	}
}

func findRecord(m *Message, name []byte, typ uint16) *Record {
	for i := range m.Records {
		if m.Records[i].Type == typ && equalFold(m.Records[i].Name, name) {
			return &m.Records[i]
		}
	}
	return nil
}

// waitReady waits until r has announced at least twice on each of its
// families and then no more for over a second: every group is ready and
// its records may be multicast again.
func waitReady(t *testing.T, r *running, fams uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := r.Stats().Announcements
		if n >= 2*fams {
			time.Sleep(r.st.tm.announce + 200*time.Millisecond)
			if r.Stats().Announcements == n {
				return
			}
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 15 s: %+v", r.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitStat(t *testing.T, r *running, what string, get func(Stats) uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get(r.Stats()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %d, want %d: %+v", what, get(r.Stats()), want, r.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProbeAndAnnounce(t *testing.T) {
	t.Parallel()
	h := newHub()
	p := h.peer(t, peerAddr)
	cfg := cfgFor("tapdns", "198.18.0.2/24", "2001:2::2/64")
	cfg.timing = nil
	start(t, cfg, h.host("198.18.0.2", "2001:2::2"))

	var times []time.Time
	for len(times) < probeCount {
		_, m := p.recv(3*time.Second, nil)
		if m.Response() {
			t.Fatalf("got a response after %d probes, want %d probes first", len(times), probeCount)
		}
		times = append(times, time.Now())
		if len(m.Questions) != 2 {
			t.Fatalf("probe: got %d questions, want host and service", len(m.Questions))
		}
		for i, name := range []string{"tapdns.local", "tapdns._domain._udp.local"} {
			q := m.Questions[i]
			if !bytes.Equal(q.Name, wn(name)) || q.Type != dnswire.TypeANY || !q.QU {
				t.Errorf("probe question %d: got %q type %d QU %v, want %s ANY QU", i, q.Name, q.Type, q.QU, name)
			}
		}
		auth := m.Authority()
		if a := findRecord(m, wn("tapdns.local"), dnswire.TypeA); a == nil || !bytes.Equal(a.Data, a4("198.18.0.2")) || a.Flush || a.TTL != HostTTL {
			t.Errorf("probe authority: got A %+v, want 198.18.0.2 TTL 120 without cache-flush", a)
		}
		if findRecord(m, wn("tapdns.local"), dnswire.TypeAAAA) == nil || findRecord(m, wn("tapdns._domain._udp.local"), dnswire.TypeSRV) == nil {
			t.Errorf("probe authority lacks AAAA or SRV: %+v", auth)
		}
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 200*time.Millisecond || d > 750*time.Millisecond {
			t.Errorf("probes %d and %d: %v apart, want about 250 ms", i-1, i, d)
		}
	}
	var ann []time.Time
	for len(ann) < announceCount {
		_, m := p.recv(3*time.Second, nil)
		if !m.Response() {
			t.Fatalf("got a query %+v during announcements", m.Questions)
		}
		ann = append(ann, time.Now())
		if m.ID != 0 || len(m.Questions) != 0 || m.Flags&dnswire.FlagAA == 0 {
			t.Errorf("announcement: ID %d, %d questions, flags %#x; want 0, none, AA", m.ID, len(m.Questions), m.Flags)
		}
		for _, w := range []struct {
			name  string
			typ   uint16
			flush bool
			ttl   uint32
		}{
			{"tapdns.local", dnswire.TypeA, true, HostTTL},
			{"tapdns.local", dnswire.TypeAAAA, true, HostTTL},
			{"tapdns._domain._udp.local", dnswire.TypeSRV, true, HostTTL},
			{"tapdns._domain._udp.local", dnswire.TypeTXT, true, OtherTTL},
			{"_domain._udp.local", dnswire.TypePTR, false, OtherTTL},
			{"_services._dns-sd._udp.local", dnswire.TypePTR, false, OtherTTL},
		} {
			r := findRecord(m, wn(w.name), w.typ)
			if r == nil || r.Flush != w.flush || r.TTL != w.ttl {
				t.Errorf("announcement: %s type %d: got %+v, want cache-flush %v TTL %d", w.name, w.typ, r, w.flush, w.ttl)
			}
		}
		if srv := findRecord(m, wn("tapdns._domain._udp.local"), dnswire.TypeSRV); srv != nil && !bytes.Equal(srv.Data, srvData(53, "tapdns.local")) {
			t.Errorf("SRV: got % x, want port 53 target tapdns.local", srv.Data)
		}
	}
	if d := ann[1].Sub(ann[0]); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("announcements %v apart, want about 1 s", d)
	}
	if d := ann[0].Sub(times[2]); d < 200*time.Millisecond {
		t.Errorf("first announcement %v after the last probe, want at least 250 ms", d)
	}
	if !p.quiet(1500*time.Millisecond, nil) {
		t.Errorf("more than %d announcements", announceCount)
	}
}

// defender answers probes for name as a host that holds it.
func defender(p *peer, name string, addr string, stop <-chan struct{}) {
	for {
		select {
		case g := <-p.conn.in:
			var m Message
			if m.Parse(g.b) != nil || m.Response() {
				continue
			}
			for _, q := range m.Questions {
				if bytes.Equal(q.Name, wn(name)) {
					p.send(Port, group4, build(0, flagsResponse, nil, []rr{{name, dnswire.TypeA, classINFlushed, HostTTL, a4(addr)}}, nil, nil))
				}
			}
		case <-stop:
			return
		}
	}
}

func TestConflictWhileProbing(t *testing.T) {
	t.Parallel()
	h := newHub()
	p := h.peer(t, peerAddr)
	stop := make(chan struct{})
	defer close(stop)
	go defender(p, "tapdns.local", peerAddr, stop)
	r := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.2"))
	waitReady(t, r, 1)
	if got := r.Name(); got != "tapdns-2.local." {
		t.Errorf("Name: got %s, want tapdns-2.local.", got)
	}
	if s := r.Stats(); s.Renames != 1 || s.Conflicts != 1 {
		t.Errorf("got %d renames, %d conflicts; want 1, 1", s.Renames, s.Conflicts)
	}
	if !strings.Contains(r.log.String(), "renamed") || !strings.Contains(r.log.String(), "tapdns-2.local") {
		t.Errorf("the rename was not logged:\n%s", r.log.String())
	}
}

func TestRenameSequence(t *testing.T) {
	t.Parallel()
	h := newHub()
	stop := make(chan struct{})
	defer close(stop)
	for _, name := range []string{"tapdns.local", "tapdns-2.local"} {
		go defender(h.peer(t, peerAddr), name, peerAddr, stop)
	}
	r := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.2"))
	waitReady(t, r, 1)
	if got := r.Name(); got != "tapdns-3.local." {
		t.Errorf("Name: got %s, want tapdns-3.local.", got)
	}
}

func TestConflictAfterAnnouncing(t *testing.T) {
	t.Parallel()
	h := newHub()
	p := h.peer(t, peerAddr)
	o := h.peer(t, "198.18.0.11")
	r := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.2"))
	waitReady(t, r, 1)
	p.drain()
	// Another host claims the name (section 9): we probe again, it
	// defends, we rename.
	stop := make(chan struct{})
	defer close(stop)
	p.send(Port, group4, build(0, flagsResponse, nil, []rr{{"tapdns.local", dnswire.TypeA, classINFlushed, HostTTL, a4(peerAddr)}}, nil, nil))
	go defender(p, "tapdns.local", peerAddr, stop)
	waitStat(t, r, "renames", func(s Stats) uint64 { return s.Renames }, 1)
	if got := r.Name(); got != "tapdns-2.local." {
		t.Errorf("Name: got %s, want tapdns-2.local.", got)
	}
	// Our old address record leaves the caches, without a cache-flush
	// bit that would take the other host's record with it.
	o.recv(2*time.Second, func(_ dgram, m *Message) bool {
		a := findRecord(m, wn("tapdns.local"), dnswire.TypeA)
		return m.Response() && a != nil && a.TTL == 0 && !a.Flush && bytes.Equal(a.Data, a4("198.18.0.2"))
	})
}

func TestSimultaneousProbeTiebreak(t *testing.T) {
	t.Parallel()
	h := newHub()
	// Same name, different addresses: the host whose records are
	// lexicographically later (198.18.0.3) keeps the name.
	lo := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.2"))
	hi := start(t, cfgFor("tapdns", "198.18.0.3/24"), h.host("198.18.0.3"))
	waitReady(t, hi, 1)
	waitStat(t, lo, "renames", func(s Stats) uint64 { return s.Renames }, 1)
	waitReady(t, lo, 1)
	if got := hi.Name(); got != "tapdns.local." {
		t.Errorf("later host: got %s, want tapdns.local.", got)
	}
	if got := lo.Name(); got != "tapdns-2.local." {
		t.Errorf("earlier host: got %s, want tapdns-2.local.", got)
	}
	if hi.Stats().Renames != 0 {
		t.Errorf("later host renamed itself")
	}
	if lo.Stats().TiebreaksLost == 0 {
		t.Logf("the earlier host lost by conflict, not by tie-break (probes did not overlap)")
	}
}

func TestSameDataNoConflict(t *testing.T) {
	t.Parallel()
	h := newHub()
	// Two responders with identical records (as a sleep proxy would be)
	// both keep the name: identical data is no conflict.
	a := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.2"))
	b := start(t, cfgFor("tapdns", "198.18.0.2/24"), h.host("198.18.0.3"))
	waitReady(t, a, 1)
	waitReady(t, b, 1)
	if a.Stats().Renames+b.Stats().Renames != 0 {
		t.Errorf("a responder renamed itself over identical records")
	}
}

// readyResponder starts a responder on a fresh hub and waits for it to be ready,
// then lets a second pass so that its records may be multicast again.
func readyResponder(t *testing.T, cfg Config, addrs ...string) (*running, *peer, *hub) {
	h := newHub()
	p := h.peer(t, peerAddr)
	r := start(t, cfg, h.host(addrs...))
	fams := uint64(1)
	if len(addrs) > 1 {
		fams = 2
	}
	waitReady(t, r, fams)
	p.drain()
	return r, p, h
}

func TestAnswerQM(t *testing.T) {
	t.Parallel()
	cfg := cfgFor("tapdns", "198.18.0.2/24", "fe80::2/64")
	cfg.timing = nil
	r, p, _ := readyResponder(t, cfg, "198.18.0.2", "fe80::2")
	query := build(0, 0, []q{{"TapDNS.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil)
	sent := time.Now()
	p.send(Port, group4, query)
	g, m := p.recv(time.Second, isResponse)
	if d := time.Since(sent); d > 500*time.Millisecond {
		t.Errorf("unique answer took %v, want it at once", d)
	}
	if g.dst != group4 {
		t.Errorf("QM answer went to %v, want the group", g.dst)
	}
	a := m.Answers()
	if len(a) != 1 || a[0].Type != dnswire.TypeA || !bytes.Equal(a[0].Data, a4("198.18.0.2")) || !a[0].Flush || a[0].TTL != HostTTL {
		t.Fatalf("answers: got %+v, want the A record with cache-flush", a)
	}
	if aaaa := findRecord(m, wn("tapdns.local"), dnswire.TypeAAAA); aaaa == nil || !bytes.Equal(aaaa.Data, netip.MustParseAddr("fe80::2").AsSlice()) {
		t.Errorf("additional: got %+v, want the link-local AAAA", m.Additional())
	}
	// Asked again at once: held back to a second after the first.
	p.send(Port, group4, query)
	p.recv(2*time.Second, isResponse)
	if d := time.Since(sent); d < 900*time.Millisecond {
		t.Errorf("second multicast of the record %v after the first, want at least 1 s", d)
	}
	if r.Stats().RateLimited == 0 {
		t.Errorf("RateLimited not counted")
	}
}

func TestKnownAnswerSuppression(t *testing.T) {
	t.Parallel()
	r, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24"), "198.18.0.2")
	known := func(ttl uint32) []byte {
		return build(0, 0, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}},
			[]rr{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN, ttl, a4("198.18.0.2")}}, nil, nil)
	}
	p.send(Port, group4, known(HostTTL))
	if !p.quiet(300*time.Millisecond, hasRecord("tapdns.local", dnswire.TypeA)) {
		t.Errorf("answered although the querier knew the answer")
	}
	if r.Stats().KnownAnswers != 1 {
		t.Errorf("KnownAnswers: got %d, want 1", r.Stats().KnownAnswers)
	}
	// Less than half the TTL left: answered.
	p.send(Port, group4, known(HostTTL/2-1))
	p.recv(time.Second, hasRecord("tapdns.local", dnswire.TypeA))
}

func TestTruncatedKnownAnswers(t *testing.T) {
	t.Parallel()
	cfg := cfgFor("tapdns", "198.18.0.2/24")
	cfg.timing = nil
	_, p, _ := readyResponder(t, cfg, "198.18.0.2")
	// A TC query, then its continuation with the known answer: nothing.
	p.send(Port, group4, build(0, dnswire.FlagTC, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	p.send(Port, group4, build(0, 0, nil, []rr{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN, HostTTL, a4("198.18.0.2")}}, nil, nil))
	if !p.quiet(800*time.Millisecond, hasRecord("tapdns.local", dnswire.TypeA)) {
		t.Errorf("answered a truncated query whose continuation knew the answer")
	}
	// A TC query alone is answered, 400-500 ms later.
	sent := time.Now()
	p.send(Port, group4, build(0, dnswire.FlagTC, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	p.recv(2*time.Second, hasRecord("tapdns.local", dnswire.TypeA))
	if d := time.Since(sent); d < 380*time.Millisecond {
		t.Errorf("answered a TC query after %v, want 400-500 ms", d)
	}
}

func TestAnswerQU(t *testing.T) {
	t.Parallel()
	_, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24"), "198.18.0.2")
	// Multicast less than a quarter of the TTL ago: unicast.
	p.send(Port, group4, build(0, 0, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN | classQU}}, nil, nil, nil))
	g, m := p.recv(time.Second, isResponse)
	if want := netip.AddrPortFrom(netip.MustParseAddr(peerAddr), Port); g.dst != want {
		t.Errorf("QU answer went to %v, want %v", g.dst, want)
	}
	if a := m.Answers(); len(a) != 1 || a[0].Type != dnswire.TypeA {
		t.Errorf("QU answer: got %+v", a)
	}
}

func TestLegacyUnicast(t *testing.T) {
	t.Parallel()
	_, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24", "2001:2::2/64"), "198.18.0.2", "2001:2::2")
	p.send(40000, group4, build(0x1234, dnswire.FlagRD, []q{{"TAPDNS.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	g, m := p.recv(time.Second, isResponse)
	if want := netip.AddrPortFrom(netip.MustParseAddr(peerAddr), 40000); g.dst != want {
		t.Errorf("legacy answer went to %v, want %v", g.dst, want)
	}
	if m.ID != 0x1234 {
		t.Errorf("ID: got %#x, want 0x1234", m.ID)
	}
	if len(m.Questions) != 1 || !bytes.Equal(m.Questions[0].Orig, wn("TAPDNS.local")) || m.Questions[0].Type != dnswire.TypeA {
		t.Errorf("question: got %+v, want the query's, case kept", m.Questions)
	}
	for _, rec := range m.Records {
		if rec.TTL > LegacyTTL || rec.Flush {
			t.Errorf("record %q type %d: TTL %d flush %v, want TTL <= 10 and no cache-flush", rec.Name, rec.Type, rec.TTL, rec.Flush)
		}
	}
	if a := m.Answers(); len(a) != 1 || !bytes.Equal(a[0].Data, a4("198.18.0.2")) {
		t.Errorf("answers: got %+v", a)
	}
	// The raw datagram must be what a plain DNS client accepts: class 1.
	if !bytes.Contains(g.b, []byte{0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 198, 18, 0, 2}) {
		t.Errorf("legacy answer lacks A IN TTL 10: % x", g.b)
	}
}

func TestNegativeAnswer(t *testing.T) {
	t.Parallel()
	_, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24"), "198.18.0.2")
	p.send(Port, group4, build(0, 0, []q{{"tapdns.local", dnswire.TypeAAAA, dnswire.ClassIN}}, nil, nil, nil))
	_, m := p.recv(time.Second, isResponse)
	if len(m.Answers()) != 0 {
		t.Errorf("answers: got %+v, want none", m.Answers())
	}
	nsec := findRecord(m, wn("tapdns.local"), dnswire.TypeNSEC)
	if nsec == nil || !nsec.Flush {
		t.Fatalf("got %+v, want an NSEC with cache-flush in the additional section", m.Records)
	}
	if !nsecHas(nsec.Data, dnswire.TypeA) || nsecHas(nsec.Data, dnswire.TypeAAAA) || !bytes.HasPrefix(nsec.Data, wn("tapdns.local")) {
		t.Errorf("NSEC % x: want next name tapdns.local and A alone", nsec.Data)
	}
}

func TestDNSSD(t *testing.T) {
	t.Parallel()
	_, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24"), "198.18.0.2")
	p.send(Port, group4, build(0, 0, []q{{"_services._dns-sd._udp.local", dnswire.TypePTR, dnswire.ClassIN}}, nil, nil, nil))
	_, m := p.recv(time.Second, hasRecord("_services._dns-sd._udp.local", dnswire.TypePTR))
	if ptr := findRecord(m, wn("_services._dns-sd._udp.local"), dnswire.TypePTR); !bytes.Equal(ptr.Data, wn("_domain._udp.local")) {
		t.Errorf("service types: got %q, want _domain._udp.local", ptr.Data)
	}
	p.send(Port, group4, build(0, 0, []q{{"_domain._udp.local", dnswire.TypePTR, dnswire.ClassIN}}, nil, nil, nil))
	_, m = p.recv(time.Second, hasRecord("_domain._udp.local", dnswire.TypePTR))
	if ptr := m.Answers(); len(ptr) != 1 || !bytes.Equal(ptr[0].Data, wn("tapdns._domain._udp.local")) || ptr[0].Flush {
		t.Errorf("instances: got %+v, want the shared PTR to tapdns._domain._udp.local", ptr)
	}
	for _, w := range []struct {
		name string
		typ  uint16
	}{{"tapdns._domain._udp.local", dnswire.TypeSRV}, {"tapdns._domain._udp.local", dnswire.TypeTXT}, {"tapdns.local", dnswire.TypeA}} {
		if findRecord(m, wn(w.name), w.typ) == nil {
			t.Errorf("additional lacks %s type %d: %+v", w.name, w.typ, m.Additional())
		}
	}
}

func TestDropped(t *testing.T) {
	t.Parallel()
	r, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24", "2001:2::2/64"), "198.18.0.2", "2001:2::2")
	query := build(0, 0, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil)
	before := r.Stats()
	// Off the link: another subnet, and a global IPv6 address outside
	// our prefix.
	p.sendFrom(netip.MustParseAddrPort("203.0.113.5:5353"), group4, query)
	p.sendFrom(netip.MustParseAddrPort("198.18.1.9:5353"), group4, query)
	p.sendFrom(netip.MustParseAddrPort("[2001:db8::5]:5353"), GroupV6, query)
	// Malformed, huge, wrong opcode, a response from another port.
	p.send(Port, group4, []byte{1, 2, 3})
	p.send(Port, group4, func() []byte { b := bytes.Clone(query); b[5] = 2; return b }())
	p.send(Port, group4, query[:len(query)-1])
	p.send(Port, group4, make([]byte, MaxMsgLen+1))
	p.send(Port, group4, build(0, dnswire.FlagsWith(0, dnswire.OpcodeUpdate, 0), []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	p.send(40000, group4, build(0, flagsResponse, nil, []rr{{"tapdns.local", dnswire.TypeA, classINFlushed, HostTTL, a4("198.18.0.66")}}, nil, nil))
	if !p.quiet(500*time.Millisecond, isResponse) {
		t.Errorf("answered a dropped message")
	}
	waitStat(t, r, "off-link", func(s Stats) uint64 { return s.OffLink - before.OffLink }, 3)
	s := r.Stats()
	if got := s.Malformed - before.Malformed; got != 3 {
		t.Errorf("Malformed: got %d, want 3", got)
	}
	if got := s.Huge - before.Huge; got != 1 {
		t.Errorf("Huge: got %d, want 1", got)
	}
	if got := s.Ignored - before.Ignored; got != 2 {
		t.Errorf("Ignored: got %d, want 2", got)
	}
	if s.Conflicts != 0 {
		t.Errorf("a response from port 40000 caused a conflict")
	}
	// Still serving.
	p.send(Port, group4, query)
	p.recv(2*time.Second, hasRecord("tapdns.local", dnswire.TypeA))
}

func TestGoodbye(t *testing.T) {
	t.Parallel()
	r, p, _ := readyResponder(t, cfgFor("tapdns", "198.18.0.2/24"), "198.18.0.2")
	r.stop()
	_, m := p.recv(time.Second, isResponse)
	want := map[uint16]bool{dnswire.TypeA: true, dnswire.TypeSRV: true, dnswire.TypeTXT: true, dnswire.TypePTR: true}
	for _, rec := range m.Answers() {
		if rec.TTL != 0 || rec.Flush {
			t.Errorf("goodbye %q type %d: TTL %d flush %v, want TTL 0 without cache-flush", rec.Name, rec.Type, rec.TTL, rec.Flush)
		}
		delete(want, rec.Type)
	}
	if len(want) > 0 {
		t.Errorf("no goodbye for types %v: %+v", want, m.Answers())
	}
	if r.Stats().Goodbyes != 1 {
		t.Errorf("Goodbyes: got %d, want 1", r.Stats().Goodbyes)
	}
}

func TestZoneRecords(t *testing.T) {
	t.Parallel()
	cfg := cfgFor("tapdns", "198.18.0.2/24")
	cfg.DNSPort = 0
	cfg.Records = []ZoneRecord{
		{Name: wn("local"), Type: dnswire.TypeSOA, Data: append(append(wn("ns.local"), wn("h.local")...), make([]byte, 20)...)},
		{Name: wn("nas.local"), Type: dnswire.TypeA, Data: a4("198.18.0.20")},
		{Name: wn("Wiki.local"), Type: dnswire.TypeCNAME, Data: wn("nas.local")},
		{Name: wn("_http._tcp.local"), Type: dnswire.TypePTR, Data: wn("Wiki._http._tcp.local")},
		{Name: wn("taken.local"), Type: dnswire.TypeA, Data: a4("198.18.0.21")},
	}
	h := newHub()
	p := h.peer(t, peerAddr)
	stop := make(chan struct{})
	defer close(stop)
	go defender(h.peer(t, "198.18.0.10"), "taken.local", "198.18.0.10", stop)
	r := start(t, cfg, h.host("198.18.0.2"))
	waitReady(t, r, 1)
	p.drain()

	p.send(Port, group4, build(0, 0, []q{{"nas.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	_, m := p.recv(time.Second, hasRecord("nas.local", dnswire.TypeA))
	if a := m.Answers(); len(a) != 1 || !bytes.Equal(a[0].Data, a4("198.18.0.20")) || a[0].TTL != HostTTL || !a[0].Flush {
		t.Errorf("nas.local: got %+v", a)
	}
	p.send(Port, group4, build(0, 0, []q{{"wiki.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	_, m = p.recv(time.Second, hasRecord("wiki.local", dnswire.TypeCNAME))
	if c := m.Answers(); len(c) != 1 || c[0].TTL != OtherTTL || !bytes.Equal(c[0].Name, wn("wiki.local")) {
		t.Errorf("wiki.local: got %+v, want the CNAME with TTL 4500", c)
	}
	p.send(Port, group4, build(0, 0, []q{{"_http._tcp.local", dnswire.TypePTR, dnswire.ClassIN}}, nil, nil, nil))
	_, m = p.recv(time.Second, hasRecord("_http._tcp.local", dnswire.TypePTR))
	if ptr := m.Answers(); len(ptr) != 1 || ptr[0].Flush || !bytes.Equal(ptr[0].Data, wn("Wiki._http._tcp.local")) {
		t.Errorf("PTR: got %+v, want shared, target case kept", ptr)
	}
	// The apex and the name another host holds are not published; the
	// host name is not renamed for a zone name's conflict.
	p.send(Port, group4, build(0, 0, []q{{"local", dnswire.TypeSOA, dnswire.ClassIN}, {"taken.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	if !p.quiet(600*time.Millisecond, func(g dgram, m *Message) bool {
		return m.Response() && g.src.Addr() == netip.MustParseAddr("198.18.0.2")
	}) {
		t.Errorf("answered for the apex or a withdrawn name")
	}
	if r.Name() != "tapdns.local." || r.Stats().Renames != 0 {
		t.Errorf("host renamed (%s) over a zone name's conflict", r.Name())
	}
	if !strings.Contains(r.log.String(), "taken.local") {
		t.Errorf("the withdrawn name was not logged")
	}
}

func TestHostNameInZone(t *testing.T) {
	cfg := cfgFor("tapdns", "198.18.0.2/24")
	cfg.Records = []ZoneRecord{{Name: wn("tapdns.local"), Type: dnswire.TypeA, Data: a4("198.18.0.30")}}
	r, err := New(cfg, newHub().host("198.18.0.2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Name(); got != "tapdns-2.local." {
		t.Errorf("got %s, want tapdns-2.local. (the zone holds tapdns.local)", got)
	}
}

func TestConfigCheck(t *testing.T) {
	ok := cfgFor("", "198.18.0.2/24")
	if err := ok.Check(); err != nil || ok.Name != DefaultName || ok.Timeout != DefaultTimeout {
		t.Errorf("defaults: got %v, %+v", err, ok)
	}
	for _, bad := range []Config{
		cfgFor("a.b", "198.18.0.2/24"),
		cfgFor(strings.Repeat("x", 64), "198.18.0.2/24"),
		cfgFor("x"),
		cfgFor("x", "224.0.0.1/24"),
		{Name: "x", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}, Timeout: -1},
		{Name: "x", Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.2/24")}, Records: []ZoneRecord{{Name: wn("example.com"), Type: 1}}},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("Check accepted %+v", bad)
		}
	}
}

func TestRenamed(t *testing.T) {
	if got := renamed("tapdns", 2); got != "tapdns-2" {
		t.Errorf("got %s", got)
	}
	long := strings.Repeat("x", 63)
	if got := renamed(long, 12); len(got) != 63 || !strings.HasSuffix(got, "-12") {
		t.Errorf("got %s (%d octets), want 63 octets ending in -12", got, len(got))
	}
}

func TestZoneReload(t *testing.T) {
	t.Parallel()
	cfg := cfgFor("tapdns", "198.18.0.2/24")
	cfg.DNSPort = 0
	cfg.Records = []ZoneRecord{
		{Name: wn("nas.local"), Type: dnswire.TypeA, Data: a4("198.18.0.20")},
		{Name: wn("old.local"), Type: dnswire.TypeA, Data: a4("198.18.0.21")},
		{Name: wn("moved.local"), Type: dnswire.TypeA, Data: a4("198.18.0.23")},
	}
	r, p, _ := readyResponder(t, cfg, "198.18.0.2")
	if err := r.SetRecords([]ZoneRecord{
		{Name: wn("nas.local"), Type: dnswire.TypeA, Data: a4("198.18.0.20")},
		{Name: wn("new.local"), Type: dnswire.TypeA, Data: a4("198.18.0.22")},
		{Name: wn("moved.local"), Type: dnswire.TypeA, Data: a4("198.18.0.24")},
	}); err != nil {
		t.Fatal(err)
	}
	var goodbyes, probed []string
	deadline := time.Now().Add(3 * time.Second)
	for len(probed) < 2 || len(goodbyes) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 3 s: goodbyes for %v, probes for %v", goodbyes, probed)
		}
		_, m := p.recv(3*time.Second, nil)
		for _, rec := range m.Records {
			switch {
			case m.Response() && rec.TTL == 0:
				goodbyes = append(goodbyes, nameText(rec.Name))
			case !m.Response() && m.NAuthority > 0 && rec.Type == dnswire.TypeA:
				probed = append(probed, nameText(rec.Name))
			}
		}
	}
	slices.Sort(goodbyes)
	if !slices.Equal(goodbyes, []string{"moved.local.", "old.local."}) {
		t.Errorf("goodbyes for %v, want moved.local. and old.local.", goodbyes)
	}
	slices.Sort(probed)
	if !slices.Equal(slices.Compact(probed), []string{"moved.local.", "new.local."}) {
		t.Errorf("probed %v, want moved.local. and new.local. (nas.local. unchanged)", probed)
	}
	waitReady(t, r, 1)
	p.drain()
	p.send(Port, group4, build(0, 0, []q{{"new.local", dnswire.TypeA, dnswire.ClassIN}, {"old.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil))
	_, m := p.recv(time.Second, isResponse)
	if a := m.Answers(); len(a) != 1 || !bytes.Equal(a[0].Name, wn("new.local")) {
		t.Errorf("answers %+v, want new.local alone", a)
	}
	if err := r.SetRecords([]ZoneRecord{{Name: wn("example.com"), Type: dnswire.TypeA, Data: a4("198.18.0.1")}}); err == nil {
		t.Error("SetRecords accepted a name outside local.")
	}
}
