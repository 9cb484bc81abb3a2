package dnssvc

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/internal/benchzone"
	"github.com/tapdns/tapdns/zone"
)

// The benchmarks below replay the query mix of internal/benchzone, the data
// bench/run.sh sends to tapdns, NSD and Knot: host A/AAAA/TXT/MX (many of
// them NODATA), CNAMEs, wildcard hits, referrals and NXDOMAIN, every query
// with EDNS (1232, no DO). The names of the NXDOMAIN and wildcard queries
// (about 13% of the mix) get a fresh 10-digit first label on every pass
// over the mix, as random-label traffic has, so they never repeat; every
// other question repeats once per pass. Run them with bench/run-go.sh,
// which records the commit, date and machine with the figures.
const (
	benchZoneNames = 100000 // names in the zone: about 180,000 records
	benchMixLen    = 50000  // queries per pass over the mix
)

// mixQuery is one query message of the mix. When stamp is non-zero,
// msg[stamp:stamp+10] are decimal digits rewritten before every use.
type mixQuery struct {
	msg   []byte
	stamp int
}

// benchMix is a generated zone and its query mix.
type benchMix struct {
	text     []byte // the zone file
	origin   string
	qs       []mixQuery
	distinct int // distinct questions in one pass
}

var benchMixes sync.Map // "names/queries" -> *benchMix, built once per test binary

// loadMix generates (once per size) a zone of names names and nq queries
// from its mix.
func loadMix(tb testing.TB, names, nq int) *benchMix {
	tb.Helper()
	key := fmt.Sprint(names, "/", nq)
	if m, ok := benchMixes.Load(key); ok {
		return m.(*benchMix)
	}
	var text bytes.Buffer
	z, err := benchzone.Write(&text, names, "bench.test.", 1)
	if err != nil {
		tb.Fatal(err)
	}
	m := &benchMix{text: text.Bytes(), origin: z.Origin}
	seen := map[string]bool{}
	for _, q := range z.Queries(nq, 1) {
		name, stamp := q.Name, 0
		switch q.Kind {
		case benchzone.KindNX, benchzone.KindWild:
			// "nx123.bench.test." -> "nx0000000000.bench.test.",
			// "x7.w5.bench.test." -> "x0000000000.w5.bench.test.".
			first, rest, _ := strings.Cut(name, ".")
			prefix := strings.TrimRight(first, "0123456789")
			name = prefix + "0000000000." + rest
			stamp = dnsHeaderLen + 1 + len(prefix)
		}
		qtype, ok := dns.StringToType[q.Type]
		if !ok {
			tb.Fatalf("query type %q", q.Type)
		}
		if stamp != 0 || !seen[name+" "+q.Type] {
			m.distinct++
			seen[name+" "+q.Type] = true
		}
		m.qs = append(m.qs, mixQuery{msg: packQuery(tb, name, qtype, withEDNS(1232, false)), stamp: stamp})
	}
	benchMixes.Store(key, m)
	return m
}

const dnsHeaderLen = 12

