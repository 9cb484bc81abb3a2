// Package pcaptest reads back the capture files that package pcap writes,
// for tests (the server itself only writes them).
package pcaptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Format constants, as package pcap writes them.
const (
	magicMicros    = 0xa1b2c3d4
	linkTypeEther  = 1
	fileHeaderLen  = 24
	recHeaderLen   = 16
	defaultSnapLen = 65535
)

// Packet is one record read back by a Reader.
type Packet struct {
	Time    time.Time
	Data    []byte // the captured bytes (at most the snap length)
	OrigLen int    // the frame's length on the wire
}

// Reader reads a capture file written by Writer (or any little- or
// big-endian, microsecond, Ethernet pcap file).
type Reader struct {
	r     io.Reader
	order binary.ByteOrder
	snap  uint32
}

// ErrFormat is returned for input that is not a supported pcap file.
var ErrFormat = errors.New("pcaptest: not a microsecond Ethernet pcap file")

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcaptest: read header: %w", err)
	}
	rd := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == magicMicros:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[0:]) == magicMicros:
		rd.order = binary.BigEndian
	default:
		return nil, ErrFormat
	}
	if rd.order.Uint32(h[20:]) != linkTypeEther {
		return nil, ErrFormat
	}
	rd.snap = rd.order.Uint32(h[16:])
	return rd, nil
}

// Next returns the next packet, or io.EOF at the end of the file.
func (r *Reader) Next() (Packet, error) {
	var h [recHeaderLen]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Packet{}, fmt.Errorf("pcaptest: truncated record header: %w", err)
		}
		return Packet{}, err
	}
	sec, usec := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	incl, orig := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if usec >= 1e6 || incl > orig || incl > max(r.snap, defaultSnapLen) {
		return Packet{}, fmt.Errorf("pcaptest: bad record header (usec %d, incl %d, orig %d)", usec, incl, orig)
	}
	data := make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return Packet{}, fmt.Errorf("pcaptest: truncated record: %w", err)
	}
	return Packet{Time: time.Unix(int64(sec), int64(usec)*1000), Data: data, OrigLen: int(orig)}, nil
}
