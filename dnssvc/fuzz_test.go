package dnssvc

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/dnswire"
)

// FuzzRespond feeds arbitrary bytes to Respond. Responses are never sent
// to responses or runts; every response unpacks with miekg/dns, carries the
// query's ID and fits the transport limit; and for queries miekg accepts,
// the rcode agrees with a simple reference.
func FuzzRespond(f *testing.F) {
	for _, c := range respCases() {
		m := new(dns.Msg)
		m.Id = 1
		m.Question = []dns.Question{{Name: c.qname, Qtype: c.qtype, Qclass: dns.ClassINET}}
		for _, o := range c.opts {
			o(m)
		}
		if b, err := m.Pack(); err == nil {
			f.Add(b, c.tcp)
		}
	}
	f.Add(raw(0, 1, 0, 0, 2, hostQ, optRR, optRR), false)
	f.Add(raw(0, 1, 1, 0, 0, hostQ, aRR), false)
	set := testSet(f)
	s := New(Config{NSID: "fuzz"}, set, nil)
	f.Fuzz(func(t *testing.T, msg []byte, tcp bool) {
		out := s.Respond(make([]byte, 0, 512), msg, Request{TCP: tcp})
		// s keeps its answer cache across inputs; a fresh server answers
		// with the generic encoder. They must agree byte for byte.
		if gen := New(Config{NSID: "fuzz"}, set, nil).Respond(nil, msg, Request{TCP: tcp}); !bytes.Equal(out, gen) {
			t.Fatalf("cached and generic responses differ:\n% x\n% x", out, gen)
		}
		if len(msg) < 12 || msg[2]&0x80 != 0 {
			if len(out) != 0 {
				t.Fatalf("answered a runt or a response")
			}
			return
		}
		if len(out) == 0 {
			t.Fatalf("no response to a query")
		}
		var r dns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatalf("response does not unpack: %v\n% x", err, out)
		}
		if r.Id != uint16(msg[0])<<8|uint16(msg[1]) || !r.Response {
			t.Fatalf("response header %v", &r)
		}
		limit := 65535
		if !tcp {
			limit = 512
			if o := r.IsEdns0(); o != nil {
				limit = 1232
			}
		}
		if len(out) > limit {
			t.Fatalf("response of %d octets over the limit %d", len(out), limit)
		}
		var q dns.Msg
		if q.Unpack(msg) != nil {
			return
		}
		if want := reference(&q, msg, tcp); want >= 0 && r.Rcode != want {
			t.Fatalf("rcode %s, reference says %s\nquery %v\nresponse %v",
				dns.RcodeToString[r.Rcode], dns.RcodeToString[want], &q, &r)
		}
	})
}

// reference is a simple model of the rcode for a query that miekg/dns
// accepts, or -1 when the model has no opinion.
func reference(q *dns.Msg, msg []byte, tcp bool) int {
	if q.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented
	}
	if len(q.Question) != 1 {
		return dns.RcodeFormatError
	}
	// Things miekg accepts and RFC 6891 / our parser do not.
	if n := dnswire.NameLen(msg[12:]); n < 0 || 12+n+4 > len(msg) {
		return dns.RcodeFormatError // compressed or cut question
	}
	count := func(i int) int { return int(msg[i])<<8 | int(msg[i+1]) }
	if len(q.Answer) != count(6) || len(q.Ns) != count(8) || len(q.Extra) != count(10) {
		return -1 // miekg read fewer records than counted: no opinion
	}
	opts := 0
	for _, rr := range append(q.Answer, q.Ns...) {
		if rr.Header().Rrtype == dns.TypeOPT {
			return dns.RcodeFormatError
		}
	}
	for _, rr := range q.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opts++
			if rr.Header().Name != "." {
				return dns.RcodeFormatError
			}
		}
	}
	if opts > 1 {
		return dns.RcodeFormatError
	}
	if o := q.IsEdns0(); o != nil && o.Version() != 0 {
		return dns.RcodeBadVers
	}
	qn := q.Question[0]
	if qn.Qclass != dns.ClassINET && qn.Qclass != dns.ClassANY {
		return dns.RcodeRefused
	}
	name := strings.ToLower(qn.Name)
	if qn.Qtype == dns.TypeAXFR || qn.Qtype == dns.TypeIXFR {
		switch {
		case qn.Qtype == dns.TypeAXFR && !tcp:
			return dns.RcodeNotImplemented
		case name == "example.com." || name == "example.org." || name == "child.example.com.":
			return dns.RcodeRefused // transfer of one of our zones
		}
		return dns.RcodeNotAuth // no zone of that name here
	}
	if !dns.IsSubDomain("example.com.", name) && !dns.IsSubDomain("example.org.", name) {
		return dns.RcodeRefused
	}
	return -1
}
