package dnssvc

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/zone"
)

// The signed zones come from zone/testdata/signed/ (scripts/sign-testdata.sh
// signs them: BIND with NSEC, ldns with NSEC3, BIND with NSEC3 opt-out).
// These tests check each answer shape of RFC 4035 3.1 and RFC 5155 7.2
// with miekg/dns as the oracle: every signature verifies against the
// zone's DNSKEY RRset, and the NSEC and NSEC3 records prove what they must
// (miekg's NSEC3.Match and Cover, and RFC 4034 6.1 order written out here).

var signedFiles = []string{"nsec", "nsec3", "optout", "wildapex"}

// signedSet loads the signed test zones.
func signedSet(tb testing.TB) *zone.Set {
	tb.Helper()
	var zs []*zone.Zone
	for _, f := range signedFiles {
		z, err := zone.LoadFile("../zone/testdata/signed/" + f + ".zone")
		if err != nil {
			tb.Fatal(err)
		}
		zs = append(zs, z)
	}
	set, err := zone.NewSet(zs...)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// signedKeys returns the DNSKEY records of the signed test zones, by origin.
func signedKeys(tb testing.TB) map[string][]*dns.DNSKEY {
	tb.Helper()
	keys := map[string][]*dns.DNSKEY{}
	for _, f := range signedFiles {
		r, err := os.Open("../zone/testdata/signed/" + f + ".zone")
		if err != nil {
			tb.Fatal(err)
		}
		zp := dns.NewZoneParser(r, "", "")
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if k, ok := rr.(*dns.DNSKEY); ok {
				keys[strings.ToLower(k.Hdr.Name)] = append(keys[strings.ToLower(k.Hdr.Name)], k)
			}
		}
		r.Close()
		if err := zp.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

// ask sends a query to s and returns the decoded response and its bytes.
func ask(tb testing.TB, s *Server, name string, qtype uint16, opts ...qopt) (*dns.Msg, []byte) {
	tb.Helper()
	resp := s.Respond(make([]byte, 0, 65535), packQuery(tb, name, qtype, opts...), Request{})
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		tb.Fatalf("%s %s: unpack response: %v", name, dns.Type(qtype), err)
	}
	return m, resp
}

// rrsetKey identifies an RRset in a section.
type rrsetKey struct {
	owner string
	typ   uint16
}

// verifySigned checks the DNSSEC records of a DO=1 answer from a signed
// zone: every RRset of the answer and authority sections carries RRSIGs
// (but a referral's NS RRset and a CNAME synthesised from a DNAME, which
// are not signed), additional RRsets carry them when they are
// authoritative data, each RRSIG has its RRset's TTL and verifies, and no
// RRSIG appears without its RRset.
func verifySigned(t *testing.T, m *dns.Msg, keys map[string][]*dns.DNSKEY) {
	t.Helper()
	var dnames []string
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == dns.TypeDNAME {
			dnames = append(dnames, rr.Header().Name)
		}
	}
	for si, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		sets := map[rrsetKey][]dns.RR{}
		sigs := map[rrsetKey][]*dns.RRSIG{}
		var order []rrsetKey
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			if s, ok := rr.(*dns.RRSIG); ok {
				k := rrsetKey{strings.ToLower(h.Name), s.TypeCovered}
				sigs[k] = append(sigs[k], s)
				continue
			}
			k := rrsetKey{strings.ToLower(h.Name), h.Rrtype}
			if sets[k] == nil {
				order = append(order, k)
			}
			sets[k] = append(sets[k], rr)
		}
		for k := range sigs {
			if sets[k] == nil {
				t.Errorf("section %d: RRSIG %s %s without its RRset", si, k.owner, dns.Type(k.typ))
			}
		}
		for _, k := range order {
			rrset := sets[k]
			need := si < 2
			switch {
			case k.typ == dns.TypeNS && si == 1 && !m.Authoritative: // a referral
				need = false
			case k.typ == dns.TypeCNAME && slices.ContainsFunc(dnames, func(d string) bool {
				return dns.IsSubDomain(d, k.owner) && !strings.EqualFold(d, k.owner)
			}):
				need = false // synthesised from a DNAME
			}
			if len(sigs[k]) == 0 {
				if need {
					t.Errorf("section %d: %s %s has no RRSIG", si, k.owner, dns.Type(k.typ))
				}
				continue
			}
			for _, s := range sigs[k] {
				if s.Hdr.Ttl != rrset[0].Header().Ttl {
					t.Errorf("RRSIG %s %s has TTL %d, its RRset %d", k.owner, dns.Type(k.typ), s.Hdr.Ttl, rrset[0].Header().Ttl)
				}
				var key *dns.DNSKEY
				for _, dk := range keys[strings.ToLower(s.SignerName)] {
					if dk.KeyTag() == s.KeyTag {
						key = dk
					}
				}
				if key == nil {
					t.Errorf("RRSIG %s %s: no key %d of %s", k.owner, dns.Type(k.typ), s.KeyTag, s.SignerName)
				} else if err := s.Verify(key, rrset); err != nil || !s.ValidityPeriod(time.Now()) {
					t.Errorf("RRSIG %s %s does not verify: %v", k.owner, dns.Type(k.typ), err)
				}
			}
		}
	}
}

