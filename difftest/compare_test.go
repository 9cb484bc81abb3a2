package difftest

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
// sorted: the order of records within a section is not compared.
type view struct {
	fields []field
}

type field struct {
	name  string
	value string
}

// Field names, in report order.
const (
	fResponse   = "response"
	fID         = "id"
	fOpcode     = "opcode"
	fRcode      = "rcode"
	fFlags      = "flags"
	fQuestion   = "question"
	fQEcho      = "question-echo"
	fAnswer     = "answer"
	fAuthority  = "authority"
	fAdditional = "additional"
	fOPT        = "opt"
	fPipelined  = "pipelined"
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
	w := view{fields: append([]field{}, v.fields...)}
	for i, f := range w.fields {
		if val, ok := set[f.name]; ok {
			w.fields[i].value = val
		}
	}
	return w
}

// without returns a copy of v without the named fields.
func (v view) without(names []string) view {
	var w view
	for _, f := range v.fields {
		if !slices.Contains(names, f.name) {
			w.fields = append(w.fields, f)
		}
	}
	return w
}

func (v *view) add(name, value string) { v.fields = append(v.fields, field{name, value}) }

// String formats the view one field per line, for failure reports.
func (v view) String() string {
	var b strings.Builder
	for _, f := range v.fields {
		val := strings.ReplaceAll(f.value, "\n", "\n\t\t")
		fmt.Fprintf(&b, "\t%s: %s\n", f.name, val)
	}
	return b.String()
}

// diff returns the names of the fields that differ between a and b.
func diff(a, b view) []string {
	var names []string
	seen := map[string]bool{}
	for _, f := range append(append([]field{}, a.fields...), b.fields...) {
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

// viewOf decodes resp, the answer to query. A nil resp is "no response".
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
	id := binary.BigEndian.Uint16(resp)
	if len(query) >= 2 && id == binary.BigEndian.Uint16(query) {
		v.add(fID, "copied")
	} else {
		v.add(fID, fmt.Sprintf("%#04x (query %x)", id, query[:min(2, len(query))]))
	}
	fl := binary.BigEndian.Uint16(resp[2:])
	v.add(fOpcode, dnsOpcode(int(fl>>11)&0xf))
	var flags []string
	for _, b := range []struct {
		bit  uint16
		name string
	}{{fQR, "qr"}, {fAA, "aa"}, {fTC, "tc"}, {fRD, "rd"}, {fRA, "ra"}, {fZ, "z"}, {fAD, "ad"}, {fCD, "cd"}} {
		if fl&b.bit != 0 {
			flags = append(flags, b.name)
		}
	}
	v.add(fFlags, strings.Join(flags, " "))
	v.add(fQEcho, questionEcho(query, resp))

	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		v.add(fRcode, dnsRcode(int(fl&0xf)))
		v.add("unpack-error", err.Error()+"\n"+hex.EncodeToString(resp))
		return v
	}
	qs := make([]string, len(m.Question))
	for i, q := range m.Question {
		// The name's case is kept: the question is echoed as sent.
		qs[i] = fmt.Sprintf("%s %s %s", q.Name, dnsClass(q.Qclass), typeName(q.Qtype))
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
	v.add(fRcode, dnsRcode(rcode))
	v.add(fAnswer, section(m.Answer))
	v.add(fAuthority, section(m.Ns))
	v.add(fAdditional, section(extra))
	switch {
	case nopt > 1:
		v.add(fOPT, fmt.Sprintf("%d OPT records", nopt))
	case opt == nil:
		v.add(fOPT, "none")
	default:
		v.add(fOPT, optString(opt))
	}
	return v
}

// questionEcho says whether the response's question section is the query's,
// byte for byte (case included), without decoding either.
func questionEcho(query, resp []byte) string {
	qq, qok := rawQuestion(query)
	rq, rok := rawQuestion(resp)
	switch {
	case !rok && !qok:
		return "neither has one question"
	case !rok:
		return "response has no single question"
	case !qok:
		return "query has no single question, response has " + hex.EncodeToString(rq)
	case string(qq) == string(rq):
		return "exact"
	}
	return fmt.Sprintf("differs: sent %x, got %x", qq, rq)
}

// rawQuestion returns the bytes of the question of a message with
// QDCOUNT 1 and an uncompressed question name.
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

// section formats records one per line, sorted, with owner names in lower
// case (the case of owners is not compared) and rdata as miekg/dns prints
// it (case kept).
func section(rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "-"
	}
	lines := make([]string, len(rrs))
	for i, rr := range rrs {
		h := rr.Header()
		rdata := strings.TrimPrefix(rr.String(), h.String())
		lines[i] = fmt.Sprintf("%s %d %s %s %s", strings.ToLower(h.Name), h.Ttl, dnsClass(h.Class), typeName(h.Rrtype), rdata)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// optString formats everything of an OPT record that the test compares.
func optString(o *dns.OPT) string {
	flags := uint16(o.Hdr.Ttl)
	s := fmt.Sprintf("version=%d udp=%d", o.Version(), o.UDPSize())
	if flags&0x8000 != 0 {
		s += " do"
	}
	if other := flags &^ 0x8000; other != 0 {
		s += fmt.Sprintf(" flags=%#04x", other)
	}
	if o.Hdr.Name != "." {
		s += " owner=" + o.Hdr.Name
	}
	for _, e := range o.Option {
		s += fmt.Sprintf(" opt%d=%q", e.Option(), e.String())
	}
	return s
}

func dnsOpcode(op int) string {
	if s, ok := dns.OpcodeToString[op]; ok {
		return s
	}
	return fmt.Sprintf("OPCODE%d", op)
}

func dnsRcode(rc int) string {
	if rc == dns.RcodeBadVers {
		// miekg/dns names 16 BADSIG (its TSIG meaning); in an OPT-carrying
		// response to a query without TSIG it is BADVERS.
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func dnsClass(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return fmt.Sprintf("CLASS%d", c)
}
