package mdns

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// FuzzParse checks that Parse never reads out of bounds or panics, that
// what it returns is within the limits it promises, and that a message it
// accepts, written again uncompressed, parses to the same records.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/zeroconf-response.bin", "testdata/zeroconf-query.bin"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(build(0, 0, []q{{"tapdns.local", dnswire.TypeANY, dnswire.ClassIN | classQU}}, nil,
		[]rr{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN, 120, a4("198.18.0.2")}}, nil))
	f.Add(build(0, dnswire.FlagQR|dnswire.FlagAA, nil,
		[]rr{{"x._domain._udp.local", dnswire.TypeSRV, classINFlushed, 120, srvData(53, "x.local")},
			{"x.local", dnswire.TypeSOA, dnswire.ClassIN, 1, append(append(wn("a.local"), wn("b.x.local")...), make([]byte, 20)...)},
			{"x.local", dnswire.TypeMX, dnswire.ClassIN, 1, append([]byte{0, 1}, wn("x.local")...)}},
		nil, []rr{{"x.local", dnswire.TypeNSEC, classINFlushed, 120, appendNSEC(nil, wn("x.local"), []uint16{1, 28})}}))
	var m, m2 Message
	f.Fuzz(func(t *testing.T, b []byte) {
		if m.Parse(b) != nil {
			return
		}
		if cap(m.arena) != arenaCap {
			t.Fatalf("arena reallocated")
		}
		if len(m.Questions)+len(m.Records) > maxRecords || m.NAnswer+m.NAuthority > len(m.Records) {
			t.Fatalf("counts out of range")
		}
		var out dnswire.Builder
		out.Start(nil, m.ID, m.Flags, 1<<20)
		for _, x := range m.Questions {
			if dnswire.NameLen(x.Name) != len(x.Name) || len(x.Name) > dnswire.MaxNameLen {
				t.Fatalf("question name %q invalid", x.Name)
			}
			c := x.Class
			if x.QU {
				c |= classQU
			}
			out.Question(appendQuestion(nil, x.Orig, x.Type, c))
		}
		for i, r := range m.Records {
			if dnswire.NameLen(r.Name) != len(r.Name) {
				t.Fatalf("owner %q invalid", r.Name)
			}
			sec := dnswire.Additional
			switch {
			case i < m.NAnswer:
				sec = dnswire.Answer
			case i < m.NAnswer+m.NAuthority:
				sec = dnswire.Authority
			}
			c := r.Class
			if r.Flush {
				c |= classFlush
			}
			// Our own Builder compresses only RFC 1035 rdata; all names
			// it writes are valid, so the rewrite must parse.
			if !addRR(&out, sec, r.Name, r.Type, c, r.TTL, r.Data) {
				t.Fatalf("record %d does not re-encode", i)
			}
		}
		again := out.Finish()
		if len(again) > MaxMsgLen {
			return // decompressed, it may exceed the mDNS limit
		}
		if err := m2.Parse(again); err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if len(m2.Records) != len(m.Records) || len(m2.Questions) != len(m.Questions) {
			t.Fatalf("re-encoded message has other counts")
		}
		for i := range m.Records {
			a, b := m.Records[i], m2.Records[i]
			if !bytes.Equal(a.Name, b.Name) || a.Type != b.Type || a.Class != b.Class || a.Flush != b.Flush || a.TTL != b.TTL || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("record %d changed: %+v -> %+v", i, a, b)
			}
		}
		// The helpers that read parsed rdata must cope with anything.
		for _, r := range m.Records {
			nsecHas(r.Data, dnswire.TypeA)
			rdataEqual(r.Type, r.Data, r.Data)
			nameSpan(r.Type, r.Data)
		}
	})
}

// FuzzHandle feeds arbitrary datagrams to the Responder's message handling
// (queries, probes, legacy queries, responses, the cache and the gateway's
// lookups) as if read from the link, from port 5353 or another port. It
// must never panic, whatever the state it is in.
func FuzzHandle(f *testing.F) {
	for _, file := range []string{"testdata/zeroconf-response.bin", "testdata/zeroconf-query.bin"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add(build(0, 0, []q{{"tapdns.local", dnswire.TypeANY, dnswire.ClassIN | classQU}}, nil,
		[]rr{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN, 120, a4("198.18.0.9")}}, nil), true)
	f.Add(build(7, 0, []q{{"tapdns.local", dnswire.TypeAAAA, dnswire.ClassIN}, {"_domain._udp.local", dnswire.TypePTR, dnswire.ClassIN}}, nil, nil, nil), false)
	f.Add(build(0, dnswire.FlagTC, []q{{"nas.local", dnswire.TypeA, dnswire.ClassIN}},
		[]rr{{"nas.local", dnswire.TypeA, dnswire.ClassIN, 120, a4("198.18.0.20")}}, nil, nil), true)
	f.Add(build(0, flagsResponse, nil, []rr{{"tapdns.local", dnswire.TypeA, classINFlushed, 120, a4("198.18.0.9")},
		{"printer.local", dnswire.TypeNSEC, classINFlushed, 120, appendNSEC(nil, wn("printer.local"), []uint16{28})}}, nil, nil), true)

	h := newHub()
	cfg := cfgFor("tapdns", "198.18.0.2/24", "fe80::2/64")
	cfg.Records = []ZoneRecord{{Name: wn("nas.local"), Type: dnswire.TypeA, Data: a4("198.18.0.20")},
		{Name: wn("_http._tcp.local"), Type: dnswire.TypePTR, Data: wn("Wiki._http._tcp.local")}}
	r, err := New(cfg, h.host("198.18.0.2", "fe80::2"), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	st := r.st
	now := time.Now()
	st.start(now)
	for _, g := range st.groups {
		g.state = ready
	}
	st.index()
	// A lookup open, so that responses are checked against it.
	st.lookup(&gwRequest{gwQuery: gwQuery{name: wn("printer.local"), qtype: dnswire.TypeAAAA, limit: 512}, tcp: true, reply: make(chan []byte, 1)}, now)
	src := []netip.AddrPort{netip.MustParseAddrPort("198.18.0.9:5353"), netip.MustParseAddrPort("198.18.0.9:40000")}
	f.Fuzz(func(t *testing.T, b []byte, mdnsPort bool) {
		if len(b) > MaxMsgLen {
			return // dropped by the reader before handle
		}
		s := src[1]
		if mdnsPort {
			s = src[0]
		}
		now = now.Add(100 * time.Millisecond)
		st.handle(packet{fam: 0, src: s, b: b}, now)
		st.runDue(now)
	})
}
