package dnswire

import (
	"bytes"
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
