package difftest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/miekg/dns"
)

// qcase is one query sent to every server.
type qcase struct {
	// name identifies the case in reports and in the exceptions table:
	// "<qname>/<qtype>/<edns variant>/<transport>" for generated cases,
	// "raw/<what>" for hand-written ones.
	name  string
	tr    transport
	query []byte
}

// ednsVariant is how a generated query carries (or omits) EDNS.
type ednsVariant struct {
	tag  string
	edns bool
	size uint16
	do   bool
	rd   bool
}

var (
	plain   = ednsVariant{tag: "plain"}
	edns    = ednsVariant{tag: "edns", edns: true, size: 1232}
	edns512 = ednsVariant{tag: "edns512", edns: true, size: 512}
	do4096  = ednsVariant{tag: "do4096+rd", edns: true, size: 4096, do: true, rd: true}
)

// variant is one way of sending a generated query.
type variant struct {
	e  ednsVariant
	tr transport
}

// stdVariants covers no EDNS, EDNS, EDNS with DO and a large buffer over
// UDP, and EDNS over TCP.
var stdVariants = []variant{{plain, udp4}, {edns, udp4}, {do4096, udp4}, {edns, tcp4}}

// sizeVariants adds what matters for large answers: a 512-byte EDNS buffer
// and TCP without EDNS.
var sizeVariants = []variant{{plain, udp4}, {edns512, udp4}, {edns, udp4}, {do4096, udp4}, {edns, tcp4}, {plain, tcp4}, {edns, udp6}, {edns, tcp6}}

// v6Variants sends the query over IPv6 too.
var v6Variants = append(append([]variant{}, stdVariants...), variant{edns, udp6}, variant{plain, tcp6})

// Names at the 255-octet limit (in wire form, root label included).
var (
	deepName  = strings.Repeat("d", 53) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("a", 63) + ".example."
	deepMixed = strings.Repeat("Dd", 26) + "D." + strings.Repeat("c", 62) + "C." + strings.Repeat("b", 63) + "." + strings.Repeat("A", 63) + ".EXAMPLE."
	deepWild  = strings.Repeat("w", 47) + "." + strings.Repeat("x", 63) + "." + strings.Repeat("y", 63) + "." + strings.Repeat("z", 63) + ".deepw.example."
)

// qtypes is a shorthand for a list of query types.
func qtypes(ts ...uint16) []uint16 { return ts }

const typeUnknown = 65400

