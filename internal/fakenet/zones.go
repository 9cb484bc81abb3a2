package fakenet

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Addresses of the fake Internet. Every one is in the benchmark ranges
// 198.18.0.0/15 and 2001:2::/48; the servers live on 198.19.0.0/16 and
// 2001:2:0:100::/56, clear of the 198.18.0.0/24 and 2001:2::/64 that tests
// give to a TAP, and of the 198.18.1.0/24 veth of the benchmarks.
var (
	root1V4 = netip.MustParseAddr("198.19.0.1")
	root1V6 = netip.MustParseAddr("2001:2:0:100::1")
	root2V4 = netip.MustParseAddr("198.19.0.2")
	root2V6 = netip.MustParseAddr("2001:2:0:100::2")
	tld1V4  = netip.MustParseAddr("198.19.1.1")
	tld1V6  = netip.MustParseAddr("2001:2:0:101::1")
	tld2V4  = netip.MustParseAddr("198.19.1.2")
	tld2V6  = netip.MustParseAddr("2001:2:0:101::2")
	leaf1V4 = netip.MustParseAddr("198.19.2.1")
	leaf1V6 = netip.MustParseAddr("2001:2:0:102::1")
	leaf2V4 = netip.MustParseAddr("198.19.2.2")
	leaf2V6 = netip.MustParseAddr("2001:2:0:102::2")
	// lame1 and lame2 are extra addresses of leaf1 and leaf2, listed as
	// servers of zones that those processes do not serve: they answer
	// REFUSED.
	lame1V4 = netip.MustParseAddr("198.19.2.11")
	lame1V6 = netip.MustParseAddr("2001:2:0:102::11")
	lame2V4 = netip.MustParseAddr("198.19.2.12")
	lame2V6 = netip.MustParseAddr("2001:2:0:102::12")
	// dead is routed into a TAP that nothing reads: queries to it vanish.
	deadV4 = netip.MustParseAddr("198.19.9.1")
	deadV6 = netip.MustParseAddr("2001:2:0:109::1")
)

// serverSpec is one authoritative server process.
type serverSpec struct {
	name  string
	impl  Impl
	addrs []netip.Addr
}

func serverSpecs() []serverSpec {
	return []serverSpec{
		{"root1", NSD, []netip.Addr{root1V4, root1V6}},
		{"root2", Knot, []netip.Addr{root2V4, root2V6}},
		{"tld1", NSD, []netip.Addr{tld1V4, tld1V6}},
		{"tld2", Knot, []netip.Addr{tld2V4, tld2V6}},
		{"leaf1", NSD, []netip.Addr{leaf1V4, leaf1V6, lame1V4, lame1V6}},
		{"leaf2", Knot, []netip.Addr{leaf2V4, leaf2V6, lame2V4, lame2V6}},
	}
}

// nsSpec is one NS name of a zone and the addresses it has.
type nsSpec struct {
	name  string
	addrs []netip.Addr
}

// zoneSpec is one zone of the fake Internet.
type zoneSpec struct {
	origin  string   // absolute, lower case
	servers []string // server processes that load it (none: a delegation only)
	ns      []nsSpec // apex NS RRset, also the delegation in the parent
	// glueless leaves the parent's delegation without address records even
	// for in-bailiwick NS names (there are none in the glueless case; the
	// flag documents the intent and is checked).
	glueless bool
	body     string // zone-file records ($ORIGIN is the zone's), after SOA and NS
}

// Data addresses (answers, never contacted) are in 198.18.16.0/20 and
// 2001:2:0:10::/64 for the fixed zones, 198.18.128.0/17 for bench zones.

