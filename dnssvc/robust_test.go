package dnssvc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestRespondHostile covers hostile and broken DNS payloads beyond
// TestRespondMalformed: truncated headers, label lengths past the end,
// compression pointers pointing forward or in loops, absurd section counts,
// every opcode, and responses (QR=1), which are never answered whatever
// they carry, so that two servers can never loop.
func TestRespondHostile(t *testing.T) {
	const (
		drop = -1
		ok   = dns.RcodeSuccess
		fe   = dns.RcodeFormatError
		ni   = dns.RcodeNotImplemented
	)
	type tc struct {
		name     string
		msg      []byte
		rcode    int  // drop: no response at all
		question bool // the question is echoed
	}
	tests := []tc{
		// Headers cut short.
		{"header 0 bytes", nil, drop, false},
		{"header 1 byte", raw(0, 1, 0, 0, 0)[:1], drop, false},
		{"header 11 bytes", raw(0, 1, 0, 0, 0)[:11], drop, false},

		// Names.
		{"label length past the end", raw(0, 1, 0, 0, 0, []byte("\x09host")), fe, false},
		{"label length past the end, type present", raw(0, 1, 0, 0, 0, []byte("\x3fhost\x00\x00\x01\x00\x01")), fe, false},
		{"name without terminator", raw(0, 1, 0, 0, 0, []byte("\x04host\x07example")), fe, false},
		{"question without type", raw(0, 1, 0, 0, 0, []byte("\x04host\x00\x00")), fe, false},
		{"pointer to itself in question", raw(0, 1, 0, 0, 0, []byte{0xC0, 12, 0, 1, 0, 1}), fe, false},
		{"pointer forward in question", raw(0, 1, 0, 0, 0, []byte{0xC0, 18, 0, 1, 0, 1, 4, 'h', 'o', 's', 't', 0}), fe, false},
		{"pointer past the end in question", raw(0, 1, 0, 0, 0, []byte{0xC0, 0xff, 0, 1, 0, 1}), fe, false},
		{"label then pointer loop in question", raw(0, 1, 0, 0, 0, []byte{1, 'a', 0xC0, 12, 0, 1, 0, 1}), fe, false},
		{"reserved label type 0x80", raw(0, 1, 0, 0, 0, []byte{0x80, 0, 0, 1, 0, 1}), fe, false},
		{"label 64 bytes", raw(0, 1, 0, 0, 0, append(append([]byte{64}, bytes.Repeat([]byte("a"), 64)...), 0, 0, 1, 0, 1)), fe, false},
		// Records after the question are skipped, not followed: pointers
		// there are never chased, so loops and forward pointers are
		// harmless (and the records are ignored, as NSD and Knot do).
		{"pointer loop in an additional record owner", raw(0, 1, 0, 0, 1, hostQ, []byte{0xC0, 29, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}), ok, true},
		{"forward pointer in an answer record owner", raw(0, 1, 1, 0, 0, hostQ, []byte{0xC0, 0x7f, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}), ok, true},
		{"record owner label past the end", raw(0, 1, 0, 0, 1, hostQ, []byte{0x3f, 'a'}), fe, true},
		{"record rdata past the end", raw(0, 1, 0, 0, 1, hostQ, []byte{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1}), fe, true},
		{"OPT owner a pointer", raw(0, 1, 0, 0, 1, hostQ, []byte{0xC0, 12, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0}), fe, true},

		// Section counts.
		{"QDCOUNT 0", raw(0, 0, 0, 0, 0, hostQ), fe, false},
		{"QDCOUNT 2", raw(0, 2, 0, 0, 0, hostQ, hostQ), fe, false},
		{"QDCOUNT 65535", raw(0, 65535, 0, 0, 0, hostQ), fe, false},
		{"ANCOUNT 65535", raw(0, 1, 65535, 0, 0, hostQ), fe, true},
		{"NSCOUNT 65535", raw(0, 1, 0, 65535, 0, hostQ), fe, true},
		{"ARCOUNT 65535 with one OPT", raw(0, 1, 0, 0, 65535, hostQ, optRR), fe, true},
		{"ARCOUNT 65535, nothing there", raw(0, 1, 0, 0, 65535, hostQ), fe, true},

		// OPT placement.
		{"OPT in answer", raw(0, 1, 1, 0, 0, hostQ, optRR), fe, true},
		{"OPT in authority", raw(0, 1, 0, 1, 0, hostQ, optRR), fe, true},
		{"two OPTs", raw(0, 1, 0, 0, 2, hostQ, optRR, optRR), fe, true},
		{"OPT after another record", raw(0, 1, 0, 0, 2, hostQ, aRR, optRR), ok, true},
	}
	// Every opcode: QUERY is answered, every other one NOTIMP with the
	// question (RFC 1035 4.1.1), and with QR=1 nothing at all.
	for op := range 16 {
		want := ni
		if op == 0 {
			want = ok
		}
		tests = append(tests,
			tc{fmt.Sprintf("opcode %d", op), raw(uint16(op)<<11, 1, 0, 0, 0, hostQ), want, true},
			tc{fmt.Sprintf("opcode %d response", op), raw(dnswireQR|uint16(op)<<11, 1, 0, 0, 0, hostQ), drop, false},
			tc{fmt.Sprintf("opcode %d response with rcode SERVFAIL and records", op), raw(dnswireQR|uint16(op)<<11|2, 1, 1, 0, 1, hostQ, aRR, optRR), drop, false},
		)
	}
	// Responses of every shape are dropped, however broken.
	for _, m := range [][]byte{
		raw(dnswireQR, 0, 0, 0, 0),
		raw(dnswireQR, 65535, 65535, 65535, 65535),
		raw(dnswireQR|0x7800|0x0F, 1, 0, 0, 0, []byte{0xC0, 12}),
		raw(dnswireQR, 1, 0, 0, 2, hostQ, optRR, optRR),
	} {
		tests = append(tests, tc{fmt.Sprintf("response % x", m[2:12]), m, drop, false})
	}

	s := New(Config{}, testSet(t), nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tcp := range []bool{false, true} {
				before := s.Stats()
				out := s.Respond(make([]byte, 0, 512), tc.msg, Request{TCP: tcp})
				after := s.Stats()
				if tc.rcode == drop {
					if len(out) != 0 {
						t.Fatalf("tcp=%v: answered a message that must be dropped: % x", tcp, out)
					}
					if after.Dropped != before.Dropped+1 {
						t.Errorf("tcp=%v: Dropped %d -> %d, want +1", tcp, before.Dropped, after.Dropped)
					}
					continue
				}
				var m dns.Msg
				if err := m.Unpack(out); err != nil {
					t.Fatalf("tcp=%v: response does not unpack: %v\n% x", tcp, err, out)
				}
				if m.Id != 0x1234 || !m.Response || m.Opcode != int(tc.msg[2]>>3&0xF) {
					t.Errorf("tcp=%v: header id %#x QR %v opcode %d", tcp, m.Id, m.Response, m.Opcode)
				}
				if m.Rcode != tc.rcode {
					t.Errorf("tcp=%v: rcode %s, want %s", tcp, dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
				}
				if got := len(m.Question) == 1; got != tc.question {
					t.Errorf("tcp=%v: question echoed = %v, want %v", tcp, got, tc.question)
				}
				if tc.question && len(m.Question) == 1 && m.Question[0].Name != "host.example.com." {
					t.Errorf("tcp=%v: question %v", tcp, m.Question[0])
				}
				if after.Responses != before.Responses+1 {
					t.Errorf("tcp=%v: Responses %d -> %d, want +1", tcp, before.Responses, after.Responses)
				}
			}
		})
	}
}