// canonicalCmp is RFC 4034 6.1 order, written independently of the zone
// package's.
func canonicalCmp(a, b string) int {
	la, lb := dns.SplitDomainName(strings.ToLower(a)), dns.SplitDomainName(strings.ToLower(b))
	slices.Reverse(la)
	slices.Reverse(lb)
	for i := 0; i < min(len(la), len(lb)); i++ {
		if c := strings.Compare(la[i], lb[i]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// nsecCovers reports whether the NSEC record covers name (owner < name <
// next, the last record wrapping around to the apex).
func nsecCovers(n *dns.NSEC, name string) bool {
	after := canonicalCmp(n.Hdr.Name, name) < 0
	before := canonicalCmp(name, n.NextDomain) < 0
	if canonicalCmp(n.NextDomain, n.Hdr.Name) <= 0 { // the last one
		return after
	}
	return after && before
}

// shape says what the authority section must prove (see proveCheck).
type shape int

const (
	noProof          shape = iota
	provesNX               // qname does not exist, nor the wildcard at ce
	provesNoData           // qname exists without qtype
	provesWild             // qname does not exist: a wildcard at ce answered
	provesWildNoData       // and the wildcard lacks qtype
	provesNoDS             // the cut qname has no DS
)

// proveCheck checks the NSEC or NSEC3 records of the authority section
// for the proof p about qname with closest encloser ce.
func proveCheck(t *testing.T, m *dns.Msg, p shape, qname, ce string, qtype uint16) {
	t.Helper()
	var nsecs []*dns.NSEC
	var nsec3s []*dns.NSEC3
	for _, rr := range m.Ns {
		switch r := rr.(type) {
		case *dns.NSEC:
			nsecs = append(nsecs, r)
		case *dns.NSEC3:
			r.NextDomain = strings.ToUpper(r.NextDomain) // miekg compares in upper case
			nsec3s = append(nsec3s, r)
		}
	}
	if p == noProof {
		if len(nsecs)+len(nsec3s) > 0 {
			t.Errorf("proof records in an answer that needs none: %v", m.Ns)
		}
		return
	}
	wild := "*." + ce
	if ce == "." {
		wild = "*."
	}
	nc := ce // the next closer name: one label more than ce
	if labels := dns.SplitDomainName(qname); len(labels) > dns.CountLabel(ce) {
		nc = strings.Join(labels[len(labels)-dns.CountLabel(ce)-1:], ".") + "."
	}
	if len(nsec3s) == 0 {
		cover := func(name string) bool {
			return slices.ContainsFunc(nsecs, func(n *dns.NSEC) bool { return nsecCovers(n, name) })
		}
		match := func(name string, lacks uint16) bool {
			return slices.ContainsFunc(nsecs, func(n *dns.NSEC) bool {
				return strings.EqualFold(n.Hdr.Name, name) && !slices.Contains(n.TypeBitMap, lacks)
			})
		}
		var ok bool
		switch p {
		case provesNX:
			ok = cover(qname) && cover(wild)
		case provesNoData:
			ok = match(qname, qtype) || cover(qname) // an empty non-terminal is covered
		case provesWild:
			ok = cover(qname)
		case provesWildNoData:
			ok = cover(qname) && match(wild, qtype)
		case provesNoDS:
			ok = match(qname, dns.TypeDS)
		}
		if !ok {
			t.Errorf("the NSEC records do not prove %d for %s (closest encloser %s): %v", p, qname, ce, nsecs)
		}
		return
	}
	cover := func(name string, optout bool) bool {
		return slices.ContainsFunc(nsec3s, func(n *dns.NSEC3) bool { return n.Cover(name) && (!optout || n.Flags&1 != 0) })
	}
	match := func(name string, lacks uint16) bool {
		return slices.ContainsFunc(nsec3s, func(n *dns.NSEC3) bool {
			return n.Match(name) && (lacks == 0 || !slices.Contains(n.TypeBitMap, lacks))
		})
	}
	var ok bool
	switch p {
	case provesNX:
		ok = match(ce, 0) && cover(nc, false) && cover(wild, false)
	case provesNoData:
		ok = match(qname, qtype)
	case provesWild:
		ok = cover(nc, false)
	case provesWildNoData:
		ok = match(ce, 0) && cover(nc, false) && match(wild, qtype)
	case provesNoDS:
		// The NSEC3 record of the cut, or (opt-out) the closest provable
		// encloser and an opt-out record covering the next closer name.
		ok = match(qname, dns.TypeDS) || match(ce, 0) && cover(nc, true)
	}
	if !ok {
		t.Errorf("the NSEC3 records do not prove %d for %s (closest encloser %s, next closer %s): %v", p, qname, ce, nc, nsec3s)
	}
}

// TestDNSSECAnswers checks every answer shape in every signed test zone:
// the rcode, AA, the signatures and the proofs with DO=1; no DNSSEC
// records with DO=0; the cached answer equal to the first one.
func TestDNSSECAnswers(t *testing.T) {
	set := signedSet(t)
	keys := signedKeys(t)
	tests := []struct {
		name   string // relative to the zone's origin
		qtype  uint16
		rcode  int
		aa     bool
		answer int // records in the answer section, signatures excluded
		proof  shape
		proved string // the name proved (relative), "" for name
		ce     string // closest encloser (relative), for NX and wildcards
	}{
		{name: "www", qtype: dns.TypeA, aa: true, answer: 1},
		{name: "www", qtype: dns.TypeTXT, aa: true, answer: 1},
		{name: "@", qtype: dns.TypeDNSKEY, aa: true, answer: -1},
		{name: "@", qtype: dns.TypeNS, aa: true, answer: 2},
		{name: "mx", qtype: dns.TypeMX, aa: true, answer: 2},
		{name: "www", qtype: dns.TypeMX, aa: true, proof: provesNoData},
		{name: "ent", qtype: dns.TypeA, aa: true, proof: provesNoData},
		{name: "y.deepent", qtype: dns.TypeA, aa: true, proof: provesNoData},
		{name: "nothere", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "@"},
		{name: "a.b.nothere", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "@"},
		{name: "zzzz", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "@"},
		{name: "0", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "@"},
		{name: "x.leaf.ent", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "leaf.ent"},
		{name: "x.sub.ent.wild", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, proof: provesNX, ce: "sub.ent.wild"},
		{name: "x.wild", qtype: dns.TypeA, aa: true, answer: 1, proof: provesWild, ce: "wild"},
		{name: "a.b.wild", qtype: dns.TypeTXT, aa: true, answer: 1, proof: provesWild, ce: "wild"},
		{name: "x.wild", qtype: dns.TypeMX, aa: true, proof: provesWildNoData, ce: "wild"},
		{name: "foo.wcname", qtype: dns.TypeA, aa: true, answer: 2, proof: provesWild, ce: "wcname"},
		{name: "cnamewild", qtype: dns.TypeA, aa: true, answer: 2, proof: provesWild, proved: "x.wild", ce: "wild"},
		{name: "cnamenx", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, answer: 1, proof: provesNX, proved: "nothere", ce: "@"},
		{name: "n1", qtype: dns.TypeA, aa: true, answer: 5, proof: provesNoData, proved: "nend"},
		{name: "c1", qtype: dns.TypeA, aa: true, answer: 6},
		{name: "www.dname", qtype: dns.TypeA, aa: true, answer: 3},
		{name: "secure", qtype: dns.TypeDS, aa: true, answer: 1},
		{name: "secure", qtype: dns.TypeA},
		{name: "www.secure", qtype: dns.TypeA},
		{name: "insecure", qtype: dns.TypeA, proof: provesNoDS, proved: "insecure", ce: "@"},
		{name: "www.insecure", qtype: dns.TypeMX, proof: provesNoDS, proved: "insecure", ce: "@"},
		{name: "insecure", qtype: dns.TypeDS, aa: true, proof: provesNoDS, ce: "@"},
		{name: "extdeleg", qtype: dns.TypeDS, aa: true, proof: provesNoDS, ce: "@"},
	}
	abs := func(origin, rel string) string {
		if rel == "@" {
			return origin
		}
		return rel + "." + origin
	}
	for _, origin := range []string{"nsec.", "nsec3.", "optout."} {
		s := New(Config{}, set, nil)
		for _, tt := range tests {
			name := abs(origin, tt.name)
			t.Run(name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
				m, first := ask(t, s, name, tt.qtype, withEDNS(4096, true))
				if m.Rcode != tt.rcode || m.Authoritative != tt.aa || m.Truncated || !m.IsEdns0().Do() {
					t.Fatalf("rcode %s AA %v TC %v DO %v, want %s AA %v, no TC, DO\n%v", dns.RcodeToString[m.Rcode],
						m.Authoritative, m.Truncated, m.IsEdns0().Do(), dns.RcodeToString[tt.rcode], tt.aa, m)
				}
				data := 0
				for _, rr := range m.Answer {
					if rr.Header().Rrtype != dns.TypeRRSIG {
						data++
					}
				}
				if tt.answer >= 0 && data != tt.answer {
					t.Errorf("%d answer records, want %d\n%v", data, tt.answer, m)
				}
				if !tt.aa && tt.rcode == dns.RcodeSuccess && len(m.Ns) == 0 {
					t.Errorf("referral without NS\n%v", m)
				}
				verifySigned(t, m, keys)
				proved := name
				if tt.proved != "" {
					proved = abs(origin, tt.proved)
				}
				ce := origin
				if tt.ce != "" {
					ce = abs(origin, tt.ce)
				}
				proveCheck(t, m, tt.proof, proved, ce, tt.qtype)
				if tt.name == "secure" || tt.name == "www.secure" {
					if tt.qtype != dns.TypeDS && !slices.ContainsFunc(m.Ns, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeDS }) {
						t.Errorf("referral to a signed child without its DS\n%v", m)
					}
				}

				// The same query again comes from the cache, byte for byte.
				_, again := ask(t, s, name, tt.qtype, withEDNS(4096, true))
				if !bytes.Equal(first, again) {
					t.Errorf("second answer differs from the first:\n%x\n%x", first, again)
				}

				// DO=0: no DNSSEC records, whatever the zone holds.
				m0, _ := ask(t, s, name, tt.qtype, withEDNS(4096, false))
				if m0.Rcode != tt.rcode || m0.IsEdns0().Do() {
					t.Errorf("DO=0: rcode %s, DO %v", dns.RcodeToString[m0.Rcode], m0.IsEdns0().Do())
				}
				for _, sec := range [][]dns.RR{m0.Answer, m0.Ns, m0.Extra} {
					for _, rr := range sec {
						switch rr.Header().Rrtype {
						case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
							t.Errorf("DO=0: %v", rr)
						case dns.TypeDS:
							if tt.qtype != dns.TypeDS {
								t.Errorf("DO=0: %v", rr)
							}
						}
					}
				}
			})
		}
	}
}

// TestDNSSECWildcardApex checks that NSEC3 owner names do not block a
// wildcard at the apex (issue 12): the wildcard answers for them, with
// the proof that they do not exist.
func TestDNSSECWildcardApex(t *testing.T) {
	set := signedSet(t)
	keys := signedKeys(t)
	s := New(Config{}, set, nil)
	z := set.Zone([]byte("\x08wildapex\x00"))
	for _, n := range []string{"host.wildapex.", "wildapex.", "x.wildapex."} {
		hn, _ := z.NSEC3Find(canonical(t, n))
		owner := zone.NameText(hn.Name)
		m, _ := ask(t, s, owner, dns.TypeA, withEDNS(1232, true))
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 2 || !strings.EqualFold(m.Answer[0].Header().Name, owner) {
			t.Errorf("%s A: want the wildcard's A record and its RRSIG\n%v", owner, m)
		}
		verifySigned(t, m, keys)
		proveCheck(t, m, provesWild, owner, "wildapex.", dns.TypeA)
	}
}

// TestDNSSECRRSIGQuery checks a query for type RRSIG: every RRSIG at the
// name, each with the TTL of the RRset it covers (issue 12: they used to
// share one).
func TestDNSSECRRSIGQuery(t *testing.T) {
	s := New(Config{}, signedSet(t), nil)
	for _, do := range []bool{false, true} {
		m, _ := ask(t, s, "www.nsec.", dns.TypeRRSIG, withEDNS(1232, do))
		ttls := map[uint16]uint32{}
		for _, rr := range m.Answer {
			if s, ok := rr.(*dns.RRSIG); ok {
				ttls[s.TypeCovered] = s.Hdr.Ttl
			}
		}
		want := map[uint16]uint32{dns.TypeA: 300, dns.TypeAAAA: 600, dns.TypeTXT: 1800, dns.TypeNSEC: 300}
		if len(m.Answer) != len(want) || !mapsEqual(ttls, want) {
			t.Errorf("DO=%v: RRSIG TTLs %v, want %v\n%v", do, ttls, want, m)
		}
	}
}

func mapsEqual(a, b map[uint16]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestDNSSECTruncation checks that signatures count towards the size
// limit: an RRset and its signatures fit together or TC is set, and in
// the additional section an address RRset goes with its signatures or not
// at all.
func TestDNSSECTruncation(t *testing.T) {
	s := New(Config{}, signedSet(t), nil)
	keys := signedKeys(t)
	// big.nsec. TXT fits in 512 octets unsigned, not signed.
	m, _ := ask(t, s, "big.nsec.", dns.TypeTXT, withEDNS(512, false))
	if m.Truncated || len(m.Answer) != 2 {
		t.Errorf("DO=0: want the TXT RRset without TC\n%v", m)
	}
	m, resp := ask(t, s, "big.nsec.", dns.TypeTXT, withEDNS(512, true))
	if !m.Truncated || len(m.Answer) != 0 || len(resp) > 512 {
		t.Errorf("DO=1 in 512 octets: want TC and no answer, got %d octets\n%v", len(resp), m)
	}
	// The apex NS RRset: the A records of both name servers with their
	// signatures, then no AAAA (NSD's rule).
	m, resp = ask(t, s, "nsec.", dns.TypeNS, withEDNS(512, true))
	var extra []string
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, strings.ToLower(rr.Header().Name)+" "+dns.TypeToString[rr.Header().Rrtype])
		}
	}
	slices.Sort(extra)
	want := []string{"ns1.nsec. A", "ns1.nsec. RRSIG", "ns2.nsec. A", "ns2.nsec. RRSIG"}
	if m.Truncated || !slices.Equal(extra, want) || len(resp) > 512 {
		t.Errorf("NS in 512 octets: additional %v, want %v without TC (%d octets)", extra, want, len(resp))
	}
	verifySigned(t, m, keys)
}