// fixedZones is the fake Internet every test gets: a root, two TLDs and
// leaf zones with the cases a resolver has to get right.
func fixedZones() []zoneSpec {
	both := []string{"leaf1", "leaf2"}
	leafNS := func(origin string) []nsSpec {
		return []nsSpec{
			{"ns1." + origin, []netip.Addr{leaf1V4, leaf1V6}},
			{"ns2." + origin, []netip.Addr{leaf2V4, leaf2V6}},
		}
	}
	one := func(origin, server string) []nsSpec {
		a := []netip.Addr{leaf1V4, leaf1V6}
		if server == "leaf2" {
			a = []netip.Addr{leaf2V4, leaf2V6}
		}
		return []nsSpec{{"ns1." + origin, a}}
	}
	return []zoneSpec{
		{origin: ".", servers: []string{"root1", "root2"},
			ns: []nsSpec{
				{"a.root-servers.lab.", []netip.Addr{root1V4, root1V6}},
				{"b.root-servers.lab.", []netip.Addr{root2V4, root2V6}},
			}},
		{origin: "lab.", servers: []string{"tld1", "tld2"},
			ns: []nsSpec{
				{"ns1.nic.lab.", []netip.Addr{tld1V4, tld1V6}},
				{"ns2.nic.lab.", []netip.Addr{tld2V4, tld2V6}},
			},
			body: "nic\tTXT\t\"fake Internet TLD\"\n"},
		{origin: "test.", servers: []string{"tld1", "tld2"},
			ns: []nsSpec{
				{"ns1.nic.test.", []netip.Addr{tld1V4, tld1V6}},
				{"ns2.nic.test.", []netip.Addr{tld2V4, tld2V6}},
			}},

		// Ordinary zones on both kinds of server.
		{origin: "example.lab.", servers: both, ns: leafNS("example.lab."), body: `
@	MX	10 mail
www	A	198.18.16.1
www	AAAA	2001:2:0:10::1
mail	A	198.18.16.2
x.ent	A	198.18.16.3
alias	CNAME	www
`},
		{origin: "example.test.", servers: both, ns: leafNS("example.test."), body: `
www	A	198.18.16.11
www	AAAA	2001:2:0:10::11
`},

		// Lame: ns1 is a server that does not serve the zone (REFUSED).
		// It has one address: Knot Resolver 5.6 retries a REFUSED server
		// with TCP and without 0x20 before it tries another, and with two
		// lame addresses it sometimes gives up (SERVFAIL) first.
		{origin: "lame.lab.", servers: []string{"leaf2"}, ns: []nsSpec{
			{"ns1.lame.lab.", []netip.Addr{lame1V4}},
			{"ns2.lame.lab.", []netip.Addr{leaf2V4, leaf2V6}},
		}, body: "www\tA\t198.18.16.21\n"},
		// Every server lame: no answer is possible.
		{origin: "alllame.lab.", ns: []nsSpec{
			{"ns1.alllame.lab.", []netip.Addr{lame1V4, lame1V6}},
			{"ns2.alllame.lab.", []netip.Addr{lame2V4, lame2V6}},
		}},
		// Dead: ns1's address never answers.
		{origin: "dead.lab.", servers: []string{"leaf1"}, ns: []nsSpec{
			{"ns1.dead.lab.", []netip.Addr{deadV4, deadV6}},
			{"ns2.dead.lab.", []netip.Addr{leaf1V4, leaf1V6}},
		}, body: "www\tA\t198.18.16.31\n"},

		// Glueless: the NS name is in another TLD; its address must be
		// resolved on the side.
		{origin: "glueless.lab.", servers: []string{"leaf1"}, glueless: true,
			ns:   []nsSpec{{"ns.hosting.test.", []netip.Addr{leaf1V4, leaf1V6}}},
			body: "www\tA\t198.18.16.41\n"},
		{origin: "hosting.test.", servers: []string{"leaf2"}, ns: one("hosting.test.", "leaf2")},

		// A deep delegation chain, alternating NSD and Knot.
		{origin: "deep.lab.", servers: []string{"leaf1"}, ns: one("deep.lab.", "leaf1")},
		{origin: "a.deep.lab.", servers: []string{"leaf2"}, ns: one("a.deep.lab.", "leaf2")},
		{origin: "b.a.deep.lab.", servers: []string{"leaf1"}, ns: one("b.a.deep.lab.", "leaf1")},
		{origin: "c.b.a.deep.lab.", servers: []string{"leaf2"}, ns: one("c.b.a.deep.lab.", "leaf2")},
		{origin: "d.c.b.a.deep.lab.", servers: []string{"leaf1"}, ns: one("d.c.b.a.deep.lab.", "leaf1"),
			body: "www\tA\t198.18.16.51\n"},

		// DNAME into another TLD (and another server kind). The DNAME at
		// the apex occludes every name below it, so the NS name is in
		// another zone (a sibling's, whose address the lab. zone has).
		{origin: "olddomain.lab.", servers: []string{"leaf1"},
			ns:   []nsSpec{{"ns1.example.lab.", []netip.Addr{leaf1V4, leaf1V6}}},
			body: "@\tDNAME\tnewdomain.test.\n"},
		{origin: "newdomain.test.", servers: []string{"leaf2"}, ns: one("newdomain.test.", "leaf2"),
			body: "www\tA\t198.18.16.61\n"},

		// A CNAME chain through three zones on different servers, and one
		// that ends in NXDOMAIN.
		// loop is a CNAME loop through both zones (no expected answer:
		// resolvers differ; resdiff compares them).
		{origin: "chain.lab.", servers: []string{"leaf2"}, ns: one("chain.lab.", "leaf2"), body: `
www	CNAME	step.chain.test.
dangling	CNAME	gone.example.test.
loop	CNAME	loop.chain.test.
`},
		{origin: "chain.test.", servers: []string{"leaf1"}, ns: one("chain.test.", "leaf1"),
			body: "step\tCNAME\twww.example.lab.\nloop\tCNAME\tloop.chain.lab.\n"},

		// Answers too large for 1232 octets over UDP: TC=1, then TCP.
		{origin: "big.lab.", servers: []string{"leaf1"}, ns: one("big.lab.", "leaf1"), body: bigA()},
		{origin: "big.test.", servers: []string{"leaf2"}, ns: one("big.test.", "leaf2"), body: bigTXT()},

		// Wildcards.
		{origin: "wild.lab.", servers: both, ns: leafNS("wild.lab."), body: `
*	A	198.18.16.71
*	TXT	"wildcard"
host	A	198.18.16.72
`},

		// A server reachable over IPv6 only.
		{origin: "v6only.lab.", servers: []string{"leaf2"},
			ns:   []nsSpec{{"ns1.v6only.lab.", []netip.Addr{leaf2V6}}},
			body: "www\tA\t198.18.16.81\n"},
	}
}

