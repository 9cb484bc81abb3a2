package dnssvc

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// raw builds a message from a header and section bytes.
func raw(flags uint16, qd, an, ns, ar uint16, body ...[]byte) []byte {
	m := []byte{0x12, 0x34, byte(flags >> 8), byte(flags), byte(qd >> 8), byte(qd), byte(an >> 8), byte(an),
		byte(ns >> 8), byte(ns), byte(ar >> 8), byte(ar)}
	for _, b := range body {
		m = append(m, b...)
	}
	return m
}

var (
	hostQ   = []byte("\x04host\x07example\x03com\x00\x00\x01\x00\x01")
	optRR   = []byte{0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0}                   // root, OPT, 4096, no options
	optNSID = []byte{0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0}       // with an empty NSID option
	optBad  = []byte{0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 9}       // option longer than rdata
	optName = []byte{1, 'x', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0}           // not root-owned
	aRR     = []byte{0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4} // an A record
)

func TestRespondMalformed(t *testing.T) {
	s := New(Config{NSID: "n1"}, testSet(t), nil)
	long := bytes.Repeat([]byte("\x3Faaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 4)
	tests := []struct {
		name     string
		msg      []byte
		drop     bool
		rcode    int
		question bool // the question is echoed
		opt      bool // an OPT is in the response
		answers  int
	}{
		{name: "empty", msg: nil, drop: true},
		{name: "short header", msg: raw(0, 1, 0, 0, 0)[:11], drop: true},
		{name: "response", msg: raw(dnswireQR, 1, 0, 0, 0, hostQ), drop: true},
		{name: "response with error rcode", msg: raw(dnswireQR|1, 0, 0, 0, 0), drop: true},
		{name: "header only", msg: raw(0, 0, 0, 0, 0), rcode: dns.RcodeFormatError},
		{name: "no question, OPT", msg: raw(0, 0, 0, 0, 1, optRR), rcode: dns.RcodeFormatError, opt: true},
		{name: "two questions", msg: raw(0, 2, 0, 0, 0, hostQ, hostQ), rcode: dns.RcodeFormatError},
		{name: "question missing", msg: raw(0, 1, 0, 0, 0), rcode: dns.RcodeFormatError},
		{name: "question cut", msg: raw(0, 1, 0, 0, 0, hostQ[:len(hostQ)-1]), rcode: dns.RcodeFormatError},
		{name: "pointer in question", msg: raw(0, 1, 0, 0, 0, []byte{0xC0, 0x0C, 0, 1, 0, 1}), rcode: dns.RcodeFormatError},
		{name: "extended label type", msg: raw(0, 1, 0, 0, 0, []byte{0x41, 0, 0, 1, 0, 1}), rcode: dns.RcodeFormatError},
		{name: "name over 255", msg: raw(0, 1, 0, 0, 0, long, []byte{0, 0, 1, 0, 1}), rcode: dns.RcodeFormatError},
		{name: "OPT in answer section", msg: raw(0, 1, 1, 0, 0, hostQ, optRR), rcode: dns.RcodeFormatError, question: true},
		{name: "OPT in authority section", msg: raw(0, 1, 0, 1, 0, hostQ, optRR), rcode: dns.RcodeFormatError, question: true},
		{name: "two OPTs", msg: raw(0, 1, 0, 0, 2, hostQ, optRR, optRR), rcode: dns.RcodeFormatError, question: true},
		{name: "OPT not root-owned", msg: raw(0, 1, 0, 0, 1, hostQ, optName), rcode: dns.RcodeFormatError, question: true},
		{name: "OPT option overruns", msg: raw(0, 1, 0, 0, 1, hostQ, optBad), rcode: dns.RcodeFormatError, question: true},
		{name: "OPT cut", msg: raw(0, 1, 0, 0, 1, hostQ, optRR[:8]), rcode: dns.RcodeFormatError, question: true},
		{name: "additional count too high", msg: raw(0, 1, 0, 0, 2, hostQ, optRR), rcode: dns.RcodeFormatError, question: true},
		{name: "answer record ignored", msg: raw(0, 1, 1, 0, 0, hostQ, aRR), question: true, answers: 1},
		{name: "authority record ignored", msg: raw(0, 1, 0, 1, 1, hostQ, aRR, optNSID), question: true, opt: true, answers: 1},
		{name: "other additional record ignored", msg: raw(0, 1, 0, 0, 2, hostQ, aRR, optRR), question: true, opt: true, answers: 1},
		{name: "trailing garbage ignored", msg: raw(0, 1, 0, 0, 0, hostQ, []byte{1, 2, 3}), question: true, answers: 1},
		{name: "NOTIFY with bad question", msg: raw(dnswireNotify, 1, 0, 0, 0, []byte{0xC0, 0x0C, 0, 6, 0, 1}), rcode: dns.RcodeNotImplemented},
		{name: "opcode 15", msg: raw(15<<11, 1, 0, 0, 1, hostQ, optRR), rcode: dns.RcodeNotImplemented, question: true, opt: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Stats()
			out := s.Respond(make([]byte, 0, 512), tc.msg, Request{})
			after := s.Stats()
			if tc.drop {
				if len(out) != 0 {
					t.Fatalf("answered a message that must be dropped: % x", out)
				}
				if after.Dropped != before.Dropped+1 {
					t.Errorf("Dropped %d -> %d, want +1", before.Dropped, after.Dropped)
				}
				return
			}
			var m dns.Msg
			if err := m.Unpack(out); err != nil {
				t.Fatalf("unpack: %v\n% x", err, out)
			}
			if m.Id != 0x1234 || !m.Response || m.Authoritative != (tc.answers > 0) {
				t.Errorf("header: id %#x QR %v AA %v", m.Id, m.Response, m.Authoritative)
			}
			if m.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := len(m.Question) == 1; got != tc.question {
				t.Errorf("question echoed = %v, want %v", got, tc.question)
			}
			if got := m.IsEdns0() != nil; got != tc.opt {
				t.Errorf("OPT present = %v, want %v", got, tc.opt)
			}
			if len(m.Answer) != tc.answers || len(m.Ns) != 0 {
				t.Errorf("answer %d records, authority %d, want %d, 0", len(m.Answer), len(m.Ns), tc.answers)
			}
			if tc.rcode == dns.RcodeFormatError && after.FormErr != before.FormErr+1 {
				t.Errorf("FormErr %d -> %d, want +1", before.FormErr, after.FormErr)
			}
		})
	}
}

const (
	dnswireQR     = 0x8000
	dnswireNotify = 4 << 11
)