// TestDNSSECUnsignedZoneIgnoresDO checks that DO changes nothing for an
// unsigned zone, and is echoed.
func TestDNSSECUnsignedZoneIgnoresDO(t *testing.T) {
	s := New(Config{}, testSet(t), nil)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"host.example.com.", dns.TypeA}, {"nope.example.com.", dns.TypeA}, {"www.sub.example.com.", dns.TypeA}} {
		m1, r1 := ask(t, s, q.name, q.qtype, withEDNS(1232, true))
		_, r0 := ask(t, s, q.name, q.qtype, withEDNS(1232, false))
		if !m1.IsEdns0().Do() {
			t.Errorf("%s: DO not echoed", q.name)
		}
		// The OPT's flags are the only difference (the last 6 octets hold
		// flags and rdlength 0).
		if len(r1) != len(r0) || !bytes.Equal(r1[:len(r1)-4], r0[:len(r0)-4]) {
			t.Errorf("%s: DO=1 answer differs from DO=0:\n%x\n%x", q.name, r1, r0)
		}
	}
}

// TestDNSSECAllocs extends the zero-allocation claim to DO=1 answers:
// signatures, NSEC and NSEC3 proofs (hashing included) on the generic path
// and from the cache.
func TestDNSSECAllocs(t *testing.T) {
	set := signedSet(t)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.nsec.", dns.TypeA}, {"nothere.nsec.", dns.TypeA}, {"x.wild.nsec.", dns.TypeMX},
		{"www.nsec3.", dns.TypeA}, {"nothere.nsec3.", dns.TypeA}, {"x.wild.nsec3.", dns.TypeMX},
		{"foo.wcname.nsec3.", dns.TypeA}, {"www.insecure.optout.", dns.TypeA}, {"insecure.optout.", dns.TypeDS},
		{"nsec.", dns.TypeNS}, {"www.nsec.", dns.TypeRRSIG}, {"c1.nsec3.", dns.TypeA},
	} {
		t.Run(q.name+"/"+dns.TypeToString[q.qtype], func(t *testing.T) {
			s := New(Config{}, set, nil)
			msg := packQuery(t, q.name, q.qtype, withEDNS(1232, true))
			dst := make([]byte, 0, 65535)
			if n := mallocs(func() { s.Respond(dst, msg, Request{}) }); n != 0 {
				t.Errorf("first Respond (generic path): %v allocations, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { s.Respond(dst, msg, Request{}) }); n != 0 {
				t.Errorf("Respond (cached): %v allocations, want 0", n)
			}
			// TCP skips nothing but the size limit: the generic path
			// again for a name the cache has not seen.
			tcp := packQuery(t, "nx"+q.name, q.qtype, withEDNS(1232, true))
			if n := testing.AllocsPerRun(100, func() { s.Respond(dst, tcp, Request{TCP: true}) }); n != 0 {
				t.Errorf("Respond (TCP, negative): %v allocations, want 0", n)
			}
		})
	}
}