// nameTypes is the generated part of the query list: every name is asked
// for every listed type in every listed variant.
var nameTypes = []struct {
	name     string
	types    []uint16
	variants []variant
}{
	// Apex of the parent zone.
	{"example.", qtypes(dns.TypeSOA, dns.TypeNS, dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeDS, dns.TypeDNSKEY, dns.TypeCNAME, dns.TypeANY), v6Variants},
	{"ExAmPlE.", qtypes(dns.TypeSOA), stdVariants},
	{"ns1.example.", qtypes(dns.TypeA, dns.TypeAAAA), stdVariants},
	// One name per type.
	{"a.example.", qtypes(dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeANY), v6Variants},
	{"A.eXaMpLe.", qtypes(dns.TypeA), stdVariants},
	{"aaaa.example.", qtypes(dns.TypeAAAA, dns.TypeA), stdVariants},
	{"dual.example.", qtypes(dns.TypeA, dns.TypeAAAA, dns.TypeANY), stdVariants},
	{"mx.example.", qtypes(dns.TypeMX), stdVariants},
	{"mx.example.", qtypes(dns.TypeANY), []variant{{edns, udp4}, {plain, tcp4}}},
	{"mail.example.", qtypes(dns.TypeA, dns.TypeAAAA), stdVariants},
	{"txt.example.", qtypes(dns.TypeTXT), stdVariants},
	{"multi.example.", qtypes(dns.TypeTXT), stdVariants},
	{"quoted.example.", qtypes(dns.TypeTXT), stdVariants},
	{"empty.example.", qtypes(dns.TypeTXT), stdVariants},
	{"_sip._tcp.example.", qtypes(dns.TypeSRV), stdVariants},
	{"_sip._tcp.example.", qtypes(dns.TypeANY), []variant{{edns, udp4}}},
	{"caa.example.", qtypes(dns.TypeCAA), stdVariants},
	{"ptr.example.", qtypes(dns.TypePTR), stdVariants},
	{"naptr.example.", qtypes(dns.TypeNAPTR, dns.TypeANY), stdVariants},
	{"sshfp.example.", qtypes(dns.TypeSSHFP), stdVariants},
	{"_443._tcp.tlsa.example.", qtypes(dns.TypeTLSA), stdVariants},
	{"tlsa.example.", qtypes(dns.TypeA, dns.TypeTLSA), stdVariants},
	{"unknown.example.", qtypes(typeUnknown, typeUnknown+1, typeUnknown+2, dns.TypeA), stdVariants},
	{"hinfo.example.", qtypes(dns.TypeHINFO), stdVariants},
	// Names in rdata written in mixed case in the zone file.
	{"lccname.example.", qtypes(dns.TypeA, dns.TypeCNAME), []variant{{plain, udp4}, {edns, tcp4}}},
	{"lcmx.example.", qtypes(dns.TypeMX), []variant{{plain, udp4}, {edns, tcp4}}},
	{"lcsrv.example.", qtypes(dns.TypeSRV), []variant{{plain, udp4}, {edns, tcp4}}},
	{"lcptr.example.", qtypes(dns.TypePTR), []variant{{plain, udp4}}},
	{"lcnaptr.example.", qtypes(dns.TypeNAPTR), []variant{{plain, udp4}}},
	{"lcrp.example.", qtypes(dns.TypeRP), []variant{{plain, udp4}}},
	{"lcafsdb.example.", qtypes(dns.TypeAFSDB), []variant{{plain, udp4}}},
	{"lckx.example.", qtypes(dns.TypeKX), []variant{{plain, udp4}}},
	{"lcsvcb.example.", qtypes(dns.TypeSVCB), []variant{{plain, udp4}}},
	{"mixedcase.example.", qtypes(dns.TypeA, dns.TypeTXT), stdVariants},
	{"MIXEDCASE.example.", qtypes(dns.TypeA), stdVariants},
	// Non-ASCII bytes and escaped dots in labels (RFC 4343: only A-Z fold).
	{`caf\233.example.`, qtypes(dns.TypeA), stdVariants},
	{`CAF\233.example.`, qtypes(dns.TypeA), stdVariants},
	{`caf\201.example.`, qtypes(dns.TypeA), stdVariants},
	{`a\.b.example.`, qtypes(dns.TypeA), stdVariants},
	{`A\.B.example.`, qtypes(dns.TypeA), stdVariants},
	{"a.b.example.", qtypes(dns.TypeA), stdVariants},
	// Zone-file oddities.
	{"ttlmix.example.", qtypes(dns.TypeA), stdVariants},
	{"dup.example.", qtypes(dns.TypeA), stdVariants},
	// Sizes and truncation.
	{"longtxt.example.", qtypes(dns.TypeTXT), sizeVariants},
	{"huge.example.", qtypes(dns.TypeTXT), sizeVariants},
	{"manya.example.", qtypes(dns.TypeA), sizeVariants},
	{"huge.example.", qtypes(dns.TypeANY), []variant{{edns, tcp4}}},
	{"tohuge.example.", qtypes(dns.TypeTXT), sizeVariants},
	{"tolong.example.", qtypes(dns.TypeTXT), sizeVariants},
	{"tomanya.example.", qtypes(dns.TypeA), sizeVariants},
	{"tobig.example.", qtypes(dns.TypeA), sizeVariants},
	// Additional addresses at the end of a chain.
	{"tomx.example.", qtypes(dns.TypeMX), []variant{{edns, udp4}, {plain, udp4}}},
	{"tosrv.example.", qtypes(dns.TypeSRV), []variant{{edns, udp4}}},
	{"tons.example.", qtypes(dns.TypeNS, dns.TypeMX, dns.TypeSOA), []variant{{edns, udp4}}},
	{"bigtcp.example.", qtypes(dns.TypeTXT), []variant{{plain, udp4}, {do4096, udp4}, {edns, tcp4}, {plain, tcp6}, {edns, tcpPipe}}},
	// CNAME.
	{"cname.example.", qtypes(dns.TypeA, dns.TypeCNAME, dns.TypeTXT, dns.TypeANY), stdVariants},
	{"chain1.example.", qtypes(dns.TypeA, dns.TypeCNAME), stdVariants},
	{"xzone.example.", qtypes(dns.TypeA), stdVariants},
	{"xzone2.example.", qtypes(dns.TypeA), stdVariants},
	{"tochild.example.", qtypes(dns.TypeA), stdVariants},
	{"out.example.", qtypes(dns.TypeA), stdVariants},
	{"loop1.example.", qtypes(dns.TypeA, dns.TypeCNAME), stdVariants},
	{"self.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamenx.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamenodata.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamedeleg.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamewild.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamewcloop.example.", qtypes(dns.TypeA), stdVariants},
	{"cnamelong.example.", qtypes(dns.TypeA), stdVariants},
	{"hop1.example.", qtypes(dns.TypeA), stdVariants},
	{"hop3.example.", qtypes(dns.TypeA, dns.TypeMX), []variant{{edns, udp4}}},
	{"hop5.example.", qtypes(dns.TypeA), []variant{{edns, udp4}}},
	// Exactly five CNAMEs, then the data or the negative answer
	// (issue 13 item 2).
	{"hop4.example.", qtypes(dns.TypeA, dns.TypeMX, dns.TypeTXT), []variant{{edns, udp4}, {plain, tcp4}}},
	{"tocut.example.", qtypes(dns.TypeA, dns.TypeNS, dns.TypeDS), []variant{{edns, udp4}}},
	// DNAME.
	{"dname.example.", qtypes(dns.TypeDNAME, dns.TypeA, dns.TypeANY), []variant{{edns, udp4}}},
	{"www.dname.example.", qtypes(dns.TypeA, dns.TypeDNAME, dns.TypeCNAME), []variant{{edns, udp4}}},
	{"x.dname2.example.", qtypes(dns.TypeA), stdVariants},
	{"x.dname2.example.", qtypes(dns.TypeMX, dns.TypeCNAME), []variant{{edns, udp4}}},
	{"y.dname2.example.", qtypes(dns.TypeA), stdVariants},
	{"a.b.dname2.example.", qtypes(dns.TypeA), []variant{{edns, udp4}}},
	{"X.DnAmE2.example.", qtypes(dns.TypeA), []variant{{edns, udp4}}},
	{"x.dname2.example.", qtypes(dns.TypeANY, dns.TypeDS, dns.TypeNS, dns.TypeDNAME), []variant{{edns, udp4}}},
	{"todname.example.", qtypes(dns.TypeA, dns.TypeAAAA), []variant{{edns, udp4}}},
	{"x.dttl.example.", qtypes(dns.TypeA), []variant{{edns, udp4}}},
	{"a.dloop.example.", qtypes(dns.TypeA), []variant{{edns, udp4}, {edns, tcp4}}},
	// CNAME chains for other query types (one variant each).
	{"tochild.example.", qtypes(dns.TypeAAAA, dns.TypeDS, dns.TypeNS, dns.TypeMX, dns.TypeTXT, dns.TypeCNAME, dns.TypeANY, dns.TypeSOA), []variant{{edns, udp4}}},
	{"cnamedeleg.example.", qtypes(dns.TypeDS, dns.TypeNS, dns.TypeANY, dns.TypeMX), []variant{{edns, udp4}}},
	{"cname.example.", qtypes(dns.TypeMX, dns.TypeAAAA, dns.TypeNS, dns.TypeSOA, dns.TypeDS), []variant{{edns, udp4}}},
	{"chain1.example.", qtypes(dns.TypeANY, dns.TypeTXT), []variant{{edns, udp4}}},
	{"foo.wcname.example.", qtypes(dns.TypeMX, dns.TypeANY), []variant{{edns, udp4}}},
	{"a.wcloop.example.", qtypes(dns.TypeCNAME, dns.TypeANY, dns.TypeTXT), []variant{{edns, udp4}}},
	{"self.example.", qtypes(dns.TypeCNAME, dns.TypeANY), []variant{{edns, udp4}}},
	{"back.child.example.", qtypes(dns.TypeMX), []variant{{edns, udp4}}},
	{"foo.wcout.example.", qtypes(dns.TypeMX), []variant{{edns, udp4}}},
	// Wildcards.
	{"foo.wild.example.", qtypes(dns.TypeA, dns.TypeTXT, dns.TypeMX, dns.TypeANY), stdVariants},
	{"Foo.WILD.example.", qtypes(dns.TypeA), stdVariants},
	{"a.b.wild.example.", qtypes(dns.TypeA), stdVariants},
	{"*.wild.example.", qtypes(dns.TypeA, dns.TypeMX), stdVariants},
	{"host.wild.example.", qtypes(dns.TypeA, dns.TypeTXT), stdVariants},
	{"wild.example.", qtypes(dns.TypeA), stdVariants},
	{"ent.wild.example.", qtypes(dns.TypeA), stdVariants},
	{"y.ent.wild.example.", qtypes(dns.TypeA), stdVariants},
	{"x.ent.wild.example.", qtypes(dns.TypeA), stdVariants},
	{"foo.wcname.example.", qtypes(dns.TypeA, dns.TypeCNAME), stdVariants},
	{"a.wcloop.example.", qtypes(dns.TypeA), stdVariants},
	{"b.wcloop.example.", qtypes(dns.TypeA), stdVariants},
	{"foo.wcout.example.", qtypes(dns.TypeA), stdVariants},
	{deepWild, qtypes(dns.TypeA), stdVariants},
	// Empty non-terminals and NXDOMAIN.
	{"ent.example.", qtypes(dns.TypeA), stdVariants},
	{"leaf.ent.example.", qtypes(dns.TypeA), stdVariants},
	{"x.leaf.ent.example.", qtypes(dns.TypeA), stdVariants},
	{"deepent.example.", qtypes(dns.TypeTXT), stdVariants},
	{"c.deepent.example.", qtypes(dns.TypeTXT), stdVariants},
	{"nothere.example.", qtypes(dns.TypeA, dns.TypeMX), stdVariants},
	// 255 octets.
	{deepName, qtypes(dns.TypeA, dns.TypeTXT, dns.TypeMX), stdVariants},
	{deepMixed, qtypes(dns.TypeA), stdVariants},
	// Delegations.
	{"sub.example.", qtypes(dns.TypeNS, dns.TypeA, dns.TypeDS, dns.TypeSOA, dns.TypeANY), v6Variants},
	{"host.sub.example.", qtypes(dns.TypeA, dns.TypeDS), stdVariants},
	{"x.sub.example.", qtypes(dns.TypeA), stdVariants},
	{"x.sub.example.", qtypes(dns.TypeDS, dns.TypeNS), []variant{{edns, udp4}}},
	{"ns.sub.example.", qtypes(dns.TypeA), stdVariants},
	{"other.example.", qtypes(dns.TypeA, dns.TypeDS), stdVariants},
	{"noglue.example.", qtypes(dns.TypeA), stdVariants},
	{"www.bigdeleg.example.", qtypes(dns.TypeA), sizeVariants},
	{"www.tld.example.", qtypes(dns.TypeA), sizeVariants},
	{"tld.example.", qtypes(dns.TypeNS, dns.TypeDS), []variant{{plain, udp4}, {edns512, udp4}}},
	// Parent and child both served.
	{"child.example.", qtypes(dns.TypeSOA, dns.TypeNS, dns.TypeDS, dns.TypeA, dns.TypeDNSKEY), stdVariants},
	{"www.child.example.", qtypes(dns.TypeA, dns.TypeAAAA, dns.TypeMX), stdVariants},
	{"back.child.example.", qtypes(dns.TypeA), stdVariants},
	{"tonet.child.example.", qtypes(dns.TypeA), stdVariants},
	{"foo.wc.child.example.", qtypes(dns.TypeTXT, dns.TypeA), stdVariants},
	{"ns1.child.example.", qtypes(dns.TypeA), stdVariants},
	{"nx.child.example.", qtypes(dns.TypeA), stdVariants},
	{"child.example.", qtypes(dns.TypeMX, dns.TypeAAAA, dns.TypeANY), []variant{{edns, udp4}}},
	{"example.net.", qtypes(dns.TypeSOA, dns.TypeNS), stdVariants},
	{"www.example.net.", qtypes(dns.TypeA), stdVariants},
	{"alias.example.net.", qtypes(dns.TypeA), stdVariants},
	{"back.example.net.", qtypes(dns.TypeA), stdVariants},
	// Outside every zone.
	{"www.outside.test.", qtypes(dns.TypeA), stdVariants},
	{"example.org.", qtypes(dns.TypeA), stdVariants},
	{".", qtypes(dns.TypeSOA, dns.TypeNS), stdVariants},
	{"net.", qtypes(dns.TypeNS), stdVariants},
	{"xample.", qtypes(dns.TypeA), stdVariants},
	// TCP pipelining (RFC 7766 §6.2.1.1).
	{"a.example.", qtypes(dns.TypeA, dns.TypeMX), []variant{{edns, tcpPipe}, {plain, tcpPipe}}},
	{"huge.example.", qtypes(dns.TypeTXT), []variant{{do4096, tcpPipe}}},
	{"nothere.example.", qtypes(dns.TypeA), []variant{{edns, tcpPipe}}},
	{"sub.example.", qtypes(dns.TypeA), []variant{{edns, tcpPipe}}},
	// Meta and obsolete query types (answered, never dropped).
	{"example.", qtypes(dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeTSIG, dns.TypeTKEY, dns.TypeOPT, dns.TypeNone, dns.TypeRRSIG, dns.TypeNSEC), []variant{{edns, udp4}}},
	{"example.", qtypes(dns.TypeAXFR, dns.TypeIXFR), []variant{{edns, tcp4}}},
}

