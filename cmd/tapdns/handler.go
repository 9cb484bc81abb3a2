package main

import (
	"log/slog"
	"strconv"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/netstack"
)

// handler adapts dnssvc to netstack. It is boxed into the netstack.Handler
// interface once, at startup, so the per-message call does not allocate.
// With qlog nil (no --log-queries) the query log costs one nil check.
type handler struct {
	svc  *dnssvc.Server
	qlog *slog.Logger
}

// ServeDNS implements netstack.Handler.
func (h *handler) ServeDNS(dst, query []byte, m netstack.Meta) []byte {
	// Each fast-path queue counts in its own shard; the stack path's
	// goroutines share the last one.
	shard := m.Queue
	if !m.Fast {
		shard = -1
	}
	resp := h.svc.Respond(dst, query, dnssvc.Request{Client: m.Client, TCP: m.TCP, Shard: shard})
	if h.qlog != nil {
		h.logQuery(query, resp, m)
	}
	return resp
}

// logQuery writes one line about an answered (or unanswered) query. The
// name, type and rcode are read from the response, which echoes the
// question; a message left unanswered is described from the query.
func (h *handler) logQuery(query, resp []byte, m netstack.Meta) {
	msg, rcode := resp, ""
	if len(resp) == 0 {
		msg, rcode = query, "-" // dropped: not a query, or rate-limited
	}
	qname, qtype, ok := question(msg)
	if rcode == "" {
		rcode = rcodeText(msg)
	}
	proto, path := "udp", "stack"
	if m.TCP {
		proto = "tcp"
	}
	if m.Fast {
		path = "fast"
	}
	typ := "-"
	if ok {
		typ = typeText(qtype)
	} else {
		qname = "-"
	}
	h.qlog.Info("query", "client", m.Client.String(), "qname", qname, "qtype", typ, "rcode", rcode,
		"size", len(resp), "proto", proto, "path", path)
}

// question decodes the first question of a DNS message: the name as
// presentation text (not following compression pointers: questions as
// received and as echoed are uncompressed) and the type.
func question(msg []byte) (name string, qtype uint16, ok bool) {
	if len(msg) < 12 || msg[4] == 0 && msg[5] == 0 {
		return "", 0, false
	}
	var b []byte
	off := 12
	for {
		if off >= len(msg) {
			return "", 0, false
		}
		n := int(msg[off])
		off++
		if n == 0 {
			break
		}
		if n > 63 || off+n > len(msg) || len(b)+n > 255 {
			return "", 0, false
		}
		for _, c := range msg[off : off+n] {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '*':
				b = append(b, c)
			default:
				b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			}
		}
		b = append(b, '.')
		off += n
	}
	if len(b) == 0 {
		b = append(b, '.')
	}
	if off+4 > len(msg) {
		return "", 0, false
	}
	return string(b), uint16(msg[off])<<8 | uint16(msg[off+1]), true
}

// rcodeText returns a response's rcode (header only; an extended rcode in
// the OPT record is not combined) as a mnemonic.
func rcodeText(msg []byte) string {
	if len(msg) < 12 {
		return "-"
	}
	rc := int(msg[3] & 0xF)
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

func typeText(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}
