package pcap

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/pcap/pcaptest"
)

func TestAsyncWritesEverythingInOrderPerGoroutine(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAsync(w, 1<<20, 10*time.Millisecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				a.CaptureFrame(frame(60+i%100, byte(g)), false)
			}
		}()
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := pcaptest.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if st := a.Stats(); n != 1000 || st.Packets != 1000 || st.Dropped != 0 {
		t.Errorf("read %d packets, stats %+v; want 1000 written, none dropped", n, st)
	}
	a.CaptureFrame(frame(60, 9), false)
	if got := a.Stats().Dropped; got != 1 {
		t.Errorf("frame after Close: dropped = %d, want 1", got)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// blockingWriter stands for a disk that does not keep up.
type blockingWriter struct{ release chan struct{} }

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

func TestAsyncDropsWhenFullAndNeverBlocks(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	w, err := NewWriter(bw, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAsync(w, 4096, time.Millisecond)
	done := make(chan struct{})
	go func() {
		for range 1000 {
			a.CaptureFrame(frame(100, 1), false)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CaptureFrame blocked behind a stuck writer")
	}
	if got := a.QueueDropped(); got == 0 {
		t.Errorf("QueueDropped = 0 with a stuck writer and 1000 frames, want most dropped")
	}
	close(bw.release)
	a.Close()
}
