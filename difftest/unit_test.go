package difftest

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
		{"example./MX/*", "example./MX/plain/udp", true},
		{"example./MX/*", "mx.example./MX/plain/udp", false},
		{"raw/opcode/notify*", "raw/opcode/notify/tcp", true},
		{"raw/opcode/notify*", "raw/opcode/notif", false},
		{"*/A/*", "x.example./A/edns/tcp", true},
		{"*/A/*", "x.example./AAAA/edns/tcp", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{`\*.wild./MX/*`, "*.wild./MX/do/udp", true},
		{`\*.wild./MX/*`, "x.wild./MX/do/udp", false},
		{"*.wild./MX/*", "x.wild./MX/do/udp", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// TestCases checks the query list itself: unique names, every raw query
// of the intended shape, every exception naming a follower.
func TestCases(t *testing.T) {
	cs := allCases() // panics on duplicate names
	// The signed zones' cases, for zones with these origins (the test
	// signs them with fresh keys; the case names do not depend on them).
	var signed []signedZone
	for _, o := range signedOrigins {
		z := signedZone{testZone: testZone{origin: o}}
		if o != "nsec." {
			z.nsec3 = &dns.NSEC3PARAM{Hash: dns.SHA1}
		}
		signed = append(signed, z)
	}
	cs = append(cs, signedCases(signed)...)
	if len(cs) < 300 {
		t.Errorf("%d cases, want at least 300", len(cs))
	}
	for _, e := range exceptions {
		if e.follow != "nsd" && e.follow != "knot" {
			t.Errorf("exception %q follows %q, want nsd or knot", e.id, e.follow)
		}
		if e.rfc == "" || e.why == "" || len(e.cases) == 0 {
			t.Errorf("exception %q lacks a reference, a reason or cases", e.id)
		}
		for _, p := range e.cases {
			n := 0
			for _, c := range cs {
				if globMatch(p, c.name) {
					n++
				}
			}
			if n == 0 {
				t.Errorf("exception %q: pattern %q matches no case", e.id, p)
			}
		}
	}
}

// TestViewOf checks the decoding and comparison the differential test
// relies on, on messages built with miekg/dns.
func TestViewOf(t *testing.T) {
	q := newQuery("A.Example.", dns.TypeA, dns.ClassINET)
	q.Id = 0x1234
	setEDNS(q, 1232, true)
	query := mustPack(q)

	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	r.Answer = []dns.RR{
		&dns.A{Hdr: dns.RR_Header{Name: "A.Example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{198, 18, 0, 2}},
		&dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{198, 18, 0, 1}},
	}
	setEDNS(r, 1232, true)
	v := viewOf(query, mustPack(r))
	for name, want := range map[string]string{
		fID:       "copied",
		fFlags:    "qr aa",
		fQEcho:    "exact",
		fQuestion: "A.Example. IN A",
		fRcode:    "NOERROR",
		fAnswer:   "a.example. 60 IN A 198.18.0.1\na.example. 60 IN A 198.18.0.2",
		fOPT:      "version=0 udp=1232 do",
	} {
		if got, _ := v.get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// The order of records is not compared; a TTL, the question's case, and
	// an extended rcode are.
	r.Answer[0], r.Answer[1] = r.Answer[1], r.Answer[0]
	if d := diff(v, viewOf(query, mustPack(r))); len(d) != 0 {
		t.Errorf("reordered answer: diff %v, want none", d)
	}
	r.Answer[0].Header().Ttl = 61
	r.Question[0].Name = "a.example."
	r.Rcode = dns.RcodeBadVers
	d := diff(v, viewOf(query, mustPack(r)))
	if want := []string{fQEcho, fQuestion, fRcode, fAnswer}; !slices.Equal(d, want) {
		t.Errorf("diff = %v, want %v", d, want)
	}
	if got, _ := viewOf(query, mustPack(r)).get(fRcode); got != "BADVERS" {
		t.Errorf("rcode = %q, want BADVERS", got)
	}
	if got, _ := viewOf(query, nil).get(fResponse); got != "none" {
		t.Errorf("no response: %q, want none", got)
	}
}