// set compiles the mix's zone.
func (m *benchMix) set(tb testing.TB) *zone.Set {
	tb.Helper()
	z, err := zone.Parse(bytes.NewReader(m.text), "bench.zone", "")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// mixRunner hands out the mix's queries in order, round and round,
// stamping a number into the varying names that no earlier pass used. Each
// runner has its own copy of the messages.
type mixRunner struct {
	qs   []mixQuery
	i    int
	pass uint64
}

func (m *benchMix) runner() *mixRunner {
	r := &mixRunner{qs: make([]mixQuery, len(m.qs))}
	for i, q := range m.qs {
		r.qs[i] = mixQuery{msg: bytes.Clone(q.msg), stamp: q.stamp}
	}
	return r
}

func (r *mixRunner) next() []byte {
	q := &r.qs[r.i]
	if q.stamp != 0 {
		v := r.pass*uint64(len(r.qs)) + uint64(r.i)
		d := q.msg[q.stamp : q.stamp+10]
		for j := len(d) - 1; j >= 0; j-- {
			d[j] = byte('0' + v%10)
			v /= 10
		}
	}
	if r.i++; r.i == len(r.qs) {
		r.i = 0
		r.pass++
	}
	return q.msg
}

// benchMixFor returns the benchmark mix, failing if it is not the realistic
// one the benchmarks promise.
func benchMixFor(b *testing.B) *benchMix {
	m := loadMix(b, benchZoneNames, benchMixLen)
	if m.distinct < 10000 {
		b.Fatalf("the mix has %d distinct questions per pass, want at least 10,000", m.distinct)
	}
	return m
}

var benchClient = Request{Client: netip.MustParseAddrPort("198.18.0.1:5300")}

// BenchmarkRespond measures Respond as a server in production runs it, over
// the benchmark mix (see benchMixLen) against a zone of 100,000 names:
// parse, then either a copy from the answer cache or, on a miss, the zone
// lookup and the generic encoder, which then fills the cache. One pass over
// the mix runs before the timer, as a server that has seen the traffic
// before; after it the repeating questions (87%) come from the cache and
// the fresh NXDOMAIN and wildcard names go through the encoder (and fill
// the cache until it is full: it never evicts). The "%cached" metric is
// the share of timed queries answered from the cache.
func BenchmarkRespond(b *testing.B) {
	m := benchMixFor(b)
	s := New(Config{}, m.set(b), nil)
	benchMixRespond(b, s, m, true)
}

// BenchmarkRespondGeneric measures Respond with the answer cache switched
// off, over the same mix: parse, zone lookup and the generic encoder for
// every query. It is the cost of a cache miss, and of any query when the
// cache is full.
func BenchmarkRespondGeneric(b *testing.B) {
	m := benchMixFor(b)
	s := New(Config{}, m.set(b), nil)
	s.noCache = true
	benchMixRespond(b, s, m, false)
}

func benchMixRespond(b *testing.B, s *Server, m *benchMix, warm bool) {
	r := m.runner()
	dst := make([]byte, 0, 65535)
	if warm {
		for range len(r.qs) {
			s.Respond(dst, r.next(), benchClient)
		}
	}
	before := s.Stats()
	b.ReportAllocs()
	for b.Loop() {
		if len(s.Respond(dst, r.next(), benchClient)) == 0 {
			b.Fatal("no response")
		}
	}
	after := s.Stats()
	if q := after.Queries - before.Queries; q > 0 {
		b.ReportMetric(100*float64(after.Cached-before.Cached)/float64(q), "%cached")
	}
	if s.noCache && after.Cached != 0 {
		b.Fatalf("%d answers from the cache with the cache off", after.Cached)
	}
}

// BenchmarkRespondMiekg does the job of BenchmarkRespondGeneric the
// straightforward way with miekg/dns, over the same mix and zone: Unpack,
// look up in maps of dns.RR (mzone), build a dns.Msg, Pack with
// compression into a reused buffer. TestMiekgReferenceAgrees checks that
// it answers the mix with the same records as Respond. It has no answer
// cache, so compare it with BenchmarkRespondGeneric for the encoder and
// with BenchmarkRespond for what a production server does.
func BenchmarkRespondMiekg(b *testing.B) {
	m := benchMixFor(b)
	z := newMzone(b, m.text, m.origin)
	r := m.runner()
	dst := make([]byte, 0, 65535)
	b.ReportAllocs()
	for b.Loop() {
		var q dns.Msg
		if err := q.Unpack(r.next()); err != nil {
			b.Fatal(err)
		}
		resp := z.respond(&q)
		if _, err := resp.PackBuffer(dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRespondCachedHit measures one A query asked again and again
// against a zone of 1,000 names: after the first, every iteration is
// parse and a copy from the answer cache. It is the floor of Respond's
// cost, not the cost of a typical query (that is BenchmarkRespond).
func BenchmarkRespondCachedHit(b *testing.B) {
	s := New(Config{}, benchZone(b, 1000), nil)
	q := packQuery(b, "name500.bench.example.", dns.TypeA, withEDNS(1232, false))
	dst := make([]byte, 0, 65535)
	if out := s.Respond(dst, q, Request{}); len(out) == 0 {
		b.Fatal("no response")
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Respond(dst, q, Request{})
	}
	if st := s.Stats(); st.Cached+1 != st.Queries {
		b.Fatalf("%d of %d answers from the cache, want all but the first", st.Cached, st.Queries)
	}
}

// BenchmarkRespondGenericShape measures the generic encoder (cache off)
// for one query of each answer shape of the test zones, asked again and
// again: where the encoder's time goes, shape by shape.
func BenchmarkRespondGenericShape(b *testing.B) {
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"MX+additional", "example.com.", dns.TypeMX},
		{"NXDOMAIN", "nope.example.com.", dns.TypeA},
		{"CNAME chain", "www.example.com.", dns.TypeA},
		{"referral", "www.sub.example.com.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Config{}, testSet(b), nil)
			s.noCache = true
			q := packQuery(b, bc.qname, bc.qtype, withEDNS(1232, false))
			dst := make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				s.Respond(dst, q, Request{})
			}
		})
	}
}

