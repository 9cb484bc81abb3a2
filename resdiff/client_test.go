package resdiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

const (
	// resend is how long a UDP query waits before it is sent again (with
	// the same ID, as a stub resolver does: Unbound drops replies that
	// took longer than its discard timeout and expects a retry).
	resend = time.Second
	// answerWait bounds the wait for one answer. Every resolver answers
	// within its own time budget (tapdns 4 s, Unbound and kresd less for
	// these zones), so a case that gets nothing in this time gets "no
	// response" and is compared as such.
	answerWait = 7 * time.Second
)

// exchange sends query to addr from inside ns and returns the response,
// or nil when none came within answerWait. Errors are for failures of the
// client or the connection.
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
	deadline := time.Now().Add(answerWait)
	if tr.tcp() {
		if err := c.SetDeadline(deadline); err != nil {
			return nil, err
		}
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(query)))
		if _, err := c.Write(append(msg, query...)); err != nil {
			return nil, fmt.Errorf("write to %s: %w", addr, err)
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
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
	buf := make([]byte, 65535)
	for {
		if _, err := c.Write(query); err != nil {
			return nil, fmt.Errorf("write to %s: %w", addr, err)
		}
		next := time.Now().Add(resend)
		if next.After(deadline) {
			next = deadline
		}
		if err := c.SetReadDeadline(next); err != nil {
			return nil, err
		}
		for {
			n, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read from %s: %w", addr, err)
			}
			// A response to another query on this socket cannot come (a
			// connected socket, one query); anything not matching the ID
			// is reported as it is.
			return buf[:n:n], nil
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}
