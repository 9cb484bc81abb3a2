package resdiff

import "strings"

// exception explains a case where the answers legally differ: Unbound and
// kresd differ (follow names the one tapdns gives), or both agree and
// tapdns deliberately answers otherwise (set says how).
type exception struct {
	id string
	// cases are patterns over case ids ("*" matches any run of
	// characters).
	cases []string
	// follow is "unbound" or "kresd": whose answer tapdns gives where
	// the two differ.
	follow string
	// set replaces fields of the expected answer (field name -> value as
	// view.String prints it).
	set map[string]string
	// rfc is the governing reference; why explains the choice.
	rfc, why string
}

// exceptions is the one table of accepted differences. Every entry must
// explain at least one case where the answers really differ, or the test
// fails.
var exceptions = []exception{
	{
		id:    "servfail-ede",
		cases: []string{"www.alllame.lab./*"},
		set:   map[string]string{fEDE: "22"},
		rfc:   "RFC 8914 §4.23 (EDE 22, No Reachable Authority)",
		why: "Every server of alllame.lab. answers REFUSED. All three answer SERVFAIL; tapdns adds " +
			"Extended DNS Error 22 saying why, as the issue asks (resolver/BEHAVIOUR.md lists the EDE of " +
			"each cause). Unbound 1.17 sends EDEs only with `ede: yes` (off by default); kresd 5.6 " +
			"sends none for this failure.",
	},
	{
		id:     "cname-loop",
		cases:  []string{"loop.chain.lab./A/*"},
		follow: "unbound",
		set:    map[string]string{fEDE: "0"},
		rfc:    "RFC 1034 §3.6.2 (CNAME loops are errors to detect), RFC 8914 §4.1 (EDE 0, Other)",
		why: "loop.chain.lab. and loop.chain.test. point at each other. All answer SERVFAIL; kresd " +
			"includes the two CNAMEs, Unbound nothing. tapdns follows Unbound (a failure carries no " +
			"records, resolver/BEHAVIOUR.md) and adds EDE 0 with the cause (loop) in its metrics.",
	},
	{
		id:     "rd0-refused",
		cases:  []string{"*/rd0*"},
		follow: "kresd",
		rfc:    "RFC 8914 §4.21 (EDE 20, Not Authoritative: a query with RD clear to a server not authoritative for it)",
		why: "Both refuse a query without RD whether the answer is cached or not (Unbound's " +
			"`access-control: allow` refuses RD=0 queries to its cache: no cache snooping). kresd adds " +
			"EDE 20, which RFC 8914 defines for exactly this case; tapdns follows kresd.",
	},
	{
		id:     "ns-additional",
		cases:  []string{"./NS/*", "lab./NS/*", "example.lab./NS/*", "hosting.test./NS/*"},
		follow: "kresd",
		rfc:    "RFC 1034 §4.3.2 step 6 (additional section processing is optional for a resolver's answer)",
		why: "For an NS query Unbound adds the addresses of the name servers to the additional section " +
			"(even with minimal-responses); kresd sends none. tapdns sends minimal responses, no " +
			"additional section at all (resolver/BEHAVIOUR.md): a client that wants the addresses asks " +
			"for them, and gets them with the trust of an answer rather than of glue.",
	},
	{
		id:     "any-kresd-servfail",
		cases:  []string{"*/ANY/*"},
		follow: "unbound",
		rfc:    "RFC 8482 §4 (ANY may be answered with a subset, not refused with SERVFAIL)",
		why: "kresd 5.6 answers SERVFAIL to every qtype ANY here; Unbound asks the authority and " +
			"passes on what it answers. tapdns follows Unbound (resolver/BEHAVIOUR.md, ANY row).",
	},
	{
		id:     "0x20-compression",
		cases:  []string{"WWW.CHAIN.LAB./A/*", "AlIaS.eXaMpLe.LaB./A/*", "wWw.OldDomain.lab./A/*"},
		follow: "unbound",
		rfc:    "RFC 1035 §4.1.4 (compression), RFC 4343 §3 (names compare without regard to case)",
		why: "Unbound and tapdns compress names in the answer against the question as the client " +
			"wrote it, so a name in rdata that ends in the question's suffix shows the client's case " +
			"(step.chain.test. CNAME www.example.LAB.); kresd does not compress rdata against the " +
			"question. The names are equal (case-insensitive); the answer is shorter.",
	},
	{
		id:     "udp-size-limit",
		cases:  []string{"many.big.lab./A/edns4096/udp", "many.big.lab./A/edns65535/udp"},
		follow: "kresd",
		rfc:    "RFC 6891 §6.2.5 (a responder may use a smaller size than the requestor's), DNS Flag Day 2020 (1232)",
		why: "A client offers 4096 or 65535 octets for a 1.6 KB answer. Unbound 1.17 sends it (its " +
			"max-udp-size default is 4096: an IP-fragmented datagram); kresd and tapdns cap UDP answers " +
			"at their own size (net.bufsize; --udp-size, 1232 by default) and set TC so the client " +
			"retries over TCP.",
	},
	{
		id:     "edns-version",
		cases:  []string{"*/ednsv1/*"},
		follow: "unbound",
		rfc:    "RFC 6891 §6.1.3 (an EDNS version the responder does not implement gets BADVERS)",
		why: "Unbound answers BADVERS to EDNS version 1, as the RFC says; kresd 5.6 answers the " +
			"question. tapdns follows Unbound (its front answers BADVERS before recursion).",
	},
	{
		id:     "class-chaos",
		cases:  []string{"*/ch/*"},
		follow: "unbound",
		set:    map[string]string{fEDE: "21"},
		rfc:    "RFC 1035 §4.1.1 (REFUSED by policy), RFC 8914 §4.22 (EDE 21, Not Supported)",
		why: "A CHAOS-class query for an Internet name: Unbound refuses it, kresd answers SERVFAIL. " +
			"tapdns refuses it like Unbound and adds EDE 21 saying why (resolver/BEHAVIOUR.md).",
	},
	{
		id:     "meta-qtype",
		cases:  []string{"*/MAILB/*"},
		follow: "unbound",
		set:    map[string]string{fRcode: "NOTIMP", fFlags: "qr rd ra"},
		rfc:    "RFC 6895 §3.1 (QTYPEs 128-255 are meta-types; MAILA and MAILB are obsolete), RFC 1035 §4.1.1 (NOTIMP)",
		why: "For QTYPE MAILB Unbound answers FORMERR (clearing RA); kresd asks the authority, which " +
			"has nothing. tapdns answers NOTIMP, as BIND does and as its authoritative side does: the " +
			"query is well-formed, tapdns does not implement the meta-type.",
	},
	{
		id:     "xfr-notauth",
		cases:  []string{"example.lab./AXFR/*", "example.lab./IXFR/*"},
		follow: "unbound",
		set:    map[string]string{fRcode: "NOTAUTH", fFlags: "qr rd ra"},
		rfc:    "RFC 5936 §2.2.1 (a server refuses a transfer it cannot give), RFC 2845 (NOTAUTH: not authoritative for the zone)",
		why: "Zone transfers are never recursive. Unbound answers REFUSED, kresd SERVFAIL; tapdns's " +
			"front answers a transfer request for a zone it does not serve with NOTAUTH, whether or not " +
			"it also resolves (as NSD and Knot do for non-apex names, difftest's xfr-refused).",
	},
	{
		id: "local-data-aa",
		cases: []string{"override.example.lab./*", "OVERRIDE.EXAMPLE.LAB./*", "mail.example.lab./A/*",
			"hosted.example.lab./*", "8.7.18.198.in-addr.arpa./*"},
		follow: "unbound",
		rfc:    "RFC 1035 §4.1.1 (AA: the responding server is an authority for the name)",
		why: "Answers from local data: Unbound (local-data) sets AA, kresd (hints module) does not. " +
			"tapdns sets AA like Unbound: the answer comes from the operator's configuration, not from " +
			"a cache (README's precedence table).",
	},
	{
		id:     "override-no-ptr",
		cases:  []string{"9.7.18.198.in-addr.arpa./PTR/*"},
		follow: "unbound",
		rfc:    "-",
		why: "198.18.7.9 is an --override address. kresd's hints module makes a PTR for every hint; " +
			"Unbound's local-data does not, and neither does tapdns: PTRs come from --hosts files (the " +
			"issue: hosts give A/AAAA and the matching PTR; overrides A or AAAA). The reverse name is " +
			"resolved, and the fake root says NXDOMAIN.",
	},
	{
		id:     "blocked-nxdomain",
		cases:  []string{"blocked.wild.lab./*", "x.blocked.wild.lab./*"},
		follow: "unbound",
		set:    map[string]string{fEDE: "15"},
		rfc:    "RFC 8914 §4.16 (EDE 15, Blocked)",
		why: "A blocked name and the names below it: all three answer NXDOMAIN with AA. Unbound " +
			"(always_nxdomain) sends no SOA and no EDE (`ede: no` by default); kresd (policy DENY) " +
			"synthesises an SOA and sends EDE 15. tapdns sends no SOA, like Unbound (the NXDOMAIN is " +
			"local policy, nothing to cache for long), and EDE 15, as the issue asks.",
	},
}

// findException returns the first exception with a pattern matching id.
func findException(id string) *exception {
	for i := range exceptions {
		for _, p := range exceptions[i].cases {
			if globMatch(p, id) {
				return &exceptions[i]
			}
		}
	}
	return nil
}

// globMatch reports whether name matches pattern, where "*" matches any
// run of characters ("/" included) and everything else matches itself.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	last := parts[len(parts)-1]
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}
