package labtest

import (
	"strconv"
	"strings"
	"testing"
)

// AddVeth creates a veth pair, name inside ns and peerName inside peer (or
// inside ns too when peer is nil), with queues RX and TX queues on each
// end (0 means 1), and brings both ends and lo up in both namespaces. Add
// addresses with AddAddr. The pair goes away with the namespaces.
func (ns *NS) AddVeth(t testing.TB, name string, peer *NS, peerName string, queues int) {
	t.Helper()
	if peer == nil {
		peer = ns
	}
	if queues <= 0 {
		queues = 1
	}
	q := strconv.Itoa(queues)
	ns.ip(t, "link", "add", name, "numrxqueues", q, "numtxqueues", q, "type", "veth",
		"peer", "name", peerName, "netns", peer.Name, "numrxqueues", q, "numtxqueues", q)
	for _, n := range []*NS{ns, peer} {
		n.ip(t, "link", "set", "lo", "up")
	}
	ns.ip(t, "link", "set", name, "up")
	peer.ip(t, "link", "set", peerName, "up")
}

// AddAddr adds prefix (e.g. "198.18.0.1/24" or "2001:2::1/64") to the
// device dev; an IPv6 address is added with nodad, usable at once.
func (ns *NS) AddAddr(t testing.TB, dev, prefix string) {
	t.Helper()
	args := []string{"addr", "add", prefix, "dev", dev}
	if strings.Contains(prefix, ":") {
		args = append(args, "nodad")
	}
	ns.ip(t, args...)
}
