package dnstcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// echo answers "echo:<client>|<query>"; a query "many:N" gets N replies
// and "close" gets one reply and closes.
type echo struct{}

func (echo) ServeTCP(w MsgWriter, q []byte, m Meta) bool {
	var n int
	if _, err := fmt.Sscanf(string(q), "many:%d", &n); err == nil {
		for i := range n {
			if w.WriteMsg([]byte(fmt.Sprintf("part %d", i))) != nil {
				return false
			}
		}
		return true
	}
	reply := append([]byte("echo:"+m.Client.String()+"|"), q...)
	if w.WriteMsg(reply) != nil {
		return false
	}
	return string(q) != "close"
}

// serve starts a Server on a loopback listener and returns its address.
func serve(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg, echo{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(msgs ...string) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func readMsg(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read message: %v", err)
	}
	return b
}

// waitStats polls until ok or 5 s.
func waitStats(s *Server, ok func(Stats) bool) Stats {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := s.Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedWithin reads from c until it is closed and returns how long that
// took (or fails after limit).
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after %v", limit)
			}
			return time.Since(start)
		}
	}
}

func TestPipelinedInOrder(t *testing.T) {
	s, addr := serve(t, Config{})
	c := dial(t, addr)
	var qs []string
	for i := range 20 {
		qs = append(qs, fmt.Sprintf("q%d-%s", i, bytes.Repeat([]byte("x"), i*300)))
	}
	if _, err := c.Write(frame(qs...)); err != nil {
		t.Fatal(err)
	}
	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	for i, q := range qs {
		got := readMsg(t, c)
		if want := "echo:" + client.String() + "|" + q; string(got) != want {
			t.Fatalf("reply %d = %.40q, want %.40q", i, got, want)
		}
	}
	if st := waitStats(s, func(st Stats) bool { return st.Replies == 20 }); st.Queries != 20 || st.Replies != 20 || st.Accepted != 1 {
		t.Errorf("stats %+v, want 20 queries and replies on 1 connection", st)
	}
}

func TestSeveralRepliesPerQuery(t *testing.T) {
	_, addr := serve(t, Config{})
	c := dial(t, addr)
	c.Write(frame("many:5", "after"))
	for i := range 5 {
		if got, want := string(readMsg(t, c)), fmt.Sprintf("part %d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if got := readMsg(t, c); !bytes.HasSuffix(got, []byte("|after")) {
		t.Errorf("got %q after the parts", got)
	}
}

func TestHandlerCloses(t *testing.T) {
	_, addr := serve(t, Config{})
	c := dial(t, addr)
	c.Write(frame("close", "never answered"))
	if got := readMsg(t, c); !bytes.HasSuffix(got, []byte("|close")) {
		t.Fatalf("got %q", got)
	}
	if d := closedWithin(t, c, 3*time.Second); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}
}

func TestZeroLengthMessageCloses(t *testing.T) {
	s, addr := serve(t, Config{})
	c := dial(t, addr)
	c.Write([]byte{0, 0})
	closedWithin(t, c, 3*time.Second)
	if st := waitStats(s, func(st Stats) bool { return st.BadFrames == 1 }); st.BadFrames != 1 {
		t.Errorf("BadFrames = %d, want 1", st.BadFrames)
	}
}

