// Package dnstcp serves DNS over TCP (RFC 7766) on any net.Listener: the
// 2-octet length framing, pipelined queries answered in order, an idle
// timeout, a cap on queries per connection and a cap on connections. It
// knows nothing of where connections come from (the userspace stack in the
// appliance, the kernel in tests) nor of what the messages mean.
//
// Decisions worth knowing:
//   - One goroutine per listener and per connection, all owned by the
//     Server and waited for by Close.
//   - Pipelined queries are answered in order; replies are flushed when no
//     complete query is buffered, so a burst is answered with few writes
//     and nothing is held back while the client waits.
//   - A connection that sends no complete message for IdleTimeout is
//     closed; the same deadline bounds reading one message, so a client
//     trickling a length prefix or a message cannot hold a connection.
//   - At MaxConns the longest-idle connection is closed to admit a new one;
//     if none is idle the new one is refused.
//   - After MaxQueries the connection is closed gracefully: queued replies
//     are sent, then a FIN, and what the client still sends is discarded
//     until it closes (closing with unread data would send an RST and
//     could destroy replies the client has not read).
package dnstcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and defaults.
const (
	// MaxMsg is the largest DNS message a 2-octet length can frame.
	MaxMsg = 65535

	DefaultIdleTimeout = 10 * time.Second
	DefaultMaxConns    = 256
	DefaultMaxQueries  = 100

	MinIdleTimeout = 100 * time.Millisecond
	MaxIdleTimeout = time.Hour
	MaxMaxConns    = 1 << 16

	ioBuffer = 4096
)

// Config holds the connection limits. The zero value means the defaults.
type Config struct {
	// IdleTimeout closes a connection that has not sent a complete message
	// for this long; it also bounds reading any one message. 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections; 0 means DefaultMaxConns.
	MaxConns int
	// MaxQueries closes a connection after this many queries (RFC 7766
	// 6.2.1 lets a server close at any time; the client reconnects). 0
	// means DefaultMaxQueries; negative means no limit.
	MaxQueries int
}

// Normalize returns c with defaults filled in, or an error naming the
// first setting out of range.
func (c Config) Normalize() (Config, error) {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.IdleTimeout < MinIdleTimeout || c.IdleTimeout > MaxIdleTimeout {
		return c, fmt.Errorf("TCP idle timeout %v: must be between %v and %v", c.IdleTimeout, MinIdleTimeout, MaxIdleTimeout)
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConns < 1 || c.MaxConns > MaxMaxConns {
		return c, fmt.Errorf("TCP connection limit %d: must be between 1 and %d", c.MaxConns, MaxMaxConns)
	}
	if c.MaxQueries == 0 {
		c.MaxQueries = DefaultMaxQueries
	}
	return c, nil
}

// Meta describes the connection a message arrived on.
type Meta struct {
	Client netip.AddrPort // the peer
	Local  netip.AddrPort // our end
}

// MsgWriter sends replies on one connection. WriteMsg adds the length
// prefix and queues msg; queued replies are flushed before the connection
// next waits for input. msg may be reused when WriteMsg returns. A
// handler may write several messages for one query (zone transfers).
type MsgWriter interface {
	WriteMsg(msg []byte) error
}

// Handler answers one query read from a connection, on that connection's
// goroutine (it may block; the connection reads nothing meanwhile). query
// is valid only during the call. Returning false closes the connection once
// the replies written so far are sent.
type Handler interface {
	ServeTCP(w MsgWriter, query []byte, m Meta) bool
}

// Stats is a snapshot of a Server's counters. They only grow, except
// Active.
type Stats struct {
	Queries   uint64 // messages read
	Replies   uint64 // messages written
	Accepted  uint64 // connections accepted
	Active    uint64 // connections open now
	Evicted   uint64 // idle connections closed to admit a new one
	Refused   uint64 // new connections closed because all were busy
	Timeouts  uint64 // connections closed by the idle or read deadline
	BadFrames uint64 // connections closed for a zero-length message or an oversized reply
	QueryCap  uint64 // connections closed after MaxQueries queries
}

// Server serves DNS over TCP on listeners given to Serve. Create it with
// New; Close stops everything.
type Server struct {
	cfg Config
	h   Handler
	log *slog.Logger

	queries, replies, accepted, active  atomic.Uint64
	evicted, refused, timeouts, badMsgs atomic.Uint64
	queryCap                            atomic.Uint64

	mu     sync.Mutex
	lns    []net.Listener
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a Server answering with h under the limits of cfg (checked
// with Config.Normalize). logger may be nil.
func New(cfg Config, h Handler, logger *slog.Logger) (*Server, error) {
	if h == nil {
		return nil, errors.New("dnstcp: nil Handler")
	}
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, fmt.Errorf("dnstcp: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, h: h, log: logger, conns: make(map[*conn]struct{})}, nil
}

// Serve accepts connections on ln until Close, in a goroutine of the
// Server's; the Server owns ln from now on and closes it. It fails only
// after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ln.Close()
		return errors.New("dnstcp: server closed")
	}
	s.lns = append(s.lns, ln)
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

// Close closes the listeners and every connection and waits for all the
// Server's goroutines, including handlers still running. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, ln := range s.lns {
			ln.Close()
		}
		for c := range s.conns {
			c.c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Queries: s.queries.Load(), Replies: s.replies.Load(), Accepted: s.accepted.Load(),
		Active: s.active.Load(), Evicted: s.evicted.Load(), Refused: s.refused.Load(),
		Timeouts: s.timeouts.Load(), BadFrames: s.badMsgs.Load(), QueryCap: s.queryCap.Load(),
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Not expected while the listener is open; pause rather than
			// spin if it repeats.
			s.log.Debug("tcp accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.admit(c)
	}
}

// conn is one accepted connection.
type conn struct {
	c net.Conn
	// idleSince is when the connection began waiting for a new message with
	// nothing buffered (UnixNano), or 0 while it reads or answers one.
	idleSince atomic.Int64
}

// admit starts serving c, first closing the longest-idle connection if the
// limit is reached; if every connection is busy, c is refused.
func (s *Server) admit(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConns {
		var victim *conn
		var since int64
		for tc := range s.conns {
			if t := tc.idleSince.Load(); t != 0 && (victim == nil || t < since) {
				victim, since = tc, t
			}
		}
		if victim == nil {
			s.refused.Add(1)
			c.Close()
			return
		}
		delete(s.conns, victim)
		victim.c.Close()
		s.evicted.Add(1)
	}
	tc := &conn{c: c}
	tc.idleSince.Store(time.Now().UnixNano())
	s.conns[tc] = struct{}{}
	s.accepted.Add(1)
	s.active.Add(1)
	s.wg.Add(1)
	go s.serve(tc)
}

// writer frames replies for one connection.
type writer struct {
	s  *Server
	c  net.Conn
	bw *bufio.Writer
}

func (w *writer) WriteMsg(msg []byte) error {
	if len(msg) > MaxMsg {
		w.s.badMsgs.Add(1)
		return fmt.Errorf("dnstcp: reply of %d octets does not fit a TCP frame", len(msg))
	}
	// Each message may fill the buffer and so write to the peer: a peer
	// that stops reading gets the idle time per message, not forever (a
	// zone transfer writes many), and a long transfer is not cut by a
	// deadline left over from an earlier reply.
	if err := w.c.SetWriteDeadline(time.Now().Add(w.s.cfg.IdleTimeout)); err != nil {
		return err
	}
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(msg)))
	if _, err := w.bw.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.bw.Write(msg); err != nil {
		return err
	}
	w.s.replies.Add(1)
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case interface{ AddrPort() netip.AddrPort }:
		return v.AddrPort()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap
	}
	return netip.AddrPort{}
}