// benchZone is a zone of n names with an A record each.
func benchZone(tb testing.TB, n int) *zone.Set {
	var sb strings.Builder
	sb.WriteString("$ORIGIN bench.example.\n$TTL 300\n@ SOA ns.bench.example. h.bench.example. 1 3600 600 86400 60\n@ NS ns\nns A 198.18.0.53\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "name%d A 198.18.%d.%d\n", i, i/256, i%256)
	}
	z, err := zone.Parse(strings.NewReader(sb.String()), "", "")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := zone.NewSet(z)
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// mzone is the straightforward authoritative server written with
// miekg/dns that BenchmarkRespondMiekg runs: records in maps by lower-case
// owner and type, answers built as dns.Msg values. It does what the
// benchmark mix needs, as Respond does it: exact answers, NODATA and
// NXDOMAIN with the SOA, CNAME chains (at most 5 CNAMEs), wildcards,
// referrals with glue, and the addresses of MX targets.
type mzone struct {
	origin string
	negSOA dns.RR                         // the SOA with the negative TTL
	nodes  map[string]map[uint16][]dns.RR // every name, empty non-terminals with no records
	cuts   map[string]bool                // names with NS below the apex
}

func newMzone(tb testing.TB, text []byte, origin string) *mzone {
	tb.Helper()
	z := &mzone{origin: origin, nodes: map[string]map[uint16][]dns.RR{}, cuts: map[string]bool{}}
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, "bench.zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		if z.nodes[name] == nil {
			z.nodes[name] = map[uint16][]dns.RR{}
		}
		z.nodes[name][h.Rrtype] = append(z.nodes[name][h.Rrtype], rr)
		switch {
		case h.Rrtype == dns.TypeSOA:
			soa := dns.Copy(rr).(*dns.SOA)
			soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
			z.negSOA = soa
		case h.Rrtype == dns.TypeNS && name != origin:
			z.cuts[name] = true
		}
		for n := name; n != origin && n != "."; {
			_, n, _ = strings.Cut(n, ".")
			if z.nodes[n] == nil {
				z.nodes[n] = map[uint16][]dns.RR{}
			}
		}
	}
	if err := zp.Err(); err != nil {
		tb.Fatal(err)
	}
	if z.negSOA == nil {
		tb.Fatal("zone has no SOA")
	}
	return z
}

// respond returns the response to q (one question, class IN, in the zone).
func (z *mzone) respond(q *dns.Msg) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	if o := q.IsEdns0(); o != nil {
		r.SetEdns0(1232, o.Do())
	}
	qtype := q.Question[0].Qtype
	name := strings.ToLower(q.Question[0].Name)
	for hop := 0; ; hop++ {
		if cut := z.cutAbove(name); cut != "" {
			z.referral(r, cut)
			if hop == 0 {
				r.Authoritative = false
			}
			return r
		}
		node, ok := z.nodes[name]
		wild := false
		if !ok {
			if node, ok = z.wildcard(name); !ok {
				r.Rcode = dns.RcodeNameError
				r.Ns = append(r.Ns, z.negSOA)
				return r
			}
			wild = true
		}
		ans, cname := node[qtype], false
		if len(ans) == 0 && qtype != dns.TypeCNAME {
			ans, cname = node[dns.TypeCNAME], true
		}
		if len(ans) == 0 {
			r.Ns = append(r.Ns, z.negSOA)
			return r
		}
		for _, rr := range ans {
			if wild {
				rr = dns.Copy(rr)
				rr.Header().Name = name
			}
			r.Answer = append(r.Answer, rr)
		}
		if !cname {
			if qtype == dns.TypeMX {
				z.additional(r, ans)
			}
			return r
		}
		name = strings.ToLower(ans[0].(*dns.CNAME).Target)
		if hop+1 == maxCNAMEHops || !dns.IsSubDomain(z.origin, name) {
			return r
		}
	}
}

