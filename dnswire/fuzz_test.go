package dnswire

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func FuzzParseQuery(f *testing.F) {
	for _, m := range []*dns.Msg{
		new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA),
		new(dns.Msg).SetQuestion("MiXeD.example.", dns.TypeMX).SetEdns0(4096, true),
		new(dns.Msg).SetQuestion(".", dns.TypeNS),
	} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 41, 2, 0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)
		var q Query
		st := ParseQuery(msg, &q)
		if !bytes.Equal(msg, orig) {
			t.Fatal("ParseQuery modified its input")
		}
		if q.Question != nil {
			n := len(q.Question) - 4
			if n < 1 || n > MaxNameLen || !bytes.Equal(q.Question, msg[12:12+n+4]) {
				t.Fatalf("Question % x does not alias the message", q.Question)
			}
			if !bytes.Equal(q.Name(), asciiLower(q.Question[:n])) {
				t.Fatalf("Name %q is not the lower-cased question name %q", q.Name(), q.Question[:n])
			}
		}
		if st != StatusOK {
			return
		}
		var m dns.Msg
		if err := m.Unpack(msg); err != nil {
			return // miekg is stricter about record data we only skip
		}
		if len(m.Question) != 1 || m.Response || m.Opcode != dns.OpcodeQuery {
			t.Fatalf("accepted a message miekg reads as %v", &m)
		}
		// Re-encode the question; it must read back as miekg's question.
		var b Builder
		b.Start(nil, q.ID, FlagQR|q.Flags, MaxMsgLen)
		b.Question(q.Question)
		var r dns.Msg
		if err := r.Unpack(b.Finish()); err != nil {
			t.Fatalf("re-encoded question does not unpack: %v", err)
		}
		if r.Id != m.Id || len(r.Question) != 1 || r.Question[0] != m.Question[0] {
			t.Fatalf("re-encoded question %v, want %v", r.Question, m.Question)
		}
		opt := m.IsEdns0()
		if (opt != nil) != q.EDNS {
			t.Fatalf("EDNS = %v, miekg finds OPT %v", q.EDNS, opt)
		}
		if opt != nil {
			size := max(opt.UDPSize(), 512)
			nsid := false
			for _, o := range opt.Option {
				nsid = nsid || o.Option() == dns.EDNS0NSID
			}
			if q.UDPSize != size || q.Version != opt.Version() || q.DO() != opt.Do() || q.NSID != nsid {
				t.Fatalf("EDNS size %d version %d DO %v NSID %v; miekg %d %d %v %v",
					q.UDPSize, q.Version, q.DO(), q.NSID, size, opt.Version(), opt.Do(), nsid)
			}
		}
	})
}

func FuzzCanonicalName(f *testing.F) {
	f.Add([]byte("\x03WWW\x07example\x03com\x00"))
	f.Add([]byte("\x00"))
	f.Add([]byte("\x3fabc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst [MaxNameLen]byte
		n := CanonicalName(&dst, b)
		if n != NameLen(b) {
			t.Fatalf("CanonicalName = %d, NameLen = %d", n, NameLen(b))
		}
		if n < 0 {
			return
		}
		if n > MaxNameLen || !bytes.Equal(dst[:n], asciiLower(b[:n])) {
			t.Fatalf("CanonicalName(%q) = %q", b[:n], dst[:n])
		}
		if _, _, err := dns.UnpackDomainName(b[:n], 0); err != nil {
			t.Fatalf("miekg rejects the name we accept: %v", err)
		}
	})
}

func asciiLower(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return out
}

