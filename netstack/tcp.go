package netstack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

const (
	tcpBacklog  = 128
	tcpMaxMsg   = 65535
	tcpIOBuffer = 4096
)

// tcpServer serves RFC 7766 DNS over TCP: one goroutine per listener and per
// connection, all owned and waited for by the server.
type tcpServer struct {
	s          *Stack
	lns        []*gonet.TCPListener
	idle       time.Duration
	maxConns   int
	maxQueries int // per connection; <= 0: no limit

	// replyBufs holds reply buffers (length prefix + largest message) that
	// connections borrow while they answer, so idle ones hold none.
	replyBufs sync.Pool

	mu      sync.Mutex
	conns   map[*tcpConn]struct{}
	started bool
	stopped bool
	wg      sync.WaitGroup
}

// tcpConn is one accepted connection.
type tcpConn struct {
	c net.Conn
	// idleSince is when the connection began waiting for a new message with
	// nothing buffered (UnixNano), or 0 while it reads or answers one.
	idleSince atomic.Int64
}

func newTCPServer(s *Stack) (*tcpServer, error) {
	t := &tcpServer{
		s:          s,
		idle:       s.cfg.TCPIdleTimeout,
		maxConns:   s.cfg.TCPMaxConns,
		maxQueries: s.cfg.TCPMaxQueries,
		conns:      make(map[*tcpConn]struct{}),
	}
	if t.idle <= 0 {
		t.idle = defaultTCPIdle
	}
	if t.maxConns <= 0 {
		t.maxConns = defaultTCPMaxConns
	}
	t.replyBufs.New = func() any { b := make([]byte, 2+tcpMaxMsg); return &b }
	if s.cfg.Addr.IsValid() {
		ln, err := t.listen(ipv4.ProtocolNumber, tcpipAddr(s.cfg.Addr.Addr()))
		if err != nil {
			return nil, err
		}
		t.lns = append(t.lns, ln)
	}
	ln, err := t.listen(ipv6.ProtocolNumber, tcpip.Address{})
	if err != nil {
		t.closeListeners()
		return nil, err
	}
	t.lns = append(t.lns, ln)
	return t, nil
}

func (t *tcpServer) listen(proto tcpip.NetworkProtocolNumber, addr tcpip.Address) (*gonet.TCPListener, error) {
	var wq waiter.Queue
	ep, err := t.s.ns.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if err != nil {
		return nil, fmt.Errorf("netstack: tcp endpoint: %s", err)
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true)
	}
	if err := ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: addr, Port: t.s.cfg.Port}); err != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: bind tcp [%s]:%d: %s", addr, t.s.cfg.Port, err)
	}
	if err := ep.Listen(tcpBacklog); err != nil {
		ep.Close()
		return nil, fmt.Errorf("netstack: listen tcp [%s]:%d: %s", addr, t.s.cfg.Port, err)
	}
	return gonet.NewTCPListener(t.s.ns, &wq, ep), nil
}

func (t *tcpServer) closeListeners() {
	for _, ln := range t.lns {
		ln.Close()
	}
}

// start starts the accept loops.
func (t *tcpServer) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.started {
		return
	}
	t.started = true
	for _, ln := range t.lns {
		t.wg.Add(1)
		go t.acceptLoop(ln)
	}
}

// stop closes the listeners and every connection and waits for their
// goroutines. It is idempotent.
func (t *tcpServer) stop() {
	t.mu.Lock()
	if !t.stopped {
		t.stopped = true
		t.closeListeners()
		for c := range t.conns {
			c.c.Close()
		}
	}
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *tcpServer) acceptLoop(ln *gonet.TCPListener) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			t.mu.Lock()
			stopped := t.stopped
			t.mu.Unlock()
			if stopped {
				return
			}
			// Not expected while the listener is open; pause rather than
			// spin if it repeats.
			t.s.log.Debug("tcp accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.admit(c)
	}
}

// admit starts serving c, first closing the longest-idle connection if the
// limit is reached; if every connection is busy, c is refused.
func (t *tcpServer) admit(c net.Conn) {
	svc := &t.s.svc
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		c.Close()
		return
	}
	if len(t.conns) >= t.maxConns {
		var victim *tcpConn
		var since int64
		for tc := range t.conns {
			if s := tc.idleSince.Load(); s != 0 && (victim == nil || s < since) {
				victim, since = tc, s
			}
		}
		if victim == nil {
			svc.tcpRefused.Add(1)
			c.Close()
			return
		}
		delete(t.conns, victim)
		victim.c.Close()
		svc.tcpEvicted.Add(1)
	}
	tc := &tcpConn{c: c}
	tc.idleSince.Store(time.Now().UnixNano())
	t.conns[tc] = struct{}{}
	svc.tcpAccepted.Add(1)
	svc.tcpActive.Add(1)
	t.wg.Add(1)
	go t.serve(tc)
}

