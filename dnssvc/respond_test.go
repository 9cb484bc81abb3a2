package dnssvc

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const soaNeg = "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112901 7200 3600 1209600 300"

type wantOPT struct {
	size    uint16
	do      bool
	version uint8
	nsid    string // hex, as miekg prints it; "" for none
	ede     string // Extended DNS Error info-code; "" for none
}

type respCase struct {
	name  string
	cfg   Config
	qname string
	qtype uint16
	opts  []qopt
	tcp   bool

	rcode      int
	aa, tc     bool
	an, ns, ar []string
	opt        *wantOPT
}

func respCases() []respCase {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("b", 48) + ".example.com."
	bigTXT := []string{}
	for i := 0; i < 12; i++ {
		bigTXT = append(bigTXT, "big.example.com. 3600 IN TXT \""+strings.Repeat("x"+string(rune('0'+i/10))+string(rune('0'+i%10)), 15)+"\"")
	}
	var manyA []string
	for i := 0; i < 30; i++ {
		manyA = append(manyA, "many.example.com. 3600 IN A 192.0.2."+strconv.Itoa(100+i))
	}
	anyApex := []string{
		"example.com. 3600 IN A 192.0.2.1",
		"example.com. 3600 IN NS ns1.example.com.",
		"example.com. 3600 IN NS ns2.example.com.",
		"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112901 7200 3600 1209600 300",
		"example.com. 3600 IN MX 10 mail.example.com.",
		"example.com. 3600 IN MX 20 mail2.example.org.",
	}
	subNS := []string{
		"sub.example.com. 3600 IN NS ns.sub.example.com.",
		"sub.example.com. 3600 IN NS ns1.example.com.",
		"sub.example.com. 3600 IN NS ns.elsewhere.net.",
	}
	return []respCase{
		{name: "A exact", qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"host.example.com. 600 IN A 192.0.2.80"}},
		{name: "A mixed-case zone name", qname: "mixed.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"mixed.example.com. 3600 IN A 192.0.2.81"}},
		{name: "AAAA exact", qname: "host.example.com.", qtype: dns.TypeAAAA, aa: true,
			an: []string{"host.example.com. 3600 IN AAAA 2001:db8::80"}},
		{name: "MX apex with additional", qname: "example.com.", qtype: dns.TypeMX, aa: true,
			an: []string{"example.com. 3600 IN MX 10 mail.example.com.", "example.com. 3600 IN MX 20 mail2.example.org."},
			ar: []string{"mail.example.com. 3600 IN A 192.0.2.25", "mail.example.com. 3600 IN AAAA 2001:db8::25"}},
		{name: "NS apex with glue", qname: "example.com.", qtype: dns.TypeNS, aa: true,
			an: []string{"example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com."},
			ar: []string{"ns1.example.com. 3600 IN A 192.0.2.53", "ns1.example.com. 3600 IN AAAA 2001:db8::53", "ns2.example.com. 3600 IN A 192.0.2.54"}},
		{name: "SOA apex", qname: "example.com.", qtype: dns.TypeSOA, aa: true,
			an: []string{"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026112901 7200 3600 1209600 300"}},
		{name: "SRV with additional", qname: "_sip._udp.example.com.", qtype: dns.TypeSRV, aa: true,
			an: []string{"_sip._udp.example.com. 3600 IN SRV 10 60 5060 sip.example.com."},
			ar: []string{"sip.example.com. 3600 IN A 192.0.2.60"}},
		{name: "NAPTR", qname: "naptr.example.com.", qtype: dns.TypeNAPTR, aa: true,
			an: []string{`naptr.example.com. 3600 IN NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" .`}},
		{name: "TXT", qname: "txt.example.com.", qtype: dns.TypeTXT, aa: true,
			an: []string{`txt.example.com. 3600 IN TXT "hello" "world"`}},
		{name: "CNAME chain to A", qname: "www.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"www.example.com. 300 IN CNAME alias.example.com.", "alias.example.com. 3600 IN CNAME host.example.com.", "host.example.com. 600 IN A 192.0.2.80"}},
		{name: "CNAME chain to NODATA", qname: "www.example.com.", qtype: dns.TypeMX, aa: true,
			an: []string{"www.example.com. 300 IN CNAME alias.example.com.", "alias.example.com. 3600 IN CNAME host.example.com."},
			ns: []string{soaNeg}},
		{name: "CNAME to NXDOMAIN", qname: "dangling.example.com.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			an: []string{"dangling.example.com. 3600 IN CNAME nothere.example.com."},
			ns: []string{soaNeg}},
		{name: "CNAME to empty non-terminal", qname: "toempty.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"toempty.example.com. 3600 IN CNAME b.example.com."},
			ns: []string{soaNeg}},
		{name: "CNAME loop", qname: "loop1.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"loop1.example.com. 3600 IN CNAME loop2.example.com.", "loop2.example.com. 3600 IN CNAME loop1.example.com."}},
		{name: "CNAME loop through a wildcard", qname: "a.wcloop.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"a.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com.", "b.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com."}},
		{name: "CNAME loop through a wildcard, from the loop's name", qname: "b.wcloop.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"b.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com.", "b.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com."}},
		{name: "CNAME into a wildcard loop", qname: "cnamewcloop.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"cnamewcloop.example.com. 3600 IN CNAME a.wcloop.example.com.", "a.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com.",
				"b.wcloop.example.com. 3600 IN CNAME b.wcloop.example.com."}},
		{name: "CNAME below a cut to a served child: referral", qname: "tochild.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"tochild.example.com. 3600 IN CNAME www.child.example.com."},
			ns: []string{"child.example.com. 3600 IN NS ns1.child.example.com."},
			ar: []string{"ns1.child.example.com. 3600 IN A 192.0.2.210"}},
		{name: "CNAME below a cut, across zones", cfg: Config{CNAMEAcrossZones: true}, qname: "tochild.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"tochild.example.com. 3600 IN CNAME www.child.example.com.", "www.child.example.com. 3600 IN A 192.0.2.211"}},
		{name: "CNAME chain cut at 5 records", qname: "c1.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"c1.example.com. 3600 IN CNAME c2.example.com.", "c2.example.com. 3600 IN CNAME c3.example.com.",
				"c3.example.com. 3600 IN CNAME c4.example.com.", "c4.example.com. 3600 IN CNAME c5.example.com.",
				"c5.example.com. 3600 IN CNAME c6.example.com."}},
		{name: "CNAME chain of 4 CNAMEs complete", qname: "c3.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"c3.example.com. 3600 IN CNAME c4.example.com.", "c4.example.com. 3600 IN CNAME c5.example.com.",
				"c5.example.com. 3600 IN CNAME c6.example.com.", "c6.example.com. 3600 IN CNAME c7.example.com.",
				"c7.example.com. 3600 IN A 192.0.2.7"}},
		{name: "DNAME", qname: "x.dn2.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"dn2.example.com. 3600 IN DNAME tgt.example.com.", "x.dn2.example.com. 3600 IN CNAME x.tgt.example.com.",
				"x.tgt.example.com. 3600 IN A 192.0.2.8"}},
		{name: "DNAME to NXDOMAIN", qname: "y.dn2.example.com.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			an: []string{"dn2.example.com. 3600 IN DNAME tgt.example.com.", "y.dn2.example.com. 3600 IN CNAME y.tgt.example.com."},
			ns: []string{soaNeg}},
		{name: "DNAME, qtype CNAME", qname: "x.dn2.example.com.", qtype: dns.TypeCNAME, aa: true,
			an: []string{"dn2.example.com. 3600 IN DNAME tgt.example.com.", "x.dn2.example.com. 3600 IN CNAME x.tgt.example.com."}},
		{name: "DNAME owner itself", qname: "dn2.example.com.", qtype: dns.TypeA, aa: true, ns: []string{soaNeg}},
		{name: "DNAME below itself: written once, CNAMEs to the limit", qname: "a.dloop.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"dloop.example.com. 3600 IN DNAME x.dloop.example.com.",
				"a.dloop.example.com. 3600 IN CNAME a.x.dloop.example.com.", "a.x.dloop.example.com. 3600 IN CNAME a.x.x.dloop.example.com.",
				"a.x.x.dloop.example.com. 3600 IN CNAME a.x.x.x.dloop.example.com.", "a.x.x.x.dloop.example.com. 3600 IN CNAME a.x.x.x.x.dloop.example.com.",
				"a.x.x.x.x.dloop.example.com. 3600 IN CNAME a.x.x.x.x.x.dloop.example.com."}},
		{name: "DNAME into another zone", qname: "www.dn.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"dn.example.com. 3600 IN DNAME example.org.", "www.dn.example.com. 3600 IN CNAME www.example.org."}},
		{name: "DNAME into another zone, across zones", cfg: Config{CNAMEAcrossZones: true}, qname: "www.dn.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"dn.example.com. 3600 IN DNAME example.org.", "www.dn.example.com. 3600 IN CNAME www.example.org.",
				"www.example.org. 3600 IN A 198.51.100.80"}},
		{name: "DNAME: synthesised name too long, YXDOMAIN", qname: strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + ".dnlong.example.com.",
			qtype: dns.TypeA, aa: true, rcode: dns.RcodeYXDomain,
			an: []string{"dnlong.example.com. 3600 IN DNAME " + strings.Repeat("b", 60) + "." + strings.Repeat("b", 60) + ".example.com."}},
		{name: "CNAME out of zone not followed", qname: "ext.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"ext.example.com. 3600 IN CNAME www.example.org."}},
		{name: "CNAME across zones when configured", cfg: Config{CNAMEAcrossZones: true}, qname: "ext.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"ext.example.com. 3600 IN CNAME www.example.org.", "www.example.org. 3600 IN A 198.51.100.80"}},
		{name: "qtype CNAME not followed", qname: "www.example.com.", qtype: dns.TypeCNAME, aa: true,
			an: []string{"www.example.com. 300 IN CNAME alias.example.com."}},
		{name: "NXDOMAIN", qname: "nope.example.com.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			ns: []string{soaNeg}},
		{name: "NODATA", qname: "host.example.com.", qtype: dns.TypeMX, aa: true, ns: []string{soaNeg}},
		{name: "NODATA unknown type", qname: "host.example.com.", qtype: 65280, aa: true, ns: []string{soaNeg}},
		{name: "empty non-terminal", qname: "b.example.com.", qtype: dns.TypeA, aa: true, ns: []string{soaNeg}},
		{name: "wildcard A", qname: "foo.wild.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"foo.wild.example.com. 3600 IN A 192.0.2.99"}},
		{name: "wildcard deeper", qname: "a.b.c.wild.example.com.", qtype: dns.TypeTXT, aa: true,
			an: []string{`a.b.c.wild.example.com. 3600 IN TXT "wildcard"`}},
		{name: "wildcard NODATA", qname: "foo.wild.example.com.", qtype: dns.TypeMX, aa: true, ns: []string{soaNeg}},
		{name: "wildcard CNAME", qname: "x.wc.example.com.", qtype: dns.TypeA, aa: true,
			an: []string{"x.wc.example.com. 3600 IN CNAME host.example.com.", "host.example.com. 600 IN A 192.0.2.80"}},
		{name: "referral", qname: "www.sub.example.com.", qtype: dns.TypeA,
			ns: subNS,
			ar: []string{"ns.sub.example.com. 3600 IN A 192.0.2.200", "ns.sub.example.com. 3600 IN AAAA 2001:db8::200",
				"ns1.example.com. 3600 IN A 192.0.2.53", "ns1.example.com. 3600 IN AAAA 2001:db8::53"}},
		{name: "referral NS at cut", qname: "sub.example.com.", qtype: dns.TypeNS,
			ns: subNS,
			ar: []string{"ns.sub.example.com. 3600 IN A 192.0.2.200", "ns.sub.example.com. 3600 IN AAAA 2001:db8::200",
				"ns1.example.com. 3600 IN A 192.0.2.53", "ns1.example.com. 3600 IN AAAA 2001:db8::53"}},
		{name: "DS at cut from parent", qname: "sub.example.com.", qtype: dns.TypeDS, aa: true,
			an: []string{"sub.example.com. 3600 IN DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE6F3A54E6E02DD0C3A7A2F02A"}},
		{name: "referral glue must fit: TC", qname: "x.bigglue.example.com.", qtype: dns.TypeA, tc: true,
			ns: []string{"bigglue.example.com. 3600 IN NS ns.bigglue.example.com."}},
		{name: "not our zone", qname: "www.example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "root refused", qname: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
		{name: "not our zone, EDNS: EDE 20", qname: "www.example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
			opts: []qopt{withEDNS(1232, true)}, opt: &wantOPT{size: 1232, do: true, ede: "20"}},
		{name: "not our zone, NSID: NSID and EDE 20", cfg: Config{NSID: "tap1"}, qname: "www.example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
			opts: []qopt{withEDNS(1232, false), withNSID()}, opt: &wantOPT{size: 1232, nsid: "74617031", ede: "20"}},
		{name: "ANY over UDP: one RRset", qname: "example.com.", qtype: dns.TypeANY, aa: true, an: anyApex[:1]},
		{name: "ANY over TCP: one RRset", qname: "example.com.", qtype: dns.TypeANY, tcp: true, aa: true, an: anyApex[:1]},
		{name: "ANY at wildcard", qname: "x.wild.example.com.", qtype: dns.TypeANY, aa: true,
			an: []string{"x.wild.example.com. 3600 IN A 192.0.2.99"}},
		{name: "ANY at SRV: with additional", qname: "_sip._udp.example.com.", qtype: dns.TypeANY, aa: true,
			an: []string{"_sip._udp.example.com. 3600 IN SRV 10 60 5060 sip.example.com."},
			ar: []string{"sip.example.com. 3600 IN A 192.0.2.60"}},
		{name: "ANY at CNAME not followed", qname: "www.example.com.", qtype: dns.TypeANY, aa: true,
			an: []string{"www.example.com. 300 IN CNAME alias.example.com."}},
		{name: "big answer truncated at 512", qname: "big.example.com.", qtype: dns.TypeTXT, aa: true, tc: true},
		{name: "CNAME to a big answer: CNAME kept, TC", qname: "tobig.example.com.", qtype: dns.TypeTXT, aa: true, tc: true,
			an: []string{"tobig.example.com. 3600 IN CNAME big.example.com."}},
		{name: "big answer fits EDNS", qname: "big.example.com.", qtype: dns.TypeTXT, aa: true, an: bigTXT,
			opts: []qopt{withEDNS(4096, false)}, opt: &wantOPT{size: 1232}},
		{name: "big answer, client size 512", qname: "big.example.com.", qtype: dns.TypeTXT, aa: true, tc: true,
			opts: []qopt{withEDNS(512, false)}, opt: &wantOPT{size: 1232}},
		{name: "optional additional dropped without TC", qname: "mxbig.example.com.", qtype: dns.TypeMX, aa: true,
			an: []string{"mxbig.example.com. 3600 IN MX 10 many.example.com."}},
		{name: "optional additional kept with EDNS", qname: "mxbig.example.com.", qtype: dns.TypeMX, aa: true,
			opts: []qopt{withEDNS(1232, false)}, opt: &wantOPT{size: 1232},
			an: []string{"mxbig.example.com. 3600 IN MX 10 many.example.com."}, ar: manyA},
		{name: "big answer over TCP", qname: "big.example.com.", qtype: dns.TypeTXT, aa: true, an: bigTXT, tcp: true},
		{name: "long name", qname: long, qtype: dns.TypeMX, aa: true,
			an: []string{long + " 3600 IN MX 10 " + long},
			ar: []string{long + " 3600 IN A 192.0.2.77"}},
		{name: "EDNS DO echoed", qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withEDNS(4096, true)},
			an:   []string{"host.example.com. 600 IN A 192.0.2.80"}, opt: &wantOPT{size: 1232, do: true}},
		{name: "EDNS advertised size", cfg: Config{UDPSize: 4000}, qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withEDNS(1400, false)},
			an:   []string{"host.example.com. 600 IN A 192.0.2.80"}, opt: &wantOPT{size: 4000}},
		{name: "NSID requested and configured", cfg: Config{NSID: "tap1"}, qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withEDNS(1232, false), withNSID()},
			an:   []string{"host.example.com. 600 IN A 192.0.2.80"}, opt: &wantOPT{size: 1232, nsid: "74617031"}},
		{name: "NSID configured, not requested", cfg: Config{NSID: "tap1"}, qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withEDNS(1232, false)},
			an:   []string{"host.example.com. 600 IN A 192.0.2.80"}, opt: &wantOPT{size: 1232}},
		{name: "NSID requested, not configured", qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withEDNS(1232, false), withNSID()},
			an:   []string{"host.example.com. 600 IN A 192.0.2.80"}, opt: &wantOPT{size: 1232}},
		{name: "BADVERS", qname: "host.example.com.", qtype: dns.TypeA, rcode: dns.RcodeBadVers,
			opts: []qopt{withEDNS(1232, true), withVersion(1)}, opt: &wantOPT{size: 1232, do: true}},
		{name: "NXDOMAIN with EDNS", qname: "nope.example.com.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			opts: []qopt{withEDNS(1232, false)}, ns: []string{soaNeg}, opt: &wantOPT{size: 1232}},
		{name: "CHAOS version.bind", cfg: Config{Chaos: true}, qname: "version.bind.", qtype: dns.TypeTXT,
			opts: []qopt{withClass(dns.ClassCHAOS)}, an: []string{`version.bind. 0 CH TXT "tapdns"`}},
		{name: "CHAOS ANY", cfg: Config{Chaos: true}, qname: "version.server.", qtype: dns.TypeANY,
			opts: []qopt{withClass(dns.ClassCHAOS)}, an: []string{`version.server. 0 CH TXT "tapdns"`}},
		{name: "CHAOS hostname.bind default", cfg: Config{Chaos: true}, qname: "hostname.bind.", qtype: dns.TypeTXT,
			opts: []qopt{withClass(dns.ClassCHAOS)}, an: []string{`hostname.bind. 0 CH TXT "tapdns"`}},
		{name: "CHAOS id.server configured", cfg: Config{Chaos: true, Identity: "node-7"}, qname: "id.server.", qtype: dns.TypeTXT,
			opts: []qopt{withClass(dns.ClassCHAOS)}, an: []string{`id.server. 0 CH TXT "node-7"`}},
		{name: "CHAOS disabled", qname: "version.bind.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassCHAOS)}},
		{name: "CHAOS other name", cfg: Config{Chaos: true}, qname: "foo.bind.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassCHAOS)}},
		{name: "class HS refused", qname: "host.example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassHESIOD)}},
		{name: "class ANY answered without AA", qname: "host.example.com.", qtype: dns.TypeA,
			opts: []qopt{withClass(dns.ClassANY)}, an: []string{"host.example.com. 600 IN A 192.0.2.80"}},
		{name: "class ANY NXDOMAIN", qname: "nope.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
			opts: []qopt{withClass(dns.ClassANY)}, ns: []string{soaNeg}},
		{name: "class NONE refused", qname: "host.example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassNONE)}},
		{name: "class HS refused, EDNS: no EDE", qname: "host.example.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassHESIOD), withEDNS(1232, false)}, opt: &wantOPT{size: 1232}},
		{name: "CHAOS other name, EDNS: EDE 21", cfg: Config{Chaos: true}, qname: "authors.bind.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassCHAOS), withEDNS(1232, false)}, opt: &wantOPT{size: 1232, ede: "21"}},
		{name: "RD copied, CD cleared", qname: "host.example.com.", qtype: dns.TypeA, aa: true,
			opts: []qopt{withFlags(true, true)}, an: []string{"host.example.com. 600 IN A 192.0.2.80"}},
		{name: "AXFR over UDP", qname: "example.com.", qtype: dns.TypeAXFR, rcode: dns.RcodeNotImplemented},
		{name: "AXFR over TCP", qname: "example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeRefused},
		{name: "IXFR", qname: "example.com.", qtype: dns.TypeIXFR, rcode: dns.RcodeRefused},
		{name: "AXFR over TCP, EDNS: EDE 18", qname: "example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeRefused,
			opts: []qopt{withEDNS(1232, false)}, opt: &wantOPT{size: 1232, ede: "18"}},
		{name: "AXFR over UDP, EDNS: no EDE", qname: "example.com.", qtype: dns.TypeAXFR, rcode: dns.RcodeNotImplemented,
			opts: []qopt{withEDNS(1232, false)}, opt: &wantOPT{size: 1232}},
		{name: "AXFR of a name that is no zone: NOTAUTH", qname: "host.example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeNotAuth,
			opts: []qopt{withEDNS(1232, false)}, opt: &wantOPT{size: 1232}},
		{name: "IXFR outside our zones: NOTAUTH", qname: "example.net.", qtype: dns.TypeIXFR, rcode: dns.RcodeNotAuth},
		{name: "AXFR of a served child zone's apex", qname: "child.example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeRefused},
		{name: "AXFR in class CH: EDE 21", qname: "example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeRefused,
			opts: []qopt{withClass(dns.ClassCHAOS), withEDNS(1232, false)}, opt: &wantOPT{size: 1232, ede: "21"}},
		{name: "IXFR, EDNS: EDE 18", qname: "example.com.", qtype: dns.TypeIXFR, rcode: dns.RcodeRefused,
			opts: []qopt{withEDNS(1232, false)}, opt: &wantOPT{size: 1232, ede: "18"}},
		{name: "NOTIFY not implemented", qname: "example.com.", qtype: dns.TypeSOA, rcode: dns.RcodeNotImplemented,
			opts: []qopt{withOpcode(dns.OpcodeNotify)}},
		{name: "UPDATE not implemented, OPT echoed", qname: "example.com.", qtype: dns.TypeSOA, rcode: dns.RcodeNotImplemented,
			opts: []qopt{withOpcode(dns.OpcodeUpdate), withEDNS(1232, false)}, opt: &wantOPT{size: 1232}},
	}
}

func TestRespond(t *testing.T) {
	set := testSet(t)
	for _, tc := range respCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.cfg, set, nil)
			q := packQuery(t, tc.qname, tc.qtype, tc.opts...)
			checkCase(t, s, q, tc)
			// Once more: the second answer may come from the cache.
			checkCase(t, s, q, tc)
		})
	}
}

func checkCase(t *testing.T, s *Server, q []byte, tc respCase) {
	t.Helper()
	out := s.Respond(make([]byte, 0, 65535), q, Request{TCP: tc.tcp})
	if len(out) == 0 {
		t.Fatalf("no response")
	}
	if !tc.tcp {
		limit := 512
		if tc.opt != nil {
			limit = 1232
		}
		if len(out) > limit {
			t.Errorf("UDP response of %d bytes, limit %d", len(out), limit)
		}
	}
	var m dns.Msg
	if err := m.Unpack(out); err != nil {
		t.Fatalf("unpack response: %v\n% x", err, out)
	}
	var qm dns.Msg
	if err := qm.Unpack(q); err != nil {
		t.Fatal(err)
	}
	if m.Id != qm.Id || !m.Response || m.Opcode != qm.Opcode {
		t.Errorf("header: id %#x response %v opcode %d, want id %#x, response, opcode %d", m.Id, m.Response, m.Opcode, qm.Id, qm.Opcode)
	}
	if m.Rcode != tc.rcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
	}
	if m.Authoritative != tc.aa || m.Truncated != tc.tc {
		t.Errorf("AA=%v TC=%v, want AA=%v TC=%v", m.Authoritative, m.Truncated, tc.aa, tc.tc)
	}
	if m.RecursionAvailable || m.Zero || m.AuthenticatedData {
		t.Errorf("RA/Z/AD set: %v %v %v", m.RecursionAvailable, m.Zero, m.AuthenticatedData)
	}
	if m.RecursionDesired != qm.RecursionDesired || m.CheckingDisabled {
		t.Errorf("RD/CD = %v/%v, want %v (copied)/false", m.RecursionDesired, m.CheckingDisabled, qm.RecursionDesired)
	}
	if len(m.Question) != 1 || m.Question[0] != qm.Question[0] {
		t.Errorf("question = %v, want %v", m.Question, qm.Question)
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{
		{"answer", rrStrings(m.Answer), norm(tc.an)},
		{"authority", rrStrings(m.Ns), norm(tc.ns)},
		{"additional", rrStrings(m.Extra), norm(tc.ar)},
	} {
		if !slices.Equal(sec.got, sec.want) {
			t.Errorf("%s:\n got %q\nwant %q", sec.name, sec.got, sec.want)
		}
	}
	opt := m.IsEdns0()
	switch {
	case tc.opt == nil && opt != nil:
		t.Errorf("unexpected OPT %v", opt)
	case tc.opt != nil && opt == nil:
		t.Errorf("no OPT, want one")
	case tc.opt != nil:
		var nsid, ede string
		for _, o := range opt.Option {
			switch o := o.(type) {
			case *dns.EDNS0_NSID:
				nsid = o.Nsid
			case *dns.EDNS0_EDE:
				ede = strconv.Itoa(int(o.InfoCode))
				if o.ExtraText != "" {
					t.Errorf("EDE extra text %q, want none", o.ExtraText)
				}
			default:
				t.Errorf("unexpected EDNS option %v", o)
			}
		}
		got := wantOPT{size: opt.UDPSize(), do: opt.Do(), version: opt.Version(), nsid: nsid, ede: ede}
		if got != *tc.opt {
			t.Errorf("OPT = %+v, want %+v", got, *tc.opt)
		}
		if opt.Hdr.Ttl&0x7FFF != 0 {
			t.Errorf("OPT Z flags = %#x, want 0", opt.Hdr.Ttl&0x7FFF)
		}
	}
}
