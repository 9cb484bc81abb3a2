package resdiff

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// view is a response reduced to the fields the test compares, each as a
// printable string so that a difference can be shown as is. Sections are
// sorted and carry no TTLs (the order of records and the TTLs are not
// compared for equality; ttls holds the TTLs for their own checks).
type view struct {
	fields []field
	ttls   []ttlRec
}

type field struct{ name, value string }

// ttlRec is the TTL of one record of a response.
type ttlRec struct {
	key string // section, owner (lower case), type, data
	ttl uint32
}

// Field names, in report order.
const (
	fResponse   = "response"
	fID         = "id"
	fOpcode     = "opcode"
	fRcode      = "rcode"
	fFlags      = "flags"
	fQEcho      = "question-echo"
	fQuestion   = "question"
	fAnswer     = "answer"
	fAuthority  = "authority"
	fAdditional = "additional"
	fOPT        = "opt"
	fEDE        = "ede"
)

func (v view) get(name string) (string, bool) {
	for _, f := range v.fields {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// with returns a copy of v with the named fields replaced.
func (v view) with(set map[string]string) view {
	w := view{fields: slices.Clone(v.fields), ttls: v.ttls}
	for i, f := range w.fields {
		if val, ok := set[f.name]; ok {
			w.fields[i].value = val
		}
	}
	return w
}

func (v *view) add(name, value string) { v.fields = append(v.fields, field{name, value}) }

// String formats the view one field per line, for failure reports.
func (v view) String() string {
	var b strings.Builder
	for _, f := range v.fields {
		fmt.Fprintf(&b, "\t%s: %s\n", f.name, strings.ReplaceAll(f.value, "\n", "\n\t\t"))
	}
	return b.String()
}

// diff returns the names of the fields that differ between a and b.
func diff(a, b view) []string {
	var names []string
	seen := map[string]bool{}
	for _, f := range append(slices.Clone(a.fields), b.fields...) {
		if seen[f.name] {
			continue
		}
		seen[f.name] = true
		av, aok := a.get(f.name)
		bv, bok := b.get(f.name)
		if aok != bok || av != bv {
			names = append(names, f.name)
		}
	}
	return names
}

// Header flag bits.
const (
	bitQR = 1 << 15
	bitAA = 1 << 10
	bitTC = 1 << 9
	bitRD = 1 << 8
	bitRA = 1 << 7
	bitZ  = 1 << 6
	bitAD = 1 << 5
	bitCD = 1 << 4
)

// viewOf decodes resp, the answer to query; nil is "no response".
func viewOf(query, resp []byte) view {
	var v view
	if resp == nil {
		v.add(fResponse, "none")
		return v
	}
	if len(resp) < 12 {
		v.add(fResponse, "short: "+hex.EncodeToString(resp))
		return v
	}
	v.add(fResponse, "yes")
	if binary.BigEndian.Uint16(resp) == binary.BigEndian.Uint16(query) {
		v.add(fID, "copied")
	} else {
		v.add(fID, fmt.Sprintf("%#04x, query %#04x", binary.BigEndian.Uint16(resp), binary.BigEndian.Uint16(query)))
	}
	fl := binary.BigEndian.Uint16(resp[2:])
	v.add(fOpcode, dns.OpcodeToString[int(fl>>11)&0xf])
	var flags []string
	for _, b := range []struct {
		bit  uint16
		name string
	}{{bitQR, "qr"}, {bitAA, "aa"}, {bitTC, "tc"}, {bitRD, "rd"}, {bitRA, "ra"}, {bitZ, "z"}, {bitAD, "ad"}, {bitCD, "cd"}} {
		if fl&b.bit != 0 {
			flags = append(flags, b.name)
		}
	}
	v.add(fFlags, strings.Join(flags, " "))
	v.add(fQEcho, questionEcho(query, resp))

	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		v.add(fRcode, rcodeName(int(fl&0xf)))
		v.add("unpack-error", err.Error()+"\n"+hex.EncodeToString(resp))
		return v
	}
	qs := make([]string, len(m.Question))
	for i, q := range m.Question {
		qs[i] = fmt.Sprintf("%s %s %s", strings.ToLower(q.Name), className(q.Qclass), typeName(q.Qtype))
	}
	v.add(fQuestion, strings.Join(qs, "\n"))
	rcode := int(fl & 0xf)
	var opt *dns.OPT
	var extra []dns.RR
	nopt := 0
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			nopt++
			opt = o
			continue
		}
		extra = append(extra, rr)
	}
	if opt != nil {
		rcode |= int(opt.Hdr.Ttl>>24) << 4
	}
	v.add(fRcode, rcodeName(rcode))
	v.add(fAnswer, v.section("an", m.Answer))
	v.add(fAuthority, v.section("ns", m.Ns))
	v.add(fAdditional, v.section("ar", extra))
	ede := "-"
	switch {
	case nopt > 1:
		v.add(fOPT, fmt.Sprintf("%d OPT records", nopt))
	case opt == nil:
		v.add(fOPT, "none")
	default:
		s, e := optString(opt)
		v.add(fOPT, s)
		if e != "" {
			ede = e
		}
	}
	v.add(fEDE, ede)
	return v
}

