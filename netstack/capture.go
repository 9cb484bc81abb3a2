package netstack

import "sync/atomic"

// Capture receives a copy of every frame the Stack reads from or writes to
// the TAP (a packet capture such as internal/pcap behind an adapter).
// CaptureFrame is called from the reader goroutines and from gVisor's
// senders at the same time, so it must serialize itself; frame is only
// valid during the call, and the call should not block, as it delays the
// frame's queue.
type Capture interface {
	CaptureFrame(frame []byte, outbound bool)
}

// captureRef lets a queue load the Capture with one atomic load, so that a
// Stack without one pays a nil check per frame and nothing more.
type captureRef struct{ c Capture }

// captureSlot is a queue's current Capture.
type captureSlot struct{ p atomic.Pointer[captureRef] }

func (s *captureSlot) frame(frame []byte, outbound bool) {
	if r := s.p.Load(); r != nil {
		r.c.CaptureFrame(frame, outbound)
	}
}

// SetCapture starts (c non-nil) or stops (nil) capturing every frame in and
// out of the TAP, on every queue: received frames before they are
// classified (so dropped ones too), sent frames just before they are
// written (the fast path's and gVisor's; a frame the TAP then refuses is
// still in the capture). It may be called at any time; when it
// returns with nil, frames in flight may still reach the old Capture.
func (s *Stack) SetCapture(c Capture) {
	var r *captureRef
	if c != nil {
		r = &captureRef{c: c}
	}
	for _, q := range s.link.queues {
		q.capture.p.Store(r)
	}
}

// FastPathStats is a snapshot of the link-layer fast path's counters, with
// the reasons for frames it passed to gVisor or dropped.
type FastPathStats struct {
	// Enabled is false when Config.FastPath is off; the rest is then zero.
	Enabled  bool
	Answered uint64
	// ViaStack counts replies too large for one frame that were sent,
	// fragmented, through the stack.
	ViaStack uint64
	// Passed and Dropped are indexed by reason; see PassReason and
	// DropReason for the labels.
	Passed  [NumPassReasons]uint64
	Dropped [NumDropReasons]uint64
}

// Number of fast-path reasons.
const (
	NumPassReasons = int(fpNumPass)
	NumDropReasons = int(fpNumDrop)
)

// FastPathStats returns a snapshot of the fast path's counters.
func (s *Stack) FastPathStats() FastPathStats {
	if s.fast == nil {
		return FastPathStats{}
	}
	out := FastPathStats{Enabled: true}
	for _, k := range s.fast {
		st := k.f.stats()
		out.Answered += st.Answered
		out.ViaStack += st.ViaStack
		for i, n := range st.Passed {
			out.Passed[i] += n
		}
		for i, n := range st.Dropped {
			out.Dropped[i] += n
		}
	}
	return out
}