// mutateMsg returns a randomly damaged copy of msg.
func mutateMsg(r *rand.Rand, msg []byte) []byte {
	b := bytes.Clone(msg)
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			b = append(b, byte(r.Uint32()))
			continue
		}
		switch r.IntN(6) {
		case 0: // flip bits
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		case 1: // cut
			b = b[:r.IntN(len(b))]
		case 2: // extend
			for range r.IntN(16) {
				b = append(b, byte(r.Uint32()))
			}
		case 3: // a count field
			if len(b) >= 12 {
				i := 4 + 2*r.IntN(4)
				b[i], b[i+1] = byte(r.Uint32()), byte(r.Uint32())
			}
		case 4: // a compression pointer somewhere
			i := r.IntN(len(b))
			b = append(b[:i:i], append([]byte{0xC0 | byte(r.IntN(4)), byte(r.Uint32())}, b[i:]...)...)
		case 5: // a flag byte
			if len(b) >= 4 {
				b[2+r.IntN(2)] = byte(r.Uint32())
			}
		}
	}
	return b
}

// TestRespondRandomMutations runs thousands of mutated queries through
// Respond (UDP and TCP, with rate limiting on so that slips are exercised
// too) and checks the invariants every response keeps: no response to a
// runt or a response; otherwise one that unpacks, carries the query's ID
// and opcode, has QR set, fits the transport, and never answers with
// records when it says FORMERR.
func TestRespondRandomMutations(t *testing.T) {
	set := testSet(t)
	seeds := [][]byte{
		packQuery(t, "host.example.com.", dns.TypeA),
		packQuery(t, "example.com.", dns.TypeMX, withEDNS(1232, true), withNSID()),
		packQuery(t, "www.sub.example.com.", dns.TypeA, withEDNS(4096, false)),
		packQuery(t, "big.example.com.", dns.TypeTXT, withEDNS(512, false)),
		packQuery(t, "example.com.", dns.TypeANY),
		raw(0, 1, 0, 0, 2, hostQ, aRR, optNSID),
	}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, rrl := range []int{0, 50} {
		s := New(Config{NSID: "robust", RRL: rrl, RRLSlip: 2}, set, nil)
		dst := make([]byte, 0, 65535)
		for i := range n {
			msg := mutateMsg(r, seeds[i%len(seeds)])
			tcp := i%3 == 0
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i % 4), 1}), 5300)
			out := s.Respond(dst, msg, Request{Client: client, TCP: tcp})
			if len(msg) < 12 || msg[2]&0x80 != 0 {
				if len(out) != 0 {
					t.Fatalf("answered a runt or response: % x", msg)
				}
				continue
			}
			if len(out) == 0 {
				if rrl > 0 && !tcp {
					continue // rate limited
				}
				t.Fatalf("no response to % x", msg)
			}
			var m dns.Msg
			if err := m.Unpack(out); err != nil {
				t.Fatalf("response does not unpack: %v\nquery % x\nresponse % x", err, msg, out)
			}
			limit := 65535
			if !tcp {
				limit = 4096
			}
			if !m.Response || m.Id != uint16(msg[0])<<8|uint16(msg[1]) || m.Opcode != int(msg[2]>>3&0xF) || len(out) > limit {
				t.Fatalf("bad response header or size %d\nquery % x\nresponse %v", len(out), msg, &m)
			}
			if m.Rcode == dns.RcodeFormatError && len(m.Answer)+len(m.Ns) != 0 {
				t.Fatalf("FORMERR with records\nquery % x\nresponse %v", msg, &m)
			}
		}
		st := s.Stats()
		if st.Queries != uint64(n) {
			t.Errorf("rrl=%d: Queries = %d, want %d", rrl, st.Queries, n)
		}
		t.Logf("rrl=%d: %+v", rrl, st)
	}
}