// FuzzBuilder writes records with arbitrary names and rdata through the
// compressing Builder and checks that miekg/dns reads back the same
// records as from the same message written without compression.
func FuzzBuilder(f *testing.F) {
	f.Add([]byte("\x03www\x07example\x03com\x00"), []byte("\x07EXAMPLE\x03com\x00"), uint8(0), []byte("\x03ns1\x07example\x03com\x00"), []byte("\x03ns1\x07example\x03com\x00"))
	f.Add([]byte("\x01a\x00"), []byte("\x01b\x01a\x00"), uint8(2), []byte("\x01x\x01a\x00\x01y\x01b\x01a\x00"+strings.Repeat("\x00", 20)), []byte("\x00"))
	f.Add([]byte("\x01a\x00"), []byte("\x01a\x00"), uint8(4), []byte("\x00\x01\x00\x02\x00\x03\x01a\x00"), []byte("\x01a\x00"))
	f.Add([]byte("\x01a\x00"), []byte("\x01a\x00"), uint8(4), []byte("\x00\x01\x00\x02\x00\x03\x03sip\x01a\x00"), []byte("\x03SIP\x01a\x00"))
	types := []uint16{TypeNS, TypeCNAME, TypeSOA, TypeMX, TypeSRV, TypePTR, TypeMINFO, TypeA, TypeTXT, TypeNAPTR}
	f.Fuzz(func(t *testing.T, qname, owner []byte, ti uint8, rdata, owner2 []byte) {
		if NameLen(qname) != len(qname) || len(rdata) > 1000 {
			return
		}
		typ := types[int(ti)%len(types)]
		question := append(bytes.Clone(qname), 0, 1, 0, 1)
		var b Builder
		b.Start(nil, 1, FlagQR, MaxMsgLen)
		b.Question(question)
		ref := append([]byte{0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0}, question...)
		n := 0 // records in ref, which counts them all as answers
		refRR := func(owner []byte, typ uint16, rdata []byte) {
			ref = append(ref, owner...)
			ref = append(ref, byte(typ>>8), byte(typ), 0, 1, 0, 0, 1, 44, byte(len(rdata)>>8), byte(len(rdata)))
			ref = append(ref, rdata...)
			n++
		}
		add := func(sec Section, owner []byte, typ uint16, rdata []byte) {
			before, est := b.Len(), -1
			if NameLen(owner) == len(owner) {
				est = b.estimate(owner, typ, rdata)
			}
			ok := b.AddRR(sec, owner, typ, ClassIN, 300, rdata)
			if valid := NameLen(owner) == len(owner); ok != valid {
				t.Fatalf("AddRR(%q) = %v, name valid %v", owner, ok, valid)
			}
			if ok && b.Len()-before != est {
				t.Fatalf("estimate %d, wrote %d octets", est, b.Len()-before)
			}
			if ok {
				refRR(owner, typ, rdata)
			}
		}
		add(Answer, owner, typ, rdata)
		if !b.AddRRAt(Answer, HeaderLen, typ, ClassIN, 300, rdata) { // owned by the question name
			t.Fatal("AddRRAt failed")
		}
		refRR(qname, typ, rdata)
		add(Additional, owner2, TypeA, []byte{1, 2, 3, 4})
		ref[7] = byte(n)
		msg := b.Finish()
		if int(u16(msg[6:]))+int(u16(msg[10:])) != n {
			t.Fatalf("counts %d+%d, want %d records", u16(msg[6:]), u16(msg[10:]), n)
		}
		var want, got dns.Msg
		if slices.ContainsFunc(rdata, func(c byte) bool { return c >= 0xC0 }) {
			// Compression pointers in stored rdata would point elsewhere
			// in each message; zone data never holds them.
			return
		}
		if want.Unpack(ref) != nil {
			return // rdata that miekg rejects for this type
		}
		if err := got.Unpack(msg); err != nil {
			t.Fatalf("compressed message does not unpack: %v\n% x", err, msg)
		}
		all := func(m *dns.Msg) []string {
			var s []string
			for _, rr := range append(m.Answer, m.Extra...) {
				s = append(s, strings.ToLower(rr.String()))
			}
			return s
		}
		if g, w := all(&got), all(&want); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Fatalf("records differ:\n got %q\nwant %q", g, w)
		}
	})
}

// FuzzIsSubdomain checks IsSubdomain against the plain definition (drop
// leading labels until the name is as long as parent) for well-formed
// names; malformed ones must not make it panic.
func FuzzIsSubdomain(f *testing.F) {
	f.Add([]byte("\x03www\x07example\x00"), []byte("\x07example\x00"))
	f.Add([]byte("\x03wwx\x01a\x00"), []byte("\x01x\x01a\x00"))
	f.Add([]byte("\x05ab"), []byte("\x00"))
	f.Fuzz(func(t *testing.T, name, parent []byte) {
		got := IsSubdomain(name, parent)
		if NameLen(name) != len(name) || NameLen(parent) != len(parent) {
			return
		}
		n := name
		for len(n) > len(parent) {
			n = n[1+int(n[0]):]
		}
		if want := bytes.Equal(n, parent); got != want {
			t.Fatalf("IsSubdomain(%q, %q) = %v, want %v", name, parent, got, want)
		}
	})
}

