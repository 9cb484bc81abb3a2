package difftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// Transports a case can use.
type transport uint8

const (
	udp4 transport = iota
	tcp4
	udp6
	tcp6
)

func (tr transport) String() string {
	return [...]string{"udp", "tcp", "udp6", "tcp6"}[tr]
}

func (tr transport) tcp() bool { return tr == tcp4 || tr == tcp6 }

// silenceWait is how long a UDP client waits before it concludes that no
// answer is coming. Every server answers on loopback or the TAP in well
// under a millisecond, so this only costs time for queries that are
// (rightly or wrongly) dropped.
const silenceWait = 700 * time.Millisecond

// exchange sends query to addr from inside ns and returns the response, or
// nil when none came within silenceWait (UDP) or the server closed the
// connection without one (TCP). Errors are for failures of the client
// itself or of the connection.
func exchange(ns *labtest.NS, addr netip.AddrPort, tr transport, query []byte) ([]byte, error) {
	network := "udp"
	if tr.tcp() {
		network = "tcp"
	}
	c, err := ns.Dial(network, addr.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(silenceWait)); err != nil {
		return nil, err
	}
	if !tr.tcp() {
		if _, err := c.Write(query); err != nil {
			return nil, fmt.Errorf("write to %s: %w", addr, err)
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read from %s: %w", addr, err)
		}
		return buf[:n], nil
	}
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
	msg = append(msg, query...)
	if _, err := c.Write(msg); err != nil {
		return nil, fmt.Errorf("write to %s: %w", addr, err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		// A server that closes (or resets) the connection instead of
		// answering has given no answer; the comparison reports it.
		if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || isReset(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read from %s: %w", addr, err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, fmt.Errorf("read %d-byte message from %s: %w", len(buf), addr, err)
	}
	return buf, nil
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}