// refZones parses the test zones with miekg/dns into the slow reference
// the fuzz target compares answers with: the RRsets by lower-cased owner
// and type, as normalised strings with the RRset's first TTL (RFC 2181),
// duplicates dropped.
func refZones(tb testing.TB) map[string][]string {
	tb.Helper()
	ref := map[string][]string{}
	ttl := map[string]uint32{}
	for _, f := range []string{"testdata/example.com.zone", "testdata/example.org.zone"} {
		src, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		zp := dns.NewZoneParser(bytes.NewReader(src), "", f)
		zp.SetIncludeAllowed(true)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			h := rr.Header()
			k := refKey(h.Name, h.Rrtype)
			if t, seen := ttl[k]; seen {
				h.Ttl = t
			} else {
				ttl[k] = h.Ttl
			}
			s := rrStrings([]dns.RR{rr})[0]
			if !slices.Contains(ref[k], s) {
				ref[k] = append(ref[k], s)
			}
		}
		if err := zp.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	for k := range ref {
		slices.Sort(ref[k])
	}
	return ref
}

func refKey(name string, t uint16) string { return strings.ToLower(name) + " " + dns.TypeToString[t] }

// FuzzRespondReference checks answer content against the miekg/dns
// reference: in every authoritative NOERROR response that is not
// truncated, each RRset owned by the query name whose name and type exist
// as such in the zone file is exactly that RRset (same records, same TTL,
// nothing missing or added), and an exact query for an existing RRset
// (outside a delegation, not ANY) gets it.
func FuzzRespondReference(f *testing.F) {
	ref := refZones(f)
	for k := range ref {
		name, typ, _ := strings.Cut(k, " ")
		m := new(dns.Msg).SetQuestion(name, dns.StringToType[typ])
		if b, err := m.Pack(); err == nil {
			f.Add(b)
		}
	}
	s := New(Config{}, testSet(f), nil)
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := s.Respond(make([]byte, 0, 65535), msg, Request{TCP: true})
		var q, r dns.Msg
		if q.Unpack(msg) != nil || len(q.Question) != 1 || len(out) == 0 || r.Unpack(out) != nil {
			return
		}
		if !r.Authoritative || r.Rcode != dns.RcodeSuccess || r.Truncated || q.Opcode != dns.OpcodeQuery {
			return
		}
		qn := q.Question[0]
		got := map[string][]dns.RR{}
		for _, rr := range r.Answer {
			if strings.EqualFold(rr.Header().Name, qn.Name) {
				k := refKey(qn.Name, rr.Header().Rrtype)
				got[k] = append(got[k], rr)
			}
		}
		for k, rrs := range got {
			want, ok := ref[k]
			if !ok {
				continue // synthesised (wildcard) or from another zone
			}
			if g := rrStrings(rrs); !slices.Equal(g, want) {
				t.Fatalf("%s: answer\n%s\nwant (miekg reference)\n%s", k, strings.Join(g, "\n"), strings.Join(want, "\n"))
			}
		}
		k := refKey(qn.Name, qn.Qtype)
		if want, ok := ref[k]; ok && qn.Qclass == dns.ClassINET && qn.Qtype != dns.TypeANY && got[k] == nil {
			t.Fatalf("%s exists in the zone but is not in the answer:\n%v\nwant\n%s", k, &r, strings.Join(want, "\n"))
		}
	})
}