// FuzzReadName checks ReadName against miekg/dns's decompression: every
// name it accepts, miekg reads as the same name, and the name is valid,
// lower-cased when asked, and ends where SkipName says.
func FuzzReadName(f *testing.F) {
	f.Add([]byte("\x07Example\x03COM\x00\x03www\xC0\x00\xC0\x0D"), uint8(19))
	f.Add([]byte("\xC0\x00"), uint8(0))
	f.Add([]byte("\x01a\xC0\x00"), uint8(0))
	f.Fuzz(func(t *testing.T, msg []byte, off uint8) {
		orig := bytes.Clone(msg)
		name, next := ReadName(msg, int(off), nil, false)
		canon, cnext := ReadName(msg, int(off), []byte("x"), true)
		if !bytes.Equal(msg, orig) {
			t.Fatal("ReadName modified its input")
		}
		if name == nil {
			if next != -1 || canon != nil || cnext != -1 {
				t.Fatalf("failed with %d; canonical read %q, %d", next, canon, cnext)
			}
			return
		}
		if NameLen(name) != len(name) || next <= int(off) || next > len(msg) {
			t.Fatalf("ReadName = %q, %d: not a valid name and offset", name, next)
		}
		if cnext != next || !bytes.Equal(canon, append([]byte("x"), asciiLower(name)...)) {
			t.Fatalf("canonical read %q, %d; want x + lower(%q), %d", canon, cnext, name, next)
		}
		if s := SkipName(msg, int(off)); s != next {
			t.Fatalf("SkipName = %d, ReadName ends at %d", s, next)
		}
		s, mnext, err := dns.UnpackDomainName(msg, int(off))
		if err != nil {
			t.Fatalf("miekg rejects %q that we read as %q: %v", msg[off:], name, err)
		}
		want := make([]byte, MaxNameLen+1)
		n, err := dns.PackDomainName(s, want, 0, nil, false)
		if err != nil || !bytes.Equal(want[:n], name) || mnext != next {
			t.Fatalf("ReadName = %q, %d; miekg reads %q (%q, %v), %d", name, next, s, want[:n], err, mnext)
		}
	})
}

// FuzzParseName checks ParseName against miekg/dns's presentation-format
// parser, and that what it returns renders back to the same name.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"www.Example.COM.", "www.example.com", ".", `a\.b\032c\\.`, `\065`, "a..b", "@", `a\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseName(s)
		if err != nil {
			if w != nil {
				t.Fatalf("ParseName(%q) = %q with error %v", s, w, err)
			}
			return
		}
		if NameLen(w) != len(w) || !bytes.Equal(w, asciiLower(w)) {
			t.Fatalf("ParseName(%q) = %q: not a canonical wire name", s, w)
		}
		// Rendered with every octet escaped, it parses back the same.
		var text []byte
		for i := 0; w[i] != 0; i += 1 + int(w[i]) {
			for _, c := range w[i+1 : i+1+int(w[i])] {
				text = append(text, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			}
			text = append(text, '.')
		}
		if len(text) == 0 {
			text = []byte(".")
		}
		if again, err := ParseName(string(text)); err != nil || !bytes.Equal(again, w) {
			t.Fatalf("ParseName(%q) = %q, but its text %q parses as %q, %v", s, w, text, again, err)
		}
		// miekg/dns reads names it accepts the same way. Escapes are
		// left out: after a non-ASCII octet miekg's Fqdn misreads them
		// (it takes "\u0670\\\\\\.", a relative name ending in an
		// escaped dot, for an absolute one, and packs the root).
		if _, ok := dns.IsDomainName(s); !ok || strings.Contains(s, `\`) {
			return
		}
		buf := make([]byte, MaxNameLen+1)
		n, err := dns.PackDomainName(dns.Fqdn(s), buf, 0, nil, false)
		if err != nil {
			return
		}
		if want := asciiLower(buf[:n]); !bytes.Equal(w, want) {
			t.Fatalf("ParseName(%q) = %q, miekg %q", s, w, want)
		}
	})
}