func (s *Server) serve(tc *conn) {
	defer func() {
		tc.c.Close()
		s.mu.Lock()
		delete(s.conns, tc)
		s.mu.Unlock()
		s.active.Add(^uint64(0))
		s.wg.Done()
	}()
	meta := Meta{Client: addrPort(tc.c.RemoteAddr()), Local: addrPort(tc.c.LocalAddr())}
	br := bufio.NewReaderSize(tc.c, ioBuffer)
	w := &writer{s: s, c: tc.c, bw: bufio.NewWriterSize(tc.c, ioBuffer)}
	idle := s.cfg.IdleTimeout
	var query []byte
	var hdr [2]byte
	queries := 0
	for {
		if br.Buffered() == 0 {
			tc.idleSince.Store(time.Now().UnixNano())
		}
		if err := tc.c.SetReadDeadline(time.Now().Add(idle)); err != nil {
			return
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			s.readError(err)
			return
		}
		tc.idleSince.Store(0)
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			s.badMsgs.Add(1)
			return
		}
		if cap(query) < n {
			query = make([]byte, n, max(n, 512))
		}
		query = query[:n]
		if _, err := io.ReadFull(br, query); err != nil {
			s.readError(err)
			return
		}
		s.queries.Add(1)
		if !s.h.ServeTCP(w, query, meta) {
			_ = tc.c.SetWriteDeadline(time.Now().Add(idle))
			_ = w.bw.Flush()
			return
		}
		if queries++; s.cfg.MaxQueries > 0 && queries >= s.cfg.MaxQueries {
			s.queryCap.Add(1)
			s.closeGracefully(tc, br, w.bw)
			return
		}
		if !nextMessageBuffered(br) {
			if err := tc.c.SetWriteDeadline(time.Now().Add(idle)); err != nil {
				return
			}
			if err := w.bw.Flush(); err != nil {
				return
			}
		}
	}
}

// closeGracefully ends a connection at the query cap (see the package doc).
func (s *Server) closeGracefully(tc *conn, br *bufio.Reader, bw *bufio.Writer) {
	deadline := time.Now().Add(min(s.cfg.IdleTimeout, 2*time.Second))
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

func (s *Server) readError(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.timeouts.Add(1)
	}
}
