// Package pcap writes and reads packet captures in the classic libpcap file
// format (the one tcpdump -w writes, and tshark and Wireshark read) with
// Ethernet link type and microsecond timestamps. It uses the standard
// library only.
//
// A Writer is safe for concurrent use: frames captured by several
// goroutines are serialized under a mutex. It stops writing, rather than
// growing without bound, when the file reaches its size limit.
package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// File format constants (https://www.tcpdump.org/manpages/pcap-savefile.5.txt).
const (
	magicMicros   = 0xa1b2c3d4
	versionMajor  = 2
	versionMinor  = 4
	LinkTypeEther = 1 // LINKTYPE_ETHERNET
	fileHeaderLen = 24
	recHeaderLen  = 16
	// DefaultSnapLen keeps whole frames: a TAP frame is at most 64 KiB.
	DefaultSnapLen = 65535
)

// Writer writes a capture file. Create it with NewWriter; the zero value is
// not usable.
type Writer struct {
	mu       sync.Mutex
	w        *bufio.Writer
	c        io.Closer // nil when the destination is not ours to close
	snap     int
	max      int64 // 0: no limit
	size     int64 // bytes written (or buffered) so far, header included
	packets  uint64
	dropped  uint64 // frames not written because the limit was reached
	err      error  // first write error; nothing is written after it
	closed   bool
	hdr      [recHeaderLen]byte
	limitHit bool
}

// NewWriter writes the file header to w and returns a Writer. snapLen
// bounds the bytes kept of each frame (0: DefaultSnapLen); maxBytes bounds
// the file size, header included (0: no limit): a frame that would take the
// file past it is counted in Stats.Dropped instead, and so is every frame
// after it. If w is an io.Closer, Close closes it.
func NewWriter(w io.Writer, snapLen int, maxBytes int64) (*Writer, error) {
	if snapLen <= 0 || snapLen > DefaultSnapLen {
		snapLen = DefaultSnapLen
	}
	if maxBytes < 0 || (maxBytes > 0 && maxBytes < fileHeaderLen) {
		return nil, fmt.Errorf("pcap: size limit %d is smaller than the file header", maxBytes)
	}
	pw := &Writer{w: bufio.NewWriterSize(w, 64<<10), snap: snapLen, max: maxBytes}
	if c, ok := w.(io.Closer); ok {
		pw.c = c
	}
	var h [fileHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], magicMicros)
	binary.LittleEndian.PutUint16(h[4:], versionMajor)
	binary.LittleEndian.PutUint16(h[6:], versionMinor)
	// thiszone and sigfigs are 0.
	binary.LittleEndian.PutUint32(h[16:], uint32(snapLen))
	binary.LittleEndian.PutUint32(h[20:], LinkTypeEther)
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: write header: %w", err)
	}
	pw.size = fileHeaderLen
	return pw, nil
}

// WritePacket appends one frame captured at ts. It copies frame, which the
// caller may reuse on return, and does not allocate. Errors are sticky and
// also reported by Close.
func (w *Writer) WritePacket(ts time.Time, frame []byte) error {
	keep := min(len(frame), w.snap)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.closed {
		w.dropped++
		return w.err
	}
	if w.max > 0 && w.size+recHeaderLen+int64(keep) > w.max {
		w.dropped++
		w.limitHit = true
		return nil
	}
	us := ts.UnixMicro()
	binary.LittleEndian.PutUint32(w.hdr[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(w.hdr[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(w.hdr[8:], uint32(keep))
	binary.LittleEndian.PutUint32(w.hdr[12:], uint32(len(frame)))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(frame[:keep]); err != nil {
		w.err = err
		return err
	}
	w.size += recHeaderLen + int64(keep)
	w.packets++
	return nil
}

// Flush writes buffered frames to the destination.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	if err := w.w.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// Stats describes what a Writer has done.
type Stats struct {
	Packets  uint64 // frames written
	Dropped  uint64 // frames not written: size limit reached, closed, or after an error
	Bytes    int64  // file size, header included
	LimitHit bool   // the size limit was reached
}

// Stats returns a snapshot.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Packets: w.packets, Dropped: w.dropped, Bytes: w.size, LimitHit: w.limitHit}
}

// Close flushes and, if the destination is an io.Closer, closes it. Later
// WritePacket calls count as dropped. It is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.w.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	if w.c != nil {
		if err := w.c.Close(); err != nil && w.err == nil {
			w.err = err
		}
	}
	return w.err
}
