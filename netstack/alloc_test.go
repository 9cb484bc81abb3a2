package netstack

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/internal/labtest"
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

// stackAllocBound is the most allocations one UDP query may cost through
// the whole gVisor path (frame in, PacketBuffer, default UDP handler, reply
// through the cached route, frame out): the packet buffers of the query
// and of the reply. A -race build disables sync.Pool's reuse at random and
// allocates more, so it gets a looser bound.
func stackAllocBound() float64 {
	if labtest.Race {
		return 10
	}
	return 2
}

// TestUDPAllocsPerQuery enforces the allocation count per UDP query through
// the whole receive-answer-send loop: none on the fast path (read, answer,
// write), at most stackAllocBound on the gVisor path. The count covers
// every goroutine (it is process-wide).
func TestUDPAllocsPerQuery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fast  bool
		bound float64
	}{{"stack", false, stackAllocBound()}, {"fastpath", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s, l := newUDPLoop(t, tc.fast)
			allocs := testing.AllocsPerRun(200, l.once)
			st := s.Stats()
			t.Logf("%s path: %.1f allocs/query (stack answers %d, fast answers %d)", tc.name, allocs, st.UDPReplies, st.FastAnswered)
			if allocs > tc.bound {
				t.Errorf("%s path: %.1f allocations per query, want at most %.0f", tc.name, allocs, tc.bound)
			}
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
