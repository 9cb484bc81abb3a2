package resdiff

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/fakenet"
)

// transport is how a case reaches the resolvers.
type transport uint8

const (
	udp4 transport = iota
	tcp4
	udp6
	tcp6
)

func (tr transport) String() string { return [...]string{"udp", "tcp", "udp6", "tcp6"}[tr] }

func (tr transport) tcp() bool { return tr == tcp4 || tr == tcp6 }

// qcase is one query sent to the three resolvers.
type qcase struct {
	// id names the case in reports and exception patterns:
	// "qname/TYPE/variant/transport".
	id     string
	qname  string // as sent: letter case kept
	qtype  uint16
	qclass uint16
	rd, cd bool
	do     bool
	// edns is the EDNS UDP payload size, -1 for a query without EDNS.
	edns        int
	ednsVersion uint8
	tr          transport
	// expect is the fake Internet's expected answer for the case, when it
	// has one: every resolver must give it.
	expect *fakenet.Expect
}

// query encodes the case with the given ID.
func (c *qcase) query(id uint16) []byte {
	m := new(dns.Msg)
	m.Id = id
	m.Question = []dns.Question{{Name: c.qname, Qtype: c.qtype, Qclass: c.qclass}}
	m.RecursionDesired = c.rd
	m.CheckingDisabled = c.cd
	if c.edns >= 0 {
		m.SetEdns0(uint16(c.edns), c.do)
		m.IsEdns0().SetVersion(c.ednsVersion)
	}
	b, err := m.Pack()
	if err != nil {
		panic(fmt.Sprintf("case %s: %v", c.id, err))
	}
	return b
}

// opt changes a case from its default (RD=1, EDNS 1232, UDP over IPv4).
type opt func(*qcase)

func noRD(c *qcase)   { c.rd = false }
func withCD(c *qcase) { c.cd = true }
func withDO(c *qcase) { c.do = true }
func noEDNS(c *qcase) { c.edns = -1 }
func over(tr transport) opt {
	return func(c *qcase) { c.tr = tr }
}
func ednsSize(n int) opt { return func(c *qcase) { c.edns = n } }
func ednsVersion(v uint8) opt {
	return func(c *qcase) { c.ednsVersion = v }
}
func class(cl uint16) opt { return func(c *qcase) { c.qclass = cl } }

// variant names the non-default options of a case, for its id.
func (c *qcase) variant() string {
	var v []string
	if !c.rd {
		v = append(v, "rd0")
	}
	if c.cd {
		v = append(v, "cd")
	}
	if c.do {
		v = append(v, "do")
	}
	switch {
	case c.edns < 0:
		v = append(v, "noedns")
	case c.edns != 1232:
		v = append(v, fmt.Sprintf("edns%d", c.edns))
	}
	if c.ednsVersion != 0 {
		v = append(v, fmt.Sprintf("ednsv%d", c.ednsVersion))
	}
	if c.qclass != dns.ClassINET {
		v = append(v, strings.ToLower(dns.ClassToString[c.qclass]))
	}
	if len(v) == 0 {
		return "plain"
	}
	return strings.Join(v, "+")
}

func newCase(name string, qtype uint16, opts ...opt) qcase {
	c := qcase{qname: name, qtype: qtype, qclass: dns.ClassINET, rd: true, edns: 1232}
	for _, o := range opts {
		o(&c)
	}
	c.id = fmt.Sprintf("%s/%s/%s/%s", name, typeName(qtype), c.variant(), c.tr)
	return c
}

// Local data every resolver is given (tapdns by flags, Unbound and kresd
// in their configurations; see localConfig).
const (
	overrideName = "override.example.lab." // --override, A and AAAA
	overrideA    = "198.18.7.7"
	overrideAAAA = "2001:2::7"
	// shadowName exists in the fake Internet (198.18.16.2); the
	// override must win.
	shadowName = "mail.example.lab."
	shadowA    = "198.18.7.9"
	// hostedName comes from a hosts file, with its PTR.
	hostedName = "hosted.example.lab."
	hostedA    = "198.18.7.8"
	hostedPTR  = "8.7.18.198.in-addr.arpa."
	// blockedName is on the block list; the fake Internet's wildcard
	// would answer it.
	blockedName = "blocked.wild.lab."
)

