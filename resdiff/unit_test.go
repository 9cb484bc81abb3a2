package resdiff

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/fakenet"
)

// These tests need no root: they check the test's own machinery.

func testCases(t *testing.T) []qcase {
	t.Helper()
	l, err := fakenet.Write(t.TempDir(), fakenet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return allCases(l.Expect)
}

func TestCasesWellFormed(t *testing.T) {
	cases := testCases(t)
	seen := map[string]bool{}
	expects := 0
	for _, c := range cases {
		if seen[c.id] {
			t.Errorf("case id %s twice", c.id)
		}
		seen[c.id] = true
		if !dns.IsFqdn(c.qname) {
			t.Errorf("%s: name not absolute", c.id)
		}
		m := new(dns.Msg)
		if err := m.Unpack(c.query(0x1234)); err != nil || m.Id != 0x1234 || m.Question[0].Name != c.qname {
			t.Errorf("%s: query does not round-trip: %v %v", c.id, err, m)
		}
		if c.expect != nil {
			expects++
		}
	}
	l, _ := fakenet.Write(t.TempDir(), fakenet.Options{})
	if expects < len(l.Expect) {
		t.Errorf("%d cases carry an expected answer, want at least the %d rows of the table", expects, len(l.Expect))
	}
}

// TestExceptionsWellFormed: every exception says why and whom tapdns
// follows, and each of its patterns names at least one case (a pattern
// that matches nothing would make the exception look used elsewhere, or
// unused for the wrong reason).
func TestExceptionsWellFormed(t *testing.T) {
	cases := testCases(t)
	ids := map[string]bool{}
	for _, e := range exceptions {
		if ids[e.id] {
			t.Errorf("exception id %q twice", e.id)
		}
		ids[e.id] = true
		if e.rfc == "" || len(e.why) < 40 {
			t.Errorf("%s: rfc %q, why %q: both must say something", e.id, e.rfc, e.why)
		}
		if e.follow != "" && e.follow != "unbound" && e.follow != "kresd" {
			t.Errorf("%s: follow %q, want unbound, kresd or empty", e.id, e.follow)
		}
		if e.follow == "" && len(e.set) == 0 {
			t.Errorf("%s: neither follows a peer nor sets a field: it cannot explain anything", e.id)
		}
		for f := range e.set {
			if !slices.Contains([]string{fResponse, fID, fOpcode, fRcode, fFlags, fQEcho, fQuestion, fAnswer, fAuthority, fAdditional, fOPT, fEDE}, f) {
				t.Errorf("%s: sets unknown field %q", e.id, f)
			}
		}
		for _, p := range e.cases {
			n := 0
			for _, c := range cases {
				if globMatch(p, c.id) {
					n++
					if findException(c.id) != &exceptions[slices.IndexFunc(exceptions, func(x exception) bool { return x.id == e.id })] {
						t.Errorf("%s: case %s is taken by an earlier exception %q", e.id, c.id, findException(c.id).id)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s: pattern %q matches no case", e.id, p)
			}
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
		{"*/rd0*", "www.example.lab./A/rd0/udp", true},
		{"*/rd0*", "www.example.lab./A/plain/udp", false},
		{"example.lab./AXFR/*", "example.lab./AXFR/plain/tcp", true},
		{"x*y*z", "xaybz", true},
		{"x*y*z", "xazby", false},
		{"*", "", true},
	} {
		if got := globMatch(tc.pattern, tc.name); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// reply builds a response to q with the given records (zone-file text).
func reply(t *testing.T, q []byte, aa bool, rcode int, answer ...string) []byte {
	t.Helper()
	var qm dns.Msg
	if err := qm.Unpack(q); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetReply(&qm)
	m.Authoritative, m.RecursionAvailable, m.Rcode = aa, true, rcode
	for _, s := range answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestViewAndDiff(t *testing.T) {
	c := newCase("WwW.example.lab.", dns.TypeA)
	q := c.query(7)
	a := viewOf(q, reply(t, q, false, 0, "www.example.lab. 300 IN A 198.18.16.1", "www.example.lab. 300 IN A 198.18.16.2"))
	// Other order, other TTLs: no difference.
	b := viewOf(q, reply(t, q, false, 0, "www.example.lab. 20 IN A 198.18.16.2", "www.example.lab. 7 IN A 198.18.16.1"))
	if d := diff(a, b); len(d) != 0 {
		t.Errorf("same records in another order with other TTLs differ in %v", d)
	}
	if e, _ := a.get(fQEcho); e != "exact" {
		t.Errorf("question echo %q, want exact", e)
	}
	cm := viewOf(q, reply(t, q, true, 0, "www.example.lab. 300 IN A 198.18.16.1"))
	if d := diff(a, cm); !slices.Equal(d, []string{fFlags, fAnswer}) {
		t.Errorf("AA and a missing record: differ in %v, want flags and answer", d)
	}
	if got := viewOf(q, nil); len(diff(got, a)) == 0 {
		t.Error("no response compares equal to a response")
	}
	w := a.with(map[string]string{fEDE: "22"})
	if d := diff(a, w); !slices.Equal(d, []string{fEDE}) {
		t.Errorf("with: differs in %v, want ede", d)
	}
	if v, _ := a.get(fEDE); v != "-" {
		t.Errorf("with changed the original: ede %q", v)
	}
}

func TestCheckTTLs(t *testing.T) {
	c := newCase("www.example.lab.", dns.TypeA)
	q := c.query(7)
	t0 := time.Unix(1_800_000_000, 0)
	ans := func(at time.Time, aa bool, ttl string) answer {
		resp := reply(t, q, aa, 0, "www.example.lab. "+ttl+" IN A 198.18.16.1")
		m := new(dns.Msg)
		if err := m.Unpack(resp); err != nil {
			t.Fatal(err)
		}
		return answer{view: viewOf(q, resp), msg: m, sent: at, got: at.Add(10 * time.Millisecond)}
	}
	for _, tc := range []struct {
		name   string
		a1, a2 answer
		want   string // substring of the problem, "" for none
	}{
		{"counts down", ans(t0, false, "3600"), ans(t0.Add(5*time.Second), false, "3595"), ""},
		{"rounding", ans(t0, false, "3600"), ans(t0.Add(5*time.Second), false, "3594"), ""},
		{"stuck", ans(t0, false, "3600"), ans(t0.Add(5*time.Second), false, "3600"), "counting down"},
		{"too fast", ans(t0, false, "3600"), ans(t0.Add(5*time.Second), false, "3590"), "counting down"},
		{"above the zone", ans(t0, false, "7200"), ans(t0.Add(time.Second), false, "7199"), "above the zone"},
		{"local data fixed", ans(t0, true, "3600"), ans(t0.Add(5*time.Second), true, "3600"), ""},
		{"local data moving", ans(t0, true, "3600"), ans(t0.Add(5*time.Second), true, "3595"), "local data"},
	} {
		got := strings.Join(checkTTLs("tapdns", tc.a1, tc.a2), "; ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
