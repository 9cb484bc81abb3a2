package netstack

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// recorder is a Capture that keeps copies of the frames.
type recorder struct {
	mu      sync.Mutex
	in, out [][]byte
}

func (r *recorder) CaptureFrame(frame []byte, outbound bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := append([]byte(nil), frame...)
	if outbound {
		r.out = append(r.out, c)
	} else {
		r.in = append(r.in, c)
	}
}

func (r *recorder) has(outbound bool, pred func([]byte) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	frames := r.in
	if outbound {
		frames = r.out
	}
	for _, f := range frames {
		if pred(f) {
			return true
		}
	}
	return false
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.in), len(r.out)
}

// TestCapture checks that both directions are captured, on the fast path
// and through gVisor, dropped frames included, and that SetCapture(nil)
// stops it.
func TestCapture(t *testing.T) {
	for _, fast := range []bool{false, true} {
		name := "stack"
		if fast {
			name = "fastpath"
		}
		t.Run(name, func(t *testing.T) {
			cfg := fakeConfig()
			cfg.FastPath = fast
			s, w := newFakeStack(t, cfg, echoHandler{})
			var rec recorder
			s.SetCapture(&rec)

			w.send(arpRequest(ourIP4))
			w.recv(isARPReply)
			runt := []byte{1, 2, 3}
			w.send(runt)
			query := udp4Frame(s.mac, ourIP4, 40100, 53, []byte("capture-me"))
			w.send(query)
			reply := w.recv(func(f []byte) bool { _, ok := udp4Payload(f, 40100); return ok })

			// The reply is captured just after it is written.
			deadline := time.Now().Add(2 * time.Second)
			for !rec.has(true, func(f []byte) bool { return bytes.Equal(f, reply) }) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !rec.has(false, func(f []byte) bool { return bytes.Equal(f, query) }) {
				t.Error("query frame not captured inbound")
			}
			if !rec.has(false, func(f []byte) bool { return bytes.Equal(f, runt) }) {
				t.Error("dropped runt frame not captured inbound")
			}
			if !rec.has(true, isARPReply) {
				t.Error("ARP reply (from gVisor) not captured outbound")
			}
			if !rec.has(true, func(f []byte) bool { return bytes.Equal(f, reply) }) {
				t.Error("DNS reply not captured outbound")
			}
			if fs := s.FastPathStats(); fs.Enabled != fast || (fast && fs.Answered != 1) {
				t.Errorf("FastPathStats = %+v, want Enabled %v and 1 answer on the fast path", fs, fast)
			}

			s.SetCapture(nil)
			in, out := rec.counts()
			w.send(udp4Frame(s.mac, ourIP4, 40101, 53, []byte("not captured")))
			w.recv(func(f []byte) bool { _, ok := udp4Payload(f, 40101); return ok })
			if in2, out2 := rec.counts(); in2 != in || out2 != out {
				t.Errorf("after SetCapture(nil): %d/%d frames captured, want %d/%d", in2, out2, in, out)
			}
		})
	}
}

func TestReasonLabels(t *testing.T) {
	seen := map[string]bool{}
	for i := range NumPassReasons {
		seen["pass "+PassReason(i).String()] = true
	}
	for i := range NumDropReasons {
		seen["drop "+DropReason(i).String()] = true
	}
	if len(seen) != NumPassReasons+NumDropReasons || seen["pass unknown"] || seen["drop unknown"] {
		t.Errorf("reason labels not distinct and known: %v", seen)
	}
}
