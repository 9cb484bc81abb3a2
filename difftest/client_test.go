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
	// tcpPipe sends the query pipeCount times in one write on one TCP
	// connection (RFC 7766 §6.2.1.1 pipelining) and expects as many answers.
	tcpPipe
)

const pipeCount = 3

func (tr transport) String() string {
	return [...]string{"udp", "tcp", "udp6", "tcp6", "tcp-pipelined"}[tr]
}

func (tr transport) tcp() bool { return tr == tcp4 || tr == tcp6 || tr == tcpPipe }

// silenceWait is how long a UDP client waits before it concludes that no
// answer is coming. Every server answers on loopback or the TAP in well
// under a millisecond, so this only costs time for queries that are
// (rightly or wrongly) dropped.
const silenceWait = 700 * time.Millisecond

// exchange sends query to addr from inside ns and returns the response, or
// nil when none came within silenceWait (UDP) or the server closed the
// connection without one (TCP). For tcpPipe, note says how many answers
// came and whether they were all the same. Errors are for failures of the
// client itself or of the connection.
func exchange(ns *labtest.NS, addr netip.AddrPort, tr transport, query []byte) (resp []byte, note string, err error) {
	network := "udp"
	if tr.tcp() {
		network = "tcp"
	}
	c, err := ns.Dial(network, addr.String())
	if err != nil {
		return nil, "", fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(silenceWait)); err != nil {
		return nil, "", err
	}
	if !tr.tcp() {
		// Sent twice before concluding silence: on a loaded machine a
		// server can miss one 700 ms window, and a test that blames a
		// server for a scheduling delay is a flaky one. (A query that is
		// rightly dropped costs two windows.)
		buf := make([]byte, 65535)
		for try := range 2 {
			if try > 0 {
				if err := c.SetDeadline(time.Now().Add(silenceWait)); err != nil {
					return nil, "", err
				}
			}
			if _, err := c.Write(query); err != nil {
				return nil, "", fmt.Errorf("write to %s: %w", addr, err)
			}
			n, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				return nil, "", fmt.Errorf("read from %s: %w", addr, err)
			}
			return buf[:n], "", nil
		}
		return nil, "", nil
	}
	copies := 1
	if tr == tcpPipe {
		copies = pipeCount
	}
	var msg []byte
	for range copies {
		msg = binary.BigEndian.AppendUint16(msg, uint16(len(query)))
		msg = append(msg, query...)
	}
	if _, err := c.Write(msg); err != nil {
		return nil, "", fmt.Errorf("write to %s: %w", addr, err)
	}
	var answers [][]byte
	for range copies {
		a, err := readTCP(c)
		if err != nil {
			return nil, "", fmt.Errorf("read from %s: %w", addr, err)
		}
		if a == nil {
			break
		}
		answers = append(answers, a)
	}
	if len(answers) == 0 {
		return nil, "", nil
	}
	if tr == tcpPipe {
		same := 0
		for _, a := range answers {
			if string(a) == string(answers[0]) {
				same++
			}
		}
		note = fmt.Sprintf("%d answers to %d queries, %d identical", len(answers), copies, same)
	}
	return answers[0], note, nil
}

// readTCP reads one length-prefixed message, or returns nil when the server
// closed (or reset) the connection or went silent before sending one.
func readTCP(c io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || isReset(err) {
			return nil, nil
		}
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, fmt.Errorf("read %d-byte message: %w", len(buf), err)
	}
	return buf, nil
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}