// TestLimits checks the RFC 7766 limits with small values: the query cap
// per connection, the idle timeout, the bound on reading one message (a
// half-written length prefix, a sender that trickles), and that the oldest
// idle connection is the one closed at the connection cap.
func TestLimits(t *testing.T) {
	s, addr := serve(t, Config{MaxQueries: 3, IdleTimeout: 600 * time.Millisecond, MaxConns: 3})

	t.Run("query cap, pipelined", func(t *testing.T) {
		c := dial(t, addr)
		c.Write(frame("p0", "p1", "p2", "p3", "p4"))
		for i := range 3 {
			if got := readMsg(t, c); !bytes.HasSuffix(got, []byte(fmt.Sprintf("|p%d", i))) {
				t.Fatalf("reply %d = %q", i, got)
			}
		}
		// Closed with a FIN (EOF), not a reset, although 2 queries were
		// left unread: a reset could destroy replies not yet read.
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("after the query cap: read %d bytes, %v; want EOF", n, err)
		}
		if st := waitStats(s, func(st Stats) bool { return st.QueryCap >= 1 }); st.QueryCap != 1 {
			t.Errorf("QueryCap = %d, want 1", st.QueryCap)
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := dial(t, addr)
		if d := closedWithin(t, c, 5*time.Second); d < 400*time.Millisecond || d > 3*time.Second {
			t.Errorf("idle connection closed after %v, want about 600ms", d)
		}
	})
	t.Run("half-written length prefix", func(t *testing.T) {
		c := dial(t, addr)
		c.Write([]byte{0})
		if d := closedWithin(t, c, 5*time.Second); d > 3*time.Second {
			t.Errorf("closed after %v, want about 600ms", d)
		}
	})
	t.Run("trickling sender", func(t *testing.T) {
		c := dial(t, addr)
		c.Write([]byte{0, 80})
		stopDrip := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 80 { // 8 s in all
				select {
				case <-stopDrip:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}()
		d := closedWithin(t, c, 10*time.Second)
		close(stopDrip)
		wg.Wait()
		// Each byte arrives well inside the idle time, but the whole
		// message may take no longer than it.
		if d > 3*time.Second {
			t.Errorf("trickling sender held its connection for %v, want about 600ms", d)
		}
	})
	t.Run("oldest idle evicted first", func(t *testing.T) {
		waitStats(s, func(st Stats) bool { return st.Active == 0 })
		cs := []net.Conn{dial(t, addr)}
		time.Sleep(50 * time.Millisecond)
		cs = append(cs, dial(t, addr))
		time.Sleep(50 * time.Millisecond)
		cs = append(cs, dial(t, addr))
		waitStats(s, func(st Stats) bool { return st.Active == 3 })
		ev0 := s.Stats().Evicted
		cs = append(cs, dial(t, addr)) // over the cap of 3: cs[0] goes
		if d := closedWithin(t, cs[0], 2*time.Second); d > time.Second {
			t.Errorf("oldest closed after %v", d)
		}
		for i, c := range cs[1:] {
			c.Write(frame("still-here"))
			readMsg(t, c)
			_ = i
		}
		if st := s.Stats(); st.Evicted-ev0 != 1 {
			t.Errorf("evicted %d, want 1", st.Evicted-ev0)
		}
	})
}

// TestAllBusyRefused: with every connection inside a handler, a new one is
// refused rather than one being cut off mid-answer.
func TestAllBusyRefused(t *testing.T) {
	release := make(chan struct{})
	h := handlerFunc(func(w MsgWriter, q []byte, m Meta) bool {
		<-release
		return w.WriteMsg(q) == nil
	})
	s, err := New(Config{MaxConns: 2}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer close(release)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(ln)
	for range 2 {
		dial(t, ln.Addr().String()).Write(frame("busy"))
	}
	waitStats(s, func(st Stats) bool { return st.Queries == 2 })
	c := dial(t, ln.Addr().String())
	closedWithin(t, c, 2*time.Second)
	if st := s.Stats(); st.Refused != 1 || st.Evicted != 0 {
		t.Errorf("refused %d evicted %d, want 1 and 0", st.Refused, st.Evicted)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want Config
		err  bool
	}{
		{name: "defaults", want: Config{IdleTimeout: 10 * time.Second, MaxConns: 256, MaxQueries: 100}},
		{name: "set", cfg: Config{IdleTimeout: time.Second, MaxConns: 5, MaxQueries: 7}, want: Config{IdleTimeout: time.Second, MaxConns: 5, MaxQueries: 7}},
		{name: "no query limit", cfg: Config{MaxQueries: -1}, want: Config{IdleTimeout: 10 * time.Second, MaxConns: 256, MaxQueries: -1}},
		{name: "negative idle", cfg: Config{IdleTimeout: -time.Second}, err: true},
		{name: "idle too short", cfg: Config{IdleTimeout: time.Millisecond}, err: true},
		{name: "negative conns", cfg: Config{MaxConns: -1}, err: true},
		{name: "too many conns", cfg: Config{MaxConns: MaxMaxConns + 1}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Normalize()
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCloseIdempotentAndServeAfterClose(t *testing.T) {
	s, addr := serve(t, Config{})
	c := dial(t, addr)
	c.Write(frame("x"))
	readMsg(t, c)
	s.Close()
	s.Close()
	closedWithin(t, c, 2*time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err == nil {
		t.Error("Serve after Close: nil error")
	}
}

func TestMetaAddresses(t *testing.T) {
	var got Meta
	var mu sync.Mutex
	h := handlerFunc(func(w MsgWriter, q []byte, m Meta) bool {
		mu.Lock()
		got = m
		mu.Unlock()
		return w.WriteMsg(q) == nil
	})
	s, err := New(Config{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(ln)
	c := dial(t, ln.Addr().String())
	c.Write(frame("m"))
	readMsg(t, c)
	mu.Lock()
	defer mu.Unlock()
	if got.Client != c.LocalAddr().(*net.TCPAddr).AddrPort() || got.Local != netip.MustParseAddrPort(ln.Addr().String()) {
		t.Errorf("meta %+v, want client %v local %v", got, c.LocalAddr(), ln.Addr())
	}
}

type handlerFunc func(w MsgWriter, q []byte, m Meta) bool

func (f handlerFunc) ServeTCP(w MsgWriter, q []byte, m Meta) bool { return f(w, q, m) }

// TestStalledReaderDoesNotHoldAWriter: a handler writing many messages to
// a peer that never reads gives up after the idle time instead of
// blocking its goroutine (and Close) forever.
func TestStalledReaderDoesNotHoldAWriter(t *testing.T) {
	errc := make(chan error, 1)
	h := handlerFunc(func(w MsgWriter, q []byte, m Meta) bool {
		big := make([]byte, 60000)
		for range 2000 { // 120 MB: far more than the socket buffers hold
			if err := w.WriteMsg(big); err != nil {
				errc <- err
				return false
			}
		}
		errc <- nil
		return true
	})
	s, err := New(Config{IdleTimeout: 300 * time.Millisecond}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s.Serve(ln)
	c := dial(t, ln.Addr().String())
	c.Write(frame("transfer"))
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("120 MB written to a peer that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still blocked writing to a stalled peer after 10 s")
	}
}
