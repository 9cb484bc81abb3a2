package netstack

import "net/netip"

// TEMPORARY stand-in for fastpath.go so that the package (and cmd/tapdns)
// builds before the fast path lands. It never handles a frame. Delete this
// file when netstack/fastpath.go exists: it declares the same names.

type fastPath struct{}

type fastPathConfig struct {
	MAC     [6]byte
	Addr4   [4]byte
	Addr6   [16]byte
	Port    uint16
	Prefix4 netip.Prefix
	Prefix6 netip.Prefix
}

func newFastPath(fastPathConfig, Handler) *fastPath { return &fastPath{} }

func (*fastPath) answer(rx, tx []byte, gwMAC4, gwMAC6 [6]byte, haveGW4, haveGW6 bool) (int, bool) {
	return 0, false
}