// allCases returns the cases in the order they are sent. Order matters:
// the resolvers' caches fill as the cases run, and some cases (RD=0, the
// NXDOMAIN cut) are about what the cache holds by then.
func allCases(expect []fakenet.Expect) []qcase {
	var cs []qcase
	add := func(name string, qtype uint16, opts ...opt) { cs = append(cs, newCase(name, qtype, opts...)) }

	// Every row of the fake Internet's expected-answer table.
	for i := range expect {
		c := newCase(expect[i].Name, expect[i].Type)
		c.expect = &expect[i]
		cs = append(cs, c)
	}

	// Every type the fake zones hold, and types they do not (NODATA).
	for _, q := range []struct {
		name string
		t    uint16
	}{
		{".", dns.TypeNS}, {".", dns.TypeSOA}, {"lab.", dns.TypeNS}, {"lab.", dns.TypeSOA},
		{"test.", dns.TypeSOA}, {"nic.lab.", dns.TypeTXT}, {"ns1.nic.lab.", dns.TypeAAAA},
		{"example.lab.", dns.TypeSOA}, {"example.lab.", dns.TypeNS}, {"ns1.example.lab.", dns.TypeA},
		{"ns2.example.lab.", dns.TypeAAAA}, {"x.ent.example.lab.", dns.TypeA},
		{"alias.example.lab.", dns.TypeCNAME}, {"alias.example.lab.", dns.TypeAAAA},
		{"alias.example.lab.", dns.TypeTXT},
		{"olddomain.lab.", dns.TypeDNAME}, {"www.olddomain.lab.", dns.TypeCNAME},
		{"www.olddomain.lab.", dns.TypeAAAA}, {"www.newdomain.test.", dns.TypeA},
		{"www.chain.lab.", dns.TypeCNAME}, {"www.chain.lab.", dns.TypeAAAA}, {"www.chain.lab.", dns.TypeTXT},
		{"step.chain.test.", dns.TypeA}, {"loop.chain.lab.", dns.TypeA}, {"loop.chain.lab.", dns.TypeCNAME},
		{"hosting.test.", dns.TypeNS}, {"ns1.hosting.test.", dns.TypeA},
		{"ns1.v6only.lab.", dns.TypeAAAA}, {"www.v6only.lab.", dns.TypeAAAA},
		{"b.root-servers.lab.", dns.TypeAAAA},
		{"www.example.lab.", dns.TypeSRV}, {"www.example.lab.", dns.TypeCAA},
		{"www.example.lab.", dns.TypeHINFO}, {"www.example.lab.", 65280},
		{"example.lab.", dns.TypeDS}, {"www.example.lab.", dns.TypeDS}, {"example.lab.", dns.TypeDNSKEY},
		{"www.example.lab.", dns.TypePTR},
	} {
		add(q.name, q.t)
	}

	// More negative answers, some below a name already known not to
	// exist (RFC 8020 lets tapdns answer them from the cache).
	for _, n := range []string{"a.nx.example.lab.", "deep.www.nosuchtld.", "nx.d.c.b.a.deep.lab.",
		"nx.lame.lab.", "nx.dead.lab.", "nx.glueless.lab.", "nx.v6only.lab.", "nx.newdomain.test.",
		"x.nx.olddomain.lab."} {
		add(n, dns.TypeA)
	}
	add("nx.example.lab.", dns.TypeAAAA)
	add("www.alllame.lab.", dns.TypeAAAA)

	// ANY, at names served by one implementation only (NSD answers ANY
	// with every RRset, Knot with one: RFC 8482).
	for _, n := range []string{"www.glueless.lab.", "www.dead.lab.", "www.newdomain.test.", "nic.lab."} {
		add(n, dns.TypeANY)
	}

	// RD=0: cached answers, a cached negative answer, and a name never
	// asked.
	add("www.example.lab.", dns.TypeA, noRD)
	add("www.chain.lab.", dns.TypeA, noRD)
	add("nx.example.lab.", dns.TypeA, noRD)
	add("never.example.lab.", dns.TypeA, noRD)

	// 0x20: the question is echoed in the case it was asked.
	add("WwW.ExAmPlE.LaB.", dns.TypeA)
	add("AlIaS.eXaMpLe.LaB.", dns.TypeA)
	add("NX.Example.LAB.", dns.TypeA)
	add("WWW.CHAIN.LAB.", dns.TypeA)
	add("wWw.OldDomain.lab.", dns.TypeA)

	// EDNS: sizes, a small answer and a large one, and version 1.
	for _, sz := range []int{-1, 512, 4096, 65535} {
		add("www.example.lab.", dns.TypeA, ednsSize(sz))
		add("many.big.lab.", dns.TypeA, ednsSize(sz))
	}
	add("many.big.test.", dns.TypeTXT, noEDNS)
	add("www.example.lab.", dns.TypeA, ednsVersion(1))

	// DO and CD: nothing is validated; the flags are echoed.
	add("www.example.lab.", dns.TypeA, withDO)
	add("nx.example.lab.", dns.TypeA, withDO)
	add("www.example.lab.", dns.TypeA, withCD)
	add("www.chain.lab.", dns.TypeA, withDO, withCD)

	// Over TCP, and over IPv6.
	add("www.example.lab.", dns.TypeA, over(tcp4))
	add("www.chain.lab.", dns.TypeA, over(tcp4))
	add("nx.example.lab.", dns.TypeA, over(tcp4))
	add("many.big.lab.", dns.TypeA, over(tcp4))
	add("many.big.test.", dns.TypeTXT, over(tcp4))
	add("www.example.lab.", dns.TypeAAAA, over(udp6))
	add("www.v6only.lab.", dns.TypeA, over(udp6))
	add("many.big.lab.", dns.TypeA, over(tcp6))

	// Classes and types a resolver does not resolve.
	add("www.example.lab.", dns.TypeA, class(dns.ClassCHAOS))
	add("www.example.lab.", dns.TypeMAILB)
	add("example.lab.", dns.TypeAXFR, over(tcp4))
	add("example.lab.", dns.TypeIXFR)

	// Local data: overrides, a hosts entry and its PTR, a block list, and
	// names below them (not local: resolved as usual, or blocked).
	add(overrideName, dns.TypeA)
	add(overrideName, dns.TypeAAAA)
	add(overrideName, dns.TypeMX)
	add("sub."+overrideName, dns.TypeA)
	add(shadowName, dns.TypeA)
	add(hostedName, dns.TypeA)
	add(hostedPTR, dns.TypePTR)
	add("9.7.18.198.in-addr.arpa.", dns.TypePTR) // the override's address: no PTR
	add(blockedName, dns.TypeA)
	add(blockedName, dns.TypeTXT)
	add("x."+blockedName, dns.TypeA)
	add("notblocked.wild.lab.", dns.TypeA)
	add(strings.ToUpper(overrideName), dns.TypeA)

	// Every case asking a question of the expected-answer table with
	// recursion (in lower case: rdata may take the case of the question,
	// see exception 0x20-compression) must get its answer, unless
	// truncated.
	for i := range cs {
		c := &cs[i]
		for j := range expect {
			e := &expect[j]
			if c.expect == nil && c.rd && c.qclass == dns.ClassINET && c.ednsVersion == 0 && c.qtype == e.Type && c.qname == e.Name {
				c.expect = e
			}
		}
	}
	return cs
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