func canonical(tb testing.TB, name string) []byte {
	tb.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(strings.ToLower(name), buf, 0, nil, false)
	if err != nil {
		tb.Fatal(err)
	}
	return buf[:n]
}

// FuzzRespondSigned feeds arbitrary queries to a server of the signed
// test zones: every response unpacks, fits its limit, and the cached
// answer equals the generic one byte for byte (DO=1 and DO=0 alike).
func FuzzRespondSigned(f *testing.F) {
	for _, name := range []string{"www.nsec.", "nothere.nsec3.", "x.wild.optout.", "www.insecure.optout.",
		"foo.wcname.nsec3.", "c1.nsec.", "host.wildapex.", "a.b.nothere.nsec3."} {
		for _, t := range []uint16{dns.TypeA, dns.TypeMX, dns.TypeDS, dns.TypeRRSIG, dns.TypeANY} {
			for _, size := range []uint16{512, 1232} {
				f.Add(packQuery(f, name, t, withEDNS(size, true)), false)
			}
		}
	}
	set := signedSet(f)
	s := New(Config{}, set, nil)
	f.Fuzz(func(t *testing.T, msg []byte, tcp bool) {
		out := s.Respond(make([]byte, 0, 512), msg, Request{TCP: tcp})
		if gen := New(Config{}, set, nil).Respond(nil, msg, Request{TCP: tcp}); !bytes.Equal(out, gen) {
			t.Fatalf("cached and generic responses differ:\n% x\n% x", out, gen)
		}
		if len(out) == 0 {
			return
		}
		var r dns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatalf("response does not unpack: %v\n% x", err, out)
		}
		limit := 65535
		if !tcp {
			limit = 512
			if r.IsEdns0() != nil {
				limit = 1232
			}
		}
		if len(out) > limit {
			t.Fatalf("response of %d octets over the limit %d", len(out), limit)
		}
	})
}

