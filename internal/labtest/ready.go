package labtest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// readyTimeout bounds WaitReady.
const readyTimeout = 10 * time.Second

// WaitReady polls server (a literal address, "198.18.0.2" or
// "[2001:2::2]:5353"; port 53 when absent) from inside the process's
// namespace with a UDP DNS query until any DNS response arrives. It fails
// the test, with the process's output, if the process exits first or no
// answer comes within 10 s.
func (p *Proc) WaitReady(t testing.TB, server string) {
	t.Helper()
	p.WaitReadyFrom(t, p.ns, server)
}

// WaitReadyFrom is WaitReady with the queries sent from inside ns, for a
// server its own namespace cannot reach (one on AF_XDP sends replies out
// of the interface, never to its host).
func (p *Proc) WaitReadyFrom(t testing.TB, ns *NS, server string) {
	t.Helper()
	addr, err := ServerAddr(server)
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for id := uint16(0x5a00); time.Now().Before(deadline); id++ {
		select {
		case <-p.done:
			t.Fatalf("%s exited before answering on %s: %v\nstderr:\n%s", p.name, addr, p.err, p.Stderr())
		default:
		}
		if lastErr = ns.probe(addr, id); lastErr == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s gave no DNS answer on %s within %v (last: %v)\nstderr:\n%s", p.name, addr, readyTimeout, lastErr, p.Stderr())
}

// ServerAddr parses a literal server address with an optional port (53 by
// default): "198.18.0.2", "2001:2::2", "198.18.0.2:5353", "[2001:2::2]:53".
func ServerAddr(server string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(server); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(server)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server %q is not a literal IP address with an optional port", server)
	}
	return netip.AddrPortFrom(a, 53), nil
}

// probe sends one query for ". IN SOA" over UDP and waits 250 ms for a
// response with the same ID.
func (ns *NS) probe(addr netip.AddrPort, id uint16) error {
	c, err := ns.Dial("udp", addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	q := []byte{
		byte(id >> 8), byte(id), // ID
		0, 0, // flags: a plain query, no recursion desired
		0, 1, 0, 0, 0, 0, 0, 0, // QDCOUNT 1
		0,    // root name
		0, 6, // SOA
		0, 1, // IN
	}
	if err := c.SetDeadline(time.Now().Add(250 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write(q); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if n >= 12 && buf[0] == q[0] && buf[1] == q[1] && buf[2]&0x80 != 0 {
			return nil
		}
	}
}