// section formats records one per line, sorted, without TTLs (kept in
// v.ttls), owner names in lower case.
func (v *view) section(sec string, rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "-"
	}
	lines := make([]string, len(rrs))
	for i, rr := range rrs {
		lines[i] = rrKey(rr)
		v.ttls = append(v.ttls, ttlRec{key: sec + " " + lines[i], ttl: rr.Header().Ttl})
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// rrKey is "owner CLASS TYPE rdata" with the owner in lower case.
func rrKey(rr dns.RR) string {
	h := rr.Header()
	rdata := strings.TrimPrefix(rr.String(), h.String())
	return fmt.Sprintf("%s %s %s %s", strings.ToLower(h.Name), className(h.Class), typeName(h.Rrtype), rdata)
}

// optString formats what the test compares of an OPT record, and the
// Extended DNS Error info-codes apart (their extra text is free-form and
// not compared).
func optString(o *dns.OPT) (string, string) {
	flags := uint16(o.Hdr.Ttl)
	s := fmt.Sprintf("version=%d udp=%d", o.Version(), o.UDPSize())
	if flags&0x8000 != 0 {
		s += " do"
	}
	if other := flags &^ 0x8000; other != 0 {
		s += fmt.Sprintf(" flags=%#04x", other)
	}
	var edes []string
	for _, e := range o.Option {
		if x, ok := e.(*dns.EDNS0_EDE); ok {
			edes = append(edes, fmt.Sprint(x.InfoCode))
			continue
		}
		s += fmt.Sprintf(" opt%d=%q", e.Option(), e.String())
	}
	return s, strings.Join(edes, ",")
}

// questionEcho says whether the response's question is the query's, byte
// for byte (letter case included).
func questionEcho(query, resp []byte) string {
	qq, qok := rawQuestion(query)
	rq, rok := rawQuestion(resp)
	switch {
	case !qok:
		return "query has no single question"
	case !rok:
		return "response has no single question"
	case string(qq) == string(rq):
		return "exact"
	case strings.EqualFold(string(qq), string(rq)):
		return "other letter case"
	}
	return fmt.Sprintf("differs: sent %x, got %x", qq, rq)
}

// rawQuestion returns the bytes of the question of a message with QDCOUNT
// 1 and an uncompressed question name.
func rawQuestion(msg []byte) ([]byte, bool) {
	if len(msg) < 12 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return nil, false
	}
	i := 12
	for i < len(msg) && msg[i] != 0 {
		if msg[i]&0xc0 != 0 {
			return nil, false
		}
		i += int(msg[i]) + 1
	}
	i += 5
	if i > len(msg) {
		return nil, false
	}
	return msg[12:i], true
}

func rcodeName(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS" // miekg/dns names 16 BADSIG (TSIG)
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func className(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return fmt.Sprintf("CLASS%d", c)
}