func (t *tcpServer) serve(tc *tcpConn) {
	svc := &t.s.svc
	defer func() {
		tc.c.Close()
		t.mu.Lock()
		delete(t.conns, tc)
		t.mu.Unlock()
		svc.tcpActive.Add(^uint64(0))
		t.wg.Done()
	}()
	var client netip.AddrPort
	if a, ok := tc.c.RemoteAddr().(*net.TCPAddr); ok {
		client = a.AddrPort()
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	}
	meta := Meta{Client: client, TCP: true}
	br := bufio.NewReaderSize(tc.c, tcpIOBuffer)
	bw := bufio.NewWriterSize(tc.c, tcpIOBuffer)
	var query []byte
	var hdr [2]byte
	queries := 0 // messages read on this connection
	for {
		if br.Buffered() == 0 {
			tc.idleSince.Store(time.Now().UnixNano())
		}
		// One deadline per message: a client that stalls inside a length
		// prefix or a message is dropped after the idle time, too.
		if err := tc.c.SetReadDeadline(time.Now().Add(t.idle)); err != nil {
			return
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			t.readError(err)
			return
		}
		tc.idleSince.Store(0)
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			svc.tcpBadFrames.Add(1)
			return
		}
		if cap(query) < n {
			query = make([]byte, n, max(n, 512))
		}
		query = query[:n]
		if _, err := io.ReadFull(br, query); err != nil {
			t.readError(err)
			return
		}
		svc.tcpQueries.Add(1)
		if !t.answer(bw, query, meta) {
			return
		}
		if queries++; t.maxQueries > 0 && queries >= t.maxQueries {
			svc.tcpQueryCap.Add(1)
			t.closeGracefully(tc, br, bw)
			return
		}
		// Answer pipelined queries before flushing, but never wait for
		// more input with replies held back.
		if !nextMessageBuffered(br) {
			if err := tc.c.SetWriteDeadline(time.Now().Add(t.idle)); err != nil {
				return
			}
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// closeGracefully ends a connection at the query cap: it sends the replies
// queued, then a FIN, and discards what the client still sends until it
// closes too (or a short deadline passes). Closing at once with queries
// pipelined beyond the cap still unread would send an RST, which may
// destroy replies the client has not read yet; the client resends those
// queries on a new connection.
func (t *tcpServer) closeGracefully(tc *tcpConn, br *bufio.Reader, bw *bufio.Writer) {
	deadline := time.Now().Add(min(t.idle, 2*time.Second))
	if tc.c.SetWriteDeadline(deadline) != nil || bw.Flush() != nil {
		return
	}
	if cw, ok := tc.c.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
		return
	}
	if tc.c.SetReadDeadline(deadline) != nil {
		return
	}
	_, _ = br.WriteTo(io.Discard)
}

// answer asks the Handler and queues the framed reply. It returns false if
// the connection must close.
func (t *tcpServer) answer(bw *bufio.Writer, query []byte, meta Meta) bool {
	svc := &t.s.svc
	bp := t.replyBufs.Get().(*[]byte)
	defer t.replyBufs.Put(bp)
	buf := *bp
	reply := t.s.h.ServeDNS(buf[2:2], query, meta)
	if len(reply) == 0 {
		return true
	}
	if len(reply) > tcpMaxMsg {
		svc.tcpBadFrames.Add(1)
		return false
	}
	binary.BigEndian.PutUint16(buf[:2], uint16(len(reply)))
	if _, err := bw.Write(buf[:2]); err != nil {
		return false
	}
	if _, err := bw.Write(reply); err != nil {
		return false
	}
	svc.tcpReplies.Add(1)
	return true
}

// nextMessageBuffered reports whether a complete message is already buffered.
func nextMessageBuffered(br *bufio.Reader) bool {
	if br.Buffered() < 2 {
		return false // Peek would block reading more
	}
	b, err := br.Peek(2)
	if err != nil {
		return false
	}
	return br.Buffered() >= 2+int(binary.BigEndian.Uint16(b))
}

func (t *tcpServer) readError(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.s.svc.tcpTimeouts.Add(1)
	}
}