// caseID derives a stable query ID from the case name, so reruns send the
// same bytes and IDs vary between cases.
func caseID(name string) uint16 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return uint16(h.Sum32())
}

// newQuery returns a query message without EDNS.
func newQuery(name string, qtype, qclass uint16) *dns.Msg {
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: qclass}}
	return m
}

// setEDNS adds an OPT record with the given size and DO bit.
func setEDNS(m *dns.Msg, size uint16, do bool) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(size)
	if do {
		o.SetDo()
	}
	m.Extra = append(m.Extra, o)
	return o
}

func mustPack(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(fmt.Sprintf("pack %v: %v", m.Question, err))
	}
	return b
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// generatedCases expands nameTypes.
func generatedCases() []qcase {
	var cs []qcase
	for _, nt := range nameTypes {
		for _, t := range nt.types {
			for _, v := range nt.variants {
				name := fmt.Sprintf("%s/%s/%s/%s", nt.name, typeName(t), v.e.tag, v.tr)
				m := newQuery(nt.name, t, dns.ClassINET)
				m.Id = caseID(name)
				m.RecursionDesired = v.e.rd
				if v.e.edns {
					setEDNS(m, v.e.size, v.e.do)
				}
				cs = append(cs, qcase{name: name, tr: v.tr, query: mustPack(m)})
			}
		}
	}
	return cs
}

