package netstack

import (
	"testing"

	"golang.org/x/sys/unix"
)

// udpLoop drives one query at a time through a fake TAP without allocating
// on the client side, so allocation counts are the stack's.
type udpLoop struct {
	tb    testing.TB
	fd    int
	frame []byte
	buf   []byte
	fds   []unix.PollFd
}

func newUDPLoop(tb testing.TB, fast bool) (*Stack, *udpLoop) {
	cfg := fakeConfig()
	cfg.FastPath = fast
	s, w := newFakeStack(tb, cfg, echoHandler{})
	// Let the stack learn the peer's MAC so replies need no resolution.
	w.send(arpRequest(ourIP4))
	w.recv(isARPReply)
	l := &udpLoop{
		tb:    tb,
		fd:    w.fd,
		frame: udp4Frame(s.mac, ourIP4, 40000, 53, make([]byte, 40)),
		buf:   make([]byte, frameBufSize),
		fds:   make([]unix.PollFd, 1),
	}
	l.once() // warm up: endpoint state, pools
	return s, l
}

func (l *udpLoop) once() {
	if _, err := unix.Write(l.fd, l.frame); err != nil {
		l.tb.Fatalf("write: %v", err)
	}
	for {
		l.fds[0] = unix.PollFd{Fd: int32(l.fd), Events: unix.POLLIN}
		if n, err := unix.Poll(l.fds, 3000); err == unix.EINTR {
			continue
		} else if err != nil || n == 0 {
			l.tb.Fatalf("no reply (poll %d, %v)", n, err)
		}
		n, err := unix.Read(l.fd, l.buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			l.tb.Fatalf("read: %v", err)
		}
		if _, ok := udp4Payload(l.buf[:n], 40000); ok {
			return
		}
	}
}

// TestUDPAllocsPerQuery reports (does not enforce) allocations per UDP query
// through the whole receive-answer-send path, on the gVisor stack and on the
// fast path. The count covers every goroutine (it is process-wide).
func TestUDPAllocsPerQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		fast bool
	}{{"stack", false}, {"fastpath", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, l := newUDPLoop(t, tc.fast)
			allocs := testing.AllocsPerRun(200, l.once)
			st := s.Stats()
			t.Logf("%s path: %.1f allocs/query (stack answers %d, fast answers %d)", tc.name, allocs, st.UDPReplies, st.FastAnswered)
			if tc.fast && st.FastAnswered == 0 {
				t.Errorf("fast path enabled but answered nothing: %+v", st)
			}
			if !tc.fast && st.FastAnswered != 0 {
				t.Errorf("fast path disabled but answered %d", st.FastAnswered)
			}
		})
	}
}

func BenchmarkUDPStack(b *testing.B)    { benchUDP(b, false) }
func BenchmarkUDPFastPath(b *testing.B) { benchUDP(b, true) }

func benchUDP(b *testing.B, fast bool) {
	_, l := newUDPLoop(b, fast)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l.once()
	}
}