// dnssecBenchQueries is a DO=1 mix over the signed test zones: positive,
// wildcard, NXDOMAIN and NODATA answers, referrals, with NSEC and NSEC3.
func dnssecBenchQueries(b *testing.B) [][]byte {
	var qs [][]byte
	for _, z := range []string{"nsec.", "nsec3."} {
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{"www", dns.TypeA}, {"mail", dns.TypeAAAA}, {"x.wild", dns.TypeA}, {"nothere", dns.TypeA},
			{"www", dns.TypeMX}, {"www.insecure", dns.TypeA}, {"www.secure", dns.TypeA}, {"cname", dns.TypeA}} {
			qs = append(qs, packQuery(b, q.name+"."+z, q.qtype, withEDNS(1232, true)))
		}
	}
	return qs
}

// BenchmarkRespondDNSSEC measures DO=1 answers from the cache.
func BenchmarkRespondDNSSEC(b *testing.B) {
	s := New(Config{}, signedSet(b), nil)
	benchQueries(b, s, dnssecBenchQueries(b))
}

// BenchmarkRespondDNSSECGeneric measures DO=1 answers with the cache off:
// lookups, signatures and proofs (NSEC3 hashing included) every time.
func BenchmarkRespondDNSSECGeneric(b *testing.B) {
	s := New(Config{}, signedSet(b), nil)
	s.noCache = true
	benchQueries(b, s, dnssecBenchQueries(b))
}

func benchQueries(b *testing.B, s *Server, qs [][]byte) {
	dst := make([]byte, 0, 65535)
	for _, q := range qs {
		s.Respond(dst, q, Request{})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if len(s.Respond(dst, qs[i], Request{})) == 0 {
			b.Fatal("no response")
		}
		if i++; i == len(qs) {
			i = 0
		}
	}
}
