package pcap

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Async puts a Writer behind a bounded buffer so that capturing a frame
// never waits for the disk: CaptureFrame copies the frame into the
// buffer under a mutex (no allocation, no I/O), and Async's own goroutine
// writes the buffer out. When the buffer is full the frame is dropped and
// counted. Create it with NewAsync; Close stops the goroutine, writes what
// is buffered and closes the Writer.
type Async struct {
	w       *Writer
	mu      sync.Mutex
	fill    []byte // records waiting: [8 ts][4 len][frame]; capacity fixed
	spare   []byte // the buffer being written out, swapped with fill
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	closed  bool // under mu: frames from now on are dropped
	once    sync.Once
	err     error // Close's result
}

const asyncRecHdr = 12

// DefaultAsyncBuffer is NewAsync's buffer size when 0 is given: about two
// seconds of a loaded small-frame link before frames are dropped.
const DefaultAsyncBuffer = 4 << 20

// NewAsync starts writing to w through a buffer of bufBytes (twice: one
// fills while the other is written; 0 means DefaultAsyncBuffer). flushEvery
// bounds how long a frame waits before it reaches the file.
func NewAsync(w *Writer, bufBytes int, flushEvery time.Duration) *Async {
	if bufBytes <= 0 {
		bufBytes = DefaultAsyncBuffer
	}
	a := &Async{
		w: w, fill: make([]byte, 0, bufBytes), spare: make([]byte, 0, bufBytes),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go a.run(flushEvery)
	return a
}

// CaptureFrame queues a copy of frame; it never blocks on I/O. It has the
// signature of netstack.Capture.
func (a *Async) CaptureFrame(frame []byte, _ bool) {
	ts := time.Now().UnixMicro()
	a.mu.Lock()
	if a.closed || len(a.fill)+asyncRecHdr+len(frame) > cap(a.fill) {
		a.mu.Unlock()
		a.dropped.Add(1)
		return
	}
	var h [asyncRecHdr]byte
	binary.LittleEndian.PutUint64(h[0:], uint64(ts))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
	a.fill = append(append(a.fill, h[:]...), frame...)
	half := len(a.fill) > cap(a.fill)/2
	a.mu.Unlock()
	if half {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

func (a *Async) run(every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			a.drain()
			return
		case <-t.C:
		case <-a.wake:
		}
		a.drain()
	}
}

// drain swaps the buffers and writes the full one out.
func (a *Async) drain() {
	a.mu.Lock()
	a.fill, a.spare = a.spare[:0], a.fill
	a.mu.Unlock()
	b := a.spare
	for len(b) >= asyncRecHdr {
		ts := int64(binary.LittleEndian.Uint64(b[0:]))
		n := int(binary.LittleEndian.Uint32(b[8:]))
		_ = a.w.WritePacket(time.UnixMicro(ts), b[asyncRecHdr:asyncRecHdr+n])
		b = b[asyncRecHdr+n:]
	}
	a.spare = a.spare[:0]
	_ = a.w.Flush() // an error is sticky in w: Stats and Close report it
}

// Stats returns the Writer's counters, with the frames dropped because the
// buffer was full added to Dropped.
func (a *Async) Stats() Stats {
	s := a.w.Stats()
	s.Dropped += a.dropped.Load()
	return s
}

// QueueDropped returns how many frames were dropped because the buffer
// was full (the disk could not keep up).
func (a *Async) QueueDropped() uint64 { return a.dropped.Load() }

// Close writes what is buffered, stops the goroutine and closes the
// Writer. It is idempotent; frames captured afterwards are dropped.
func (a *Async) Close() error {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.stop) // the goroutine writes what was queued, then ends
		<-a.done
		a.err = a.w.Close()
	})
	return a.err
}