// header builds a 12-byte DNS header.
func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 0, 512)
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// wireName encodes a presentation name without escapes, any length, no
// checks: raw cases use it to build what miekg/dns refuses to.
func wireName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// question encodes a question entry.
func question(name string, qtype, qclass uint16) []byte {
	b := wireName(name)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, qclass)
}

// optRR encodes an OPT pseudo-record: size, extended rcode, version, flags
// (DO is 0x8000) and raw option bytes.
func optRR(size uint16, extRcode, version uint8, flags uint16, options []byte) []byte {
	b := []byte{0} // root owner
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, size)
	b = append(b, extRcode, version)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(options)))
	return append(b, options...)
}

// option encodes one EDNS option.
func option(code uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Header flag bits (second 16-bit word of the header).
const (
	fQR = 1 << 15
	fAA = 1 << 10
	fTC = 1 << 9
	fRD = 1 << 8
	fRA = 1 << 7
	fZ  = 1 << 6
	fAD = 1 << 5
	fCD = 1 << 4
)

func opcodeBits(op int) uint16 { return uint16(op) << 11 }

// rawCases are hand-written queries for the header, opcode, question and
// EDNS rules, many of which miekg/dns cannot build.
func rawCases() []qcase {
	aq := question("a.example.", dns.TypeA, dns.ClassINET)
	opt := optRR(1232, 0, 0, 0, nil)
	type rc struct {
		name  string
		tr    transport
		flags uint16
		qd    uint16
		an    uint16
		ns    uint16
		ar    uint16
		body  []byte
	}
	cases := []rc{
		// Header bits.
		{name: "rd", flags: fRD, qd: 1, body: aq},
		{name: "rd/tcp", tr: tcp4, flags: fRD, qd: 1, body: aq},
		{name: "cd", flags: fCD, qd: 1, body: aq},
		{name: "ad", flags: fAD, qd: 1, body: aq},
		{name: "ad+do", flags: fAD, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x8000, nil))},
		{name: "z", flags: fZ, qd: 1, body: aq},
		{name: "ra", flags: fRA, qd: 1, body: aq},
		{name: "aa", flags: fAA, qd: 1, body: aq},
		{name: "tc", flags: fTC, qd: 1, body: aq},
		{name: "all-flags", flags: fAA | fTC | fRD | fRA | fZ | fAD | fCD, qd: 1, body: aq},
		{name: "qr-set", flags: fQR, qd: 1, body: aq},
		{name: "qr-set/tcp", tr: tcp4, flags: fQR, qd: 1, body: aq},
		{name: "rcode-in-query", flags: 3, qd: 1, body: aq},
		// 0x20 mixed case: the question comes back byte for byte.
		{name: "0x20/a", qd: 1, body: question("a.ExAmPlE.", dns.TypeA, dns.ClassINET)},
		{name: "0x20/wild", qd: 1, body: question("FoO.wIlD.eXaMpLe.", dns.TypeA, dns.ClassINET)},
		{name: "0x20/nx", qd: 1, body: question("NoThErE.ExAmPlE.", dns.TypeA, dns.ClassINET)},
		{name: "0x20/deleg", qd: 1, body: question("HoSt.SuB.eXaMpLe.", dns.TypeA, dns.ClassINET)},
		{name: "0x20/cname", qd: 1, body: question("ChAiN1.ExAmPlE.", dns.TypeA, dns.ClassINET)},
		{name: "0x20/refused", qd: 1, body: question("WwW.OuTsIdE.TeSt.", dns.TypeA, dns.ClassINET)},
		// Opcodes other than QUERY.
		{name: "opcode/iquery", flags: opcodeBits(1), qd: 1, body: aq},
		{name: "opcode/status", flags: opcodeBits(2), qd: 1, body: aq},
		{name: "opcode/3", flags: opcodeBits(3), qd: 1, body: aq},
		{name: "opcode/notify", flags: opcodeBits(dns.OpcodeNotify) | fAA, qd: 1, body: question("example.", dns.TypeSOA, dns.ClassINET)},
		{name: "opcode/notify-outside", flags: opcodeBits(dns.OpcodeNotify) | fAA, qd: 1, body: question("outside.test.", dns.TypeSOA, dns.ClassINET)},
		{name: "opcode/update", flags: opcodeBits(dns.OpcodeUpdate), qd: 1, body: question("example.", dns.TypeSOA, dns.ClassINET)},
		{name: "opcode/15", flags: opcodeBits(15), qd: 1, body: aq},
		{name: "opcode/15-allflags", flags: opcodeBits(15) | fAA | fTC | fRD | fRA | fZ | fAD | fCD, qd: 1, body: aq},
		{name: "opcode/iquery+edns", flags: opcodeBits(1), qd: 1, ar: 1, body: cat(aq, opt)},
		{name: "opcode/notify+edns", flags: opcodeBits(dns.OpcodeNotify) | fAA, qd: 1, ar: 1, body: cat(question("example.", dns.TypeSOA, dns.ClassINET), opt)},
		{name: "opcode/update+edns", flags: opcodeBits(dns.OpcodeUpdate), qd: 1, ar: 1, body: cat(question("example.", dns.TypeSOA, dns.ClassINET), opt)},
		{name: "opcode/notify/tcp", tr: tcp4, flags: opcodeBits(dns.OpcodeNotify) | fAA, qd: 1, body: question("example.", dns.TypeSOA, dns.ClassINET)},
		// QDCOUNT and malformed questions.
		{name: "qdcount0", qd: 0},
		{name: "qdcount0+edns", qd: 0, ar: 1, body: opt},
		{name: "qdcount2", qd: 2, body: cat(aq, question("aaaa.example.", dns.TypeAAAA, dns.ClassINET))},
		{name: "qdcount2-same", qd: 2, body: cat(aq, aq)},
		{name: "qdcount2/tcp", tr: tcp4, qd: 2, body: cat(aq, aq)},
		{name: "qdcount1-missing", qd: 1},
		{name: "question-truncated", qd: 1, body: aq[:len(aq)-2]},
		{name: "qdcount2-one-present", qd: 2, body: aq},
		{name: "trailing-garbage", qd: 1, body: cat(aq, []byte{0xde, 0xad, 0xbe, 0xef})},
		{name: "label-64", qd: 1, body: cat([]byte{64}, []byte(strings.Repeat("x", 64)), wireName("example."), []byte{0, 1, 0, 1})},
		{name: "label-type-01", qd: 1, body: cat([]byte{0x41, 'x'}, wireName("example."), []byte{0, 1, 0, 1})},
		{name: "name-256", qd: 1, body: question("e"+deepName, dns.TypeA, dns.ClassINET)},
		{name: "pointer-loop", qd: 1, body: []byte{0xc0, 12, 0, 1, 0, 1}},
		{name: "pointer-forward", qd: 1, body: []byte{0xc0, 18, 0, 1, 0, 1, 0}},
		{name: "pointer-to-header", qd: 1, body: []byte{1, 'a', 0xc0, 0, 0, 1, 0, 1}},
		// Records in sections a query should not carry.
		{name: "ancount1", qd: 1, an: 1, body: cat(aq, wireName("a.example."), []byte{0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 9, 9})},
		{name: "nscount1", qd: 1, ns: 1, body: cat(aq, wireName("example."), []byte{0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12})},
		{name: "ancount1-missing", qd: 1, an: 1, body: aq},
		{name: "arcount1-a-record", qd: 1, ar: 1, body: cat(aq, wireName("a.example."), []byte{0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 9, 9})},
		// Classes.
		{name: "class/ch-a", qd: 1, body: question("a.example.", dns.TypeA, dns.ClassCHAOS)},
		{name: "class/hs", qd: 1, body: question("a.example.", dns.TypeA, dns.ClassHESIOD)},
		{name: "class/any", qd: 1, body: question("a.example.", dns.TypeA, dns.ClassANY)},
		{name: "class/any-nx", qd: 1, body: question("nothere.example.", dns.TypeA, dns.ClassANY)},
		{name: "class/any-nodata", qd: 1, body: question("a.example.", dns.TypeMX, dns.ClassANY)},
		{name: "class/any-refused", qd: 1, body: question("www.outside.test.", dns.TypeA, dns.ClassANY)},
		{name: "class/none", qd: 1, body: question("a.example.", dns.TypeA, dns.ClassNONE)},
		{name: "class/0", qd: 1, body: question("a.example.", dns.TypeA, 0)},
		// Refusals by class, with EDNS: is there an Extended DNS Error?
		{name: "class/ch-a+edns", qd: 1, ar: 1, body: cat(question("a.example.", dns.TypeA, dns.ClassCHAOS), opt)},
		{name: "class/ch-outside+edns", qd: 1, ar: 1, body: cat(question("www.outside.test.", dns.TypeA, dns.ClassCHAOS), opt)},
		{name: "class/hs+edns", qd: 1, ar: 1, body: cat(question("a.example.", dns.TypeA, dns.ClassHESIOD), opt)},
		{name: "class/none+edns", qd: 1, ar: 1, body: cat(question("a.example.", dns.TypeA, dns.ClassNONE), opt)},
		// CHAOS identity queries.
		{name: "chaos/version.bind", qd: 1, body: question("version.bind.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/version.bind/tcp", tr: tcp4, qd: 1, body: question("version.bind.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/VERSION.BIND", qd: 1, body: question("VERSION.BIND.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/version.server", qd: 1, body: question("version.server.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/id.server", qd: 1, body: question("id.server.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/hostname.bind", qd: 1, body: question("hostname.bind.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/version.bind-edns", qd: 1, ar: 1, body: cat(question("version.bind.", dns.TypeTXT, dns.ClassCHAOS), opt)},
		{name: "chaos/version.bind-a", qd: 1, body: question("version.bind.", dns.TypeA, dns.ClassCHAOS)},
		{name: "chaos/version.bind-any", qd: 1, body: question("version.bind.", dns.TypeANY, dns.ClassCHAOS)},
		{name: "chaos/authors.bind", qd: 1, body: question("authors.bind.", dns.TypeTXT, dns.ClassCHAOS)},
		{name: "chaos/example", qd: 1, body: question("example.", dns.TypeSOA, dns.ClassCHAOS)},
		{name: "chaos/authors.bind+edns", qd: 1, ar: 1, body: cat(question("authors.bind.", dns.TypeTXT, dns.ClassCHAOS), opt)},
		{name: "chaos/version.bind-a+edns", qd: 1, ar: 1, body: cat(question("version.bind.", dns.TypeA, dns.ClassCHAOS), opt)},
		{name: "in/version.bind", qd: 1, body: question("version.bind.", dns.TypeTXT, dns.ClassINET)},
		// EDNS (RFC 6891, the RFC 8906 probes).
		{name: "edns/v1", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 1, 0, nil))},
		{name: "edns/v1/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 1, 0, nil))},
		{name: "edns/v1+do", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 1, 0x8000, nil))},
		{name: "edns/v255", qd: 1, ar: 1, body: cat(aq, optRR(4096, 0, 255, 0, nil))},
		{name: "edns/v1-nx", qd: 1, ar: 1, body: cat(question("nothere.example.", dns.TypeA, dns.ClassINET), optRR(1232, 0, 1, 0, nil))},
		{name: "edns/v1-refused", qd: 1, ar: 1, body: cat(question("www.outside.test.", dns.TypeA, dns.ClassINET), optRR(1232, 0, 1, 0, nil))},
		{name: "edns/v1-unknown-opt", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 1, 0, option(65001, []byte{1, 2})))},
		{name: "edns/flags", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x4000, nil))},
		{name: "edns/flags-all", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0xffff, nil))},
		{name: "edns/flags/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x7fff, nil))},
		{name: "edns/opt-unknown", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(65001, nil)))},
		{name: "edns/opt-unknown-data", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(100, []byte("hello"))))},
		{name: "edns/opt-unknown/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(65001, []byte{9})))},
		{name: "edns/opt-two", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, cat(option(65001, nil), option(65002, []byte{1}))))},
		{name: "edns/opt-nsid", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(3, nil)))},
		{name: "edns/opt-cookie", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(10, []byte{1, 2, 3, 4, 5, 6, 7, 8})))},
		{name: "edns/opt-cookie-bad", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(10, []byte{1, 2, 3})))},
		{name: "edns/opt-padding", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(12, make([]byte, 16))))},
		{name: "edns/opt-expire", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(9, nil)))},
		{name: "edns/opt-ecs", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(8, []byte{0, 1, 24, 0, 198, 18, 0})))},
		{name: "edns/opt-keepalive/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, option(11, nil)))},
		{name: "edns/opt-truncated", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0, []byte{0xfd, 0xe9, 0, 8, 1}))},
		{name: "edns/do", qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x8000, nil))},
		{name: "edns/do/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x8000, nil))},
		{name: "edns/do-nx", qd: 1, ar: 1, body: cat(question("nothere.example.", dns.TypeA, dns.ClassINET), optRR(1232, 0, 0, 0x8000, nil))},
		{name: "edns/size0", qd: 1, ar: 1, body: cat(question("longtxt.example.", dns.TypeTXT, dns.ClassINET), optRR(0, 0, 0, 0, nil))},
		{name: "edns/size100", qd: 1, ar: 1, body: cat(question("longtxt.example.", dns.TypeTXT, dns.ClassINET), optRR(100, 0, 0, 0, nil))},
		{name: "edns/size511", qd: 1, ar: 1, body: cat(question("longtxt.example.", dns.TypeTXT, dns.ClassINET), optRR(511, 0, 0, 0, nil))},
		{name: "edns/size0-mx", qd: 1, ar: 1, body: cat(question("mx.example.", dns.TypeMX, dns.ClassINET), optRR(0, 0, 0, 0, nil))},
		{name: "edns/size100-mx", qd: 1, ar: 1, body: cat(question("mx.example.", dns.TypeMX, dns.ClassINET), optRR(100, 0, 0, 0, nil))},
		{name: "edns/size1100", qd: 1, ar: 1, body: cat(question("longtxt.example.", dns.TypeTXT, dns.ClassINET), optRR(1100, 0, 0, 0, nil))},
		{name: "edns/size65535", qd: 1, ar: 1, body: cat(question("huge.example.", dns.TypeTXT, dns.ClassINET), optRR(65535, 0, 0, 0, nil))},
		{name: "edns/ext-rcode-in-query", qd: 1, ar: 1, body: cat(aq, optRR(1232, 1, 0, 0, nil))},
		{name: "edns/two-opt", qd: 1, ar: 2, body: cat(aq, opt, opt)},
		{name: "edns/opt-owner-not-root", qd: 1, ar: 1, body: cat(aq, wireName("example."), opt[1:])},
		{name: "edns/opt-in-answer", qd: 1, an: 1, body: cat(aq, opt)},
		{name: "edns/opt-rdlen-short", qd: 1, ar: 1, body: cat(aq, opt[:len(opt)-2], []byte{0, 4})},
		{name: "edns/notimp+edns", flags: opcodeBits(2), qd: 1, ar: 1, body: cat(aq, optRR(1232, 0, 0, 0x8000, nil))},
		{name: "edns/formerr+edns", qd: 2, ar: 1, body: cat(aq, aq, opt)},
		{name: "edns/refused+edns", qd: 1, ar: 1, body: cat(question("example.org.", dns.TypeA, dns.ClassINET), opt)},
		// Zone transfers of names other than example. (whose AXFR and IXFR
		// are generated cases): apexes of served zones, other names in a
		// zone, names outside every zone.
		{name: "xfr/apex-child-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("child.example.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/apex-child-ixfr+edns", qd: 1, ar: 1, body: cat(question("child.example.", dns.TypeIXFR, dns.ClassINET), opt)},
		{name: "xfr/apex-0x20-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("ExAmPlE.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/apex-class-any-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("example.", dns.TypeAXFR, dns.ClassANY), opt)},
		{name: "xfr/class-ch-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("example.", dns.TypeAXFR, dns.ClassCHAOS), opt)},
		{name: "xfr/name-axfr", tr: tcp4, qd: 1, body: question("a.example.", dns.TypeAXFR, dns.ClassINET)},
		{name: "xfr/name-axfr/udp", qd: 1, body: question("a.example.", dns.TypeAXFR, dns.ClassINET)},
		{name: "xfr/name-ixfr", qd: 1, body: question("a.example.", dns.TypeIXFR, dns.ClassINET)},
		{name: "xfr/name-ixfr+edns/tcp", tr: tcp4, qd: 1, ar: 1, body: cat(question("a.example.", dns.TypeIXFR, dns.ClassINET), opt)},
		{name: "xfr/nx-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("nothere.example.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/wild-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("x.wild.example.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/cut-axfr+edns", tr: tcp4, qd: 1, ar: 1, body: cat(question("sub.example.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/cut-axfr/udp", qd: 1, body: question("sub.example.", dns.TypeAXFR, dns.ClassINET)},
		{name: "xfr/outside-axfr", tr: tcp4, qd: 1, body: question("outside.test.", dns.TypeAXFR, dns.ClassINET)},
		{name: "xfr/outside-axfr+edns/udp", qd: 1, ar: 1, body: cat(question("outside.test.", dns.TypeAXFR, dns.ClassINET), opt)},
		{name: "xfr/outside-ixfr+edns", qd: 1, ar: 1, body: cat(question("outside.test.", dns.TypeIXFR, dns.ClassINET), opt)},
		// Too short to be answered.
		{name: "short/11-bytes", body: nil},
		{name: "short/empty"},
	}
	var cs []qcase
	for _, c := range cases {
		name := "raw/" + c.name
		var q []byte
		switch c.name {
		case "short/11-bytes":
			q = header(caseID(name), 0, 1, 0, 0, 0)[:11]
		case "short/empty":
			q = []byte{}
		default:
			q = cat(header(caseID(name), c.flags, c.qd, c.an, c.ns, c.ar), c.body)
		}
		cs = append(cs, qcase{name: name, tr: c.tr, query: q})
	}
	return cs
}

// allCases is the full query list.
func allCases() []qcase {
	cs := append(generatedCases(), rawCases()...)
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if seen[c.name] {
			panic("duplicate case name " + c.name)
		}
		seen[c.name] = true
	}
	return cs
}