// bigCount records make bigA's and bigTXT's answers larger than 1232
// octets (16 octets per compressed A record).
const bigCount = 100

func bigA() string {
	var b strings.Builder
	for i := range bigCount {
		fmt.Fprintf(&b, "many\tA\t198.18.17.%d\n", i+1)
	}
	return b.String()
}

// bigTXT is 8 TXT records of 200 octets each.
func bigTXT() string {
	var b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&b, "many\tTXT\t\"%d%s\"\n", i, strings.Repeat("x", 199))
	}
	return b.String()
}

// bigAnswers returns the expected answer records of the two big names.
func bigAnswers(txt bool) []string {
	var out []string
	if txt {
		for i := range 8 {
			out = append(out, fmt.Sprintf("many.big.test. TXT \"%d%s\"", i, strings.Repeat("x", 199)))
		}
		return out
	}
	for i := range bigCount {
		out = append(out, fmt.Sprintf("many.big.lab. A 198.18.17.%d", i+1))
	}
	return out
}

// fixedExpect is the expected-answer table for fixedZones, written by
// hand (not derived from the zones), so that a mistake in either shows.
func fixedExpect() []Expect {
	const (
		noerror  = 0
		servfail = 2
		nxdomain = 3
	)
	return []Expect{
		{"www.example.lab.", dns.TypeA, noerror, []string{"www.example.lab. A 198.18.16.1"}, "plain A, both server kinds"},
		{"www.example.lab.", dns.TypeAAAA, noerror, []string{"www.example.lab. AAAA 2001:2:0:10::1"}, "plain AAAA"},
		{"example.lab.", dns.TypeMX, noerror, []string{"example.lab. MX 10 mail.example.lab."}, "MX at the apex"},
		{"alias.example.lab.", dns.TypeA, noerror, []string{
			"alias.example.lab. CNAME www.example.lab.", "www.example.lab. A 198.18.16.1"}, "CNAME inside a zone"},
		{"www.example.test.", dns.TypeA, noerror, []string{"www.example.test. A 198.18.16.11"}, "second TLD (test., which Unbound serves itself unless told nodefault)"},
		{"nx.example.lab.", dns.TypeA, nxdomain, nil, "NXDOMAIN in a leaf zone"},
		{"www.example.lab.", dns.TypeTXT, noerror, nil, "NODATA"},
		{"ent.example.lab.", dns.TypeA, noerror, nil, "NODATA at an empty non-terminal"},
		{"www.nosuchtld.", dns.TypeA, nxdomain, nil, "NXDOMAIN from the root"},
		{"nosuch.lab.", dns.TypeA, nxdomain, nil, "NXDOMAIN from a TLD"},
		{"a.root-servers.lab.", dns.TypeA, noerror, []string{"a.root-servers.lab. A 198.19.0.1"}, "root server name, authoritative in lab."},
		{"www.lame.lab.", dns.TypeA, noerror, []string{"www.lame.lab. A 198.18.16.21"}, "one NS lame (REFUSED), the other good"},
		{"www.alllame.lab.", dns.TypeA, servfail, nil, "every NS lame"},
		{"www.dead.lab.", dns.TypeA, noerror, []string{"www.dead.lab. A 198.18.16.31"}, "one NS dead (never answers), the other good"},
		{"www.glueless.lab.", dns.TypeA, noerror, []string{"www.glueless.lab. A 198.18.16.41"}, "glueless delegation (NS name in another TLD)"},
		{"www.d.c.b.a.deep.lab.", dns.TypeA, noerror, []string{"www.d.c.b.a.deep.lab. A 198.18.16.51"}, "delegation chain five zones deep"},
		{"www.olddomain.lab.", dns.TypeA, noerror, []string{
			"olddomain.lab. DNAME newdomain.test.",
			"www.olddomain.lab. CNAME www.newdomain.test.",
			"www.newdomain.test. A 198.18.16.61"}, "DNAME into another TLD"},
		{"nx.olddomain.lab.", dns.TypeA, nxdomain, []string{
			"olddomain.lab. DNAME newdomain.test.",
			"nx.olddomain.lab. CNAME nx.newdomain.test."}, "DNAME to a name that does not exist"},
		{"www.chain.lab.", dns.TypeA, noerror, []string{
			"www.chain.lab. CNAME step.chain.test.",
			"step.chain.test. CNAME www.example.lab.",
			"www.example.lab. A 198.18.16.1"}, "CNAME chain across three zones"},
		{"dangling.chain.lab.", dns.TypeA, nxdomain, []string{
			"dangling.chain.lab. CNAME gone.example.test."}, "CNAME to a name that does not exist"},
		{"many.big.lab.", dns.TypeA, noerror, bigAnswers(false), "answer too large for UDP (TC=1 from NSD, retry over TCP)"},
		{"many.big.test.", dns.TypeTXT, noerror, bigAnswers(true), "answer too large for UDP (TC=1 from Knot, retry over TCP)"},
		{"anything.wild.lab.", dns.TypeA, noerror, []string{"anything.wild.lab. A 198.18.16.71"}, "wildcard"},
		{"a.b.wild.lab.", dns.TypeTXT, noerror, []string{"a.b.wild.lab. TXT \"wildcard\""}, "wildcard two labels down"},
		{"anything.wild.lab.", dns.TypeAAAA, noerror, nil, "wildcard NODATA"},
		{"host.wild.lab.", dns.TypeA, noerror, []string{"host.wild.lab. A 198.18.16.72"}, "explicit name next to a wildcard"},
		{"host.wild.lab.", dns.TypeTXT, noerror, nil, "explicit name blocks the wildcard (NODATA)"},
		{"www.v6only.lab.", dns.TypeA, noerror, []string{"www.v6only.lab. A 198.18.16.81"}, "zone whose only server has an IPv6 address"},
	}
}
