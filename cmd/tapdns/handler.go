package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/netstack"
	"github.com/tapdns/tapdns/zone"
)

// handler adapts dnssvc to the transports: netstack's datagrams
// (HandlePacket, on the TAP readers) and dnstcp's connections (ServeTCP).
// It is boxed into the interfaces once, at startup, so the per-message call
// does not allocate. With qlog nil (no --log-queries) the query log costs
// one nil check.
type handler struct {
	svc  *dnssvc.Server
	qlog *queryLog

	// tcpBufs holds reply buffers for TCP (the largest message), borrowed
	// only while a connection answers.
	tcpBufs sync.Pool
}

func newHandler(svc *dnssvc.Server, qlog *queryLog) *handler {
	h := &handler{svc: svc, qlog: qlog}
	h.tcpBufs.New = func() any { b := make([]byte, 0, dnstcp.MaxMsg); return &b }
	return h
}

// HandlePacket implements netstack.Handler.
func (h *handler) HandlePacket(dst, query []byte, m netstack.Meta) []byte {
	// Each fast-path queue counts in its own shard; the stack path's
	// goroutines share the last one.
	shard := m.Queue
	if !m.Fast {
		shard = -1
	}
	resp := h.svc.Respond(dst, query, dnssvc.Request{Client: m.Client, Local: m.Local, Shard: shard})
	if h.qlog != nil {
		path := pathStack
		if m.Fast {
			path = pathFast
		}
		h.qlog.add(query, resp, m.Client, false, path)
	}
	return resp
}

// ServeTCP implements dnstcp.Handler.
func (h *handler) ServeTCP(w dnstcp.MsgWriter, query []byte, m dnstcp.Meta) bool {
	req := dnssvc.Request{Client: m.Client, Local: m.Local, TCP: true, Shard: -1}
	if handled, keep := h.svc.ServeTransfer(w, query, req); handled {
		return keep // AXFR, IXFR: several messages, logged by xfr
	}
	bp := h.tcpBufs.Get().(*[]byte)
	defer h.tcpBufs.Put(bp)
	resp := h.svc.Respond((*bp)[:0], query, req)
	if h.qlog != nil {
		h.qlog.add(query, resp, m.Client, true, pathStack)
	}
	if len(resp) == 0 {
		return true
	}
	return w.WriteMsg(resp) == nil
}

// How a query reached us, for the log.
const (
	pathStack uint8 = iota
	pathFast
)

// qlogEntry is what the query path hands the log: fixed size and free of
// pointers, so queueing one allocates nothing.
type qlogEntry struct {
	client  netip.AddrPort
	name    [255]byte
	nameLen uint8
	hasQ    bool
	qtype   uint16
	rcode   int8 // -1: not answered
	tcp     bool
	path    uint8
	size    uint16
}

// queryLog writes --log-queries lines from its own goroutine: the query
// path only copies a qlogEntry into a bounded channel, and an entry that
// does not fit (the log cannot keep up) is dropped and counted, so a slow
// terminal or disk never delays answers.
type queryLog struct {
	log     *slog.Logger
	ch      chan qlogEntry
	dropped atomic.Uint64
	wg      sync.WaitGroup
	once    sync.Once
}

// queryLogQueue is the number of entries waiting to be written before new
// ones are dropped.
const queryLogQueue = 4096

func newQueryLog(log *slog.Logger) *queryLog {
	return &queryLog{log: log, ch: make(chan qlogEntry, queryLogQueue)}
}

// start runs the writer until ctx is done and the queue is drained.
func (l *queryLog) start(ctx context.Context) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case e := <-l.ch:
				l.write(&e)
			case <-ctx.Done():
				for {
					select {
					case e := <-l.ch:
						l.write(&e)
					default:
						return
					}
				}
			}
		}
	}()
}

// stop waits for the writer (after its context is done).
func (l *queryLog) stop() {
	l.wg.Wait()
	if n := l.dropped.Load(); n > 0 {
		l.log.Warn("query log lines dropped (the log could not keep up)", "dropped", n)
	}
}

// Dropped returns the number of entries dropped.
func (l *queryLog) Dropped() uint64 { return l.dropped.Load() }

// add queues one entry about an answered (or unanswered) query. The name,
// type and rcode are read from the response, which echoes the question; a
// message left unanswered is described from the query.
func (l *queryLog) add(query, resp []byte, client netip.AddrPort, tcp bool, path uint8) {
	e := qlogEntry{client: client, tcp: tcp, path: path, size: uint16(min(len(resp), 0xffff)), rcode: -1}
	msg := resp
	if len(resp) == 0 {
		msg = query // dropped: not a query, rate-limited, or answered later
	} else if len(resp) >= 4 {
		e.rcode = int8(resp[3] & 0xF)
	}
	if n, qtype, ok := questionName(msg, &e.name); ok {
		e.nameLen, e.qtype, e.hasQ = uint8(n), qtype, true
	}
	select {
	case l.ch <- e:
	default:
		l.dropped.Add(1)
	}
}

func (l *queryLog) write(e *qlogEntry) {
	qname, typ, rcode := "-", "-", "-"
	if e.hasQ {
		qname = zone.NameText(string(e.name[:e.nameLen]))
		typ = typeText(e.qtype)
	}
	if e.rcode >= 0 {
		rcode = rcodeText(int(e.rcode))
	}
	proto, path := "udp", "stack"
	if e.tcp {
		proto = "tcp"
	}
	if e.path == pathFast {
		path = "fast"
	}
	l.log.Info("query", "client", e.client.String(), "qname", qname, "qtype", typ, "rcode", rcode,
		"size", int(e.size), "proto", proto, "path", path)
}

// questionName copies the first question's name (uncompressed wire form,
// as received and echoed) into dst and returns its length and the type.
func questionName(msg []byte, dst *[255]byte) (n int, qtype uint16, ok bool) {
	if len(msg) < 12 || msg[4] == 0 && msg[5] == 0 {
		return 0, 0, false
	}
	off := 12
	for {
		if off >= len(msg) {
			return 0, 0, false
		}
		l := int(msg[off])
		if l > 63 || off+1+l > len(msg) || n+1+l > len(dst) {
			return 0, 0, false
		}
		n += copy(dst[n:], msg[off:off+1+l])
		off += 1 + l
		if l == 0 {
			break
		}
	}
	if off+2 > len(msg) {
		return 0, 0, false
	}
	return n, uint16(msg[off])<<8 | uint16(msg[off+1]), true
}

func rcodeText(rc int) string {
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