// cutAbove returns the highest delegation point at or above name, or "".
func (z *mzone) cutAbove(name string) string {
	cut := ""
	for n := name; n != z.origin && n != "."; {
		if z.cuts[n] {
			cut = n
		}
		_, n, _ = strings.Cut(n, ".")
	}
	return cut
}

// wildcard returns the records of the wildcard of name's closest
// encloser, if there is one.
func (z *mzone) wildcard(name string) (map[uint16][]dns.RR, bool) {
	for n := name; n != "."; {
		_, n, _ = strings.Cut(n, ".")
		if _, ok := z.nodes[n]; ok {
			w, ok := z.nodes["*."+n]
			return w, ok
		}
	}
	return nil, false
}

// referral adds the cut's NS records and the addresses of the name
// servers: those below the cut first (glue), then others in the zone.
func (z *mzone) referral(r *dns.Msg, cut string) {
	ns := z.nodes[cut][dns.TypeNS]
	r.Ns = append(r.Ns, ns...)
	for _, below := range []bool{true, false} {
		for _, rr := range ns {
			t := strings.ToLower(rr.(*dns.NS).Ns)
			if dns.IsSubDomain(cut, t) == below {
				z.addrs(r, t)
			}
		}
	}
}

// additional adds the addresses of MX targets in the zone, once each.
func (z *mzone) additional(r *dns.Msg, mx []dns.RR) {
	done := map[string]bool{}
	for _, rr := range mx {
		t := strings.ToLower(rr.(*dns.MX).Mx)
		if !done[t] && !z.cuts[t] {
			done[t] = true
			z.addrs(r, t)
		}
	}
}

func (z *mzone) addrs(r *dns.Msg, name string) {
	node := z.nodes[name]
	r.Extra = append(r.Extra, node[dns.TypeA]...)
	r.Extra = append(r.Extra, node[dns.TypeAAAA]...)
}

// TestMiekgReferenceAgrees checks that mzone, the miekg/dns server of
// BenchmarkRespondMiekg, answers the benchmark mix with the records,
// rcode and AA bit that Respond writes, so that the two benchmarks do the
// same job.
func TestMiekgReferenceAgrees(t *testing.T) {
	m := loadMix(t, 3000, 4000)
	s := New(Config{}, m.set(t), nil)
	z := newMzone(t, m.text, m.origin)
	r := m.runner()
	kinds := map[string]int{}
	for range 2 * len(r.qs) { // two passes: the second from the cache
		msg := r.next()
		var q, got dns.Msg
		if err := q.Unpack(msg); err != nil {
			t.Fatal(err)
		}
		if err := got.Unpack(s.Respond(nil, msg, benchClient)); err != nil {
			t.Fatalf("%v: unpack Respond's answer: %v", q.Question[0], err)
		}
		want := z.respond(&q)
		if got.Rcode != want.Rcode || got.Authoritative != want.Authoritative || got.Truncated {
			t.Fatalf("%v: rcode %s AA %v TC %v, miekg reference %s AA %v", q.Question[0],
				dns.RcodeToString[got.Rcode], got.Authoritative, got.Truncated, dns.RcodeToString[want.Rcode], want.Authoritative)
		}
		for _, sec := range []struct {
			name      string
			got, want []dns.RR
		}{{"answer", got.Answer, want.Answer}, {"authority", got.Ns, want.Ns}, {"additional", got.Extra, want.Extra}} {
			g, w := rrStrings(sec.got), rrStrings(sec.want)
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Fatalf("%v: %s section\n got %q\nwant %q (miekg reference)", q.Question[0], sec.name, g, w)
			}
		}
		switch {
		case got.Rcode == dns.RcodeNameError:
			kinds["nxdomain"]++
		case !got.Authoritative:
			kinds["referral"]++
		case len(got.Answer) == 0:
			kinds["nodata"]++
		case len(got.Answer) > 1 && got.Answer[0].Header().Rrtype == dns.TypeCNAME:
			kinds["cname"]++
		case len(rrStrings(got.Extra)) > 0: // OPT not counted
			kinds["additional"]++
		default:
			kinds["answer"]++
		}
	}
	for _, k := range []string{"nxdomain", "referral", "nodata", "cname", "additional", "answer"} {
		if kinds[k] == 0 {
			t.Errorf("no %s response in the mix: the comparison does not cover it", k)
		}
	}
	t.Logf("%d queries compared: %v", 2*len(r.qs), kinds)
}
